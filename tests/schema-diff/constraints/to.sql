CREATE TABLE a (id integer PRIMARY KEY, code text, qty integer CONSTRAINT qty_sane CHECK (qty >= 0 AND qty < 1000), span int4range,
  CONSTRAINT a_code_qty UNIQUE (code, qty),
  CONSTRAINT no_overlap EXCLUDE USING gist (span WITH &&));
CREATE TABLE b (id integer PRIMARY KEY, label text CHECK (label <> ''));
ALTER TABLE b ADD CONSTRAINT b_id_small CHECK (id < 1000000);
ALTER TABLE b ADD CONSTRAINT b_id_positive CHECK (id > 0) NOT VALID;
