//! Fresh stores for each test, and the fixtures the tests share.
//!
//! SQLite: a new database file in a temporary directory, removed when the
//! test ends (even by a panic). PostgreSQL: a new schema in the database of
//! `TAYORI_TEST_DATABASE_URL`, selected through the connection's
//! `search_path`, dropped when the test ends; so tests run in parallel and
//! leave nothing shared behind. Both go through `tayori_store::connect`, the
//! same entry the binary uses.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use futures::FutureExt;
use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor};
use tayori_core::{
    Locale, Manifest, NewChild, NewContact, NewSubscriber, NewTenant, PluginVersionRecord, Store,
    Tenant,
};

/// The variable naming the PostgreSQL database for the suite.
pub const DATABASE_URL_VAR: &str = "TAYORI_TEST_DATABASE_URL";

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory under the system's temporary directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("tayori-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `test` on a fresh SQLite store.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("tayori.db").display());
    let store = tayori_store::connect(&url)
        .await
        .expect("open a fresh SQLite store");
    test(store).await;
}

/// Runs `test` on a fresh PostgreSQL schema, or does nothing (saying so)
/// when `TAYORI_TEST_DATABASE_URL` is not set.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    on_postgres_schema(async |url: String| {
        let store = tayori_store::connect(&url)
            .await
            .expect("open a fresh PostgreSQL store");
        test(store).await;
    })
    .await
}

/// Runs `test` with the URL of a fresh PostgreSQL schema (its
/// `search_path`), dropped afterwards; or does nothing (saying so) when
/// `TAYORI_TEST_DATABASE_URL` is not set.
pub async fn on_postgres_schema<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(base) = std::env::var(DATABASE_URL_VAR) else {
        eprintln!("{DATABASE_URL_VAR} is not set: skipping the PostgreSQL run");
        return;
    };
    let schema = format!("tayori_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {DATABASE_URL_VAR}: {e}"));
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create the test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let outcome = AssertUnwindSafe(test(url)).catch_unwind().await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop the test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A date from `YYYY-MM-DD`.
pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("a test date")
}

/// Creates a tenant with default settings.
pub async fn tenant(store: &Arc<dyn Store>, id: &str) -> Tenant {
    store
        .create_tenant(&NewTenant::new(id, format!("{id} city")))
        .await
        .expect("create a tenant")
}

/// A contact on a channel.
pub fn contact(channel: &str, address: &str) -> NewContact {
    NewContact {
        channel: channel.to_string(),
        address: address.to_string(),
    }
}

/// A Japanese-reading household with one LINE contact and one child due on
/// `due`.
pub fn household(line_user: &str, due: &str) -> NewSubscriber {
    NewSubscriber {
        external_id: None,
        locale: Locale::Ja,
        contacts: vec![contact("line", line_user)],
        children: vec![NewChild::due(d(due))],
    }
}

/// A plugin version record for `bytes`, with a matching digest and manifest.
pub fn plugin_record(plugin_id: &str, version: &str, bytes: &[u8]) -> PluginVersionRecord {
    let version: semver::Version = version.parse().expect("a test version");
    PluginVersionRecord {
        plugin_id: plugin_id.to_string(),
        version: version.clone(),
        digest: hex::encode(Sha256::digest(bytes)),
        contract: "0.1.0".to_string(),
        size: bytes.len() as u64,
        manifest: Manifest {
            id: plugin_id.to_string(),
            name: format!("{plugin_id} plugin"),
            version,
            vendor: "Tayori tests".to_string(),
            description: "a plugin record for the store tests".to_string(),
            config_schema: serde_json::json!({
                "type": "object",
                "properties": {"token": {"type": "string", "writeOnly": true}}
            }),
            hosts: vec!["api.example.com:443".to_string()],
            max_batch_size: 500,
            rate_per_second: 100,
            daily_quota: None,
            rate_windows: vec![],
            handles_webhooks: true,
            max_batches_per_call: 1,
            replies: false,
            sets_up_channels: false,
            renders: Default::default(),
        },
        published_at: {
            // Microseconds: what both engines keep.
            let t = Utc::now();
            chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).expect("a time")
        },
    }
}
