//! The Python example plugin (`examples/py-plugin`), tried as a partner
//! would: built with its `build.sh` (componentize-py, offline), checked and
//! tested with the real `tayori plugin check` and `tayori plugin test`, then
//! uploaded to a real `tayori serve` and delivering a broadcast to a fake
//! platform on 127.0.0.1, so that a parent's message is received. A restart
//! on the same database then loads the stored compiled artifact (nothing is
//! compiled again) and shows the delivery sent with the platform's id. In the
//! host's own runtime, `deliver` takes several batches in one call and a
//! webhook is answered 404.
//!
//! componentize-py is `$TAYORI_COMPONENTIZE_PY` (`scripts/test` installs it
//! into the project's virtualenv with pip and sets it), else
//! `componentize-py` on the `PATH`. Without it the test says so loudly and
//! passes, as the schemathesis suite does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::{Batch, Content, DeliveryStatus, FailureKind, Recipient, WebhookRequest};
use tayori_runtime::{CallContext, Runtime, RuntimeConfig};
use tokio::sync::watch;

use crate::support::process::{ServeProcess, ServeSpec, random_secret_key, random_token};

const TAYORI: &str = env!("CARGO_BIN_EXE_tayori");
const TENANT: &str = "kushiro";
/// The channel's API key: a secret that must never reach the server's log.
const API_KEY: &str = "py-serve-key-9f8e7d6c5b4a";
/// How long the fake waits for the plugin's request: a failure bound, far
/// beyond what a working pipeline needs (the dispatcher picks a broadcast
/// up within seconds), never a synchronisation.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(120);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/tayori sits two levels below the repository root")
        .to_path_buf()
}

fn componentize_py() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TAYORI_COMPONENTIZE_PY") {
        return Some(PathBuf::from(path));
    }
    let on_path = Command::new("componentize-py")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    on_path.then(|| PathBuf::from("componentize-py"))
}

fn skip(why: &str) {
    eprintln!(
        "\n**********************************************************************\n\
         SKIPPED: the Python example plugin is not built: {why}.\n\
         Run scripts/test (it installs componentize-py in a virtualenv and sets\n\
         TAYORI_COMPONENTIZE_PY), or set TAYORI_COMPONENTIZE_PY to the CLI.\n\
         **********************************************************************\n"
    );
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tayori(args: &[&str], cwd: &Path) -> Output {
    Command::new(TAYORI)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("running tayori")
}

fn call<'a>(report: &'a Value, function: &str) -> &'a Value {
    report["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .find(|c| c["function"] == function)
        .unwrap_or_else(|| panic!("no {function} call in {report:#}"))
}

/// One request the fake platform received.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Value,
}

/// A platform with the example's API: `POST /v1/messages` answers
/// `200 {"id": "pyplat-N"}` and is recorded.
struct Platform {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    count: watch::Receiver<usize>,
}

#[derive(Clone)]
struct PlatformState {
    received: Arc<Mutex<Vec<Received>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Platform {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let (tx, count) = watch::channel(0);
        let state = PlatformState {
            received: received.clone(),
            count: Arc::new(tx),
        };
        let app = Router::new()
            .route("/v1/messages", post(message))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the platform");
        let addr = listener.local_addr().expect("platform addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            received,
            count,
        }
    }

    /// Waits until `n` requests have come, within [`DELIVERY_DEADLINE`].
    async fn wait_for(&self, n: usize, node: &ServeProcess) {
        let mut count = self.count.clone();
        if tokio::time::timeout(DELIVERY_DEADLINE, count.wait_for(|c| *c >= n))
            .await
            .is_err()
        {
            panic!(
                "the platform got {} of {n} requests within {DELIVERY_DEADLINE:?}; the server's log ends:\n{}",
                *count.borrow(),
                node.log_tail()
            );
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn message(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = {
        let mut received = state.received.lock().unwrap();
        received.push(Received { headers, body });
        received.len()
    };
    state.count.send_replace(n);
    axum::Json(json!({ "id": format!("pyplat-{n}") }))
}

async fn api(node: &ServeProcess, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = node.op(method.clone(), path);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status();
    let text = response.text().await.expect("answer body");
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Builds the example with its own `build.sh`; the component's path.
fn build(cli: &Path) -> PathBuf {
    let dir = repo().join("examples/py-plugin");
    let started = Instant::now();
    let out = Command::new("bash")
        .arg("build.sh")
        .current_dir(&dir)
        .env("TAYORI_COMPONENTIZE_PY", cli)
        .output()
        .expect("running examples/py-plugin/build.sh");
    assert!(out.status.success(), "build.sh:\n{}", text(&out));
    eprintln!(
        "py-plugin: build.sh took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    dir.join("dist/py_example.wasm")
}

/// `plugin check` and `plugin test` on the component, as a partner runs them.
fn kit(wasm: &Path) {
    let dir = repo().join("examples/py-plugin");
    let wasm = wasm.to_str().unwrap();
    let check = tayori(&["plugin", "check", wasm], &dir);
    assert!(check.status.success(), "{}", text(&check));
    let printed = String::from_utf8_lossy(&check.stdout);
    assert!(
        printed.contains("contract tayori:plugin@0.2.0"),
        "{}",
        text(&check)
    );

    let out = tayori(
        &[
            "plugin",
            "test",
            wasm,
            "--config",
            "testdata/config.json",
            "--responses",
            "testdata/responses.json",
            "--json",
        ],
        &dir,
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", text(&out)));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["component"]["contract"], "0.2.0", "{report:#}");
    // No warning: notably none for peak memory near the instance's cap.
    assert_eq!(report["warnings"], json!([]), "{report:#}");

    let deliver = call(&report, "deliver");
    let outcomes: Vec<(String, String)> = deliver["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["address"].as_str().unwrap().to_string(),
                o["failure"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| o["platform_id"].as_str().unwrap().to_string()),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[0].0, "user-0001");
    assert!(outcomes[0].1.starts_with("py-"), "{outcomes:?}");
    assert_eq!(outcomes[1], ("user-0002".into(), "retry_after".into()));
    assert_eq!(outcomes[2], ("user-0003".into(), "recipient_gone".into()));
    assert_eq!(deliver["requests"].as_array().unwrap().len(), 3);
    assert_eq!(
        deliver["logs"][0]["message"],
        "sending pregnancy-day-100 to 3 recipients"
    );
    let all = format!("{}{}", text(&out), text(&check));
    assert!(
        !all.contains("py-test-key-0123456789"),
        "the config's secret never appears in the kit's output"
    );
    let limits = &report["limits"];
    for c in report["calls"].as_array().unwrap() {
        eprintln!(
            "py-plugin: {} used {} bytes of linear memory at its peak (limit {}), {:.0} ms",
            c["function"].as_str().unwrap(),
            c["peak_memory_bytes"],
            limits["memory_bytes"],
            c["wall_ms"].as_f64().unwrap_or_default()
        );
    }
}

/// The example, built once for every test here (`None`: componentize-py is
/// not installed, and the caller skips).
fn built() -> Option<PathBuf> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| componentize_py().map(|cli| build(&cli)))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_plugin_builds_passes_the_kit_and_delivers_through_a_real_server() {
    let Some(wasm) = tokio::task::spawn_blocking(built).await.unwrap() else {
        skip("componentize-py is not installed");
        return;
    };
    let bytes = std::fs::read(&wasm).expect("the component");
    let limit = RuntimeConfig::default().max_component_bytes;
    eprintln!(
        "py-plugin: the component is {} bytes ({:.1} MiB); the upload limit is {limit} bytes",
        bytes.len(),
        bytes.len() as f64 / f64::from(1 << 20)
    );
    assert!(
        bytes.len() <= limit,
        "the Python component ({} bytes) must fit the upload limit ({limit} bytes)",
        bytes.len()
    );
    tokio::task::spawn_blocking({
        let wasm = wasm.clone();
        move || kit(&wasm)
    })
    .await
    .unwrap();

    // A real `tayori serve`, as an operator runs it, on SQLite.
    let platform = Platform::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = ServeSpec {
        database_url: format!("sqlite://{}", dir.path().join("tayori.db").display()),
        admin_token: random_token(),
        secret_key: random_secret_key(),
        lease_seconds: None,
        retry_base_seconds: None,
        dir: dir.path().to_path_buf(),
        log_name: "tayori.log".into(),
    };
    let mut node = ServeProcess::start(&spec).await;

    // Beyond the upload limit, the answer is a 413 that names the limit,
    // whether the body is cut before it is read or checked once read.
    for over in [limit + 1, limit + 2] {
        let response = node
            .op(Method::POST, "/v1/plugins")
            .header("content-type", "application/wasm")
            .body(vec![0u8; over])
            .send()
            .await
            .expect("upload");
        let status = response.status();
        let refused: Value = response.json().await.expect("JSON");
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{refused}");
        assert_eq!(refused["error"]["code"], "too_large", "{refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("over the upload limit of {limit} bytes")),
            "{message}"
        );
    }

    // The upload: checked, compiled once and stored with its artifact.
    let started = Instant::now();
    let response = node
        .op(Method::POST, "/v1/plugins")
        .header("content-type", "application/wasm")
        .body(bytes.clone())
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let uploaded: Value = response.json().await.expect("JSON");
    eprintln!(
        "py-plugin: the upload (checks, first compilation, storing) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    assert_eq!(uploaded["plugin"], "py-example", "{uploaded}");
    assert_eq!(uploaded["contract"], "0.2.0", "{uploaded}");

    api(
        &node,
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": TENANT, "name": "釧路市"})),
    )
    .await;
    api(
        &node,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/channels/py"),
        Some(json!({
            "plugin": "py-example",
            "config": {
                "api_base": format!("http://{}", platform.addr),
                "api_key": API_KEY,
                "sender": "釧路市",
            },
            "allowed_hosts": [format!("127.0.0.1:{}", platform.addr.port())],
        })),
    )
    .await;
    let born = (chrono::Utc::now() - chrono::Duration::days(200)).date_naive();
    let csv = format!(
        "external_id,locale,channel,address,birth_date\nK000001,ja,py,parent-0001,{born}\n"
    );
    let path = format!("/v1/tenants/{TENANT}/subscribers/import");
    let response = node
        .op(Method::POST, &path)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    let status = response.status();
    let imported = response.text().await.expect("import answer");
    assert!(status.is_success(), "POST {path}: {status} {imported}");

    const BODY: &str = "【釧路市】乳幼児健診のお知らせ: 来週火曜日、保健センターで行います。";
    let broadcast = api(
        &node,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/broadcasts"),
        Some(json!({"content": {"body": BODY}, "audience": {}})),
    )
    .await;
    assert_eq!(broadcast["deliveries"], 1, "{broadcast}");

    // The parent's message reaches the platform, as the plugin sends it.
    platform.wait_for(1, &node).await;
    let received = platform.received();
    let got = &received[0];
    assert_eq!(got.body["to"], "parent-0001", "{:?}", got.body);
    assert_eq!(got.body["text"], BODY, "{:?}", got.body);
    assert_eq!(got.body["from"], "釧路市", "{:?}", got.body);
    assert_eq!(got.body["locale"], "ja", "{:?}", got.body);
    assert_eq!(
        got.headers["authorization"],
        format!("Bearer {API_KEY}").as_str()
    );
    let key = got.headers["idempotency-key"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&key).is_ok(), "{key}");

    // A graceful stop lets the batch in flight record its outcome. The
    // restart loads the stored artifact: a stored version without one would
    // be logged as compiled (`compiling plugin (no artifact ...)`).
    node.stop().await;
    let mut node = ServeProcess::start(&spec).await;
    assert!(
        !node.log_text().contains("compiling plugin"),
        "the restart compiled a plugin instead of loading its artifact:\n{}",
        node.log_tail()
    );
    let rows = api(
        &node,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/deliveries?limit=10"),
        None,
    )
    .await;
    let items = rows["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{rows}");
    assert_eq!(items[0]["status"], "sent", "{rows}");
    assert_eq!(items[0]["receipt"], "pyplat-1", "{rows}");
    assert_eq!(platform.received().len(), 1, "sent once");
    assert!(
        !node.log_text().contains(API_KEY),
        "the channel's secret never reaches the server's log"
    );
    node.stop().await;
}

fn recipients(prefix: &str, n: usize) -> Vec<Recipient> {
    (1..=n)
        .map(|i| Recipient {
            address: format!("{prefix}-{i:04}"),
            idempotency_key: format!("00000000-0000-4000-8000-{:04}{i:08}", prefix.len()),
            unsubscribe_url: None,
        })
        .collect()
}

fn batch(message_id: &str, body: &str, recipients: Vec<Recipient>) -> Batch {
    Batch {
        message_id: message_id.into(),
        content: Content {
            subject: None,
            body: body.into(),
            locale: "ja".into(),
            ..Content::default()
        },
        recipients,
    }
}

/// The contract's other calls in the host's own runtime (production limits):
/// `deliver` with two batches in one call, on one instance, and a webhook
/// answered 404 with no events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_plugin_takes_several_batches_in_one_call() {
    let Some(wasm) = tokio::task::spawn_blocking(built).await.unwrap() else {
        skip("componentize-py is not installed");
        return;
    };
    let bytes = std::fs::read(&wasm).expect("the component");
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = runtime
        .prepare(&bytes)
        .await
        .expect("the upload checks")
        .plugin;
    assert_eq!(plugin.contract(), "0.2.0");
    assert_eq!(plugin.record.manifest.max_batches_per_call, 10);

    let platform = Platform::start().await;
    let ctx = CallContext {
        tenant: Some(TENANT.into()),
        channel: Some("py".into()),
        approved_hosts: vec![format!("127.0.0.1:{}", platform.addr.port())],
        capture: false,
    };
    let config = json!({
        "api_base": format!("http://{}", platform.addr),
        "api_key": API_KEY,
    })
    .to_string();
    let batches = [
        batch("child-day-005", "生後5日目のご案内", recipients("a", 2)),
        batch("broadcast:42", "休日診療のお知らせ", recipients("bb", 3)),
    ];
    let called = runtime.deliver(&plugin, &ctx, &config, &batches).await;
    eprintln!(
        "py-plugin: deliver of 2 batches used {} bytes of linear memory at its peak",
        called.report.peak_memory
    );
    let outcomes = called.result.expect("deliver");
    let keys: Vec<&str> = outcomes
        .iter()
        .map(|o| o.idempotency_key.as_str())
        .collect();
    let expected: Vec<&str> = batches
        .iter()
        .flat_map(|b| b.recipients.iter().map(|r| r.idempotency_key.as_str()))
        .collect();
    assert_eq!(keys, expected, "one outcome per recipient of every batch");
    assert!(
        outcomes.iter().all(
            |o| matches!(&o.status, DeliveryStatus::Accepted(Some(id)) if id.starts_with("pyplat-"))
        ),
        "{outcomes:?}"
    );
    assert_eq!(
        called.report.requests.len(),
        5,
        "{:?}",
        called.report.requests
    );
    let logs: Vec<&str> = called.report.logs.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        logs,
        [
            "sending child-day-005 to 2 recipients",
            "sending broadcast:42 to 3 recipients"
        ]
    );
    let received = platform.received();
    assert_eq!(received.len(), 5);
    for b in &batches {
        for r in &b.recipients {
            let got = received
                .iter()
                .find(|g| g.body["to"] == r.address.as_str())
                .unwrap_or_else(|| panic!("{} got nothing: {received:?}", r.address));
            assert_eq!(got.body["reference"], b.message_id.as_str());
            assert_eq!(got.body["text"], b.content.body.as_str());
            assert_eq!(got.headers["idempotency-key"], r.idempotency_key.as_str());
        }
    }

    // A host the operator did not approve: refused before a byte is sent,
    // and the plugin says so as a permanent failure, without trapping.
    let elsewhere = CallContext {
        approved_hosts: Vec::new(),
        ..ctx.clone()
    };
    let called = runtime
        .deliver(&plugin, &elsewhere, &config, &batches[..1])
        .await;
    let outcomes = called.result.expect("deliver");
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| matches!(
            &o.status,
            DeliveryStatus::Failed(f) if f.kind == FailureKind::Permanent
        )),
        "{outcomes:?}"
    );
    assert_eq!(platform.received().len(), 5, "nothing more was sent");

    let request = WebhookRequest {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{}".to_vec(),
    };
    let called = runtime
        .handle_webhook(&plugin, &ctx, &config, &request)
        .await;
    let answer = called.result.expect("handle-webhook");
    assert_eq!(answer.response.status, 404);
    assert!(answer.events.is_empty());
}
