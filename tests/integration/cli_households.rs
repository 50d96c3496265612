//! `tayori subscribers …` for households, as an operator types it: the real
//! binary against a real server, on each engine. Every verb does what the
//! API does, and a wrong flag or field gets a message naming it, with
//! nothing changed.

use reqwest::Method;
use serde_json::Value;

use crate::support::api::{Api, on_each_engine, send, tokyo_day};
use crate::support::server::ADMIN_TOKEN;

struct Run {
    ok: bool,
    out: Value,
    err: String,
}

/// Runs `tayori subscribers ARGS --tenant otaru` against `api`.
async fn tayori(api: &Api, args: &[&str]) -> Run {
    let url = api.url("");
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.insert(0, "subscribers".into());
    args.extend(["--tenant".into(), "otaru".into()]);
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tayori"))
            .args(&args)
            .env("TAYORI_URL", url)
            .env("TAYORI_TOKEN", ADMIN_TOKEN)
            .env_remove("TAYORI_ADMIN_TOKEN")
            .output()
            .expect("run tayori");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Run {
            ok: out.status.success(),
            out: serde_json::from_str(&stdout).unwrap_or(Value::String(stdout)),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .unwrap()
}

async fn household(api: &Api, id: &str) -> Value {
    let (status, body) =
        send(api.op(Method::GET, &format!("/v1/tenants/otaru/subscribers/{id}"))).await;
    assert!(status.is_success(), "{status} {body}");
    body
}

async fn count(api: &Api) -> usize {
    let (_, body) = send(api.op(Method::GET, "/v1/tenants/otaru/subscribers")).await;
    body["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_registers_and_looks_after_a_household() {
    on_each_engine(|api| async move {
        api.upload_echo().await;
        api.tenant("otaru").await;
        api.echo_channel("otaru", "line").await;
        api.echo_channel("otaru", "email").await;
        let due = tokyo_day(60).to_string();
        let born = tokyo_day(-200).to_string();

        // Register: two contacts, an expected child and a born one.
        let r = tayori(
            &api,
            &[
                "register",
                "--contact",
                "line:U4af4980629",
                "--contact",
                "email:parent@example.jp",
                "--due-date",
                &due,
                "--child",
                &format!("born:{born}"),
                "--locale",
                "ja-easy",
                "--external-id",
                "H-001",
            ],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        let id = r.out["id"].as_str().expect("an id").to_string();
        assert_eq!(r.out["locale"], "ja-easy");
        assert_eq!(r.out["external_id"], "H-001");
        assert_eq!(r.out["contacts"][1]["address"], "parent@example.jp");
        assert_eq!(r.out["children"][0]["status"], "expecting");
        assert_eq!(r.out["children"][1]["status"], "born");
        let expected = r.out["children"][0]["id"].as_str().unwrap().to_string();
        let older = r.out["children"][1]["id"].as_str().unwrap().to_string();

        // Report the birth.
        let today = tokyo_day(0).to_string();
        let r = tayori(
            &api,
            &[
                "report-birth",
                &id,
                "--child",
                &expected,
                "--birth-date",
                &today,
            ],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["status"], "born");
        assert_eq!(r.out["birth_date"], today.as_str());

        // Add a child.
        let r = tayori(
            &api,
            &["add-child", &id, "--due-date", &tokyo_day(200).to_string()],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["status"], "expecting");
        assert_eq!(
            household(&api, &id).await["children"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        // Stop one child; the household goes on.
        let r = tayori(
            &api,
            &[
                "stop-child",
                &id,
                "--child",
                &older,
                "--reason",
                "child_loss",
            ],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["status"], "stopped");
        assert_eq!(household(&api, &id).await["status"], "active");

        // Stop the household.
        let r = tayori(&api, &["stop", &id, "--reason", "unsubscribed"]).await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["status"], "stopped");
        let h = household(&api, &id).await;
        assert!(
            h["children"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["status"] == "stopped"),
            "{h}"
        );

        // Erase asks for --yes, then erases.
        let r = tayori(&api, &["erase", &id]).await;
        assert!(!r.ok);
        assert!(r.err.contains("--yes"), "{}", r.err);
        assert_eq!(household(&api, &id).await["external_id"], "H-001");
        let r = tayori(&api, &["erase", &id, "--yes"]).await;
        assert!(r.ok, "{}", r.err);
        let h = household(&api, &id).await;
        assert_eq!(h["status"], "erased");
        assert_eq!(h["external_id"], Value::Null);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_names_the_flag_or_field_that_is_wrong_and_changes_nothing() {
    on_each_engine(|api| async move {
        api.upload_echo().await;
        api.tenant("otaru").await;
        api.echo_channel("otaru", "line").await;
        let due = tokyo_day(60).to_string();

        // Register: each wrong input named; nothing registered.
        let cases: [(Vec<&str>, &str); 5] = [
            (
                vec!["register", "--contact", "U4af4980629", "--due-date", &due],
                "--contact `U4af4980629`: expected CHANNEL:ADDRESS",
            ),
            (
                vec!["register", "--contact", "line:U1"],
                "give --due-date, --birth-date or --child",
            ),
            (
                vec!["register", "--contact", "line:U1", "--child", "soon"],
                "--child `soon`: expected due:",
            ),
            (
                vec![
                    "register",
                    "--contact",
                    "line:U1",
                    "--due-date",
                    "2027-02-30",
                ],
                "children[0].due_date: `2027-02-30` is not a date",
            ),
            (
                vec!["register", "--contact", "fax:1", "--due-date", &due],
                "contacts[0].channel: the tenant has no channel `fax`",
            ),
        ];
        for (args, expected) in cases {
            let r = tayori(&api, &args).await;
            assert!(!r.ok, "{args:?} succeeded");
            assert!(r.err.contains(expected), "{args:?}: {}", r.err);
            assert!(!r.err.contains("\"error\""), "a raw JSON dump: {}", r.err);
        }
        assert_eq!(count(&api).await, 0);

        let r = tayori(
            &api,
            &["register", "--contact", "line:U1", "--due-date", &due],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        let id = r.out["id"].as_str().unwrap().to_string();
        let child = r.out["children"][0]["id"].as_str().unwrap().to_string();
        let before = household(&api, &id).await;
        let today = tokyo_day(0).to_string();

        let cases: [(Vec<&str>, &str); 6] = [
            (
                vec![
                    "report-birth",
                    &id,
                    "--child",
                    &child,
                    "--birth-date",
                    "2999-01-01",
                ],
                "birth_date: ",
            ),
            (
                vec![
                    "report-birth",
                    &id,
                    "--child",
                    "no-such-child",
                    "--birth-date",
                    &today,
                ],
                "404",
            ),
            (
                vec!["add-child", &id],
                "a child needs --due-date or --birth-date",
            ),
            (
                vec!["add-child", &id, "--birth-date", "yesterday"],
                "birth_date: `yesterday` is not a date",
            ),
            (
                vec!["stop-child", &id, "--child", &child, "--reason", "bored"],
                "invalid value 'bored' for '--reason <REASON>'",
            ),
            (
                vec!["stop", "no-such-household", "--reason", "other"],
                "404",
            ),
        ];
        for (args, expected) in cases {
            let r = tayori(&api, &args).await;
            assert!(!r.ok, "{args:?} succeeded");
            assert!(r.err.contains(expected), "{args:?}: {}", r.err);
        }
        let after = household(&api, &id).await;
        assert_eq!(before, after, "a refused command changed the household");
    })
    .await;
}
