//! `tayori backup`: a consistent copy of a SQLite database, taken while the
//! host runs.
//!
//! `VACUUM INTO` reads the database in one read transaction (a snapshot:
//! the commits before it, none after, whatever the write-ahead log holds)
//! and writes a compact database file from it; writers go on meanwhile. The
//! copy is written under a temporary name beside the target and renamed
//! when complete, so a failed backup leaves no half-written file under the
//! name asked for. PostgreSQL has its own tools (`pg_dump`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// How long the copy waits for a write lock held by another connection
/// (it takes none itself; this covers opening a busy database).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A PostgreSQL URL: its own tools copy it.
    #[error(
        "`tayori backup` copies a SQLite database; `{0}` is PostgreSQL: back it up with pg_dump (e.g. `pg_dump --format=custom --file=tayori.dump DATABASE_URL`, restored with pg_restore)"
    )]
    Postgres(String),
    /// Neither SQLite nor PostgreSQL, or an in-memory database.
    #[error("`{0}` is not a SQLite database file (sqlite://PATH)")]
    NotSqlite(String),
    /// The source file does not exist.
    #[error("no database at `{0}`")]
    Missing(PathBuf),
    /// The target exists: a backup never overwrites.
    #[error("`{0}` exists: give a new file name (a backup never overwrites)")]
    Exists(PathBuf),
    /// SQLite or the file system failed.
    #[error("cannot copy `{url}` to `{target}`: {message}")]
    Copy {
        url: String,
        target: PathBuf,
        message: String,
    },
}

/// Copies the SQLite database `url` names to the new file `target`, online;
/// answers the copy's size in bytes.
pub async fn backup(url: &str, target: &Path) -> Result<u64, BackupError> {
    let redacted = crate::redact_url(url);
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    match scheme {
        "sqlite" => {}
        "postgres" | "postgresql" => return Err(BackupError::Postgres(redacted)),
        _ => return Err(BackupError::NotSqlite(redacted)),
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(BackupError::NotSqlite(redacted));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|_| BackupError::NotSqlite(redacted.clone()))?
        .create_if_missing(false)
        .busy_timeout(BUSY_TIMEOUT);
    let source = options.get_filename().to_path_buf();
    if !source.is_file() {
        return Err(BackupError::Missing(source));
    }
    if target.exists() {
        return Err(BackupError::Exists(target.to_path_buf()));
    }
    let copy_error = |message: String| BackupError::Copy {
        url: redacted.clone(),
        target: target.to_path_buf(),
        message,
    };
    let name = target
        .file_name()
        .ok_or_else(|| copy_error("the target names no file".into()))?;
    let partial = target.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let partial_text = partial
        .to_str()
        .ok_or_else(|| copy_error("the target's path is not UTF-8".into()))?
        .to_string();
    let copied = async {
        let mut conn = options.connect().await.map_err(|e| e.to_string())?;
        sqlx::query("VACUUM INTO ?1")
            .bind(&partial_text)
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        conn.close().await.map_err(|e| e.to_string())?;
        // The copy is whole on disk before it takes the name asked for.
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| e.to_string())?;
        if target.exists() {
            return Err(format!("`{}` appeared meanwhile", target.display()));
        }
        std::fs::rename(&partial, target).map_err(|e| e.to_string())?;
        std::fs::metadata(target)
            .map(|m| m.len())
            .map_err(|e| e.to_string())
    }
    .await;
    match copied {
        Ok(bytes) => Ok(bytes),
        Err(message) => {
            let _ = std::fs::remove_file(&partial);
            Err(copy_error(message))
        }
    }
}
