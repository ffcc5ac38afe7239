CREATE TYPE pair AS (a integer, b integer, c text);
CREATE TYPE money_amount AS (amount numeric);
CREATE TYPE loose AS (x bigint);
CREATE TYPE point3 AS (x float8, y float8, z float8);
CREATE TABLE t (id integer PRIMARY KEY, p pair, q point3);
