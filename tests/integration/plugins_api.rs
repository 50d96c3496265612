//! The plugin store through the HTTP API: upload checks, activation, canary,
//! rollback, hot swap under load, and restart without compiling.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::DeliveryStatus;
use tayori_plugin_artifacts as artifacts;
use tayori_runtime::{CallContext, RuntimeConfig};

use crate::sandbox::batch;
use crate::support::server::{Db, PgSchema, TestServer};

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

async fn upload(server: &TestServer, bytes: Vec<u8>) -> (StatusCode, Value) {
    let resp = server
        .op(Method::POST, "/v1/plugins")
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

fn code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {v}"))
}

/// The same component with a custom section appended: other bytes, same manifest.
fn with_custom_section(mut bytes: Vec<u8>) -> Vec<u8> {
    let name = b"tayori-test";
    let payload = b"other bytes";
    let len = 1 + name.len() + payload.len();
    bytes.push(0);
    bytes.push(len as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_refused_with_a_clear_error() {
    let server = TestServer::start_with(Db::FreshSqlite, RuntimeConfig::default(), false).await;

    let (status, body) = upload(&server, b"hello, not wasm".to_vec()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_wasm"),
        "{body}"
    );

    let (status, body) = upload(&server, b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "core_module"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wasm32-wasip2")
    );

    let (status, body) = upload(&server, read(artifacts::OTHER_WORLD)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_world"),
        "{body}"
    );

    let (status, body) = upload(&server, read(artifacts::FS_IMPORTER)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "forbidden_import"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wasi:filesystem"),
        "{body}"
    );

    let (status, body) = upload(&server, read(artifacts::BAD_MANIFEST)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_manifest"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version"),
        "{body}"
    );

    let (status, body) = upload(&server, read(artifacts::ECHO)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["plugin"].as_str(), body["version"].as_str()),
        (Some("echo"), Some("1.0.0"))
    );
    assert_eq!(body["digest"].as_str().unwrap().len(), 64);

    let (status, _) = upload(&server, read(artifacts::ECHO)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same bytes again change nothing"
    );

    let (status, body) = upload(&server, with_custom_section(read(artifacts::ECHO))).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "version_conflict"),
        "{body}"
    );

    let resp = server
        .http
        .post(server.url("/v1/plugins"))
        .body(read(artifacts::ECHO))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Nothing refused was published.
    let list: Value = server
        .op(Method::GET, "/v1/plugins")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["echo"]);
    server.stop().await;

    let small = RuntimeConfig {
        max_component_bytes: 64 << 10,
        ..RuntimeConfig::default()
    };
    let server = TestServer::start_with(Db::FreshSqlite, small, false).await;
    let (status, body) = upload(&server, read(artifacts::ECHO)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        "{body}"
    );
    server.stop().await;
}

async fn post(server: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    let resp = server
        .op(Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn active_version(server: &TestServer, plugin: &str) -> (Value, Value) {
    let list: Value = server
        .op(Method::GET, "/v1/plugins")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let p = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == plugin)
        .unwrap()
        .clone();
    (p["active_version"].clone(), p["canaries"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_canary_and_rollback() {
    let server = TestServer::start_with(Db::FreshSqlite, RuntimeConfig::default(), false).await;
    assert_eq!(
        upload(&server, read(artifacts::ECHO)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        upload(&server, read(artifacts::ECHO_V2)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        active_version(&server, "echo").await,
        (json!("1.0.0"), json!({})),
        "the first version is active, later ones wait"
    );
    for tenant in ["otaru", "sapporo"] {
        let (status, body) = post(
            &server,
            "/v1/tenants",
            json!({ "id": tenant, "name": tenant }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    // A canary for a tenant that does not exist changes nothing, even for
    // the tenants before it in the list.
    let (status, body) = post(
        &server,
        "/v1/plugins/echo/versions/2.0.0/activate",
        json!({ "tenants": ["otaru", "nowhere"] }),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{body}"
    );
    assert_eq!(
        body["error"]["message"],
        "tenants[1]: tenant `nowhere` does not exist"
    );
    assert_eq!(active_version(&server, "echo").await.1, json!({}));
    // Nor does a list that is not an object's.
    let (status, body) = post(
        &server,
        "/v1/plugins/echo/versions/2.0.0/activate",
        json!([["otaru"]]),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "{body}"
    );
    assert_eq!(active_version(&server, "echo").await.1, json!({}));

    let (status, _) = post(
        &server,
        "/v1/plugins/echo/versions/2.0.0/activate",
        json!({ "tenants": ["otaru"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        active_version(&server, "echo").await,
        (json!("1.0.0"), json!({ "otaru": "2.0.0" }))
    );
    let plugins = &server.launched.state.plugins;
    assert_eq!(
        plugins
            .resolve("echo", Some("otaru"), None)
            .unwrap()
            .record
            .version
            .major,
        2
    );
    assert_eq!(
        plugins
            .resolve("echo", Some("sapporo"), None)
            .unwrap()
            .record
            .version
            .major,
        1
    );

    let (status, _) = post(
        &server,
        "/v1/plugins/echo/versions/2.0.0/activate",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active_version(&server, "echo").await.0, json!("2.0.0"));

    let (status, body) = post(&server, "/v1/plugins/echo/rollback", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(active_version(&server, "echo").await.0, json!("1.0.0"));
    let (status, body) = post(&server, "/v1/plugins/echo/rollback", json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "the first activation cannot be rolled back: {body}"
    );
    assert_eq!(active_version(&server, "echo").await.0, json!("1.0.0"));

    let (status, _) = post(
        &server,
        "/v1/plugins/echo/rollback",
        json!({ "tenants": ["otaru"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active_version(&server, "echo").await.1, json!({}));

    let (status, body) = post(
        &server,
        "/v1/plugins/echo/versions/9.9.9/activate",
        json!({}),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = post(&server, "/v1/plugins/nope/rollback", json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    server.stop().await;
}

/// Calls run all the time while versions are activated and rolled back;
/// none fails, and each outcome comes from the version the call resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_load_drops_no_call() {
    let server = TestServer::start_with(Db::FreshSqlite, RuntimeConfig::default(), false).await;
    assert_eq!(
        upload(&server, read(artifacts::ECHO)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        upload(&server, read(artifacts::ECHO_V2)).await.0,
        StatusCode::CREATED
    );
    let plugins = server.launched.state.plugins.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let per_version = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let config = json!({ "endpoint": "http://127.0.0.1:9/unused", "skip_http": true }).to_string();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (plugins, stop, calls, per_version, config) = (
            plugins.clone(),
            stop.clone(),
            calls.clone(),
            per_version.clone(),
            config.clone(),
        );
        workers.push(tokio::spawn(async move {
            let b = batch(3);
            while !stop.load(Ordering::Relaxed) {
                let plugin = plugins
                    .resolve("echo", Some("sapporo"), None)
                    .expect("an active echo");
                let major = plugin.record.version.major;
                let called = plugins
                    .runtime()
                    .deliver(
                        &plugin,
                        &CallContext::default(),
                        &config,
                        std::slice::from_ref(&b),
                    )
                    .await;
                let outcomes = called.result.expect("no call may fail during a swap");
                let prefix = if major == 2 { "echo2-" } else { "echo-" };
                for o in &outcomes {
                    match &o.status {
                        DeliveryStatus::Accepted(Some(id)) => {
                            assert!(id.starts_with(prefix), "{id} from version {major}")
                        }
                        other => panic!("{other:?}"),
                    }
                }
                per_version[(major - 1) as usize].fetch_add(1, Ordering::Relaxed);
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for round in 0..25 {
        // Wait until some calls ran on the current version before swapping.
        let seen = calls.load(Ordering::Relaxed);
        while calls.load(Ordering::Relaxed) < seen + 4 {
            tokio::task::yield_now().await;
        }
        if round % 2 == 0 {
            plugins
                .activate("echo", &semver::Version::new(2, 0, 0), &[])
                .await
                .unwrap();
        } else {
            plugins.rollback("echo", &[]).await.unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("a worker failed");
    }
    assert!(
        per_version[0].load(Ordering::Relaxed) > 0 && per_version[1].load(Ordering::Relaxed) > 0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_loads_stored_plugins_without_compiling() {
    let mut server = TestServer::start_with(Db::FreshSqlite, RuntimeConfig::default(), false).await;
    let url = server.database_url.clone();
    let dir = server.take_dir();
    assert_eq!(
        upload(&server, read(artifacts::ECHO)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        upload(&server, read(artifacts::HOSTILE)).await.0,
        StatusCode::CREATED
    );
    server.stop().await;

    let server = TestServer::start_with(Db::Url(url), RuntimeConfig::default(), false).await;
    let stats = server.launched.state.plugins.load_stats();
    assert_eq!((stats.compiled, stats.from_artifact), (0, 2), "{stats:?}");
    let echo = server
        .launched
        .state
        .plugins
        .resolve("echo", None, None)
        .expect("echo after restart");
    let config = json!({ "endpoint": "http://127.0.0.1:9/unused", "skip_http": true }).to_string();
    let called = server
        .launched
        .state
        .plugins
        .runtime()
        .deliver(
            &echo,
            &CallContext::default(),
            &config,
            std::slice::from_ref(&batch(1)),
        )
        .await;
    assert!(called.result.is_ok(), "{:?}", called.result);
    server.stop().await;
    drop(dir);
}

/// Waits (bounded) until `node` resolves `plugin` for every tenant to `major`.
async fn until_active_major(node: &TestServer, plugin: &str, major: Option<u64>) {
    let plugins = &node.launched.state.plugins;
    // Subscribed before the first look: a reload after it wakes the wait.
    let mut changes = plugins.changes();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = plugins
            .resolve(plugin, None, None)
            .map(|p| p.record.version.major);
        if now == major {
            return;
        }
        let reloaded = tokio::time::timeout_at(deadline, changes.changed()).await;
        assert!(
            matches!(reloaded, Ok(Ok(()))),
            "the other node still resolves {plugin} to {now:?}, not {major:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_changes_on_one_node_reach_the_others_on_postgres() {
    let Some(pg) = PgSchema::create().await else {
        return;
    };
    let configure = |c: &mut tayori::ServeConfig| {
        c.load_bundled = false;
        c.run_scheduler = false;
    };
    let a = TestServer::start_configured(Db::Url(pg.url.clone()), configure).await;
    let b = TestServer::start_configured(Db::Url(pg.url.clone()), configure).await;
    assert!(
        b.launched
            .state
            .plugins
            .resolve("echo", None, None)
            .is_none()
    );
    // Published on A (the first version becomes active): B loads it.
    assert_eq!(
        upload(&a, read(artifacts::ECHO)).await.0,
        StatusCode::CREATED
    );
    until_active_major(&b, "echo", Some(1)).await;
    // Activated on A: B switches.
    assert_eq!(
        upload(&a, read(artifacts::ECHO_V2)).await.0,
        StatusCode::CREATED
    );
    let (status, _) = post(&a, "/v1/plugins/echo/versions/2.0.0/activate", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    until_active_major(&b, "echo", Some(2)).await;
    // Rolled back on B: A follows.
    let (status, _) = post(&b, "/v1/plugins/echo/rollback", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    until_active_major(&a, "echo", Some(1)).await;
    a.stop().await;
    b.stop().await;
    pg.drop_schema().await;
}
