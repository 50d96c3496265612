-- The message catalog and each tenant's additions to it.
-- `rule` and `content` are JSON: the rule enum and the per-locale content of
-- tayori-core's catalog module, kept exactly as written.

CREATE TABLE programs (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL
);

CREATE TABLE catalog_messages (
    id         TEXT    NOT NULL PRIMARY KEY, -- stable, unique in the catalog
    program_id TEXT    NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    stage      TEXT,
    rule       TEXT    NOT NULL, -- JSON
    content    TEXT    NOT NULL  -- JSON: locale -> {subject, body}
);
CREATE INDEX catalog_messages_program ON catalog_messages (program_id, position);

-- A tenant's text appended to one message (`message`) or to every message of
-- a stage (`stage`).
CREATE TABLE local_inserts (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('message', 'stage')),
    target      TEXT NOT NULL,
    content     TEXT NOT NULL, -- JSON: locale -> text
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, target_kind, target)
);

CREATE TABLE tenant_messages (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    stage      TEXT,
    rule       TEXT NOT NULL, -- JSON
    content    TEXT NOT NULL, -- JSON: locale -> {subject, body}
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tenant_messages_id ON tenant_messages (id);
