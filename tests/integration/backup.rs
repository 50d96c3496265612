//! `tayori backup` and a clean shutdown on SQLite, with real `tayori serve`
//! processes: a copy taken while the host runs starts a host that reads the
//! data back, and after SIGTERM the database file alone holds every commit
//! (the write-ahead log is checkpointed and emptied).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::process::{ServeProcess, ServeSpec, random_secret_key, random_token};

fn spec(dir: &std::path::Path, key: &str) -> ServeSpec {
    ServeSpec {
        database_url: format!("sqlite://{}", dir.join("tayori.db").display()),
        admin_token: random_token(),
        secret_key: key.to_string(),
        lease_seconds: None,
        retry_base_seconds: None,
        dir: dir.to_path_buf(),
        log_name: "tayori.log".into(),
    }
}

async fn create_tenant(node: &ServeProcess, id: &str, name: &str) {
    let r = node
        .op(Method::POST, "/v1/tenants")
        .json(&json!({"id": id, "name": name}))
        .send()
        .await
        .expect("create tenant");
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
}

/// The tenant's name as the host reads it, or `None` if it has no such tenant.
async fn tenant_name(node: &ServeProcess, id: &str) -> Option<String> {
    let r = node
        .op(Method::GET, &format!("/v1/tenants/{id}"))
        .send()
        .await
        .expect("get tenant");
    if r.status() == reqwest::StatusCode::NOT_FOUND {
        return None;
    }
    assert!(r.status().is_success(), "GET tenant {id}: {}", r.status());
    let v: Value = r.json().await.expect("tenant JSON");
    v["name"].as_str().map(str::to_string)
}

fn tayori(args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tayori"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TAYORI_") {
            command.env_remove(name);
        }
    }
    command.args(args).output().expect("run tayori")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_to_a_host_that_reads_the_data_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = random_secret_key();
    let mut node = ServeProcess::start(&spec(dir.path(), &key)).await;
    create_tenant(&node, "otaru", "小樽市").await;
    let copy = dir.path().join("copy.db");
    let url = format!("sqlite://{}", dir.path().join("tayori.db").display());
    let out = tayori(&[
        "backup",
        copy.to_str().expect("utf-8"),
        "--database-url",
        &url,
    ]);
    assert!(
        out.status.success(),
        "tayori backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("backup answer");
    assert!(answer["bytes"].as_u64().unwrap_or(0) > 0, "{answer}");
    // A second backup to the same file is refused, the copy left alone.
    let again = tayori(&["backup", copy.to_str().unwrap(), "--database-url", &url]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    // Written after the copy: not in it.
    create_tenant(&node, "muroran", "室蘭市").await;
    node.stop().await;

    // Restore: the copy as the database of a new host, with the same key.
    let restored = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&copy, restored.path().join("tayori.db")).expect("restore the copy");
    let mut node = ServeProcess::start(&spec(restored.path(), &key)).await;
    assert_eq!(tenant_name(&node, "otaru").await.as_deref(), Some("小樽市"));
    assert_eq!(tenant_name(&node, "muroran").await, None);
    node.stop().await;
}

#[test]
fn a_backup_of_postgres_or_of_no_file_is_refused_naming_what_to_do() {
    let pg = tayori(&[
        "backup",
        "/tmp/never.db",
        "--database-url",
        "postgres://u@h/db",
    ]);
    assert!(!pg.status.success());
    let text = String::from_utf8_lossy(&pg.stderr);
    assert!(text.contains("pg_dump"), "{text}");
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let target = dir.path().join("copy.db");
    let out = tayori(&[
        "backup",
        target.to_str().unwrap(),
        "--database-url",
        &missing,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!target.exists() && !dir.path().join("none.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_the_database_file_alone_holds_the_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = random_secret_key();
    let mut node = ServeProcess::start(&spec(dir.path(), &key)).await;
    create_tenant(&node, "otaru", "小樽市").await;
    node.stop().await;
    let wal = dir.path().join("tayori.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        wal_len, 0,
        "the write-ahead log still holds {wal_len} bytes after SIGTERM"
    );
    assert!(
        node.log_text().contains("database closed"),
        "{}",
        node.log_tail()
    );
    // The main file, without its log, is the whole database.
    let alone = tempfile::tempdir().expect("temp dir");
    std::fs::copy(dir.path().join("tayori.db"), alone.path().join("tayori.db")).expect("copy");
    let mut node = ServeProcess::start(&spec(alone.path(), &key)).await;
    assert_eq!(tenant_name(&node, "otaru").await.as_deref(), Some("小樽市"));
    node.stop().await;
}
