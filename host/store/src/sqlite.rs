//! The SQLite store: the embedded default (`tayori serve` with no flags).
//!
//! One file in WAL mode. SQLite has a single writer, so the store keeps a
//! pool of one connection for writes, whose transactions begin `IMMEDIATE`
//! (they take the write lock at once instead of failing on upgrade), and a
//! separate pool for reads, which WAL lets run beside the writer. Queuing
//! writers on the pool rather than on SQLite's busy handler keeps their wait
//! fair and short; the busy timeout still covers another process (a CLI verb)
//! writing to the same file. Registrations, the one write that arrives in
//! bursts from many clients, are grouped into shared transactions (see
//! `shared/registration.rs`) by a task on a thread of its own, and the log
//! is checkpointed by another task instead of by the writer (see
//! `sqlite/checkpoint.rs`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tayori_core::StoreResult;

use crate::ConnectError;
use crate::error::DbResultExt;

/// The engine the shared queries are compiled for in this module.
type Db = sqlx::Sqlite;
/// The store type the shared trait implementations are for.
type Engine = SqliteStore;

// The same source implements the traits for both engines; see `shared/mod.rs`.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

mod checkpoint;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a write waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers beside the single writer. Reads are short; a few connections keep
/// request handlers from queuing on each other without holding much memory.
const READERS: u32 = 4;
/// Page cache per connection, in KiB (SQLite's default is 2 MiB). A tenant's
/// subscribers and their indexes run to tens of MiB; with the default cache
/// an import or a planner pass re-reads pages from the OS at every probe.
const PAGE_CACHE_KIB: u32 = 32 * 1024;
/// How much of the file reads may map instead of copying (address space,
/// not memory: the pages are the OS's page cache).
const MMAP_BYTES: u64 = 1 << 30;
/// Rows a query's connection thread reads ahead of the task consuming them
/// (sqlx's default is 50). Each connection runs on its own thread and hands
/// rows over a bounded channel: with 50, a large result (the planner's
/// sources, a claim's 1,000 rows) stops the thread and wakes the task every
/// few dozen rows, and the two threads spend more time switching than
/// reading. A row is a few hundred bytes, so this is at most about 1 MiB a
/// query.
const ROW_BUFFER: usize = 4_096;
/// SQLite's default limit on bind parameters per statement (3.32 and later).
const MAX_BIND_PARAMS: usize = 32_766;
/// SQLite plans a statement once, when it is prepared, whatever the values:
/// keeping a bulk statement prepared only saves work.
const PERSIST_BULK_STATEMENTS: bool = true;

/// SQLite feeds every aggregate of a group the same rows in one pass, so
/// the texts of the figures' reads (`shared/report_codes.rs`) line up without an order.
const AGG_ORDER: &str = "";
/// How a claim locks the rows it picks: SQLite's single writer already
/// excludes every other claim.
const CLAIM_LOCK: &str = "";

/// Whether a starting dispatcher may take back every in-flight claim
/// (`OutboxStore::take_over_claims`): one host serves a SQLite file, so
/// whatever is in flight when it starts was its predecessor's, which is
/// gone.
const ONE_HOST: bool = true;

/// The change cursor (`OutboxStore::change_cursor`): the last number given.
/// Numbers come from the single writer, so they are given in commit order
/// and every later change is above it (migration 0012).
const CHANGE_CURSOR: &str = "SELECT n FROM change_counter";

/// Tayori's store on SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pools: Pools,
    registrar: shared::Registrar,
    /// Checkpoints the log off the write path (none in memory: no log).
    _checkpointer: Option<checkpoint::Checkpointer>,
}

/// The connections: one writer, a few readers (the same single connection
/// for an in-memory database).
#[derive(Debug, Clone)]
struct Pools {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl Pools {
    /// The pool for reads outside a transaction.
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// A write transaction, holding SQLite's write lock from its start.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Db>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.db()
    }

    /// A read transaction: one consistent snapshot across several queries.
    async fn begin_read(&self) -> StoreResult<sqlx::Transaction<'static, Db>> {
        self.reader.begin().await.db()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database a `sqlite:` URL names and
    /// runs the migrations. `sqlite::memory:` gives a private in-memory
    /// database on one connection. Call from within the Tokio runtime that
    /// will use the store: its checkpoint task runs there.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        let redacted = crate::redact_url(url);
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|source| ConnectError::InvalidUrl {
                url: redacted.clone(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .pragma("cache_size", format!("-{PAGE_CACHE_KIB}"))
            .pragma("mmap_size", MMAP_BYTES.to_string())
            .pragma("temp_store", "memory")
            .pragma(
                "wal_autocheckpoint",
                checkpoint::WRITER_CHECKPOINT_PAGES.to_string(),
            )
            .row_buffer_size(ROW_BUFFER);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let open = |source| ConnectError::Open {
            url: redacted.clone(),
            source,
        };
        // A connection in the pool is not pinged before it is handed out:
        // SQLite runs in this process, there is no link that could have
        // failed, and on the single writer a ping is a round trip to its
        // thread in front of every transaction. (sqlx still pings each
        // connection as it returns to the pool.)
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .min_connections(u32::from(in_memory))
            // An in-memory database lives as long as its one connection.
            .idle_timeout((!in_memory).then_some(Duration::from_secs(600)))
            .max_lifetime((!in_memory).then_some(Duration::from_secs(1800)))
            .connect_with(options.clone())
            .await
            .map_err(open)?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READERS)
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await
                .map_err(open)?
        };
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|source| ConnectError::Migrate {
                url: redacted.clone(),
                source,
            })?;
        let pools = Pools { reader, writer };
        Ok(Self {
            registrar: start_registrar(&pools).map_err(|e| open(sqlx::Error::Io(e)))?,
            _checkpointer: (!in_memory).then(|| checkpoint::Checkpointer::start(options)),
            pools,
        })
    }

    fn reader(&self) -> &SqlitePool {
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
impl tayori_core::StoreLifecycle for SqliteStore {
    async fn close(&self) -> StoreResult<()> {
        // TRUNCATE waits (the busy timeout) for readers and the checkpoint
        // task, copies the whole log into the file, syncs it, and empties
        // the log: what the file holds is then every commit.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.pools.writer)
            .await
            .db()?;
        self.pools.reader.close().await;
        self.pools.writer.close().await;
        if busy != 0 {
            return Err(tayori_core::StoreError::Backend(
                "the write-ahead log could not be checkpointed: another connection held it".into(),
            ));
        }
        Ok(())
    }
}

/// Starts the registration task (`shared/registration.rs`) on a thread of
/// its own. A group of registrations is a chain of statements, each a round
/// trip to the writer connection's thread; on the server's runtime every
/// step of the chain would wait its turn behind the request handlers (with
/// 50 clients, dozens of tasks) while the single writer sat idle. On its own
/// thread the chain goes on as soon as each statement is done.
fn start_registrar(pools: &Pools) -> std::io::Result<shared::Registrar> {
    let (registrar, registering) = shared::Registrar::new(pools.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("tayori-registrar".into())
        .spawn(move || runtime.block_on(registering))?;
    Ok(registrar)
}

/// Serialises plugin version and activation changes. A SQLite write
/// transaction already excludes every other writer, so there is nothing more
/// to lock.
async fn lock_plugin_changes(
    _conn: &mut sqlx::SqliteConnection,
    _plugin_id: &str,
) -> StoreResult<()> {
    Ok(())
}

/// Serialises planners writing a tenant's plan: SQLite's single writer
/// already does.
async fn lock_plan(_conn: &mut sqlx::SqliteConnection, _tenant_id: &str) -> StoreResult<()> {
    Ok(())
}

/// Whether this transaction may claim kept batches: SQLite's single writer
/// claims one at a time already.
async fn lock_batch_claims(_conn: &mut sqlx::SqliteConnection) -> StoreResult<bool> {
    Ok(true)
}

/// One SQLite database has one node: nothing announces plugin changes, so a
/// watcher waits the whole time (and then compares generations).
async fn wait_plugin_change(_store: &SqliteStore, max_wait: Duration) {
    tokio::time::sleep(max_wait).await;
}
