-- The renames said: the table and the column are renamed, and their sequences keep their
-- names, as PostgreSQL keeps them (before, runner renamed the sequence, created a second one,
-- and reported "serial column … (changed)").
CREATE TABLE packages (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE owners (id bigserial PRIMARY KEY, login text);
