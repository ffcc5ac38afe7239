-- A table renamed, with a column of it, a column of another table, and what names them:
-- a serial sequence, a primary key, a check, an index, a foreign key, a view.
CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL CHECK (email <> ''),
  nick text
);
CREATE INDEX users_email_idx ON users (lower(email));
CREATE TABLE posts (
  id integer PRIMARY KEY,
  author integer REFERENCES users (id),
  body text,
  total integer GENERATED ALWAYS AS (length(body)) STORED
);
CREATE INDEX posts_body ON posts (body) WHERE body IS NOT NULL;
CREATE VIEW user_emails AS SELECT id, email FROM users;
