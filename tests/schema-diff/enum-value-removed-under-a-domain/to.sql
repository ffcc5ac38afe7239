

CREATE TYPE mood AS ENUM ('sad', 'meh', 'ok', 'happy');
CREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'sad');
CREATE TABLE person (id integer PRIMARY KEY, mood good_mood);
