CREATE DOMAIN positive AS integer DEFAULT 1 NOT NULL CONSTRAINT positive_check CHECK (VALUE > 0) CONSTRAINT small CHECK (VALUE < 1000);
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
CREATE DOMAIN code AS varchar(10) DEFAULT 'x';
CREATE TABLE t (id integer PRIMARY KEY, n positive, e email, c code);
CREATE FUNCTION twice(x positive) RETURNS integer LANGUAGE sql AS 'SELECT x * 2';
