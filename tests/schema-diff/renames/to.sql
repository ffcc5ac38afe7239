CREATE TABLE accounts (
  id serial PRIMARY KEY,
  mail text NOT NULL CHECK (mail <> ''),
  nick text
);
CREATE INDEX accounts_mail_idx ON accounts (lower(mail));
CREATE TABLE posts (
  id integer PRIMARY KEY,
  author integer REFERENCES accounts (id),
  content text,
  total integer GENERATED ALWAYS AS (length(content)) STORED
);
CREATE INDEX posts_body ON posts (content) WHERE content IS NOT NULL;
CREATE VIEW user_emails AS SELECT id, mail FROM accounts;
