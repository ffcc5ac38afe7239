CREATE SCHEMA app;
CREATE TYPE app.status AS ENUM ('new', 'in_progress', 'done');
CREATE TABLE app.tasks (id integer PRIMARY KEY, status app.status DEFAULT 'new');
