-- An inbound event the host cannot act on as it came (a NUL in its text,
-- an address or a text over the limits, a time out of range) is kept as
-- `refused`, with the reason, instead of refusing the whole webhook: the
-- other events of the same delivery take effect, and a redelivery finds the
-- refused event there and does nothing again.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt,
-- rows, ids and indexes as they were.

CREATE TABLE inbound_events_0014 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel       TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    address       TEXT,
    kind          TEXT    NOT NULL CHECK (kind IN ('follow', 'unfollow', 'text', 'postback')),
    unblocked     BOOLEAN NOT NULL DEFAULT FALSE,
    data          TEXT,
    occurred_at   INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    action        TEXT    NOT NULL CHECK (action IN
                      ('recorded', 'contact_invalidated', 'contact_restored', 'superseded',
                       'refused')),
    subscriber_id TEXT,
    contact_id    TEXT,
    -- Why a refused event was refused; NULL for every other action.
    reason        TEXT,
    UNIQUE (tenant_id, channel, event_id)
);

INSERT INTO inbound_events_0014 (id, tenant_id, channel, event_id, address, kind, unblocked,
    data, occurred_at, received_at, action, subscriber_id, contact_id)
SELECT id, tenant_id, channel, event_id, address, kind, unblocked,
    data, occurred_at, received_at, action, subscriber_id, contact_id
FROM inbound_events;

DROP TABLE inbound_events;
ALTER TABLE inbound_events_0014 RENAME TO inbound_events;

CREATE INDEX inbound_events_tenant ON inbound_events (tenant_id, id);
CREATE INDEX inbound_events_address ON inbound_events (tenant_id, channel, address, occurred_at);
CREATE INDEX inbound_events_subscriber ON inbound_events (tenant_id, subscriber_id);
