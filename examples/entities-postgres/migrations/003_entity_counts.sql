-- id: 003
-- parents: 002
-- description: materialized view of entity counts per kind

-- runner:up
CREATE MATERIALIZED VIEW entity_counts AS
SELECT kind, count(*) AS entities FROM entities GROUP BY kind;
-- REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index on plain columns.
CREATE UNIQUE INDEX entity_counts_kind ON entity_counts (kind);

-- runner:down
DROP MATERIALIZED VIEW entity_counts;
