-- A foreign key to columns that a unique index (not a constraint) makes unique, both new: the
-- key must come after the index (before, it came first, and PostgreSQL said "there is no
-- unique constraint matching given keys for referenced table").
CREATE TABLE accounts (id integer PRIMARY KEY, email text NOT NULL);
CREATE TABLE activity (id integer PRIMARY KEY, account_email text);
