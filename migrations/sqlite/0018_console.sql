-- The web console's people (issue 15): accounts, their sessions, the
-- invitations that create them, and the audit log of every change. Times
-- are milliseconds since the epoch. Secrets are never stored: a password
-- is its Argon2id PHC string, a session or invitation token its SHA-256
-- (lower-case hex).

-- An operator sees every tenant; a staff member one tenant, with a set of
-- permissions (a JSON array of `dashboard`, `broadcasts`, `content`,
-- `channels`, `team`). `failed_attempts` counts wrong passwords since the
-- last sign-in or lock; `locked_until` is when a lock ends.
CREATE TABLE console_accounts (
    id              TEXT    NOT NULL PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('operator', 'staff')),
    tenant_id       TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    permissions     TEXT    NOT NULL DEFAULT '[]',
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    CHECK ((role = 'staff') = (tenant_id IS NOT NULL))
);
CREATE INDEX console_accounts_tenant ON console_accounts (tenant_id);

-- A signed-in browser. `csrf_secret` is what the session's forms carry.
CREATE TABLE console_sessions (
    token_hash   TEXT    NOT NULL PRIMARY KEY,
    account_id   TEXT    NOT NULL REFERENCES console_accounts (id) ON DELETE CASCADE,
    csrf_secret  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);

-- A link that creates an account once: a staff member of a tenant, or an
-- operator (the first start's link).
CREATE TABLE console_invitations (
    id          TEXT    NOT NULL PRIMARY KEY,
    token_hash  TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL CHECK (role IN ('operator', 'staff')),
    tenant_id   TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT,
    permissions TEXT    NOT NULL DEFAULT '[]',
    invited_by  TEXT    REFERENCES console_accounts (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    CHECK ((role = 'staff') = (tenant_id IS NOT NULL))
);
CREATE INDEX console_invitations_tenant ON console_invitations (tenant_id);

-- Who did what, when. Kept when the account goes (no reference).
CREATE TABLE console_audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    account_id TEXT,
    tenant_id  TEXT,
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX console_audit_tenant ON console_audit (tenant_id, id);
