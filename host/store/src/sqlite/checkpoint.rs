//! Checkpoints of the write-ahead log, off the write path.
//!
//! In WAL mode a commit appends the pages it changed to the log; a
//! checkpoint copies them back into the database file, syncing the log
//! before and the database after, and once the whole log is copied the next
//! commit starts it again from the beginning (syncing its header). By
//! default the connection whose commit takes the log past 1,000 pages does
//! all that itself before its commit returns. SQLite has one writer
//! connection here, so every write waits behind it: with 50 clients
//! registering without pause the log grows by some 150 MB a second, the
//! writer checkpointed dozens of times a second, and those stalls (two or
//! three syncs each, 4 ms or more apiece on this machine's disk) made the
//! slowest percent of subscriber creates.
//!
//! So a task of the store checkpoints from a connection of its own: a
//! `PASSIVE` checkpoint takes no lock that the writer or readers wait for,
//! and commits go on appending to the log meanwhile. While the log grows it
//! runs every [`WHILE_WRITING`], so there is never much left to copy or sync;
//! when the log stops growing it looks every [`WHILE_IDLE`]. Under
//! continuous writing the log is never completely copied at a moment no
//! commit follows, so the writer itself restarts it when it reaches
//! [`WRITER_CHECKPOINT_PAGES`]: a short checkpoint (this task leaves it little to do)
//! and the header's sync, once per 256 MiB of log rather than per 4 MiB.
//!
//! Durability does not change: a commit is in the log when it returns
//! (written, not synced, as `synchronous = NORMAL` has it) wherever the
//! checkpoint runs.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::mpsc;

/// Between checkpoints while the log grows.
const WHILE_WRITING: Duration = Duration::from_millis(20);

/// Between checkpoints while the log does not grow.
const WHILE_IDLE: Duration = Duration::from_millis(500);

/// Log size, in pages, at which a committing writer checkpoints by itself
/// (`PRAGMA wal_autocheckpoint`; SQLite's default is 1,000), and so when the
/// log starts again from its beginning under continuous writing: 256 MiB of
/// 4 KiB pages, some 1.5 s of the fastest writing measured.
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 65_536;

/// Keeps the checkpoint task running; the task ends when the last clone is
/// dropped (with the last clone of the store).
#[derive(Debug, Clone)]
pub(super) struct Checkpointer {
    _alive: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database `options` open, on the current
    /// Tokio runtime.
    pub(super) fn start(options: SqliteConnectOptions) -> Self {
        let (alive, gone) = mpsc::channel(1);
        tokio::spawn(run(options, gone));
        Self { _alive: alive }
    }
}

async fn run(options: SqliteConnectOptions, mut gone: mpsc::Receiver<()>) {
    let mut conn: Option<SqliteConnection> = None;
    let mut last_log = 0;
    let mut wait = WHILE_IDLE;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            // Nothing is ever sent: this is the store being dropped.
            _ = gone.recv() => break,
        }
        wait = WHILE_IDLE;
        if conn.is_none() {
            match options.connect().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "cannot open a connection to checkpoint the SQLite log"
                    );
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        // (busy, pages in the log, pages of it copied to the database)
        match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut *c)
            .await
        {
            Ok((_, log, copied)) => {
                if log != last_log || copied < log {
                    wait = WHILE_WRITING;
                }
                last_log = log;
            }
            Err(e) => {
                tracing::warn!(error = %e, "checkpointing the SQLite log failed");
                conn = None;
            }
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}
