-- Subscribers (households), their contacts and their children.
--
-- Contacts and children carry `tenant_id` themselves, so every query filters
-- by tenant directly, and a composite foreign key makes a row of one tenant
-- unable to hang under another tenant's subscriber. Ids are UUID text.
--
-- Erasure keeps the rows (deliveries will refer to them, and counts must
-- survive) but clears every personal field: external_id, contacts' address,
-- children's dates and stop reasons.

CREATE TABLE subscribers (
    id          TEXT NOT NULL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    external_id TEXT,
    locale      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'stopped', 'erased')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    erased_at   TEXT,
    -- SHA-256 of the import row last applied to this subscriber; cleared by
    -- any other change, so re-importing an unchanged row can skip it.
    import_digest TEXT,
    UNIQUE (tenant_id, id)
);
-- NULLs are distinct, so erased subscribers (external_id NULL) never clash.
CREATE UNIQUE INDEX subscribers_external_id ON subscribers (tenant_id, external_id);

CREATE TABLE contacts (
    id            TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL,
    subscriber_id TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    -- NULL once removed from the subscriber or erased.
    address       TEXT,
    status        TEXT    NOT NULL CHECK (status IN ('valid', 'invalid')),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscribers (tenant_id, id) ON DELETE CASCADE
);
-- One address on a channel belongs to one subscriber of a tenant: a family
-- registered twice would get every message twice.
CREATE UNIQUE INDEX contacts_address ON contacts (tenant_id, channel, address);
CREATE INDEX contacts_subscriber ON contacts (tenant_id, subscriber_id, position);

CREATE TABLE children (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    subscriber_id  TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    due_date       TEXT, -- YYYY-MM-DD
    birth_date     TEXT, -- YYYY-MM-DD
    status         TEXT    NOT NULL CHECK (status IN ('expecting', 'born', 'stopped')),
    stopped_reason TEXT,
    stopped_at     TEXT,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    FOREIGN KEY (tenant_id, subscriber_id) REFERENCES subscribers (tenant_id, id) ON DELETE CASCADE,
    CHECK (status <> 'born' OR birth_date IS NOT NULL)
);
CREATE INDEX children_subscriber ON children (tenant_id, subscriber_id, position);
CREATE INDEX children_tenant_status ON children (tenant_id, status);
