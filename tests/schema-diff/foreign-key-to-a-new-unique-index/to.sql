CREATE TABLE accounts (id integer PRIMARY KEY, email text NOT NULL);
CREATE UNIQUE INDEX accounts_email ON accounts (email);
CREATE TABLE activity (id integer PRIMARY KEY, account_email text REFERENCES accounts (email));
CREATE TABLE sessions (id integer PRIMARY KEY, account_email text REFERENCES accounts (email));
