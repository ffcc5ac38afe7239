-- A table rebuilt the way histories do it by hand: renamed to a backup name, created again
-- (its serial takes `events_id_seq1`, since the backup keeps `events_id_seq`), rows copied.
-- Before, this was "serial column … (changed)", not handled.
CREATE TABLE events (id serial PRIMARY KEY, kind text);
