CREATE TABLE kept_old (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE INDEX kept_email ON kept_old (email);
CREATE VIEW emails AS SELECT email FROM kept_old;
