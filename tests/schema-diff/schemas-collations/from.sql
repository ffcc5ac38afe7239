CREATE SCHEMA old_ns;
CREATE TABLE old_ns.t (id integer PRIMARY KEY);
CREATE TABLE public.names (id integer PRIMARY KEY, name text);
