-- A domain over the enum cannot be carried over to a type built again: going back (removing
-- the value) is reported, not attempted.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'sad');
CREATE TABLE person (id integer PRIMARY KEY, mood good_mood);
