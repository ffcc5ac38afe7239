CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TYPE textrange AS RANGE (subtype = text, collation = "C");
CREATE FUNCTION add_len(acc integer, s text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT acc + length(s)';
CREATE FUNCTION add_len8(acc bigint, s text) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT acc + length(s)';
CREATE AGGREGATE total_len (text) (SFUNC = add_len, STYPE = integer, INITCOND = '10', PARALLEL = SAFE);
CREATE AGGREGATE total_len8 (text) (SFUNC = add_len8, STYPE = bigint, INITCOND = '0', COMBINEFUNC = int8pl);
CREATE TABLE t (id integer PRIMARY KEY, r floatrange, names textrange);
