//! A family's real path through the schedule (issue 17), in the real server
//! with the demo catalog on SQLite and PostgreSQL, the planner driven by
//! hand on an injected clock: a school-entry program past the tenant's span,
//! a birth never reported, a preterm child counted by corrected age, a child
//! registered after the day's send time, and a preview that tells the truth.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tayori_scheduler::ManualClock;

use crate::support::server::{Db, PgSchema, TestServer};

const TENANT: &str = "nagi";

fn jst(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn send(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server.op(method, path);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn call(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, value) = send(server, method.clone(), path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {value}"
    );
    value
}

/// A server on `db` that plans only when the test says, on `clock`, with the
/// demo catalog and a tenant running the standard and school-entry programs
/// on the default span. A LINE channel is not needed: nothing is dispatched.
async fn start(db: Db, clock: &Arc<ManualClock>) -> TestServer {
    let clock = clock.clone();
    let server = TestServer::start_configured(db, move |c| {
        c.clock = clock;
        c.run_scheduler = false;
    })
    .await;
    let catalog = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../catalog/demo.yaml"
    ))
    .unwrap();
    let response = server
        .op(Method::POST, "/v1/catalog/import")
        .header("content-type", "application/yaml")
        .body(catalog)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let echo = std::fs::read(tayori_plugin_artifacts::ECHO).expect("echo plugin");
    let response = server
        .op(Method::POST, "/v1/plugins")
        .header("content-type", "application/wasm")
        .body(echo)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    server
}

/// A channel `line` for the tenant, through the echo test plugin: the
/// planner plans for every channel; nothing is dispatched here.
async fn channel(server: &TestServer) {
    call(
        server,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/channels/line"),
        Some(json!({
            "plugin": "echo",
            "config": { "endpoint": "http://127.0.0.1:9/hook" },
            "allowed_hosts": ["127.0.0.1:9"],
        })),
    )
    .await;
}

async fn engines(test: impl AsyncFn(Db)) {
    test(Db::FreshSqlite).await;
    if let Some(pg) = PgSchema::create().await {
        test(Db::Url(pg.url.clone())).await;
        pg.drop_schema().await;
    }
}

async fn register(server: &TestServer, user: &str, child: Value) -> (String, String) {
    let s = call(
        server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({
            "locale": "ja",
            "contacts": [{"channel": "line", "address": user}],
            "children": [child],
        })),
    )
    .await;
    (
        s["id"].as_str().unwrap().to_string(),
        s["children"][0]["id"].as_str().unwrap().to_string(),
    )
}

async fn plan(server: &TestServer) {
    server
        .launched
        .state
        .scheduler
        .planner()
        .run_once()
        .await
        .expect("plan");
}

/// The tenant's deliveries of one subscriber: (message id, day, status, reason).
async fn planned(server: &TestServer, sid: &str) -> Vec<(String, String, String, String)> {
    let page = call(
        server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/subscribers/{sid}/deliveries?limit=500"),
        None,
    )
    .await;
    let mut out: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["message_id"].as_str().unwrap_or("").to_string(),
                x["date"].as_str().unwrap_or("").to_string(),
                x["status"].as_str().unwrap().to_string(),
                x["last_error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Those of one day.
async fn planned_on(
    server: &TestServer,
    sid: &str,
    day: NaiveDate,
) -> Vec<(String, String, String, String)> {
    let day = day.to_string();
    planned(server, sid)
        .await
        .into_iter()
        .filter(|r| r.1 == day)
        .collect()
}

async fn preview(server: &TestServer, sid: &str, from: NaiveDate, days: u32) -> Vec<Value> {
    call(
        server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/schedule/preview?from={from}&days={days}&subscriber={sid}"),
        None,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn school_entry_runs_on_its_own_span_and_the_tenant_is_warned_otherwise() {
    engines(async |db| {
        let today = d("2034-03-02");
        let clock = Arc::new(ManualClock::new(jst(today, 8, 0)));
        let server = start(db, &clock).await;
        // The README's example: both programs on the default 3-year span.
        let (status, t) = send(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": TENANT, "name": "奈義町", "programs": ["standard", "school-entry"]})),
        )
        .await;
        assert_eq!(status, 201, "{t}");
        channel(&server).await;
        let warnings = t["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{t}");
        assert!(
            warnings[0]
                .as_str()
                .unwrap()
                .starts_with("program `school-entry` can never send on the span `to_3rd_birthday`"),
            "{t}"
        );
        // To the 6th birthday it reaches only children born 2 March - 1 April.
        let t = call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"span": "to_6th_birthday"})),
        )
        .await;
        assert!(t["warnings"][0].as_str().unwrap().contains("reach only some children"), "{t}");
        // A span for a program the tenant does not run is refused, named.
        let (status, e) = send(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"program_spans": {"school": "to_6th_birthday"}})),
        )
        .await;
        assert_eq!(status, 422, "{e}");
        assert!(e.to_string().contains("program_spans.school"), "{e}");
        let (status, e) = send(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"program_spans": {"school-entry": "to_school"}})),
        )
        .await;
        assert_eq!(status, 422, "{e}");
        assert!(e.to_string().contains("program_spans.school-entry"), "{e}");
        // Its own span: the warning goes, and the tenant's span stays.
        let t = call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"span": "to_3rd_birthday", "program_spans": {"school-entry": "end_of_school_year_age_7"}})),
        )
        .await;
        assert_eq!(t["warnings"], json!([]), "{t}");
        assert_eq!(t["span"], "to_3rd_birthday");
        assert_eq!(t["program_spans"], json!({"school-entry": "end_of_school_year_age_7"}));
        let read = call(&server, Method::GET, &format!("/v1/tenants/{TENANT}"), None).await;
        assert_eq!(read["program_spans"], t["program_spans"]);
        // Born 2 April 2027: enters school 1 April 2034; 30 days before is today.
        let (sid, _) = register(&server, &format!("U{:032x}", 1), json!({"birth_date": "2027-04-02"})).await;
        plan(&server).await;
        let rows = planned(&server, &sid).await;
        assert_eq!(
            rows,
            [("school-entry-minus-30".into(), "2034-03-02".into(), "pending".into(), String::new())]
        );
        // Dropping the program drops its span.
        let t = call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"programs": ["standard"]})),
        )
        .await;
        assert_eq!(t["program_spans"], json!({}), "{t}");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_birth_never_reported_continues_from_the_due_date_until_reported() {
    engines(async |db| {
        // Due 1 May, registered on the 10th (registration takes a due date
        // at most 14 days past); the birth is never reported.
        let registered = d("2027-05-10");
        let clock = Arc::new(ManualClock::new(jst(registered, 8, 0)));
        let server = start(db, &clock).await;
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": TENANT, "name": "奈義町"})),
        )
        .await;
        channel(&server).await;
        let (sid, child) = register(
            &server,
            &format!("U{:032x}", 2),
            json!({"due_date": "2027-05-01"}),
        )
        .await;
        plan(&server).await;
        assert_eq!(
            planned_on(&server, &sid, registered).await,
            [(
                "pregnancy-day-289".into(),
                "2027-05-10".into(),
                "pending".into(),
                String::new()
            )]
        );
        // The 21st is 20 days after the due date, past the 14-day ask: the
        // child track runs from the due date (the default, `continue`).
        let today = d("2027-05-21");
        clock.set(jst(today, 8, 0));
        plan(&server).await;
        assert_eq!(
            planned_on(&server, &sid, today).await,
            [(
                "child-day-020".into(),
                "2027-05-21".into(),
                "pending".into(),
                String::new()
            )]
        );
        // The birth is reported at last (born 16 May): the day's row counted
        // from the due date is cancelled, the real day 5 replaces it.
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{TENANT}/subscribers/{sid}/children/{child}/birth"),
            Some(json!({"birth_date": "2027-05-16"})),
        )
        .await;
        plan(&server).await;
        assert_eq!(
            planned_on(&server, &sid, today).await,
            [
                (
                    "child-day-005".into(),
                    "2027-05-21".into(),
                    "pending".into(),
                    String::new()
                ),
                (
                    "child-day-020".into(),
                    "2027-05-21".into(),
                    "cancelled".into(),
                    "the birth was reported".into()
                ),
            ]
        );
        // With `pause`, a pregnancy past the ask day gets nothing.
        call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"unreported_birth": "pause"})),
        )
        .await;
        // Due 7 May: the ask day is today; from tomorrow, nothing.
        let (paused, _) = register(
            &server,
            &format!("U{:032x}", 3),
            json!({"due_date": "2027-05-07"}),
        )
        .await;
        plan(&server).await;
        let tomorrow = today + Duration::days(1);
        assert!(preview(&server, &paused, tomorrow, 30).await.is_empty());
        assert!(
            planned(&server, &paused)
                .await
                .iter()
                .all(|r| r.1.as_str() <= "2027-05-21")
        );
        // Under `continue` the same pregnancy gets the child track.
        call(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"unreported_birth": "continue"})),
        )
        .await;
        let items = preview(&server, &paused, tomorrow, 1).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["message_id"], "child-day-015");
        let (status, e) = send(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"unreported_birth": "wait"})),
        )
        .await;
        assert_eq!(status, 422);
        assert!(e.to_string().contains("unreported_birth"), "{e}");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preterm_child_is_counted_by_corrected_age() {
    engines(async |db| {
        let today = d("2027-06-01");
        let clock = Arc::new(ManualClock::new(jst(today, 8, 0)));
        let server = start(db, &clock).await;
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": TENANT, "name": "奈義町", "corrected_age": {"weeks_early": 4, "months": 12}})),
        )
        .await;
        channel(&server).await;
        // Born 1 April, due 13 May (6 weeks early): today is day 61 of life
        // and day 19 counted from the due date.
        let (sid, _) = register(
            &server,
            &format!("U{:032x}", 4),
            json!({"due_date": "2027-05-13", "birth_date": "2027-04-01"}),
        )
        .await;
        plan(&server).await;
        assert_eq!(
            planned(&server, &sid).await,
            [("child-day-019".into(), "2027-06-01".into(), "pending".into(), String::new())]
        );
        // The preview agrees, day by day.
        let ids: Vec<String> = preview(&server, &sid, today, 2)
            .await
            .iter()
            .map(|i| i["message_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["child-day-019", "child-day-020"]);
        // Off again: from the birth date.
        call(&server, Method::PATCH, &format!("/v1/tenants/{TENANT}"), Some(json!({"corrected_age": null}))).await;
        let t = call(&server, Method::GET, &format!("/v1/tenants/{TENANT}"), None).await;
        assert_eq!(t["corrected_age"], Value::Null);
        let ids: Vec<String> = preview(&server, &sid, today + Duration::days(2), 1)
            .await
            .iter()
            .map(|i| i["message_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["child-day-063"]);
        let (status, e) = send(
            &server,
            Method::PATCH,
            &format!("/v1/tenants/{TENANT}"),
            Some(json!({"corrected_age": {"weeks_early": 0, "months": 12}})),
        )
        .await;
        assert_eq!(status, 422);
        assert!(e.to_string().contains("corrected_age.weeks_early"), "{e}");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_registration_gets_the_days_message_now_and_the_preview_shows_what_follows() {
    engines(async |db| {
        let today = d("2027-01-04");
        let clock = Arc::new(ManualClock::new(jst(today, 8, 0)));
        let server = start(db, &clock).await;
        call(
            &server,
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": TENANT, "name": "奈義町"})),
        )
        .await;
        channel(&server).await;
        // The day is planned in the morning; the child is born and
        // registered at 21:00, after 09:00 and its 6-hour window.
        plan(&server).await;
        clock.set(jst(today, 21, 0));
        let (sid, _) = register(
            &server,
            &format!("U{:032x}", 5),
            json!({"birth_date": today.to_string()}),
        )
        .await;
        plan(&server).await;
        // Day 0 goes now, not expired: a family registering on the evening
        // of the birth still gets it.
        let rows = planned(&server, &sid).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let (message, day, status, reason) = &rows[0];
        assert_eq!(
            (message.as_str(), day.as_str(), status.as_str()),
            ("child-day-000", "2027-01-04", "pending")
        );
        assert_eq!(reason, "");
        // Planning again adds nothing: it goes once.
        plan(&server).await;
        assert_eq!(planned(&server, &sid).await.len(), 1);
        // The preview from a week before lists nothing before tomorrow: the
        // past days would not be sent, and today's is already on its way.
        let items = preview(&server, &sid, today - Duration::days(7), 10).await;
        let days: Vec<&str> = items.iter().map(|i| i["date"].as_str().unwrap()).collect();
        assert_eq!(days, ["2027-01-05", "2027-01-06"], "{items:?}");
        assert!(items.iter().all(|i| i["late"] == false), "{items:?}");
        // At 10:00 the next day its message is due and still in its window:
        // listed, and marked late.
        clock.set(jst(today + Duration::days(1), 10, 0));
        let items = preview(&server, &sid, today + Duration::days(1), 2).await;
        assert_eq!(items[0]["message_id"], "child-day-001");
        assert_eq!(items[0]["late"], true);
        assert_eq!(items[1]["late"], false);
        // A missed day caught up after downtime says the host was down.
        clock.set(jst(today + Duration::days(3), 20, 0));
        plan(&server).await;
        let rows = planned(&server, &sid).await;
        let missed = rows
            .iter()
            .find(|r| r.1 == "2027-01-06")
            .expect("day 2 planned");
        assert_eq!(missed.2, "expired");
        assert!(missed.3.contains("the host was not running"), "{missed:?}");
        server.stop().await;
    })
    .await;
}
