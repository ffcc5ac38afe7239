CREATE SCHEMA "New NS";
CREATE TABLE "New NS".t (id integer PRIMARY KEY, ref integer);
CREATE TABLE public.names (id integer PRIMARY KEY, name text COLLATE "C");
