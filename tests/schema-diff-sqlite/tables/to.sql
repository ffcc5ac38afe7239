CREATE TABLE kept (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(name) > 0),
  n REAL DEFAULT 0,
  added TEXT DEFAULT 'x',
  doubled REAL GENERATED ALWAYS AS (n * 2) VIRTUAL
);
-- Formatting and case are not a change.
create table SAME (
    id integer primary key,
    "v" text
);
CREATE TABLE fresh (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
CREATE TABLE strict_one (id INTEGER PRIMARY KEY, n INTEGER NOT NULL) STRICT;
