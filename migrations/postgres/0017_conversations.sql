-- The registration conversation of each chat contact (a LINE user of a
-- channel): where it stands, as the domain's `Conversation` in JSON
-- (tayori_core::domain::conversation). `round` is the number its buttons
-- carry, kept beside the JSON so that a save can check nobody moved it
-- meanwhile. Removed with the tenant, and when the subscriber the address
-- belongs to is erased.
CREATE TABLE conversations (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel    TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    round      BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, channel, address)
);

-- What parents did at the front door, by channel, for the monthly figures:
-- registered, confirmed (an email address opened its link), stopped (a stop
-- link or the chat), blocked (an unfollow of a registered contact). No
-- address: only the subscriber it concerned, NULL where none.
CREATE TABLE front_door_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel       TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('registered', 'confirmed', 'stopped', 'blocked')),
    subscriber_id TEXT,
    occurred_at   BIGINT  NOT NULL
);
CREATE INDEX front_door_events_tenant ON front_door_events (tenant_id, occurred_at);

-- Expected children whose parents were asked, once, 14 days after the due
-- date with no birth reported, whether the baby was born. The row is the
-- claim: a second pass (or another node) asks nobody twice.
CREATE TABLE birth_questions (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    child_id  TEXT NOT NULL,
    asked_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, child_id)
);

-- A tenant's own words for the chat's editable texts (the greeting, the
-- welcome): a JSON object, text key -> locale -> text. No row: the
-- defaults.
CREATE TABLE tenant_texts (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    texts     TEXT NOT NULL
);
