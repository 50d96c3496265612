-- Delivery keys are unique per tenant and day (scheduled deliveries) or per
-- broadcast, instead of across the whole table.
--
-- A key is a UUID derived from the delivery's identity, so it is unique in
-- any case; what changes is the index that says so. Keyed by the random
-- UUID alone, each row a planner writes lands on an index page of its own,
-- and planning a national day (2.6 million children) rewrote most of that
-- index's pages: 4 to 5 times slower than now. Led by tenant and day (or
-- broadcast), a day's keys of a tenant sit side by side and planning it
-- touches a few pages. Planning the same day again still collides here and
-- adds nothing (`ON CONFLICT DO NOTHING`).
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt
-- (no other table refers to it); ids are kept, and AUTOINCREMENT goes on
-- from the largest.

CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The idempotency key: a UUID derived from the delivery's identity
    -- (contact, child, message, day; or contact, broadcast); unique per
    -- tenant and day, or broadcast (the indexes below).
    key             TEXT    NOT NULL,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subscriber_id   TEXT    NOT NULL,
    contact_id      TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    child_id        TEXT,
    message_id      TEXT,
    occurs_on       TEXT,    -- YYYY-MM-DD in the tenant's zone
    pregnancy       BOOLEAN NOT NULL DEFAULT FALSE,
    broadcast_id    TEXT,
    due_at          INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN
                        ('pending', 'held', 'in_flight', 'sent', 'failed', 'expired', 'cancelled', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- Incremented by every claim; a completion must present it.
    fence           INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER,
    -- The batch of the last attempt, kept while its outcome is unknown so
    -- that it is sent again as the same batch (same multicast retry key).
    batch           TEXT,
    plugin_version  TEXT,
    receipt         TEXT,
    last_error      TEXT,
    sent_at         INTEGER,
    updated_at      INTEGER NOT NULL,
    CHECK ((child_id IS NULL) = (broadcast_id IS NOT NULL))
);

INSERT INTO deliveries_new SELECT * FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

CREATE UNIQUE INDEX deliveries_scheduled_key ON deliveries (tenant_id, occurs_on, key)
    WHERE broadcast_id IS NULL;
CREATE UNIQUE INDEX deliveries_broadcast_key ON deliveries (tenant_id, broadcast_id, key)
    WHERE broadcast_id IS NOT NULL;
-- What the dispatcher claims next.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- Leases to rescue.
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE status = 'in_flight';
-- Listing a tenant's deliveries, newest first; a subscriber's history.
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id);
CREATE INDEX deliveries_subscriber ON deliveries (tenant_id, subscriber_id, id);
-- Cancelling or holding what is still to send for a child, a contact, a channel.
CREATE INDEX deliveries_open_child ON deliveries (tenant_id, child_id) WHERE status IN ('pending', 'held');
CREATE INDEX deliveries_open_contact ON deliveries (tenant_id, contact_id) WHERE status IN ('pending', 'held');
CREATE INDEX deliveries_open_channel ON deliveries (tenant_id, channel, status) WHERE status IN ('pending', 'held');
CREATE INDEX deliveries_batch ON deliveries (batch) WHERE batch IS NOT NULL;
