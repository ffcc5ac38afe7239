CREATE SCHEMA ext;
CREATE EXTENSION citext WITH SCHEMA ext;
CREATE EXTENSION hstore;
CREATE TABLE t (id integer PRIMARY KEY, name ext.citext, attrs public.hstore);
