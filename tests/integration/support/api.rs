//! The API suites' server: the real server on 127.0.0.1:0, on a fresh SQLite
//! file (its secret key file created beside it, as `tayori serve` does) or
//! on a fresh PostgreSQL schema when `TAYORI_TEST_DATABASE_URL` is set, and
//! the small steps most API tests share (a tenant, the echo plugin, a
//! channel, a tenant admin token).

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use tayori::{Launched, SecretKey, ServeConfig, launch_with_key};
use tayori_runtime::RuntimeConfig;

use super::server::ADMIN_TOKEN;

/// The variable naming the PostgreSQL database for the suites.
pub const DATABASE_URL_VAR: &str = "TAYORI_TEST_DATABASE_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A running server for API tests.
pub struct Api {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub database_url: String,
    /// The SQLite directory (database and key file), removed on drop.
    pub dir: Option<tempfile::TempDir>,
    launched: Option<Launched>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Api {
    async fn launch(engine: Engine, database_url: String, dir: Option<tempfile::TempDir>) -> Self {
        let config = ServeConfig {
            database_url: database_url.clone(),
            admin_token: Some(ADMIN_TOKEN.into()),
            runtime: RuntimeConfig::default(),
            load_bundled: false,
            ..ServeConfig::default()
        };
        // SQLite finds (creates) its key file as `tayori serve` does;
        // PostgreSQL would use the working directory, so it gets a key.
        let key = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(SecretKey::generate("test")),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let launched = launch_with_key(config, key, listener, async move {
            let _ = rx.await;
        })
        .await
        .expect("launch");
        Self {
            addr: launched.addr,
            http: reqwest::Client::new(),
            database_url,
            dir,
            launched: Some(launched),
            shutdown: Some(tx),
        }
    }

    /// A server on a fresh SQLite database.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tayori.db").display());
        Self::launch(Engine::Sqlite, url, Some(dir)).await
    }

    /// Stops the server and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(launched) = self.launched.take() {
            let _ = launched.task.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with the operator token.
    pub fn op(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.with(ADMIN_TOKEN, method, path)
    }

    /// A request with the given token.
    pub fn with(&self, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }

    /// Creates a tenant with default settings.
    pub async fn tenant(&self, id: &str) {
        let (status, body) = send(
            self.op(Method::POST, "/v1/tenants")
                .json(&json!({ "id": id, "name": format!("{id} city") })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Uploads the echo test plugin (id `echo`).
    pub async fn upload_echo(&self) {
        let bytes = std::fs::read(tayori_plugin_artifacts::ECHO).expect("echo plugin");
        let (status, body) = send(
            self.op(Method::POST, "/v1/plugins")
                .header("content-type", "application/wasm")
                .body(bytes),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");
    }

    /// Puts an echo channel for a tenant.
    pub async fn echo_channel(&self, tenant: &str, channel: &str) -> Value {
        let (status, body) = send(
            self.op(
                Method::PUT,
                &format!("/v1/tenants/{tenant}/channels/{channel}"),
            )
            .json(&json!({
                "plugin": "echo",
                "config": { "endpoint": "http://127.0.0.1:9/hook" },
                "allowed_hosts": ["127.0.0.1:9"],
            })),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");
        body
    }

    /// A new token of the role, for a tenant or plugins.
    pub async fn token(&self, role: &str, tenant: Option<&str>, plugins: &[&str]) -> String {
        let (status, body) = send(
            self.op(Method::POST, "/v1/tokens")
                .json(&json!({ "role": role, "tenant": tenant, "plugins": plugins })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().expect("token text").to_string()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends a request; the status and the JSON body (`null` when there is none).
pub async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = rb.send().await.expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
    };
    (status, body)
}

/// The error code and message of an error answer.
pub fn error(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body}")),
        body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error message in {body}")),
    )
}

/// Today in Asia/Tokyo (the tenants' default zone), offset by `days`.
pub fn tokyo_day(days: i64) -> chrono::NaiveDate {
    let today = (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive();
    today + chrono::Duration::days(days)
}

/// Runs `test` on a fresh SQLite server, then on a fresh PostgreSQL schema
/// when `TAYORI_TEST_DATABASE_URL` is set (the schema is dropped afterwards,
/// even when the test fails).
pub async fn on_each_engine<F, Fut>(test: F)
where
    F: Fn(Api) -> Fut,
    Fut: Future<Output = ()>,
{
    test(Api::sqlite().await).await;
    let Ok(base) = std::env::var(DATABASE_URL_VAR) else {
        eprintln!("{DATABASE_URL_VAR} is not set: skipping the PostgreSQL run");
        return;
    };
    let schema = format!("tayori_api_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {DATABASE_URL_VAR}: {e}"));
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create the test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let outcome = AssertUnwindSafe(async {
        let mut api = Api::launch(Engine::Postgres, url, None).await;
        let shutdown = api.shutdown.take();
        let launched = api.launched.take();
        test(api).await;
        if let Some(tx) = shutdown {
            let _ = tx.send(());
        }
        if let Some(l) = launched {
            let _ = l.task.await;
        }
    })
    .catch_unwind()
    .await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop the test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
