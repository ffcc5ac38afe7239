CREATE TABLE kept (id integer PRIMARY KEY, note text);
CREATE TABLE gone (id integer PRIMARY KEY, kept_id integer REFERENCES kept(id));
CREATE TABLE also_gone (id integer PRIMARY KEY, gone_id integer REFERENCES gone(id));
