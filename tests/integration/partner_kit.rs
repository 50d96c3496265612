//! The partner kit, run as a partner runs it: the real `tayori` binary's
//! `plugin new`, `plugin check` and `plugin test`, on a crate the kit made
//! (built with cargo for wasm32-wasip2), on the hostile test plugin, and on
//! the JavaScript example plugin (built with npm and componentize-js).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::fake::Fake;

const TAYORI: &str = env!("CARGO_BIN_EXE_tayori");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("host/tayori sits two levels below the repository root")
        .to_path_buf()
}

/// A directory of the kit's own under cargo's target directory, kept between
/// runs so that nested builds are incremental.
fn target_subdir(name: &str) -> PathBuf {
    // CARGO_BIN_EXE_tayori = <target>/<profile>/tayori
    let target = Path::new(TAYORI)
        .ancestors()
        .nth(2)
        .expect("the binary sits in <target>/<profile>/")
        .to_path_buf();
    target.join("partner-kit").join(name)
}

fn tayori(args: &[&str], cwd: &Path) -> Output {
    Command::new(TAYORI)
        .args(args)
        .current_dir(cwd)
        .env_remove("TAYORI_SDK_PATH")
        .output()
        .expect("running tayori")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `plugin test --json`: the exit status and the report.
fn test_json(args: &[&str], cwd: &Path) -> (Output, Value) {
    let mut all = vec!["plugin", "test"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = tayori(&all, cwd);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e}):\n{}", text(&out)));
    (out, report)
}

/// A cargo for a crate outside this workspace: the outer build's variables
/// describe this build, not that one.
fn cargo(dir: &Path, target_dir: &Path, args: &[&str]) {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .expect("running cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} in {}:\n{}",
        dir.display(),
        text(&out)
    );
}

fn problems(report: &Value) -> Vec<(String, String)> {
    report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn call<'a>(report: &'a Value, function: &str) -> &'a Value {
    report["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .find(|c| c["function"] == function)
        .unwrap_or_else(|| panic!("no {function} call in {report:#}"))
}

#[test]
fn a_new_plugin_builds_passes_its_tests_and_the_kit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("acme-notify");
    // Run from the checkout, as a partner with a clone would: the SDK is
    // found above the current directory.
    let out = tayori(
        &[
            "plugin",
            "new",
            "acme-notify",
            "--dir",
            dir.to_str().unwrap(),
            "--vendor",
            "Acme Inc.",
        ],
        &repo(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let sdk = std::fs::canonicalize(repo().join("plugins/sdk")).unwrap();
    assert!(
        manifest.contains(&format!("path = \"{}\"", sdk.display())),
        "{manifest}"
    );
    assert!(
        dir.join("Cargo.lock").is_file(),
        "the SDK's lock file is copied"
    );
    // A second `new` into the same place is refused, naming it.
    let again = tayori(
        &[
            "plugin",
            "new",
            "acme-notify",
            "--dir",
            dir.to_str().unwrap(),
        ],
        &repo(),
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    let target = target_subdir("new-plugin");
    // The first build completes the copied lock file with the new crate (and
    // fetches from crates.io only what this machine does not have yet).
    cargo(&dir, &target, &["test"]);
    cargo(
        &dir,
        &target,
        &[
            "build",
            "--locked",
            "--release",
            "--target",
            "wasm32-wasip2",
        ],
    );
    let wasm = target.join("wasm32-wasip2/release/acme_notify.wasm");
    let wasm = wasm.to_str().unwrap();

    let check = tayori(&["plugin", "check", wasm], &dir);
    assert!(check.status.success(), "{}", text(&check));
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(
        shown.contains("manifest  acme-notify 0.1.0: Acme Notify by Acme Inc."),
        "{shown}"
    );
    assert!(shown.contains("api_key (string, secret)"), "{shown}");

    // The scripted platform accepts everyone.
    let (out, report) = test_json(
        &[
            wasm,
            "--config",
            "testdata/config.json",
            "--responses",
            "testdata/responses.json",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["ok"], true);
    assert_eq!(call(&report, "validate-config")["error"], Value::Null);
    let deliver = call(&report, "deliver");
    // The template sends a batch's requests concurrently: any order.
    let mut ids: Vec<&str> = deliver["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["platform_id"].as_str().unwrap_or("-"))
        .collect();
    ids.sort();
    assert_eq!(ids, ["msg-1", "msg-2", "msg-3"]);
    let requests = deliver["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 3);
    let first = requests
        .iter()
        .find(|r| r["body"].as_str().unwrap().contains("\"user-0001\""))
        .expect("a request for user-0001");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["url"], "https://api.acme-notify.example/v1/messages");
    let header = |name: &str| {
        first["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == name)
            .map(|h| h[1].as_str().unwrap().to_string())
    };
    assert_eq!(header("authorization").as_deref(), Some("Bearer ***"));
    assert_eq!(
        header("idempotency-key").as_deref(),
        Some("5f0e7a2c-3b1d-4c8e-9a6f-000000000001")
    );
    let body: Value = serde_json::from_str(first["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["to"], "user-0001");
    assert!(deliver["peak_memory_bytes"].as_u64().unwrap() > 0);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("test-key-0123456789"),
        "the config's secret never appears in the report"
    );

    // The failing platform: each answer becomes what the host does next,
    // and a failed outcome is the plugin doing its job, not a problem.
    let (out, report) = test_json(
        &[
            wasm,
            "--config",
            "testdata/config.json",
            "--responses",
            "testdata/responses-failures.json",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    let kinds: Vec<(String, Value)> = call(&report, "deliver")["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["failure"].as_str().unwrap_or("none").to_string(),
                o["retry_after_seconds"].clone(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("retry_after".to_string(), json!(30)),
            ("recipient_gone".to_string(), Value::Null),
            ("unauthorized".to_string(), Value::Null),
        ]
    );

    // The partner's own batch, and a script that leaves a request unanswered.
    let gaps = dir.join("testdata/gaps.json");
    std::fs::write(
        &gaps,
        r#"[{"when": {"body_contains": "user-0001"}, "json": {"id": "only-one"}}]"#,
    )
    .unwrap();
    let (out, report) = test_json(
        &[
            wasm,
            "--config",
            "testdata/config.json",
            "--batch",
            "testdata/batch.json",
            "--responses",
            gaps.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let found = problems(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "script_unmatched");
    assert!(
        found[0]
            .1
            .contains("POST https://api.acme-notify.example/v1/messages"),
        "{found:?}"
    );
}

/// `plugin test` on the hostile plugin with one misbehaviour; must fail.
fn hostile(config: Value, extra: &[&str]) -> (String, Vec<(String, String)>) {
    let tmp = tempfile::tempdir().unwrap();
    let config_path = tmp.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut args = vec![
        tayori_plugin_artifacts::HOSTILE,
        "--config",
        config_path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (out, report) = test_json(&args, tmp.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "a violation exits non-zero:\n{}",
        text(&out)
    );
    assert_eq!(report["ok"], false);
    // The same run for a person says the same thing.
    let mut human = vec!["plugin", "test"];
    human.extend_from_slice(&args);
    let plain = tayori(&human, tmp.path());
    assert_eq!(plain.status.code(), Some(1));
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(plain.contains("result: FAILED"), "{plain}");
    (plain, problems(&report))
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let (plain, found) = hostile(json!({ "behaviour": "loop" }), &["--call-timeout", "2"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "timeout");
    assert!(
        found[0]
            .1
            .starts_with("deliver ran past the call deadline (2s; production allows 30s"),
        "{found:?}"
    );
    assert!(
        plain.contains("problem: deliver ran past the call deadline"),
        "{plain}"
    );
    assert!(
        plain.contains("lowered from production's 30.0 s"),
        "{plain}"
    );
}

#[test]
fn a_memory_bomb_runs_out_of_memory() {
    let (plain, found) = hostile(json!({ "behaviour": "memory-bomb" }), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "out_of_memory");
    assert!(
        found[0]
            .1
            .contains("linear memory may grow to 64.0 MiB per call"),
        "{found:?}"
    );
    assert!(
        plain.contains("deliver  FAILED: ran out of memory"),
        "{plain}"
    );
}

#[test]
fn a_host_outside_the_manifest_is_refused_and_named() {
    let (_, found) = hostile(
        json!({ "behaviour": "request", "url": "https://collector.example/steal" }),
        &[],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "host_not_in_manifest");
    assert!(
        found[0].1.contains(
            "requested GET https://collector.example/steal, but collector.example:443 is not among the manifest's hosts"
        ),
        "{found:?}"
    );
    assert!(
        found[0]
            .1
            .contains("Add `collector.example` to the manifest's `hosts`"),
        "{found:?}"
    );

    // In the manifest but not approved by the operator for the channel.
    let (_, found) = hostile(
        json!({ "behaviour": "request", "url": "http://127.0.0.1:9/x" }),
        &["--allowed-host", "localhost:*"],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "host_not_approved");
}

#[test]
fn too_many_requests_are_cut_at_the_cap() {
    let (plain, found) = hostile(
        json!({ "behaviour": "many-requests", "url": "http://127.0.0.1:9/x", "count": 1001 }),
        &[],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "too_many_requests");
    assert!(
        found[0]
            .1
            .contains("deliver tried 1001 outbound requests; a call may make 1000"),
        "{found:?}"
    );
    assert!(
        plain.contains("requests 1000 of 1000 (and 1 refused over the cap)"),
        "{plain}"
    );
}

#[test]
fn contract_breaches_and_refused_uploads_fail() {
    let (_, found) = hostile(json!({ "behaviour": "too-few-outcomes" }), &[]);
    assert_eq!(found[0].0, "contract_violation", "{found:?}");
    assert!(
        found[0].1.contains("returned 2 outcomes for 3 recipients"),
        "{found:?}"
    );

    let here = repo();
    for (path, expected) in [
        (
            tayori_plugin_artifacts::FS_IMPORTER,
            "imports `wasi:filesystem",
        ),
        (
            tayori_plugin_artifacts::BAD_MANIFEST,
            "the manifest's version is invalid",
        ),
        (
            tayori_plugin_artifacts::OTHER_WORLD,
            "not a tayori:plugin delivery-plugin",
        ),
    ] {
        let out = tayori(&["plugin", "check", path], &here);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(expected), "{path}: {}", text(&out));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_forwards_to_a_real_server_and_secrets_stay_masked() {
    let fake = Fake::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("echo.json");
    // The plugin calls its configured endpoint; --upstream sends the same
    // request (path, headers, body) to the fake instead.
    std::fs::write(
        &config,
        json!({ "endpoint": "http://127.0.0.1:1/ok", "token": "tok-abcdef-123456" }).to_string(),
    )
    .unwrap();
    let upstream = fake.url("");
    let args = [
        tayori_plugin_artifacts::ECHO,
        "--config",
        config.to_str().unwrap(),
        "--upstream",
        upstream.as_str(),
    ];
    let (out, report) = tokio::task::spawn_blocking({
        let dir = tmp.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            test_json(&args, &dir)
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let received = fake.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.path == "/ok"));
    assert_eq!(
        received[0].headers["authorization"], "Bearer tok-abcdef-123456",
        "the upstream gets the real request"
    );
    let ids: Vec<&str> = call(&report, "deliver")["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["platform_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m-0", "m-1", "m-2"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("tok-abcdef-123456"),
        "the report masks the token"
    );
}

#[test]
fn the_javascript_plugin_builds_and_passes() {
    let dir = repo().join("examples/js-plugin");
    // The documented build: npm ci from the committed lock file, then
    // componentize-js against wit/v0.2.0.
    let out = Command::new("bash")
        .arg("build.sh")
        .current_dir(&dir)
        .output()
        .expect("running examples/js-plugin/build.sh (needs node and npm)");
    assert!(out.status.success(), "build.sh:\n{}", text(&out));
    let wasm = dir.join("dist/js_example.wasm");
    let wasm = wasm.to_str().unwrap();

    let check = tayori(&["plugin", "check", wasm], &dir);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("contract tayori:plugin@0.2.0"),
        "{}",
        text(&check)
    );
    // The upload checks read contract 0.2.0 off the component (a 0.1.0 build
    // says `0.1.0` and one batch per call), and the manifest declares what
    // the example does: many batches per call, text only (the host falls
    // back for buttons and quick replies), no replies, no channel set-up.
    let check_json = tayori(&["plugin", "check", wasm, "--json"], &dir);
    assert!(check_json.status.success(), "{}", text(&check_json));
    let checked: Value = serde_json::from_slice(&check_json.stdout)
        .unwrap_or_else(|e| panic!("the check is not JSON ({e}):\n{}", text(&check_json)));
    assert_eq!(checked["ok"], true, "{checked:#}");
    assert_eq!(checked["component"]["contract"], "0.2.0", "{checked:#}");
    let manifest = &checked["manifest"];
    assert_eq!(manifest["version"], "0.2.0", "{manifest:#}");
    assert_eq!(manifest["max_batch_size"], 100, "{manifest:#}");
    assert_eq!(manifest["max_batches_per_call"], 10, "{manifest:#}");
    assert_eq!(manifest["handles_webhooks"], false, "{manifest:#}");
    assert_eq!(manifest["replies"], false, "{manifest:#}");
    assert_eq!(manifest["sets_up_channels"], false, "{manifest:#}");
    assert_eq!(
        manifest["renders"],
        json!({
            "buttons": false,
            "quick_replies": false,
            "date_picker": false,
            "link_buttons": false,
            "max_buttons": 0,
            "max_quick_replies": 0,
        }),
        "{manifest:#}"
    );

    let (out, report) = test_json(
        &[
            wasm,
            "--config",
            "testdata/config.json",
            "--responses",
            "testdata/responses.json",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["component"]["contract"], "0.2.0", "{report:#}");
    let outcomes: Vec<(String, String)> = call(&report, "deliver")["outcomes"]
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
    assert!(outcomes[0].1.starts_with("js-"), "{outcomes:?}");
    assert_eq!(outcomes[1], ("user-0002".into(), "retry_after".into()));
    assert_eq!(outcomes[2], ("user-0003".into(), "recipient_gone".into()));
    let deliver = call(&report, "deliver");
    assert_eq!(deliver["requests"].as_array().unwrap().len(), 3);
    assert_eq!(
        deliver["logs"][0]["message"],
        "sending pregnancy-day-100 to 3 recipients"
    );
    let all = format!("{}{}{}", text(&out), text(&check), text(&check_json));
    assert!(
        !all.contains("js-test-key-0123456789"),
        "the config's secret never appears in the kit's output"
    );
}
