//! Channels through the HTTP API: the plugin, version and config checked
//! with the field named; secrets sealed, kept across puts, never answered,
//! never logged (the real binary's stderr is read) and never stored in clear
//! (the SQLite files' bytes are read).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{Api, error, on_each_engine, send};
use crate::support::server::ADMIN_TOKEN;

const SECRET: &str = "s3cret-Token-9f8e7d6c5b4a";

fn put(api: &Api, tenant: &str, channel: &str, body: Value) -> reqwest::RequestBuilder {
    api.op(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/channels/{channel}"),
    )
    .json(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_are_checked_and_secrets_redacted_and_kept() {
    on_each_engine(|api| async move {
        api.upload_echo().await;
        api.tenant("otaru").await;

        let bad = [
            (json!({"plugin": "lin", "config": {}}), StatusCode::UNPROCESSABLE_ENTITY, "plugin: no plugin `lin` is published; published: echo"),
            (json!({"plugin": "echo", "version": "9.9.9", "config": {"endpoint": "http://x"}}), StatusCode::UNPROCESSABLE_ENTITY, "version: plugin `echo` has no version 9.9.9; published: 1.0.0"),
            (json!({"plugin": "echo", "version": "one", "config": {}}), StatusCode::UNPROCESSABLE_ENTITY, "version: `one` is not a semantic version"),
            (json!({"plugin": "echo", "config": {}}), StatusCode::UNPROCESSABLE_ENTITY, "config: \"endpoint\" is a required property"),
            (json!({"plugin": "echo", "config": {"endpoint": 42}}), StatusCode::UNPROCESSABLE_ENTITY, "config/endpoint: 42 is not of type \"string\""),
            (json!({"plugin": "echo", "config": []}), StatusCode::UNPROCESSABLE_ENTITY, "config: must be a JSON object"),
            // The plugin's own validate-config, run in the sandbox.
            (json!({"plugin": "echo", "config": {"endpoint": "ftp://x"}}), StatusCode::UNPROCESSABLE_ENTITY, "config/endpoint: must be an http(s) URL"),
            (json!({"plugin": "echo", "config": {"endpoint": "http://x"}, "allowed_hosts": ["https://x/y"]}), StatusCode::UNPROCESSABLE_ENTITY, "allowed_hosts[0]: `https://x/y` is not host[:port]"),
            (json!({"plugin": "echo", "config": {"endpoint": "http://x"}, "rate_per_second": 0}), StatusCode::UNPROCESSABLE_ENTITY, "rate_per_second: must be at least 1"),
        ];
        for (body, status, expected) in bad {
            let (got, answer) = send(put(&api, "otaru", "line", body.clone())).await;
            assert_eq!(got, status, "{body}: {answer}");
            let (code, message) = error(&answer);
            assert_eq!(code, "invalid_field", "{answer}");
            assert!(message.starts_with(expected), "{body}: {message}");
        }
        let (status, _) = send(put(&api, "nowhere", "line", json!({"plugin": "echo", "config": {"endpoint": "http://x"}}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, answer) = send(put(&api, "otaru", "Bad_Name", json!({"plugin": "echo", "config": {"endpoint": "http://x"}}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error(&answer).1.starts_with("channel: `Bad_Name` is not a channel name"), "{answer}");
        // Nothing refused was stored.
        let (_, list) = send(api.op(Method::GET, "/v1/tenants/otaru/channels")).await;
        assert_eq!(list["channels"], json!([]));

        // Created with a secret: answered redacted.
        let (status, ch) = send(put(&api, "otaru", "line", json!({
            "plugin": "echo", "version": "1.0.0",
            "config": {"endpoint": "http://127.0.0.1:9/a", "token": SECRET},
            "allowed_hosts": ["127.0.0.1:9"], "rate_per_second": 5, "daily_quota": 1000
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{ch}");
        assert_eq!(ch["config"], json!({"endpoint": "http://127.0.0.1:9/a", "token": "<redacted>"}));
        assert_eq!(ch["secrets_set"], json!(["token"]));
        assert_eq!(ch["version"], "1.0.0");
        assert_eq!(ch["resolved_version"], "1.0.0");
        assert_eq!(ch["allowed_hosts"], json!(["127.0.0.1:9"]));
        assert_eq!((ch["rate_per_second"].as_u64(), ch["daily_quota"].as_u64()), (Some(5), Some(1000)));

        // A put without the secret (or with "<redacted>") keeps it; the
        // scheduler's view has the full config.
        for token in [None, Some("<redacted>")] {
            let mut config = json!({"endpoint": "http://127.0.0.1:9/b"});
            if let Some(t) = token {
                config["token"] = json!(t);
            }
            let (status, ch) = send(put(&api, "otaru", "line", json!({"plugin": "echo", "config": config}))).await;
            assert_eq!(status, StatusCode::OK, "{ch}");
            assert_eq!(ch["secrets_set"], json!(["token"]));
            assert_eq!(ch["allowed_hosts"], json!(["127.0.0.1:9"]), "absent allowed_hosts stay");
            assert_eq!(ch["version"], json!(null));
        }
        // `null` removes it.
        let (_, ch) = send(put(&api, "otaru", "line", json!({"plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/c", "token": null}}))).await;
        assert_eq!(ch["secrets_set"], json!([]));
        assert_eq!(ch["config"], json!({"endpoint": "http://127.0.0.1:9/c"}));
        let (status, answer) = send(put(&api, "otaru", "line", json!({"plugin": "echo", "config": {"endpoint": "http://x", "token": "<redacted>"}}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error(&answer).1.starts_with("config/token:"), "{answer}");

        // A tenant admin stays within the manifest and may only lower rates.
        let admin = api.token("tenant_admin", Some("otaru"), &[]).await;
        let (status, answer) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/channels/line").json(&json!({
            "plugin": "echo", "config": {"endpoint": "http://x"}, "allowed_hosts": ["evil.example.com:443"]
        }))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(error(&answer).1.starts_with("allowed_hosts[0]"), "{answer}");
        let (status, _) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/channels/line").json(&json!({
            "plugin": "echo", "config": {"endpoint": "http://x"}, "rate_per_second": 100000
        }))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, ch) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/channels/line").json(&json!({
            "plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/d", "token": SECRET},
            "allowed_hosts": ["127.0.0.1:*"], "rate_per_second": 10
        }))).await;
        assert_eq!(status, StatusCode::OK, "{ch}");

        let (status, ch) = send(api.op(Method::GET, "/v1/tenants/otaru/channels/line")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ch["config"]["token"], "<redacted>");
        let (_, list) = send(api.op(Method::GET, "/v1/tenants/otaru/channels")).await;
        assert_eq!(list["channels"][0]["name"], "line");
        assert!(!list.to_string().contains(SECRET));

        // Delete.
        let (status, _) = send(api.op(Method::DELETE, "/v1/tenants/otaru/channels/line")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = send(api.op(Method::GET, "/v1/tenants/otaru/channels/line")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_gets_the_full_config_and_the_database_only_ciphertext() {
    let mut api = Api::sqlite().await;
    api.upload_echo().await;
    api.tenant("otaru").await;
    let (status, ch) = send(put(&api, "otaru", "line", json!({
        "plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/visible-endpoint", "token": SECRET}
    }))).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let dir = api.dir.take().expect("sqlite dir");

    // The store holds the config without the secret.
    let store = tayori_store::connect(&api.database_url).await.unwrap();
    let stored = store.channel("otaru", "line").await.unwrap();
    assert_eq!(
        stored.config,
        json!({"endpoint": "http://127.0.0.1:9/visible-endpoint"})
    );
    assert!(!stored.secrets_ciphertext.is_empty());
    // The key file beside the database opens it: the full config for a call.
    let key = tayori_api::SecretKey::load_or_create(&dir.path().join("tayori.key")).unwrap();
    assert_eq!(
        key.channel_config(&stored).unwrap(),
        json!({"endpoint": "http://127.0.0.1:9/visible-endpoint", "token": SECRET})
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tayori.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    api.stop().await;
    store.close().await.unwrap();
    drop(store);

    // Neither the database nor its WAL holds the secret in clear, while the
    // endpoint is there to be found (so the bytes read are the right ones).
    // The files are read under SQLite's exclusive lock: while this
    // connection holds it, no other connection (one still closing, a
    // checkpoint) can write to them, so the bytes read are one state.
    let bytes = {
        use sqlx::ConnectOptions;
        let mut locked = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("tayori.db"))
            .locking_mode(sqlx::sqlite::SqliteLockingMode::Exclusive)
            .busy_timeout(std::time::Duration::from_secs(30))
            .connect()
            .await
            .expect("open the database alone");
        let mut tx = sqlx::Connection::begin_with(&mut locked, "BEGIN EXCLUSIVE")
            .await
            .expect("take the exclusive lock");
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("tayori.db") {
                bytes
                    .extend(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {name}: {e}")));
            }
        }
        // Something is read: the lock is held, not just asked for.
        let tenants: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(tenants, 1);
        tx.rollback().await.unwrap();
        sqlx::Connection::close(locked).await.unwrap();
        bytes
    };
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        has("visible-endpoint"),
        "the database files hold the config"
    );
    assert!(!has(SECRET), "the secret is stored in clear");
    assert!(!has("s3cret"), "part of the secret is stored in clear");
}

/// Runs the real binary with verbose logs, puts, reads and fails channels
/// with a secret, and reads every line it logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_answer_and_no_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tayori"))
        .args(["serve", "--bind", "127.0.0.1:0", "--no-bundled-plugins", "--database-url"])
        .arg(format!("sqlite://{}", dir.path().join("tayori.db").display()))
        .env("TAYORI_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("TAYORI_LOG", "trace,cranelift=info,wasmtime=info,regalloc2=info,h2=info,hyper=info,hyper_util=info,reqwest=info")
        .env("NO_COLOR", "1")
        .env_remove("TAYORI_SECRET_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tayori");
    let log = Arc::new(Mutex::new(String::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("tayori listening")
                    && let Some(at) = line.find("127.0.0.1:")
                {
                    let port: String = line[at + 10..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    let _ = addr_tx.send(format!("127.0.0.1:{port}"));
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        })
    };
    let addr = tokio::task::spawn_blocking(move || {
        addr_rx.recv_timeout(std::time::Duration::from_secs(120))
    })
    .await
    .unwrap()
    .unwrap_or_else(|_| panic!("the server did not start: {}", log.lock().unwrap()));
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let op = |m: Method, p: &str| {
        http.request(m, format!("{base}{p}"))
            .bearer_auth(ADMIN_TOKEN)
    };

    let echo = std::fs::read(tayori_plugin_artifacts::ECHO).unwrap();
    let (status, _) = send(
        op(Method::POST, "/v1/plugins")
            .header("content-type", "application/wasm")
            .body(echo),
    )
    .await;
    assert!(status.is_success());
    let (status, _) =
        send(op(Method::POST, "/v1/tenants").json(&json!({"id": "otaru", "name": "小樽市"}))).await;
    assert_eq!(status, StatusCode::CREATED);

    let mut answers = Vec::new();
    for body in [
        json!({"plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/a", "token": SECRET}}),
        // Refused by the schema, by the plugin, and by the host list, each
        // carrying the secret.
        json!({"plugin": "echo", "config": {"endpoint": 7, "token": SECRET}}),
        json!({"plugin": "echo", "config": {"endpoint": SECRET, "token": SECRET}}),
        json!({"plugin": "echo", "config": {"endpoint": "http://x", "token": SECRET}, "allowed_hosts": ["bad/host"]}),
        json!({"plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/b", "token": SECRET, "skip_http": "not a bool"}}),
    ] {
        let resp = op(Method::PUT, "/v1/tenants/otaru/channels/line")
            .json(&body)
            .send()
            .await
            .unwrap();
        answers.push(resp.text().await.unwrap());
    }
    for path in [
        "/v1/tenants/otaru/channels/line",
        "/v1/tenants/otaru/channels",
    ] {
        answers.push(
            op(Method::GET, path)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    assert!(answers[0].contains("<redacted>"), "{}", answers[0]);
    assert!(
        answers[1..5].iter().all(|a| a.contains("\"error\"")),
        "{answers:?}"
    );

    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(log.contains("channel put"), "the log was captured: {log}");
    for answer in &answers {
        assert!(
            !answer.contains(SECRET) && !answer.contains("s3cret"),
            "an answer shows the secret: {answer}"
        );
    }
    assert!(
        !log.contains(SECRET) && !log.contains("s3cret"),
        "the log shows the secret:\n{log}"
    );
}

/// A host whose key opens none of the stored secrets refuses to start,
/// rather than sealing new secrets beside unreadable ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_the_wrong_key_refuses_to_start() {
    let mut api = Api::sqlite().await;
    api.upload_echo().await;
    api.tenant("otaru").await;
    let (status, _) = send(put(
        &api,
        "otaru",
        "line",
        json!({
            "plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/a", "token": SECRET}
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED);
    api.stop().await;
    let dir = api.dir.take().unwrap();
    let config = || tayori::ServeConfig {
        database_url: api.database_url.clone(),
        admin_token: Some(ADMIN_TOKEN.into()),
        runtime: tayori_runtime::RuntimeConfig::default(),
        load_bundled: false,
        ..tayori::ServeConfig::default()
    };
    let listener = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };

    // The same key file: starts.
    let started = tayori::launch(config(), listener().await, async {})
        .await
        .expect("restart");
    let _ = started.task.await;
    // Another key: refused, naming what to do.
    let other = tayori_api::SecretKey::generate("another key");
    let err = match tayori::launch_with_key(config(), Some(other), listener().await, async {}).await
    {
        Ok(_) => panic!("started with the wrong key"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("cannot be opened") && err.contains("TAYORI_SECRET_KEY"),
        "{err}"
    );
    drop(dir);
}

/// A channel paused by hand says why and since when, keeps its config and
/// secrets, and resumes; a blank reason is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_is_paused_with_a_reason_and_resumed() {
    on_each_engine(|api| async move {
        api.upload_echo().await;
        api.tenant("otaru").await;
        let (status, _) = send(put(
            &api,
            "otaru",
            "line",
            json!({
                "plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/x", "token": SECRET}
            }),
        ))
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let pause = |body: Value| {
            api.op(Method::POST, "/v1/tenants/otaru/channels/line/pause")
                .json(&body)
        };

        for (body, expected) in [
            (json!({"reason": "  "}), "reason: must not be empty"),
            (
                json!({"reason": "x".repeat(201)}),
                "reason: must be at most 200 characters",
            ),
        ] {
            let (status, answer) = send(pause(body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            assert!(error(&answer).1.starts_with(expected), "{answer}");
        }
        let (_, line) = send(api.op(Method::GET, "/v1/tenants/otaru/channels/line")).await;
        assert_eq!(
            line["paused"],
            Value::Null,
            "a refused pause changed nothing"
        );

        let (status, paused) = send(pause(json!({"reason": "トークンの更新中"}))).await;
        assert_eq!(status, StatusCode::OK, "{paused}");
        assert_eq!(paused["paused"]["reason"], "トークンの更新中");
        assert_eq!(paused["config"]["token"], "<redacted>");
        assert_eq!(paused["secrets_set"], json!(["token"]));
        let since = paused["paused"]["since"].clone();
        // Paused again: the new reason, the first `since`.
        let (_, again) = send(pause(json!({"reason": "確認中"}))).await;
        assert_eq!(again["paused"]["reason"], "確認中");
        assert_eq!(again["paused"]["since"], since);

        let (status, resumed) =
            send(api.op(Method::POST, "/v1/tenants/otaru/channels/line/resume")).await;
        assert_eq!(status, StatusCode::OK, "{resumed}");
        assert_eq!(resumed["paused"], Value::Null);
        assert_eq!(resumed["secrets_set"], json!(["token"]));

        let (status, _) =
            send(api.op(Method::POST, "/v1/tenants/otaru/channels/none/resume")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}
