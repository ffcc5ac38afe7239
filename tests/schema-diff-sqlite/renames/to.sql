CREATE TABLE kept (id INTEGER PRIMARY KEY, mail TEXT NOT NULL);
CREATE INDEX kept_email ON kept (mail);
CREATE VIEW emails AS SELECT mail FROM kept;
