CREATE TABLE t (id integer PRIMARY KEY, a text, b integer, c jsonb);
CREATE INDEX t_a ON t (a DESC NULLS LAST);
CREATE UNIQUE INDEX t_b ON t (b) WHERE b IS NOT NULL;
CREATE INDEX t_lower ON t (lower(a)) INCLUDE (b);
CREATE INDEX t_c ON t USING gin (c jsonb_path_ops);
CREATE INDEX t_hash ON t USING hash (a);
