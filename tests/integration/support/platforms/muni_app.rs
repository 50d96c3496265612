//! A fake municipal app backend that receives deliveries as Standard
//! Webhooks, the way an app vendor would build it.
//!
//! It verifies every request with the `standardwebhooks` crate (the
//! Standard Webhooks reference library, not Tayori's code): a missing, stale
//! or wrong signature is answered 401 and nothing is delivered. It drops a
//! redelivery by its `webhook-id` (answering 200, as the specification asks
//! of receivers), answers 410 for an app user who is gone, and answers 200
//! with `{"id": ...}` for a new notification. Faults ([`AppFault`]) make the
//! next requests fail the ways a backend fails.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::{Attempt, Faults, serve};

/// The secret the app shares with Tayori (`whsec_` + base64 of 32 bytes).
pub const SECRET: &str = "whsec_dGF5b3JpLWZha2UtbXVuaWNpcGFsLWFwcC1zZWNyZXQ=";
/// Another app's secret, for signatures that must not verify.
pub const OTHER_SECRET: &str = "whsec_YW5vdGhlci1hcHBzLXNlY3JldC1rZXktMzItYnl0ZXM=";
/// The path the app receives deliveries on.
pub const PATH: &str = "/tayori/deliveries";

/// How the next request fails.
#[derive(Debug, Clone)]
pub enum AppFault {
    /// This status, with a short text body.
    Status(u16),
    /// 429, with `Retry-After` when given.
    RateLimited { retry_after: Option<u32> },
    /// Take the notification, then never answer.
    Hang,
}

/// A notification the app took.
#[derive(Debug, Clone)]
pub struct Notification {
    /// The app's id for it (answered as `{"id": ...}`).
    pub id: String,
    pub webhook_id: String,
    pub timestamp: String,
    pub signature: String,
    /// The raw body, as signed.
    pub raw: Vec<u8>,
    /// The body as JSON.
    pub payload: Value,
}

struct Inner {
    key_secret: String,
    faults: Faults<AppFault>,
    attempts: Mutex<Vec<Attempt>>,
    notifications: Mutex<Vec<Notification>>,
    seen: Mutex<HashSet<String>>,
    gone: Mutex<HashSet<String>>,
    refused_signatures: AtomicU64,
    counter: AtomicU64,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeMuniApp {
    pub addr: std::net::SocketAddr,
    inner: Arc<Inner>,
}

impl FakeMuniApp {
    /// Starts the fake on 127.0.0.1:0, verifying with [`SECRET`].
    pub async fn start() -> Self {
        Self::start_with_secret(SECRET).await
    }

    /// Starts the fake verifying with another secret.
    pub async fn start_with_secret(secret: &str) -> Self {
        let inner = Arc::new(Inner {
            key_secret: secret.to_owned(),
            faults: Faults::new(),
            attempts: Mutex::new(Vec::new()),
            notifications: Mutex::new(Vec::new()),
            seen: Mutex::new(HashSet::new()),
            gone: Mutex::new(HashSet::new()),
            refused_signatures: AtomicU64::new(0),
            counter: AtomicU64::new(0),
        });
        let app = Router::new()
            .route(PATH, post(receive))
            .with_state(inner.clone());
        Self {
            addr: serve(app).await,
            inner,
        }
    }

    /// The channel's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// Fail the next `n` requests with `fault`.
    pub fn fail_next(&self, n: usize, fault: AppFault) {
        self.inner.faults.push(n, fault);
    }

    /// This app user deleted their account: 410.
    pub fn gone(&self, user: &str) {
        self.inner.gone.lock().unwrap().insert(user.to_owned());
    }

    /// Every raw request received, whatever the answer.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.inner.attempts.lock().unwrap().clone()
    }

    /// Every notification taken (redeliveries dropped).
    pub fn notifications(&self) -> Vec<Notification> {
        self.inner.notifications.lock().unwrap().clone()
    }

    /// How many requests failed signature verification.
    pub fn refused_signatures(&self) -> u64 {
        self.inner.refused_signatures.load(Ordering::SeqCst)
    }
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = inner.faults.next();
    let mut retry_after = None;
    let (status, answer) = match &fault {
        Some(AppFault::Status(code)) => (*code, json!({ "error": "as told" })),
        Some(AppFault::RateLimited {
            retry_after: seconds,
        }) => {
            retry_after = *seconds;
            (429, json!({ "error": "slow down" }))
        }
        Some(AppFault::Hang) | None => take(&inner, &headers, &body),
    };
    inner.attempts.lock().unwrap().push(Attempt {
        method,
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    if let Some(AppFault::Hang) = fault {
        // Hold the connection until the client gives up.
        std::future::pending::<()>().await;
    }
    let mut response = (
        StatusCode::from_u16(status).expect("a status"),
        [("content-type", "application/json")],
        answer.to_string(),
    )
        .into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

/// Verify, drop redeliveries, refuse gone users, take the rest.
fn take(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> (u16, Value) {
    let verifier = standardwebhooks::Webhook::new(&inner.key_secret).expect("a valid secret");
    if let Err(error) = verifier.verify(body, headers) {
        inner.refused_signatures.fetch_add(1, Ordering::SeqCst);
        return (401, json!({ "error": error.to_string() }));
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let webhook_id = header("webhook-id");
    if !inner.seen.lock().unwrap().insert(webhook_id.clone()) {
        return (200, json!({ "duplicate": webhook_id }));
    }
    let payload: Value = serde_json::from_slice(body).unwrap_or_default();
    let user = payload["data"]["recipient"].as_str().unwrap_or_default();
    if inner.gone.lock().unwrap().contains(user) {
        inner.seen.lock().unwrap().remove(&webhook_id);
        return (410, json!({ "error": "no such user" }));
    }
    let id = format!("notif-{}", inner.counter.fetch_add(1, Ordering::SeqCst) + 1);
    inner.notifications.lock().unwrap().push(Notification {
        id: id.clone(),
        webhook_id,
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        raw: body.to_vec(),
        payload,
    });
    (200, json!({ "id": id }))
}
