CREATE FUNCTION add_one(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT x + 1';
CREATE FUNCTION label(x integer) RETURNS text LANGUAGE sql AS 'SELECT x::text';
CREATE FUNCTION gone() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE PROCEDURE tidy() LANGUAGE sql AS 'SELECT 1';
CREATE TABLE t (id integer PRIMARY KEY);
CREATE VIEW labels AS SELECT id, public.label(id) AS l FROM t;
CREATE MATERIALIZED VIEW label_counts AS SELECT public.label(id) AS l, count(*) AS n FROM t GROUP BY 1;
CREATE UNIQUE INDEX label_counts_l ON label_counts (l);
