-- Inbound events: what channels' plugins parsed from their platforms'
-- webhooks (follow, unfollow, text, postback). Platforms redeliver what
-- they think was lost, so an event is kept once per platform event id and
-- acted on in the transaction that keeps it. Times are milliseconds since
-- the Unix epoch, as in the outbox.

CREATE TABLE inbound_events (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    channel       TEXT    NOT NULL,
    -- The platform's id of the event (LINE's webhookEventId).
    event_id      TEXT    NOT NULL,
    -- The sender on the platform; NULL once its subscriber is erased.
    address       TEXT,
    kind          TEXT    NOT NULL CHECK (kind IN ('follow', 'unfollow', 'text', 'postback')),
    unblocked     BOOLEAN NOT NULL DEFAULT FALSE,
    -- A text's words or a postback's data; NULL once its subscriber is erased.
    data          TEXT,
    occurred_at   BIGINT  NOT NULL,
    received_at   BIGINT  NOT NULL,
    action        TEXT    NOT NULL CHECK (action IN
                      ('recorded', 'contact_invalidated', 'contact_restored', 'superseded')),
    subscriber_id TEXT,
    contact_id    TEXT,
    -- A redelivery collides here and is recorded (and acted on) once.
    UNIQUE (tenant_id, channel, event_id)
);
-- Listing a tenant's events in order of arrival.
CREATE INDEX inbound_events_tenant ON inbound_events (tenant_id, id);
-- The latest follow or unfollow of an address.
CREATE INDEX inbound_events_address ON inbound_events (tenant_id, channel, address, occurred_at);
-- Erasing a subscriber's events.
CREATE INDEX inbound_events_subscriber ON inbound_events (tenant_id, subscriber_id);
