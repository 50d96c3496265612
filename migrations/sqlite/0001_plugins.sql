-- Plugin versions with their component bytes, compiled artifacts, and the
-- activation history (DESIGN.md, "Plugin lifecycle").

CREATE TABLE plugin_versions (
    -- Insertion order: "oldest first" without comparing timestamps as text.
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id    TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    -- SHA-256 of `bytes`, lower-case hex.
    digest       TEXT    NOT NULL,
    contract     TEXT    NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    manifest     TEXT    NOT NULL, -- JSON
    bytes        BLOB    NOT NULL,
    published_at TEXT    NOT NULL,
    UNIQUE (plugin_id, version)
);
CREATE INDEX plugin_versions_digest ON plugin_versions (digest);

-- Compiled components, per engine (the engine key changes with wasmtime's
-- version and settings).
CREATE TABLE plugin_artifacts (
    digest     TEXT NOT NULL,
    engine_key TEXT NOT NULL,
    artifact   BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (digest, engine_key)
);

-- Every activation ever made. In force per (plugin, scope): the latest row
-- not rolled back. `scope` is '*' for all tenants or a tenant id (a canary;
-- no foreign key: a canary may name a tenant before it is created).
CREATE TABLE plugin_activations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id      TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    activated_at   TEXT    NOT NULL,
    rolled_back    BOOLEAN NOT NULL DEFAULT FALSE,
    rolled_back_at TEXT,
    FOREIGN KEY (plugin_id, version) REFERENCES plugin_versions (plugin_id, version)
);
CREATE INDEX plugin_activations_scope ON plugin_activations (plugin_id, scope, id);
