CREATE TABLE t (
  id integer PRIMARY KEY,
  retyped bigint,
  widened varchar(40) DEFAULT 'y',
  made_required text NOT NULL,
  made_optional text,
  defaulted integer DEFAULT 42,
  undefaulted integer,
  added_plain numeric(12, 2),
  added_full text NOT NULL DEFAULT 'none',
  added_array integer[] DEFAULT '{}'
);
