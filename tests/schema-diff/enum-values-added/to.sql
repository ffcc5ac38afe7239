CREATE TYPE mood AS ENUM ('awful', 'sad', 'meh', 'ok', 'happy', 'elated');
CREATE TABLE person (id integer PRIMARY KEY, mood mood DEFAULT 'ok');
