//! Turning sqlx errors into [`StoreError`]s callers can act on.
//!
//! Only [`StoreError::Backend`] carries a database's own words (for logs);
//! `Conflict` and `NotFound` messages are written here and at the call sites,
//! naming the tenant and the record, never quoting SQL.

use chrono::{DateTime, Timelike, Utc};
use tayori_core::{StoreError, StoreResult};

/// Whether the database refused a row for breaking a unique constraint.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Extension methods on sqlx results.
pub(crate) trait DbResultExt<T> {
    /// Any database error is a `Backend` error.
    fn db(self) -> StoreResult<T>;
    /// A unique violation is `Conflict(message())`; other errors are `Backend`.
    fn conflict(self, message: impl FnOnce() -> String) -> StoreResult<T>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn db(self) -> StoreResult<T> {
        self.map_err(backend)
    }

    fn conflict(self, message: impl FnOnce() -> String) -> StoreResult<T> {
        self.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(message())
            } else {
                backend(e)
            }
        })
    }
}

/// A database failure, for logs. The last line behind the API's own check:
/// PostgreSQL refuses a NUL character in `TEXT` (22021) or a `\u0000` in
/// `JSONB` (22P05); that is the caller's input, not a fault of the store,
/// so it is `Invalid`, as it is on SQLite's side of the API.
pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && matches!(d.code().as_deref(), Some("22021" | "22P05"))
    {
        return invalid("text", "must not contain a NUL character (U+0000)");
    }
    StoreError::Backend(e.to_string())
}

/// A stored value this build cannot read (a corrupt row, or a newer build's).
pub(crate) fn unreadable(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} is unreadable: {detail}"))
}

/// An `Invalid` error.
pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The current time at the precision both engines keep (microseconds), so a
/// value returned by a write equals the value read back later.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// A new time-ordered id (UUID v7): ids sort in creation order, which keeps
/// pages stable and index inserts local.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
