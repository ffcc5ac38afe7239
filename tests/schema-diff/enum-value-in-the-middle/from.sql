-- A recommendation per score, its band an enum; a materialized view of the latest score reads
-- it, an index and a default name it, an array column holds it. Going back from `to` removes
-- a value in the middle: the type is built again and every use moves to it.
CREATE TYPE band AS ENUM ('Buy', 'Hold', 'Sell');
CREATE TABLE scores (
    player integer NOT NULL,
    day date NOT NULL,
    points integer NOT NULL,
    band band NOT NULL DEFAULT 'Hold',
    history band[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (player, day)
);
CREATE INDEX scores_band ON scores (band);
CREATE MATERIALIZED VIEW latest AS
    SELECT DISTINCT ON (player) player, day, band FROM scores ORDER BY player, day DESC;
CREATE UNIQUE INDEX latest_player ON latest (player);
CREATE VIEW bands AS SELECT band, count(*) AS n FROM scores GROUP BY band;
