CREATE TABLE a (id integer PRIMARY KEY, code text UNIQUE, qty integer CHECK (qty > 0), span int4range);
CREATE TABLE b (id integer, label text);
ALTER TABLE b ADD CONSTRAINT b_id_small CHECK (id < 1000000) NOT VALID;
