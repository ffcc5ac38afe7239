CREATE TABLE t (id integer PRIMARY KEY);
CREATE FUNCTION add_one(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT x + 2';
CREATE FUNCTION label(x integer) RETURNS varchar LANGUAGE sql AS 'SELECT x::varchar';
CREATE PROCEDURE tidy() LANGUAGE sql AS 'SELECT 2';
CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS 'SELECT ''c'' || (SELECT count(*) FROM public.t)';
CREATE FUNCTION positive(x integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT x > 0';
CREATE TABLE codes (code text DEFAULT next_code(), n integer CHECK (positive(n)), doubled integer GENERATED ALWAYS AS (add_one(n)) STORED);
