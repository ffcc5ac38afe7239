-- id: 20261101090000
-- parents: none
-- description: players

-- runner:up
CREATE TABLE players (
    id         integer PRIMARY KEY,
    handle     text NOT NULL UNIQUE,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- runner:down
DROP TABLE players;
