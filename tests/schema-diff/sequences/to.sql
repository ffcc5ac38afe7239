CREATE SEQUENCE counter;
CREATE SEQUENCE tuned AS bigint INCREMENT BY 5 MINVALUE 1 MAXVALUE 100000 START WITH 100 CACHE 1 CYCLE;
CREATE SEQUENCE fresh AS smallint;
CREATE TABLE t (id integer PRIMARY KEY, n bigint DEFAULT nextval('fresh'), code text DEFAULT 'c' || nextval('counter'));
CREATE SEQUENCE owned;
CREATE SEQUENCE released;
CREATE TABLE holder (x integer);
ALTER SEQUENCE owned OWNED BY t.id;
