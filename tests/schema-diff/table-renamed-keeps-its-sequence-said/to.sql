CREATE TABLE packages (id serial PRIMARY KEY, name text NOT NULL);
ALTER TABLE packages RENAME TO crates;
CREATE TABLE owners (id bigserial PRIMARY KEY, login text);
ALTER TABLE owners RENAME COLUMN id TO owner_id;
