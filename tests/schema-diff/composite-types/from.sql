CREATE TYPE pair AS (a integer, b integer);
CREATE TYPE gone AS (x text);
CREATE TYPE money_amount AS (amount numeric, currency text);
CREATE TYPE loose AS (x integer);
CREATE TABLE t (id integer PRIMARY KEY, p pair);
