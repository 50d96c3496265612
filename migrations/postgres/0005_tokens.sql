-- API tokens. Only the SHA-256 of a token (lower-case hex) is stored.

CREATE TABLE api_tokens (
    id         TEXT        NOT NULL PRIMARY KEY,
    token_hash TEXT        NOT NULL UNIQUE,
    role       TEXT        NOT NULL CHECK (role IN ('operator', 'tenant_admin', 'partner')),
    tenant_id  TEXT        REFERENCES tenants (id) ON DELETE CASCADE,
    plugin_ids JSONB       NOT NULL DEFAULT '[]', -- for partners
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CHECK ((role = 'tenant_admin') = (tenant_id IS NOT NULL))
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);
