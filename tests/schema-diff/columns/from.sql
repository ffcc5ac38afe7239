CREATE TABLE t (
  id integer PRIMARY KEY,
  retyped integer,
  widened varchar(10) DEFAULT 'x',
  made_required text,
  made_optional text NOT NULL,
  defaulted integer,
  undefaulted integer DEFAULT 3,
  dropped text
);
