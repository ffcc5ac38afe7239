-- id: 20261101090500
-- parents: 20261101090400
-- description: index scores by band, once every band is filled
-- requires-backfill: score_bands

-- runner:up
-- Contract: this runs only after the score_bands backfill has completed. On PostgreSQL this is
-- where `ALTER TABLE scores ALTER COLUMN band SET NOT NULL` would go.
CREATE INDEX scores_band ON scores (band);

-- runner:down
DROP INDEX scores_band;
