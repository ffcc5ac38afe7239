CREATE TABLE kept (id serial PRIMARY KEY, note text);
CREATE TABLE gone (id bigserial PRIMARY KEY);
