-- A unique key added to a table with rows, and an index whose definition changes (with
-- --online they are built concurrently and swapped in: see schema_diff.rs).
CREATE TABLE users (id integer PRIMARY KEY, email text, team integer);
CREATE INDEX users_team ON users (team);
