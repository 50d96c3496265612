-- Tenants (municipalities) and their channels (DESIGN.md, "Domain model").

CREATE TABLE tenants (
    id                      TEXT        PRIMARY KEY,
    name                    TEXT        NOT NULL,
    time_zone               TEXT        NOT NULL DEFAULT 'Asia/Tokyo',
    send_time               TEXT        NOT NULL DEFAULT '09:00', -- HH:MM
    span                    TEXT        NOT NULL DEFAULT 'to_3rd_birthday'
        CHECK (span IN ('to_3rd_birthday', 'to_6th_birthday', 'to_18th_birthday', 'end_of_school_year_age_7')),
    programs                JSONB       NOT NULL DEFAULT '["standard"]', -- array of program ids
    lateness_window_minutes BIGINT      NOT NULL DEFAULT 360 CHECK (lateness_window_minutes >= 0),
    quiet_start             TEXT, -- HH:MM
    quiet_end               TEXT, -- HH:MM
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- A tenant's binding of a plugin. Secret config fields are encrypted above
-- the store into `secrets_ciphertext` (empty: no secrets); `config` holds the
-- rest. A paused channel has a reason (e.g. the plugin said `unauthorized`).
CREATE TABLE channels (
    tenant_id          TEXT        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name               TEXT        NOT NULL,
    plugin_id          TEXT        NOT NULL,
    version_pin        TEXT, -- semver; NULL follows the active version
    config             JSONB       NOT NULL, -- no secrets
    secrets_ciphertext BYTEA       NOT NULL DEFAULT '\x',
    allowed_hosts      JSONB       NOT NULL DEFAULT '[]', -- array of host[:port]
    rate_per_second    BIGINT      CHECK (rate_per_second >= 0),
    daily_quota        BIGINT      CHECK (daily_quota >= 0),
    paused_reason      TEXT,
    paused_at          TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, name),
    CHECK ((paused_reason IS NULL) = (paused_at IS NULL))
);
CREATE INDEX channels_plugin ON channels (plugin_id);
