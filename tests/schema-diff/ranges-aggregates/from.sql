CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE FUNCTION add_len(acc integer, s text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT acc + length(s)';
CREATE AGGREGATE total_len (text) (SFUNC = add_len, STYPE = integer, INITCOND = '0');
CREATE AGGREGATE gone_agg (integer) (SFUNC = int4pl, STYPE = integer);
CREATE TABLE t (id integer PRIMARY KEY, r floatrange);
