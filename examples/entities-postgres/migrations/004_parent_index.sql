-- id: 004
-- parents: 003
-- description: index children by parent without blocking writes
-- transaction: none

-- runner:up
CREATE INDEX CONCURRENTLY entities_parent ON entities (parent_id);
REFRESH MATERIALIZED VIEW CONCURRENTLY entity_counts;

-- runner:down
DROP INDEX CONCURRENTLY entities_parent;
