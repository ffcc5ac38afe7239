-- id: 20261101090100
-- parents: 20261101090000
-- description: scores with a game mode

-- runner:up
-- `mode` is an enumeration; a CHECK constraint keeps this file portable between SQLite and
-- PostgreSQL (examples/entities-postgres uses a real PostgreSQL enum type).
CREATE TABLE scores (
    id          integer PRIMARY KEY,
    player_id   integer NOT NULL REFERENCES players (id) ON DELETE CASCADE,
    mode        text NOT NULL CHECK (mode IN ('practice', 'ranked', 'tournament')),
    points      integer NOT NULL CHECK (points >= 0),
    recorded_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX scores_player_recent ON scores (player_id, recorded_at);

-- runner:down
DROP TABLE scores;
