-- id: 20261101090300
-- parents: 20261101090200
-- description: player country

-- runner:up
ALTER TABLE players ADD COLUMN country text;
INSERT INTO players (id, handle, country) VALUES (1, 'ada', 'GB'), (2, 'grace', 'US');
INSERT INTO scores (id, player_id, mode, points) VALUES (1, 1, 'ranked', 1200), (2, 2, 'ranked', 1350), (3, 2, 'practice', 40);

-- runner:down
DELETE FROM scores WHERE player_id IN (1, 2);
DELETE FROM players WHERE id IN (1, 2);
ALTER TABLE players DROP COLUMN country;
