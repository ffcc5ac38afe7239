CREATE TABLE users (id integer PRIMARY KEY, email text, team integer, CONSTRAINT users_email_key UNIQUE NULLS NOT DISTINCT (email) DEFERRABLE);
CREATE INDEX users_team ON users (team, id);
