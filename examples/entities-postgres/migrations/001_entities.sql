-- id: 001
-- parents: none
-- description: entity hierarchy

-- runner:up
CREATE TYPE entity_kind AS ENUM ('organisation', 'team', 'person');
CREATE TABLE entities (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id  bigint REFERENCES entities (id),
    kind       entity_kind NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS NOT NULL OR kind = 'organisation')
);

-- runner:down
DROP TABLE entities;
DROP TYPE entity_kind;
