//! Starts the real `tayori` server, as `tayori serve` does, on 127.0.0.1:0.

use std::net::SocketAddr;

use tayori::{Launched, SecretKey, ServeConfig, launch_with_key};
use tayori_runtime::RuntimeConfig;

/// The operator token every test server is started with.
pub const ADMIN_TOKEN: &str = "test-operator-token";

/// A running test server and the database it uses.
pub struct TestServer {
    pub addr: SocketAddr,
    pub launched: Launched,
    pub database_url: String,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<tempfile::TempDir>,
}

/// Where a test server keeps its data.
pub enum Db {
    /// A fresh SQLite file in a temporary directory.
    FreshSqlite,
    /// A given URL (to restart on the same database).
    Url(String),
}

impl TestServer {
    /// A server on a fresh SQLite database with the bundled plugins.
    pub async fn start() -> Self {
        Self::start_with(Db::FreshSqlite, RuntimeConfig::default(), true).await
    }

    pub async fn start_with(db: Db, runtime: RuntimeConfig, load_bundled: bool) -> Self {
        Self::start_configured(db, |c| {
            c.runtime = runtime;
            c.load_bundled = load_bundled;
        })
        .await
    }

    /// A server whose settings `configure` adjusts (the clock, whether the
    /// scheduler runs, its timings).
    pub async fn start_configured(db: Db, configure: impl FnOnce(&mut ServeConfig)) -> Self {
        let (dir, database_url) = match db {
            Db::FreshSqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("tayori.db").display());
                (Some(dir), url)
            }
            Db::Url(url) => (None, url),
        };
        let mut config = ServeConfig {
            database_url: database_url.clone(),
            admin_token: Some(ADMIN_TOKEN.into()),
            ..ServeConfig::default()
        };
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // SQLite keeps its key file beside the database; PostgreSQL nodes
        // of one test share this key (as nodes share TAYORI_SECRET_KEY).
        let key = database_url
            .starts_with("postgres")
            .then(|| SecretKey::from_bytes([7; 32], "test"));
        let launched = launch_with_key(config, key, listener, async move {
            let _ = rx.await;
        })
        .await
        .expect("launch");
        Self {
            addr: launched.addr,
            launched,
            database_url,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    /// Keeps the temporary directory alive past this server (for a restart).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with the operator token.
    pub fn op(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.launched.task).await;
        self._dir.take()
    }
}

/// A fresh PostgreSQL schema on `TAYORI_TEST_DATABASE_URL`, dropped by
/// [`PgSchema::drop_schema`]; `None` (saying so) when the variable is unset.
pub struct PgSchema {
    pub url: String,
    schema: String,
    base: String,
}

impl PgSchema {
    pub async fn create() -> Option<Self> {
        use sqlx::{Connection, Executor};
        let Ok(base) = std::env::var("TAYORI_TEST_DATABASE_URL") else {
            eprintln!("TAYORI_TEST_DATABASE_URL is not set: skipping the PostgreSQL test");
            return None;
        };
        let schema = format!("tayori_it_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .expect("reach PostgreSQL");
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .expect("create the test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{base}{separator}options[search_path]={schema}"),
            schema,
            base,
        })
    }

    pub async fn drop_schema(self) {
        use sqlx::{Connection, Executor};
        let mut admin = sqlx::PgConnection::connect(&self.base)
            .await
            .expect("reach PostgreSQL");
        admin
            .execute(format!("DROP SCHEMA {} CASCADE", self.schema).as_str())
            .await
            .expect("drop the test schema");
    }
}
