CREATE TABLE kept (id serial PRIMARY KEY, note text, seq smallserial);
CREATE TABLE fresh (id bigserial PRIMARY KEY, n integer);
CREATE TABLE "Odd Name" ("Odd Col" serial);
