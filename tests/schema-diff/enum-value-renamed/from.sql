-- A label changed in place and said to be a rename: RENAME VALUE keeps the rows; without the
-- rename it would be a value removed and one added, a rebuild of the type.
CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('new', 'in progres', 'done');
CREATE TABLE app.tasks (id integer PRIMARY KEY, status app.status DEFAULT 'new');
