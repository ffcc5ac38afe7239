CREATE SCHEMA other;
CREATE TABLE parent (id integer PRIMARY KEY, code text NOT NULL, CONSTRAINT parent_code_key UNIQUE (code, id));
CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent(id) ON DELETE SET NULL ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED, parent_code text,
  CONSTRAINT child_code FOREIGN KEY (parent_code, parent_id) REFERENCES parent(code, id) MATCH FULL);
CREATE TABLE other.grandchild (id integer PRIMARY KEY, child_id integer NOT NULL REFERENCES child(id) ON DELETE CASCADE);
