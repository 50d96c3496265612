//! The PostgreSQL store: the scale-out engine, where several host nodes
//! share one database.
//!
//! Write transactions run at READ COMMITTED and rely on unique constraints
//! and `ON CONFLICT` for races between nodes; the few read-modify-write
//! sequences that constraints cannot guard (plugin activation and rollback)
//! take a transaction-scoped advisory lock. Multi-query reads run in a
//! REPEATABLE READ, READ ONLY transaction so they see one snapshot.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tayori_core::StoreResult;

use crate::ConnectError;
use crate::error::DbResultExt;

/// The engine the shared queries are compiled for in this module.
type Db = sqlx::Postgres;
/// The store type the shared trait implementations are for.
type Engine = PostgresStore;

// The same source implements the traits for both engines; see `shared/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections per node. A node's work is short queries; the planner and the
/// dispatcher hold at most a few at once.
const MAX_CONNECTIONS: u32 = 16;
/// How long a query waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// PostgreSQL's limit on bind parameters per statement.
const MAX_BIND_PARAMS: usize = 65_535;
/// After five runs PostgreSQL may switch a prepared statement to a generic
/// plan, blind to its values. For a thousand-key `IN` list planned with the
/// statistics of before a bulk load, that plan filtered the tenant's whole
/// table per chunk (2 s a query; a 100,000-row re-import took 300 s instead
/// of 6 s). Bulk statements are therefore sent unprepared and planned with
/// their values each time.
const PERSIST_BULK_STATEMENTS: bool = false;
/// The first key of Tayori's two-key advisory locks on plugin changes
/// (`'tayo'` in ASCII). Other subsystems must use other first keys.
const PLUGIN_LOCK_CLASS: i32 = 0x7461_796f;
/// The first key of the advisory locks on a tenant's plan (`'tayp'`).
const PLAN_LOCK_CLASS: i32 = 0x7461_7970;
/// The first key of the advisory lock on claiming kept batches (`'tayb'`).
const BATCH_CLAIM_LOCK_CLASS: i32 = 0x7461_7962;

/// The order that lines up the texts of the figures' reads
/// (`shared/report_codes.rs`): PostgreSQL promises none without it.
const AGG_ORDER: &str = " ORDER BY c.id";
/// How a claim locks the rows it picks: rows another node is claiming are
/// skipped, not waited for, so nodes claim disjoint rows side by side.
const CLAIM_LOCK: &str = " FOR UPDATE SKIP LOCKED";

/// Whether a starting dispatcher may take back every in-flight claim
/// (`OutboxStore::take_over_claims`): several nodes share one PostgreSQL
/// database, so another node may hold them; they wait for their lease.
const ONE_HOST: bool = false;

/// The change cursor (`OutboxStore::change_cursor`): just below the oldest
/// transaction still running. Changes are numbered by their transaction's
/// id (migration 0012); every transaction below this one has ended, and
/// every later one gets a larger id.
const CHANGE_CURSOR: &str = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1";

/// Tayori's store on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pools: Pools,
    registrar: shared::Registrar,
    /// Woken by NOTIFY on [`PLUGIN_CHANNEL`] (any node's plugin change).
    plugin_changes: std::sync::Arc<tokio::sync::Notify>,
}

/// The NOTIFY channel of plugin changes.
const PLUGIN_CHANNEL: &str = "tayori_plugins";

/// The connections (one pool serves reads and writes).
#[derive(Debug, Clone)]
struct Pools {
    pool: PgPool,
}

impl Pools {
    /// The pool for reads outside a transaction.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction (READ COMMITTED).
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Db>> {
        self.pool.begin().await.db()
    }

    /// A read transaction: one consistent snapshot across several queries.
    async fn begin_read(&self) -> StoreResult<sqlx::Transaction<'static, Db>> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .db()
    }
}

impl PostgresStore {
    /// Connects to the database a `postgres:` URL names and runs the
    /// migrations (sqlx serialises concurrent migrators with an advisory lock,
    /// so several nodes may start at once). Connection parameters such as
    /// `sslmode` and `options[search_path]` are taken from the URL. Call from
    /// within the Tokio runtime that will use the store: its registration
    /// task runs there.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let redacted = crate::redact_url(url);
        let options =
            PgConnectOptions::from_str(url).map_err(|source| ConnectError::InvalidUrl {
                url: redacted.clone(),
                source,
            })?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| ConnectError::Open {
                url: redacted.clone(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| ConnectError::Migrate {
                url: redacted,
                source,
            })?;
        let plugin_changes = std::sync::Arc::new(tokio::sync::Notify::new());
        tokio::spawn(listen_for_plugin_changes(
            pool.clone(),
            plugin_changes.clone(),
        ));
        let pools = Pools { pool };
        let (registrar, registering) = shared::Registrar::new(pools.clone());
        tokio::spawn(registering);
        Ok(Self {
            registrar,
            pools,
            plugin_changes,
        })
    }

    fn reader(&self) -> &PgPool {
        self.pools.reader()
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Db>> {
        self.pools.begin_write().await
    }

    async fn begin_read(&self) -> StoreResult<sqlx::Transaction<'static, Db>> {
        self.pools.begin_read().await
    }

    fn registrar(&self) -> &shared::Registrar {
        &self.registrar
    }
}

#[async_trait::async_trait]
impl tayori_core::StoreLifecycle for PostgresStore {
    async fn close(&self) -> StoreResult<()> {
        self.pools.pool.close().await;
        Ok(())
    }
}

/// Serialises plugin version and activation changes across nodes until the
/// transaction ends.
/// The change is announced to every node when the transaction commits.
async fn lock_plugin_changes(conn: &mut sqlx::PgConnection, plugin_id: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(PLUGIN_LOCK_CLASS)
        .bind(plugin_id)
        .execute(&mut *conn)
        .await
        .db()?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(PLUGIN_CHANNEL)
        .bind(plugin_id)
        .execute(conn)
        .await
        .db()?;
    Ok(())
}

/// Listens for plugin changes for as long as the pool lives, reconnecting
/// after failures (and waking waiters then, since a change may have been
/// missed meanwhile).
async fn listen_for_plugin_changes(pool: PgPool, changes: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        if pool.is_closed() {
            return;
        }
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if listener.listen(PLUGIN_CHANNEL).await.is_ok() {
                    changes.notify_waiters();
                    while listener.recv().await.is_ok() {
                        changes.notify_waiters();
                    }
                }
                tracing::warn!("lost the plugin-change listener; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for plugin changes; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits for a NOTIFY of a plugin change, at most `max_wait`.
async fn wait_plugin_change(store: &PostgresStore, max_wait: Duration) {
    let _ = tokio::time::timeout(max_wait, store.plugin_changes.notified()).await;
}

/// Serialises planners of several nodes writing the same tenant's plan until
/// the transaction ends (their rows are the same; the lock saves the work of
/// racing on them).
async fn lock_plan(conn: &mut sqlx::PgConnection, tenant_id: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(PLAN_LOCK_CLASS)
        .bind(tenant_id)
        .execute(conn)
        .await
        .db()?;
    Ok(())
}

/// Whether this transaction may claim kept batches: one claim at a time
/// does, until its transaction ends; the others leave the batches to it
/// (they never wait). Two claims taking a batch's rows side by side would
/// each wait for the other's rows: a deadlock, again and again, while the
/// batch stays unsent. The lock is per schema (advisory locks are per
/// database; the test suites run a schema each).
async fn lock_batch_claims(conn: &mut sqlx::PgConnection) -> StoreResult<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(BATCH_CLAIM_LOCK_CLASS)
        .fetch_one(conn)
        .await
        .db()
}
