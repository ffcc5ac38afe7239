CREATE TYPE colour AS ENUM ('red', 'grean', 'blue');
CREATE TYPE unused AS ENUM ('x');
CREATE TABLE person (id integer PRIMARY KEY, colour colour DEFAULT 'red');
