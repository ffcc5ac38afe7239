CREATE TABLE events (id serial PRIMARY KEY, kind text);
ALTER TABLE events RENAME TO events_backup;
CREATE TABLE events (id serial PRIMARY KEY, kind text, payload jsonb);
INSERT INTO events (kind) SELECT kind FROM events_backup;
