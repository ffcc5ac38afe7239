-- id: 002
-- parents: 001
-- description: path of an entity up to its organisation

-- runner:up
CREATE FUNCTION entity_path(start_id bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    result text := '';
    cur    entities%ROWTYPE;
BEGIN
    SELECT * INTO cur FROM entities WHERE id = start_id;
    WHILE FOUND LOOP
        result := cur.name || CASE WHEN result = '' THEN '' ELSE ' / ' || result END;
        EXIT WHEN cur.parent_id IS NULL;
        SELECT * INTO cur FROM entities WHERE id = cur.parent_id;
    END LOOP;
    RETURN result;
END;
$$;

INSERT INTO entities (parent_id, kind, name) OVERRIDING SYSTEM VALUE
SELECT NULL, 'organisation', 'Acme';
INSERT INTO entities (parent_id, kind, name)
SELECT id, 'team', 'Platform' FROM entities WHERE name = 'Acme';
INSERT INTO entities (parent_id, kind, name)
SELECT id, 'person', E'O\'Brien' FROM entities WHERE name = 'Platform';

-- runner:down
DELETE FROM entities;
DROP FUNCTION entity_path(bigint);
