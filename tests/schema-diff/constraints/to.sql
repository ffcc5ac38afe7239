CREATE TABLE a (id integer PRIMARY KEY, code text, qty integer CONSTRAINT qty_sane CHECK (qty >= 0 AND qty < 1000), span int4range,
  CONSTRAINT a_code_qty UNIQUE (code, qty),
  CONSTRAINT no_overlap EXCLUDE USING gist (span WITH &&));
CREATE TABLE b (id integer PRIMARY KEY, label text CHECK (label <> ''));
