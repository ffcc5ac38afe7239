CREATE TABLE t (id integer PRIMARY KEY, a text, b integer, c jsonb);
CREATE INDEX t_a ON t (a);
CREATE INDEX t_b ON t (b);
CREATE INDEX t_gone ON t (a, b);
