//! The sandbox: a well-behaved plugin delivers through an approved loopback
//! server, and each hostile plugin fails alone, with a typed error, while a
//! well-behaved call runs beside it and succeeds.

use std::sync::Arc;
use std::time::Duration;

use crate::support::fake::Fake;
use serde_json::json;
use tayori_core::{Batch, Content, DeliveryStatus, FailureKind, Outcome, Recipient};
use tayori_runtime::{
    CallContext, CallErrorKind, CallReport, Called, LoadedPlugin, Runtime, RuntimeConfig,
};

/// Limits small enough that every hostile behaviour hits one quickly.
fn config() -> RuntimeConfig {
    RuntimeConfig {
        call_timeout: Duration::from_secs(3),
        memory_limit: 32 << 20,
        max_requests_per_call: 5,
        request_timeout: Duration::from_millis(700),
        max_response_bytes: 256 << 10,
        ..RuntimeConfig::default()
    }
}

pub(crate) async fn load(rt: &Arc<Runtime>, path: &str) -> Arc<LoadedPlugin> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    rt.prepare(&bytes)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .plugin
}

pub(crate) fn batch(n: usize) -> Batch {
    Batch {
        message_id: "pregnancy-day-100".into(),
        content: Content {
            subject: Some("Week 14".into()),
            body: "Hello from Tayori".into(),
            locale: "ja".into(),
            ..Content::default()
        },
        recipients: (0..n)
            .map(|i| Recipient {
                address: format!("U{i:032x}"),
                idempotency_key: format!("00000000-0000-4000-8000-{i:012x}"),
                unsubscribe_url: None,
            })
            .collect(),
    }
}

fn ctx(approved: &[&str]) -> CallContext {
    CallContext {
        tenant: Some("sapporo".into()),
        channel: Some("line".into()),
        approved_hosts: approved.iter().map(|s| s.to_string()).collect(),
        capture: true,
    }
}

struct Env {
    rt: Arc<Runtime>,
    echo: Arc<LoadedPlugin>,
    hostile: Arc<LoadedPlugin>,
    fake: Fake,
}

async fn env() -> Env {
    let rt = Runtime::new(config()).expect("runtime");
    let echo = load(&rt, tayori_plugin_artifacts::ECHO).await;
    let hostile = load(&rt, tayori_plugin_artifacts::HOSTILE).await;
    Env {
        rt,
        echo,
        hostile,
        fake: Fake::start().await,
    }
}

impl Env {
    /// Runs the hostile call and a well-behaved echo call at the same time;
    /// asserts the echo call succeeded and returns the hostile one.
    async fn beside(
        &self,
        hostile_config: serde_json::Value,
        approved: &[&str],
    ) -> Called<Vec<Outcome>> {
        let echo_config = json!({ "endpoint": self.fake.url("/ok") }).to_string();
        let hostile_config = hostile_config.to_string();
        let b = batch(2);
        let (hostile_ctx, echo_ctx) = (ctx(approved), ctx(&["127.0.0.1:*"]));
        let (hostile, good) = tokio::join!(
            self.rt.deliver(
                &self.hostile,
                &hostile_ctx,
                &hostile_config,
                std::slice::from_ref(&b)
            ),
            self.rt.deliver(
                &self.echo,
                &echo_ctx,
                &echo_config,
                std::slice::from_ref(&b)
            ),
        );
        let outcomes = good
            .result
            .expect("the well-behaved call beside the hostile one");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o.status, DeliveryStatus::Accepted(Some(_)))),
            "{outcomes:?}"
        );
        hostile
    }
}

fn err_kind(called: &Called<Vec<Outcome>>) -> &CallErrorKind {
    &called
        .result
        .as_ref()
        .expect_err("the hostile call should fail")
        .kind
}

fn failures(called: &Called<Vec<Outcome>>) -> Vec<(FailureKind, String)> {
    called
        .result
        .as_ref()
        .expect("the call itself should complete")
        .iter()
        .map(|o| match &o.status {
            DeliveryStatus::Failed(f) => (f.kind.clone(), f.message.clone()),
            other => panic!("expected a failed outcome, got {other:?}"),
        })
        .collect()
}

fn refused(report: &CallReport) -> Vec<String> {
    report
        .requests
        .iter()
        .filter_map(|r| r.error.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_behaved_plugin_delivers_through_approved_loopback_server() {
    let env = env().await;
    let config = json!({ "endpoint": env.fake.url("/ok"), "token": "s3cret" }).to_string();
    let called = env
        .rt
        .deliver(
            &env.echo,
            &ctx(&["127.0.0.1:*"]),
            &config,
            std::slice::from_ref(&batch(3)),
        )
        .await;
    let outcomes = called.result.expect("deliver");
    assert_eq!(outcomes.len(), 3);
    for (o, r) in outcomes.iter().zip(batch(3).recipients) {
        assert_eq!(o.idempotency_key, r.idempotency_key);
        assert!(
            matches!(&o.status, DeliveryStatus::Accepted(Some(id)) if id.starts_with("m-")),
            "{o:?}"
        );
    }
    let received = env.fake.received();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|r| r.path == "/ok"),
        "the plugin posts to the configured endpoint"
    );
    let keys: Vec<String> = received
        .iter()
        .map(|r| r.headers["x-retry-key"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        batch(3)
            .recipients
            .iter()
            .map(|r| r.idempotency_key.clone())
            .collect::<Vec<_>>()
    );
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["to"], batch(3).recipients[0].address);
    assert_eq!(body["body"], "Hello from Tayori");
    assert_eq!(called.report.requests.len(), 3);
    assert!(called.report.peak_memory > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out_alone() {
    let env = env().await;
    let called = env.beside(json!({ "behaviour": "loop" }), &[]).await;
    assert!(
        matches!(err_kind(&called), CallErrorKind::Timeout(_)),
        "{:?}",
        called.result
    );
    let e = called.result.unwrap_err();
    assert_eq!(
        (e.plugin.as_str(), e.tenant.as_deref(), e.channel.as_deref()),
        ("hostile", Some("sapporo"), Some("line"))
    );
    assert!(
        e.to_string()
            .contains("plugin `hostile` 0.1.0 (tenant `sapporo`, channel `line`): timed out"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_runs_out_of_memory_alone() {
    let env = env().await;
    let called = env.beside(json!({ "behaviour": "memory-bomb" }), &[]).await;
    assert_eq!(
        err_kind(&called),
        &CallErrorKind::OutOfMemory,
        "{:?}",
        called.result
    );
    assert!(called.report.peak_memory <= 32 << 20);
    // The next call of the same plugin gets a fresh instance and works.
    let ok = env
        .rt
        .deliver(
            &env.hostile,
            &ctx(&[]),
            &json!({ "behaviour": "ok" }).to_string(),
            std::slice::from_ref(&batch(1)),
        )
        .await;
    assert!(ok.result.is_ok(), "{:?}", ok.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_recursion_overflows_alone() {
    let env = env().await;
    let called = env.beside(json!({ "behaviour": "recursion" }), &[]).await;
    // Rust keeps its stack in linear memory: running off it is an
    // out-of-bounds access; a deep native wasm stack is a stack overflow.
    match err_kind(&called) {
        CallErrorKind::StackOverflow => {}
        CallErrorKind::Trap(t) if t.contains("out of bounds") => {}
        other => panic!("expected a stack overflow, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_and_panic_fail_alone() {
    let env = env().await;
    for behaviour in ["trap", "panic"] {
        let called = env.beside(json!({ "behaviour": behaviour }), &[]).await;
        assert!(
            matches!(err_kind(&called), CallErrorKind::Trap(_)),
            "{behaviour}: {:?}",
            called.result
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_to_a_host_not_allowed_is_denied() {
    let env = env().await;
    // In the manifest but not approved for the channel.
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": "https://example.invalid/x" }),
            &["127.0.0.1:*"],
        )
        .await;
    let f = failures(&called);
    assert_eq!(f.len(), 2);
    assert!(f[0].1.to_lowercase().contains("denied"), "{f:?}");
    assert!(
        refused(&called.report)[0].contains("not approved by the operator"),
        "{:?}",
        called.report.requests
    );
    // Approved but not in the manifest.
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": "https://not-in-manifest.invalid/x" }),
            &["not-in-manifest.invalid"],
        )
        .await;
    assert!(failures(&called)[0].1.to_lowercase().contains("denied"));
    assert!(refused(&called.report)[0].contains("not among the hosts in the plugin's manifest"));
    // The same loopback server, approved: goes through.
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": env.fake.url("/ok") }),
            &["127.0.0.1:*"],
        )
        .await;
    let outcomes = called.result.expect("approved request");
    assert!(
        matches!(outcomes[0].status, DeliveryStatus::Accepted(_)),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_name_resolving_to_loopback_needs_the_address_approved() {
    let env = env().await;
    let url = env.fake.localhost_url("/ok");
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": url }),
            &["localhost:*"],
        )
        .await;
    let f = failures(&called);
    assert!(!f.is_empty());
    let why = refused(&called.report);
    assert!(
        why[0].contains("resolves to") && why[0].contains("not approved"),
        "{why:?}"
    );
    assert!(
        env.fake
            .received()
            .iter()
            .all(|r| r.headers.get("x-retry-key").is_some()),
        "only the echo calls reached the fake"
    );
    // With the loopback address approved as well, the same request goes through.
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": url }),
            &["localhost:*", "127.0.0.1:*"],
        )
        .await;
    let outcomes = called.result.expect("approved address");
    assert!(
        matches!(outcomes[0].status, DeliveryStatus::Accepted(_)),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_slower_than_the_request_timeout_fails_the_request() {
    let env = env().await;
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": env.fake.url("/slow") }),
            &["127.0.0.1:*"],
        )
        .await;
    let f = failures(&called);
    assert_eq!(f[0].0, FailureKind::Transient, "{f:?}");
    assert!(
        refused(&called.report)[0].contains("no complete answer within"),
        "{:?}",
        called.report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_larger_than_the_cap_is_refused() {
    let env = env().await;
    let called = env
        .beside(
            json!({ "behaviour": "request", "url": env.fake.url("/large") }),
            &["127.0.0.1:*"],
        )
        .await;
    assert!(!failures(&called).is_empty());
    assert!(
        refused(&called.report)[0].contains("exceeds the cap"),
        "{:?}",
        called.report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_requests_than_a_call_may_make_are_refused() {
    let env = env().await;
    let called = env
        .beside(
            json!({ "behaviour": "many-requests", "url": env.fake.url("/ok"), "count": 8 }),
            &["127.0.0.1:*"],
        )
        .await;
    let f = failures(&called);
    assert!(
        f[0].1.contains('6'),
        "the sixth request is the first refused: {f:?}"
    );
    let why = refused(&called.report);
    assert_eq!(
        why,
        ["request 6 exceeds the limit of 5 outbound requests per call"],
        "{:?}",
        called.report.requests
    );
    assert_eq!(
        called.report.requests.len(),
        6,
        "five went out, the sixth was refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_that_do_not_match_the_batch_break_the_contract() {
    let env = env().await;
    for behaviour in ["too-few-outcomes", "unknown-keys"] {
        let called = env.beside(json!({ "behaviour": behaviour }), &[]).await;
        assert!(
            matches!(err_kind(&called), CallErrorKind::Contract(_)),
            "{behaviour}: {:?}",
            called.result
        );
    }
}

/// What a `tracing` subscriber wrote, for the test below.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A plugin that logs its channel's secret (a `writeOnly` config field): the
/// lines forwarded to `tracing`, and kept in the call's report, carry `***`
/// instead, even where the line is cut. (A current-thread runtime, so that
/// the thread's subscriber sees the call.)
#[tokio::test(flavor = "current_thread")]
async fn secrets_in_plugin_log_lines_are_masked() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let env = env().await;
    let token = "tok-7f3a9c21-do-not-log";
    let config = json!({ "behaviour": "log-secret", "token": token }).to_string();
    let called = env
        .rt
        .deliver(
            &env.hostile,
            &ctx(&[]),
            &config,
            std::slice::from_ref(&batch(1)),
        )
        .await;
    assert!(called.result.is_ok(), "{:?}", called.result);

    let logs: Vec<&str> = called.report.logs.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert_eq!(logs[0], "calling with token ***");
    assert_eq!(logs[1], r#"{"authorization":"Bearer ***"}"#);
    assert_eq!(logs[2], format!("{}***", "x".repeat(2040)));

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("calling with token ***") && text.contains("plugin=hostile"),
        "the lines reach tracing with who logged them: {text}"
    );
    for seen in logs.iter().copied().chain([text.as_str()]) {
        assert!(
            !seen.contains(&token[..8]),
            "a secret (or part of it) was logged: {seen}"
        );
    }
}
