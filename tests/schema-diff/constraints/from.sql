CREATE TABLE a (id integer PRIMARY KEY, code text UNIQUE, qty integer CHECK (qty > 0), span int4range);
CREATE TABLE b (id integer, label text);
