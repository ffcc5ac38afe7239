CREATE TYPE colour AS ENUM ('red', 'green', 'blue');
CREATE TYPE "Size" AS ENUM ('S', 'M', 'it''s L');
CREATE TABLE person (id integer PRIMARY KEY, colour colour DEFAULT 'red', size "Size");
