-- id: 20261101090200
-- parents: 20261101090100
-- description: leaderboard index, built outside a transaction
-- transaction: none

-- runner:up
-- On PostgreSQL you would write CREATE INDEX CONCURRENTLY here so that writes to scores go on
-- while the index builds; that needs `transaction: none`, as does this file.
CREATE INDEX scores_leaderboard ON scores (mode, points DESC);

-- runner:down
DROP INDEX scores_leaderboard;
