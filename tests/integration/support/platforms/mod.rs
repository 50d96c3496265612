//! Fakes of the delivery platforms: real HTTP servers on 127.0.0.1 that
//! check every request against the platform's published API and answer as
//! the platform does, including the ways it fails.
//!
//! One module per platform: [`line`] (LINE Messaging API, also KANAMETO's
//! path), [`sendgrid`] (email), [`x`] (X API v2 direct messages) and
//! [`muni_app`] (a municipality's app backend receiving Standard Webhooks).
//! Each fake is started with `start()`, gives its base URL for a channel's
//! `api_base` (or `endpoint`), can be told to fail its next requests
//! (`fail_next(n, fault)`), and records every raw request it received
//! (`attempts()`) apart from what the platform actually delivered (per fake:
//! `deliveries()`, `mails()`, `dms()`, `notifications()`). The pipeline's
//! tests drive the host against the same fakes.
//!
//! This module also has what the platform tests share: the bundled plugins
//! prepared by the real sandbox, and a call context that approves loopback.

pub mod line;
pub mod muni_app;
pub mod openapi;
pub mod sendgrid;
pub mod x;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, Method};
use tayori_core::{Batch, Content, DeliveryStatus, FailureKind, Outcome, Recipient};
use tayori_runtime::{CallContext, LoadedPlugin, Runtime, RuntimeConfig};

/// One raw request a fake received, whatever it answered.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The status the fake answered (or was about to, for a slow answer the
    /// client gave up on).
    pub status: u16,
}

impl Attempt {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// Faults a test queued: each request takes the next one, if any.
#[derive(Debug)]
pub struct Faults<F>(Mutex<VecDeque<F>>);

impl<F: Clone> Faults<F> {
    pub fn new() -> Self {
        Self(Mutex::new(VecDeque::new()))
    }

    /// Queue `fault` for the next `n` requests (after those already queued).
    pub fn push(&self, n: usize, fault: F) {
        let mut queue = self.0.lock().expect("faults");
        queue.extend(std::iter::repeat_n(fault, n));
    }

    /// The fault for the request being answered.
    pub fn next(&self) -> Option<F> {
        self.0.lock().expect("faults").pop_front()
    }
}

impl<F: Clone> Default for Faults<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves `app` on 127.0.0.1:0 for as long as the test runs.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a platform fake");
    let addr = listener.local_addr().expect("fake address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A sandbox with default limits, and a bundled plugin prepared through the
/// upload checks (the same path `tayori serve` takes).
pub async fn bundled(id: &str) -> (Arc<Runtime>, Arc<LoadedPlugin>) {
    bundled_with(id, RuntimeConfig::default()).await
}

/// [`bundled`] with other sandbox limits.
pub async fn bundled_with(id: &str, config: RuntimeConfig) -> (Arc<Runtime>, Arc<LoadedPlugin>) {
    let rt = Runtime::new(config).expect("runtime");
    let bytes = tayori_plugin_artifacts::BUNDLED
        .iter()
        .find(|(name, _)| *name == id)
        .unwrap_or_else(|| panic!("`{id}` is not bundled"))
        .1;
    let prepared = rt
        .prepare(bytes)
        .await
        .unwrap_or_else(|e| panic!("bundled plugin `{id}` refused: {e}"));
    assert_eq!(
        prepared.record.plugin_id, id,
        "bundled package and plugin id"
    );
    (rt, prepared.plugin)
}

/// A call for tenant `sapporo`, channel `channel`, with loopback approved
/// by the operator (the fakes listen there).
pub fn ctx(channel: &str) -> CallContext {
    CallContext {
        tenant: Some("sapporo".into()),
        channel: Some(channel.into()),
        approved_hosts: vec!["127.0.0.1:*".into()],
        capture: false,
    }
}

/// A batch of one message to `addresses`; keys are UUIDs numbered from 1.
pub fn batch(addresses: &[&str], subject: Option<&str>, body: &str) -> Batch {
    Batch {
        message_id: "child-day-100".into(),
        content: Content {
            subject: subject.map(str::to_owned),
            body: body.into(),
            locale: "ja".into(),
            ..Content::default()
        },
        recipients: addresses
            .iter()
            .enumerate()
            .map(|(i, address)| Recipient {
                address: (*address).into(),
                idempotency_key: format!("0b8a3c3e-6d1f-4c55-8e2a-{:012x}", i + 1),
                unsubscribe_url: None,
            })
            .collect(),
    }
}

/// Each outcome's failure kind, in order; `None` for an accepted one.
pub fn kinds(outcomes: &[Outcome]) -> Vec<Option<FailureKind>> {
    outcomes
        .iter()
        .map(|o| match &o.status {
            DeliveryStatus::Accepted(_) => None,
            DeliveryStatus::Failed(f) => Some(f.kind.clone()),
        })
        .collect()
}

/// Each outcome's platform id, in order; panics on a failed outcome.
pub fn ids(outcomes: &[Outcome]) -> Vec<Option<String>> {
    outcomes
        .iter()
        .map(|o| match &o.status {
            DeliveryStatus::Accepted(id) => id.clone(),
            DeliveryStatus::Failed(f) => panic!("{} failed: {f:?}", o.idempotency_key),
        })
        .collect()
}

/// The failure message of the outcome keyed `key`.
pub fn failure_message(outcomes: &[Outcome], key: &str) -> String {
    match &outcomes
        .iter()
        .find(|o| o.idempotency_key == key)
        .unwrap_or_else(|| panic!("no outcome for {key}"))
        .status
    {
        DeliveryStatus::Failed(f) => f.message.clone(),
        other => panic!("{key} did not fail: {other:?}"),
    }
}
