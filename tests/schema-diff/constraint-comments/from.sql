-- Comments on constraints, of a table and of a domain (before, skipped without a word), one on
-- a constraint whose definition changes (it comes back without its comment) and one removed.
CREATE DOMAIN score AS integer CONSTRAINT score_range CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE results (
  id integer CONSTRAINT results_pkey PRIMARY KEY,
  points score,
  CONSTRAINT positive_id CHECK (id > 0),
  CONSTRAINT small_id CHECK (id < 1000000)
);
COMMENT ON CONSTRAINT small_id ON results IS 'ids stay below a million';
