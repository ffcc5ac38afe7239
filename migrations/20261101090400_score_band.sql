-- id: 20261101090400
-- parents: 20261101090300
-- description: score band column, filled by the score_bands backfill

-- runner:up
-- Expand: a nullable column that the backfill fills (backfills/score_bands.toml).
ALTER TABLE scores ADD COLUMN band text;

-- runner:down
ALTER TABLE scores DROP COLUMN band;
