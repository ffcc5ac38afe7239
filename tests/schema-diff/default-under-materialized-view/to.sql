

CREATE TABLE scores (id integer PRIMARY KEY, points integer NOT NULL DEFAULT 10, band text DEFAULT 'unranked' NOT NULL);
CREATE MATERIALIZED VIEW totals AS SELECT band, sum(points) AS points FROM scores GROUP BY band;
CREATE UNIQUE INDEX totals_band ON totals (band);
