CREATE TABLE packages (id serial PRIMARY KEY, name text NOT NULL);
ALTER TABLE packages RENAME TO crates;
