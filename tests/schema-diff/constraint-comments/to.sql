CREATE DOMAIN score AS integer CONSTRAINT score_range CHECK (VALUE BETWEEN 0 AND 100);
COMMENT ON CONSTRAINT score_range ON DOMAIN score IS 'a percentage';
CREATE TABLE results (
  id integer CONSTRAINT results_pkey PRIMARY KEY,
  points score,
  CONSTRAINT positive_id CHECK (id > 1),
  CONSTRAINT small_id CHECK (id < 1000000)
);
COMMENT ON CONSTRAINT results_pkey ON results IS 'the result''s id';
COMMENT ON CONSTRAINT positive_id ON results IS 'no zero';
