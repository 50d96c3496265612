-- The delivery outbox, broadcasts, the planner's progress per tenant and
-- the per-channel send counters behind daily quotas and rate windows.
--
-- Outbox times are milliseconds since the Unix epoch (INTEGER): the
-- dispatcher compares them on every row, and both engines store them as one
-- 64-bit integer. Rows never move between tenants; every query filters by
-- `tenant_id` or by the row's own id.

CREATE TABLE broadcasts (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    subject     TEXT,
    body        TEXT    NOT NULL,
    audience    TEXT    NOT NULL, -- JSON, as given
    send_at     INTEGER NOT NULL,
    deliveries  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The idempotency key: a UUID derived from the delivery's identity
    -- (contact, child, message, day; or contact, broadcast). Planning the
    -- same day again collides here and adds nothing.
    key             TEXT    NOT NULL UNIQUE,
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

-- The last day the planner fully planned for a tenant, and from when
-- subscriber changes still need planning into it.
CREATE TABLE plan_state (
    tenant_id TEXT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    day       TEXT NOT NULL,
    watermark TEXT NOT NULL
);

-- Sends counted per channel and window (daily quotas, rate windows such as
-- X's 200 per 15 minutes), windows aligned to the epoch.
CREATE TABLE channel_sends (
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel        TEXT    NOT NULL,
    window_seconds INTEGER NOT NULL,
    window_start   INTEGER NOT NULL,
    sends          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel, window_seconds, window_start)
);

-- The planner finds subscribers changed since its watermark.
CREATE INDEX subscribers_changed ON subscribers (tenant_id, updated_at);
