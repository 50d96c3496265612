//! `tayori tenant …` with the schedule settings, as an operator types them:
//! the real binary against a real server, on each engine. A program on a
//! span of its own clears the tenant's warning; births never reported and
//! corrected age are set and cleared; a wrong value is named.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::api::{Api, on_each_engine, send};
use crate::support::server::ADMIN_TOKEN;

struct Run {
    ok: bool,
    out: Value,
    err: String,
}

/// Runs `tayori tenant ARGS` against `api`.
async fn tayori(api: &Api, args: &[&str]) -> Run {
    let url = api.url("");
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.insert(0, "tenant".into());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_a_tenants_schedule_rules() {
    on_each_engine(|api| async move {
        let catalog = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../catalog/demo.yaml"
        ))
        .unwrap();
        let (status, body) = send(
            api.op(Method::POST, "/v1/catalog/import")
                .header("content-type", "application/yaml")
                .body(catalog),
        )
        .await;
        assert!(status.is_success(), "{status} {body}");

        // The README's example, with the school-entry program on its own span.
        let r = tayori(
            &api,
            &[
                "create",
                "otaru",
                "--name",
                "小樽市",
                "--send-time",
                "08:30",
                "--program",
                "standard",
                "--program",
                "school-entry",
                "--quiet-hours",
                "21:00-07:00",
                "--program-span",
                "school-entry=end_of_school_year_age_7",
            ],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(
            r.out["program_spans"],
            json!({"school-entry": "end_of_school_year_age_7"})
        );
        assert_eq!(r.out["warnings"], json!([]));
        assert_eq!(r.out["unreported_birth"], "continue");
        assert_eq!(r.out["corrected_age"], Value::Null);

        // Without its span, the tenant is told the program can never send.
        let r = tayori(&api, &["update", "otaru", "--program-span", "none"]).await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["program_spans"], json!({}));
        let warning = r.out["warnings"][0].as_str().unwrap_or_default();
        assert!(
            warning.contains("school-entry") && warning.contains("never"),
            "{}",
            r.out
        );

        let r = tayori(
            &api,
            &[
                "update",
                "otaru",
                "--unreported-birth",
                "pause",
                "--corrected-age",
                "4:12",
            ],
        )
        .await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["unreported_birth"], "pause");
        assert_eq!(
            r.out["corrected_age"],
            json!({"weeks_early": 4, "months": 12})
        );
        let r = tayori(&api, &["get", "otaru"]).await;
        assert_eq!(
            r.out["corrected_age"],
            json!({"weeks_early": 4, "months": 12})
        );
        let r = tayori(&api, &["update", "otaru", "--corrected-age", "none"]).await;
        assert!(r.ok, "{}", r.err);
        assert_eq!(r.out["corrected_age"], Value::Null);

        // Wrong values: the CLI names its flag, the API its field; nothing changes.
        let r = tayori(&api, &["update", "otaru", "--corrected-age", "four"]).await;
        assert!(!r.ok);
        assert!(r.err.contains("--corrected-age `four`"), "{}", r.err);
        let r = tayori(&api, &["update", "otaru", "--program-span", "school-entry"]).await;
        assert!(!r.ok);
        assert!(r.err.contains("--program-span `school-entry`"), "{}", r.err);
        let r = tayori(
            &api,
            &[
                "update",
                "otaru",
                "--program-span",
                "school-entry=to_school",
            ],
        )
        .await;
        assert!(!r.ok);
        assert!(r.err.contains("program_spans.school-entry"), "{}", r.err);
        let r = tayori(&api, &["update", "otaru", "--unreported-birth", "wait"]).await;
        assert!(!r.ok);
        assert!(r.err.contains("unreported_birth"), "{}", r.err);
        let r = tayori(&api, &["get", "otaru"]).await;
        assert_eq!(r.out["unreported_birth"], "pause");
        assert_eq!(r.out["program_spans"], json!({}));
    })
    .await;
}
