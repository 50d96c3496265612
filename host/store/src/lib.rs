//! Tayori's stores: the [`Store`] trait of `tayori-core` on SQLite (the
//! embedded default) and on PostgreSQL (several host nodes, one database),
//! with sqlx.
//!
//! [`connect`] picks the engine by the URL's scheme, runs that dialect's
//! migrations (`migrations/sqlite`, `migrations/postgres`) and hands back an
//! `Arc<dyn Store>`, so nothing above this crate sees a dialect.
//!
//! Both engines share one implementation of every query (`src/shared/`),
//! compiled once per engine against that engine's concrete sqlx types; only
//! what truly differs (connecting, how a write transaction begins, locking,
//! bind-parameter limits, statement caching) lives in [`sqlite`] and
//! [`postgres`].
//!
//! A store runs a registration task: registrations arriving together are
//! written in one transaction (group commit), which keeps SQLite's single
//! writer from becoming a queue. On SQLite that task has a thread of its
//! own, and a second one, on the Tokio runtime that connected the store,
//! checkpoints the write-ahead log.

use std::sync::Arc;

use tayori_core::Store;

mod backup;
mod error;
mod rows;
mod validate;

pub mod postgres;
pub mod sqlite;

pub use backup::{BackupError, backup};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Why a store could not be opened. URLs in messages have their password
/// removed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL names neither `sqlite:` nor `postgres:`.
    #[error(
        "unsupported database URL `{0}`: use sqlite://PATH (created if missing) or postgres://USER@HOST/DATABASE"
    )]
    UnsupportedScheme(String),
    /// The URL could not be parsed as the engine's connection options.
    #[error("invalid database URL `{url}`")]
    InvalidUrl {
        /// The URL, without its password.
        url: String,
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
    /// The database could not be opened or reached.
    #[error("cannot open the database at `{url}`")]
    Open {
        /// The URL, without its password.
        url: String,
        /// What sqlx said.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed (or the database has migrations this build lacks).
    #[error("cannot migrate the database at `{url}`")]
    Migrate {
        /// The URL, without its password.
        url: String,
        /// What sqlx said.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

/// Opens the store a URL names and brings its schema up to date:
/// `sqlite://PATH` (the file is created if missing) or
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, ConnectError> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(SqliteStore::connect(url).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(url).await?)),
        _ => Err(ConnectError::UnsupportedScheme(redact_url(url))),
    }
}

/// `url` with the password of its authority (if any) replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://tayori:s3cret@db:5432/tayori?sslmode=require"),
            "postgres://tayori:***@db:5432/tayori?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("sqlite://tayori.db"), "sqlite://tayori.db");
    }
}
