CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE DOMAIN email AS text;
CREATE DOMAIN gone AS text;
CREATE TABLE t (id integer PRIMARY KEY, n positive, e email);
