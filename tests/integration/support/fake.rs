//! A generic loopback HTTP server for sandbox tests: records what it
//! receives and answers as told (fast, slow, large, failing).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    counter: AtomicU64,
}

/// The running fake.
#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

/// Size of the `/large` answer.
pub const LARGE: usize = 4 << 20;

impl Fake {
    /// Starts the fake on 127.0.0.1:0. Routes: `/ok` (200 with `{"id": "m-N"}`),
    /// `/slow`, `/large`, `/status/{code}`.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/ok", any(ok))
            .route("/slow", get(slow))
            .route("/large", get(large))
            .route("/status/{code}", any(status))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("fake addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The same server named `localhost` (resolves to loopback).
    pub fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }
}

async fn ok(
    State(inner): State<Arc<Inner>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    inner.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers,
        body,
    });
    axum::Json(serde_json::json!({ "id": format!("m-{n}") }))
}

/// Never answers: the client's own timeout is what ends the request.
async fn slow() -> &'static str {
    std::future::pending::<()>().await;
    unreachable!("a pending future never completes")
}

async fn large() -> Vec<u8> {
    vec![b'x'; LARGE]
}

async fn status(axum::extract::Path(code): axum::extract::Path<u16>) -> impl IntoResponse {
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        "status as asked",
    )
}
