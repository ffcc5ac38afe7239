-- Only a default changes under a materialized view that reads the column: one SET DEFAULT,
-- never the view dropped and computed again.
CREATE TABLE scores (id integer PRIMARY KEY, points integer NOT NULL DEFAULT 0, band text DEFAULT 'none');
CREATE MATERIALIZED VIEW totals AS SELECT band, sum(points) AS points FROM scores GROUP BY band;
CREATE UNIQUE INDEX totals_band ON totals (band);
