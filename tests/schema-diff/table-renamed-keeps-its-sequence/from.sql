-- A table renamed keeps its serial column's sequence name (packages_id_seq after packages →
-- crates). Not said to be a rename: the sequence is kept, and only its owner changes (before,
-- the diff created it again, and apply failed).
CREATE TABLE packages (id serial PRIMARY KEY, name text NOT NULL);
