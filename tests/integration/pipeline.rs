//! The delivery pipeline end to end in the real server: planner and
//! dispatcher driven by hand on an injected clock, the bundled LINE plugin,
//! and the LINE fake on loopback.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tayori_scheduler::ManualClock;

use crate::support::platforms::line::{self, FakeLine, LineFault};
use crate::support::server::{Db, TestServer};

const TENANT: &str = "otaru";

fn jst(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn user(i: usize) -> String {
    format!("U{:032x}", 0xbeef_0000 + i)
}

/// A server that plans and dispatches only when the test says, on `clock`.
async fn server(clock: &Arc<ManualClock>) -> TestServer {
    let clock = clock.clone();
    TestServer::start_configured(Db::FreshSqlite, move |c| {
        c.clock = clock;
        c.run_scheduler = false;
    })
    .await
}

async fn call(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = server.op(method.clone(), path);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A tenant with the demo catalog and a LINE channel to `fake`.
async fn setup(server: &TestServer, fake: &FakeLine) {
    call(
        server,
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": TENANT, "name": "小樽市"})),
    )
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
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    put_line_channel(server, fake, line::ACCESS_TOKEN).await;
}

async fn put_line_channel(server: &TestServer, fake: &FakeLine, token: &str) {
    call(
        server,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/channels/line"),
        Some(json!({
            "plugin": "line",
            "config": {
                "channel_access_token": token,
                "channel_secret": line::CHANNEL_SECRET,
                "api_base": fake.api_base(),
            },
            "allowed_hosts": [format!("127.0.0.1:{}", fake.addr.port())],
        })),
    )
    .await;
}

/// Every delivery of the tenant (all pages), oldest first.
async fn deliveries(server: &TestServer, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/tenants/{TENANT}/deliveries?limit=500{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = call(server, Method::GET, &path, None).await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    out.reverse();
    out
}

/// What the demo catalog says one child gets: (message id, date), computed
/// here from the file with plain date arithmetic.
/// Registers a Japanese-reading household: `user(i)` on LINE, one child
/// born on `born`; the API's answer.
async fn register_born(server: &TestServer, i: usize, born: NaiveDate) -> Value {
    call(
        server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({
            "locale": "ja",
            "contacts": [{"channel": "line", "address": user(i)}],
            "children": [{"birth_date": born.to_string()}],
        })),
    )
    .await
}

fn expected_from_demo(
    first: NaiveDate,
    due: NaiveDate,
    birth: NaiveDate,
) -> BTreeSet<(String, NaiveDate)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../catalog/demo.yaml"
    ))
    .unwrap();
    let file: Value = serde_yaml::from_str(&text).unwrap();
    let third_birthday = birth.checked_add_months(chrono::Months::new(36)).unwrap();
    let mut out = BTreeSet::new();
    for program in file["programs"].as_array().unwrap() {
        if program["id"] != "standard" {
            continue;
        }
        for m in program["messages"].as_array().unwrap() {
            let id = m["id"].as_str().unwrap().to_string();
            let rule = &m["rule"];
            let date = if let Some(n) = rule["pregnancy_day"].as_i64() {
                let date = due - Duration::days(280 - n);
                // Born on the due date: the pregnancy track ends the day before.
                if date >= due {
                    continue;
                }
                date
            } else if let Some(n) = rule["child_day"].as_i64() {
                birth + Duration::days(n)
            } else if let Some(n) = rule["child_year"].as_u64() {
                birth
                    .checked_add_months(chrono::Months::new(12 * n as u32))
                    .unwrap()
            } else {
                panic!("the demo catalog has a rule this test does not know: {rule}");
            };
            if date >= first && date <= third_birthday {
                out.insert((id, date));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_span_delivers_the_demo_catalog_once_each_on_its_day() {
    let first: NaiveDate = "2027-01-04".parse().unwrap();
    // Pregnancy day 28 (week 4, the catalog's first message) is the first day.
    let due = first + Duration::days(280 - 28);
    let clock = Arc::new(ManualClock::new(jst(first, 8, 0)));
    let fake = FakeLine::start().await;
    let server = server(&clock).await;
    setup(&server, &fake).await;
    // The tenant's own words, after one message and after a whole stage.
    call(
        &server,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/catalog/inserts/message/child-day-100"),
        Some(json!({"content": {"ja": "お食い初めの写真を{{ tenant_name }}にお寄せください。", "en": "Send {{ tenant_name }} a photo of the first meal."}})),
    )
    .await;
    call(
        &server,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/catalog/inserts/stage/pregnancy-late"),
        Some(json!({"content": {"ja": "両親学級は毎月第2土曜日です。", "en": "Parents' class: second Saturday of each month."}})),
    )
    .await;
    let subscriber = call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({
            "locale": "en",
            "contacts": [{"channel": "line", "address": user(1)}],
            "children": [{"due_date": due.to_string()}],
        })),
    )
    .await;
    let sid = subscriber["id"].as_str().unwrap().to_string();
    let child = subscriber["children"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let scheduler = server.launched.state.scheduler.clone();
    let birth = due;
    let third_birthday = birth.checked_add_months(chrono::Months::new(36)).unwrap();
    let mut day = first;
    while day <= third_birthday + Duration::days(3) {
        if day == birth {
            clock.set(jst(day, 8, 0));
            call(
                &server,
                Method::POST,
                &format!("/v1/tenants/{TENANT}/subscribers/{sid}/children/{child}/birth"),
                Some(json!({"birth_date": birth.to_string()})),
            )
            .await;
        }
        clock.set(jst(day, 9, 1));
        scheduler.planner().run_once().await.expect("plan");
        scheduler.dispatcher().drain().await.expect("dispatch");
        day += Duration::days(1);
    }

    let expected = expected_from_demo(first, due, birth);
    assert!(expected.len() > 500, "{} messages", expected.len());
    let all = deliveries(&server, "").await;
    let not_sent: Vec<&Value> = all.iter().filter(|d| d["status"] != "sent").collect();
    assert!(not_sent.is_empty(), "{not_sent:#?}");
    let got: BTreeSet<(String, NaiveDate)> = all
        .iter()
        .map(|d| {
            (
                d["message_id"].as_str().unwrap().to_string(),
                d["date"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), all.len(), "a message went out twice");
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    // Each delivery went out on its day at the tenant's send time.
    for d in &all {
        let date: NaiveDate = d["date"].as_str().unwrap().parse().unwrap();
        let due_at: DateTime<Utc> = d["due_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(due_at, jst(date, 9, 0), "{d}");
        let sent_at: DateTime<Utc> = d["sent_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(sent_at, jst(date, 9, 1), "{d}");
    }

    // LINE received exactly those, each pushed once with its delivery's key,
    // in English with the tenant's name and inserts.
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), expected.len());
    let by_key: HashMap<&str, &Value> = all
        .iter()
        .map(|d| (d["key"].as_str().unwrap(), d))
        .collect();
    assert_eq!(
        fake.attempts().len(),
        accepted.len(),
        "no request was retried"
    );
    for a in &accepted {
        assert_eq!(a.to, [user(1)]);
        let key = a.retry_key.as_deref().expect("a retry key");
        let d = by_key
            .get(key)
            .unwrap_or_else(|| panic!("no delivery has key {key}"));
        let text = a.texts.join("\n");
        assert!(text.contains("小樽市"), "{text}");
        let id = d["message_id"].as_str().unwrap();
        if id == "pregnancy-day-028" {
            assert!(
                text.starts_with("Week 4, day 0\n\nYou are 4 weeks and 0 days pregnant."),
                "{text}"
            );
        }
        if id == "child-day-100" {
            assert!(
                text.contains("Send 小樽市 a photo of the first meal."),
                "{text}"
            );
        }
        let late = id.starts_with("pregnancy-day-")
            && id["pregnancy-day-".len()..].parse::<u32>().unwrap() >= 196;
        assert_eq!(
            text.contains("Parents' class: second Saturday of each month."),
            late,
            "{id}: {text}"
        );
    }
    let history = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/subscribers/{sid}/deliveries?limit=5"),
        None,
    )
    .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 5);
    assert_eq!(
        history["items"][0]["message_id"], "child-year-3",
        "newest first"
    );
}

/// A tenant with `n` LINE subscribers and one broadcast due now.
async fn broadcast_setup(clock: &Arc<ManualClock>, n: usize) -> (TestServer, FakeLine) {
    let fake = FakeLine::start().await;
    let server = server(clock).await;
    setup(&server, &fake).await;
    for i in 0..n {
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{TENANT}/subscribers"),
            Some(json!({
                "locale": "ja",
                "contacts": [{"channel": "line", "address": user(i)}],
                "children": [{"birth_date": "2026-12-01"}],
            })),
        )
        .await;
    }
    (server, fake)
}

async fn broadcast(server: &TestServer, body: &str) -> Value {
    call(
        server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/broadcasts"),
        Some(json!({"content": {"body": body}, "audience": {}})),
    )
    .await
}

fn start() -> DateTime<Utc> {
    jst("2027-01-04".parse().unwrap(), 10, 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_with_backoff() {
    let clock = Arc::new(ManualClock::new(start()));
    let (server, fake) = broadcast_setup(&clock, 1).await;
    let dispatcher = server.launched.state.scheduler.dispatcher().clone();

    // 429 without Retry-After: backed off (30 s base, jitter over its upper half).
    fake.fail_next(1, LineFault::RateLimited);
    broadcast(&server, "断水のお知らせ").await;
    dispatcher.drain().await.unwrap();
    let d = &deliveries(&server, "").await[0];
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(d["attempts"], 1);
    assert!(d["last_error"].as_str().unwrap().contains("429"), "{d}");
    let next: DateTime<Utc> = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let wait = next - clock.now_utc();
    assert!(
        wait >= Duration::seconds(15) && wait <= Duration::seconds(30),
        "{wait}"
    );
    // Not before its time.
    clock.advance(wait - Duration::seconds(1));
    assert_eq!(dispatcher.drain().await.unwrap().claimed, 0);
    clock.advance(Duration::seconds(1));
    dispatcher.drain().await.unwrap();
    let d = &deliveries(&server, "").await[0];
    assert_eq!(d["status"], "sent", "{d}");
    assert_eq!(fake.accepted().len(), 1);

    // 500 twice, then success: the second wait is twice as long.
    fake.fail_next(2, LineFault::Status(500));
    broadcast(&server, "給水車の場所").await;
    dispatcher.drain().await.unwrap();
    clock.advance(Duration::seconds(30));
    dispatcher.drain().await.unwrap();
    let d = deliveries(&server, "&status=pending").await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["attempts"], 2);
    let next: DateTime<Utc> = d[0]["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let wait = next - clock.now_utc();
    assert!(
        wait >= Duration::seconds(30) && wait <= Duration::seconds(60),
        "{wait}"
    );
    clock.advance(Duration::seconds(60));
    dispatcher.drain().await.unwrap();
    assert_eq!(deliveries(&server, "&status=sent").await.len(), 2);
    assert_eq!(fake.accepted().len(), 2);

    // The monthly limit's retry-after is honoured to the second.
    fake.fail_next(1, LineFault::MonthlyLimit);
    broadcast(&server, "避難所の開設").await;
    dispatcher.drain().await.unwrap();
    let d = deliveries(&server, "&status=pending").await;
    let next: DateTime<Utc> = d[0]["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next - clock.now_utc(), Duration::seconds(3_600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_keeps_failing_is_dead_after_its_last_attempt() {
    let clock = Arc::new(ManualClock::new(start()));
    let (server, fake) = broadcast_setup(&clock, 1).await;
    let dispatcher = server.launched.state.scheduler.dispatcher().clone();
    // A day's window, so that eight attempts fit before it closes.
    call(
        &server,
        Method::PATCH,
        &format!("/v1/tenants/{TENANT}"),
        Some(json!({"lateness_window_minutes": 1440})),
    )
    .await;
    fake.fail_next(100, LineFault::Status(503));
    broadcast(&server, "停電情報").await;
    for _ in 0..8 {
        dispatcher.drain().await.unwrap();
        clock.advance(Duration::hours(1));
    }
    let d = &deliveries(&server, "").await[0];
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(d["attempts"], 8);
    assert_eq!(fake.attempts().len(), 8);
    assert!(fake.accepted().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_pauses_the_channel_until_its_config_changes() {
    let clock = Arc::new(ManualClock::new(start()));
    let (server, fake) = broadcast_setup(&clock, 3).await;
    let dispatcher = server.launched.state.scheduler.dispatcher().clone();
    // The municipality's token was revoked on LINE's side.
    put_line_channel(&server, &fake, "a-revoked-token").await;
    broadcast(&server, "防災訓練のお知らせ").await;
    dispatcher.drain().await.unwrap();
    let channel = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/channels/line"),
        None,
    )
    .await;
    assert!(
        channel["paused"]["reason"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{channel}"
    );
    let held = deliveries(&server, "&status=held").await;
    assert_eq!(held.len(), 3, "every delivery of the channel waits");
    assert!(held.iter().all(|d| d["attempts"] == 0));
    // Nothing more is tried while paused.
    let tried = fake.attempts().len();
    clock.advance(Duration::minutes(5));
    assert_eq!(dispatcher.drain().await.unwrap().claimed, 0);
    assert_eq!(fake.attempts().len(), tried);
    // A corrected config resumes the channel and sends what it held.
    put_line_channel(&server, &fake, line::ACCESS_TOKEN).await;
    let channel = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/channels/line"),
        None,
    )
    .await;
    assert!(channel["paused"].is_null(), "{channel}");
    dispatcher.drain().await.unwrap();
    assert_eq!(deliveries(&server, "&status=sent").await.len(), 3);
    assert_eq!(fake.accepted().len(), 3);
    // Prometheus sees deliveries by tenant, channel and status, and plugin calls.
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"tayori_deliveries_total{tenant="otaru",channel="line",status="sent"}"#,
        r#"tayori_deliveries_total{tenant="otaru",channel="line",status="held"}"#,
        r#"tayori_plugin_call_seconds_count{plugin="line"}"#,
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from /metrics:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_gone_invalidates_the_contact_and_nothing_more_is_sent_to_it() {
    let clock = Arc::new(ManualClock::new(start()));
    let (server, fake) = broadcast_setup(&clock, 2).await;
    let dispatcher = server.launched.state.scheduler.dispatcher().clone();
    fake.unknown_user(&user(0));
    broadcast(&server, "予防接種のお知らせ").await;
    dispatcher.drain().await.unwrap();
    let failed = deliveries(&server, "&status=failed").await;
    assert_eq!(failed.len(), 1);
    let sid = failed[0]["subscriber_id"].as_str().unwrap();
    let s = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/subscribers/{sid}"),
        None,
    )
    .await;
    assert_eq!(s["contacts"][0]["status"], "invalid", "{s}");
    // The next broadcast does not even address it.
    let b = broadcast(&server, "健診の日程").await;
    assert_eq!(b["deliveries"], 1);
    dispatcher.drain().await.unwrap();
    assert!(fake.accepted().iter().all(|a| !a.to.contains(&user(0))));
    assert_eq!(deliveries(&server, "&status=sent").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_days_are_caught_up_within_the_lateness_window_and_expired_beyond_it() {
    let first: NaiveDate = "2027-01-04".parse().unwrap();
    let clock = Arc::new(ManualClock::new(jst(first, 8, 0)));
    let fake = FakeLine::start().await;
    let server = server(&clock).await;
    setup(&server, &fake).await;
    // Born 10 days ago: a daily message each day.
    let subscriber = register_born(&server, 7, first - Duration::days(10)).await;
    let sid = subscriber["id"].as_str().unwrap();
    let scheduler = server.launched.state.scheduler.clone();
    clock.set(jst(first, 9, 1));
    scheduler.planner().run_once().await.unwrap();
    scheduler.dispatcher().drain().await.unwrap();
    assert_eq!(deliveries(&server, "&status=sent").await.len(), 1);
    // The host is down for three days and comes back at 14:00 on the
    // fourth: within the 6-hour window of that day's 09:00 message only.
    clock.set(jst(first + Duration::days(4), 14, 0));
    scheduler.planner().run_once().await.unwrap();
    scheduler.dispatcher().drain().await.unwrap();
    let all = deliveries(&server, "").await;
    let status_of = |date: NaiveDate| {
        all.iter()
            .find(|d| d["date"] == date.to_string())
            .map(|d| d["status"].as_str().unwrap().to_string())
    };
    assert_eq!(
        status_of(first + Duration::days(1)).as_deref(),
        Some("expired")
    );
    assert_eq!(
        status_of(first + Duration::days(2)).as_deref(),
        Some("expired")
    );
    assert_eq!(
        status_of(first + Duration::days(3)).as_deref(),
        Some("expired")
    );
    assert_eq!(
        status_of(first + Duration::days(4)).as_deref(),
        Some("sent")
    );
    assert_eq!(fake.accepted().len(), 2, "nothing was sent late");
    // Planning again changes nothing.
    scheduler.planner().run_once().await.unwrap();
    assert_eq!(deliveries(&server, "").await.len(), all.len());
    // A stop cancels what is pending at once.
    let child = subscriber["children"][0]["id"].as_str().unwrap();
    clock.set(jst(first + Duration::days(5), 0, 30));
    scheduler.planner().run_once().await.unwrap();
    assert_eq!(deliveries(&server, "&status=pending").await.len(), 1);
    call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers/{sid}/children/{child}/stop"),
        Some(json!({"reason": "moved_away"})),
    )
    .await;
    assert_eq!(deliveries(&server, "&status=pending").await.len(), 0);
    assert_eq!(deliveries(&server, "&status=cancelled").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_registered_mid_day_starts_from_today() {
    let first: NaiveDate = "2027-01-04".parse().unwrap();
    let clock = Arc::new(ManualClock::new(jst(first, 9, 1)));
    let fake = FakeLine::start().await;
    let server = server(&clock).await;
    setup(&server, &fake).await;
    let scheduler = server.launched.state.scheduler.clone();
    // Today is planned before anyone registers.
    scheduler.planner().run_once().await.unwrap();
    clock.set(jst(first, 11, 0));
    register_born(&server, 3, first - Duration::days(5)).await;
    scheduler.planner().run_once().await.unwrap();
    scheduler.dispatcher().drain().await.unwrap();
    let all = deliveries(&server, "").await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["message_id"], "child-day-005");
    assert_eq!(all[0]["status"], "sent");
}

/// Passes woken by registrations plan each new child once: a pass reads the
/// subscribers changed after the change number its last pass planned, so a
/// child already planned is neither read, planned nor written again (the
/// store would turn its rows away, after the planner had done all that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_woken_by_registrations_plan_each_child_once() {
    let first: NaiveDate = "2027-01-04".parse().unwrap();
    let clock = Arc::new(ManualClock::new(jst(first, 8, 0)));
    let fake = FakeLine::start().await;
    let server = server(&clock).await;
    setup(&server, &fake).await;
    let scheduler = server.launched.state.scheduler.clone();
    let planner = scheduler.planner();
    planner.run_once().await.unwrap();
    let register = |i: usize| register_born(&server, i, first - Duration::days(5));
    let tenants = [TENANT.to_string()];
    register(1).await;
    let p = planner.run_tenants(&tenants).await.unwrap();
    assert_eq!((p.inserted, p.existing), (1, 0), "{p:?}");
    let p = planner.run_tenants(&tenants).await.unwrap();
    assert_eq!(
        (p.inserted, p.existing),
        (0, 0),
        "nothing planned again: {p:?}"
    );
    register(2).await;
    let p = planner.run_tenants(&tenants).await.unwrap();
    assert_eq!(
        (p.inserted, p.existing),
        (1, 0),
        "only the new child: {p:?}"
    );
    // A periodic pass over every tenant finds nothing new either.
    let p = planner.run_once().await.unwrap();
    assert_eq!(p.inserted, 0, "{p:?}");
    assert_eq!(deliveries(&server, "").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_show_what_the_schedule_would_send() {
    let first: NaiveDate = "2027-01-04".parse().unwrap();
    let clock = Arc::new(ManualClock::new(jst(first, 8, 0)));
    let fake = FakeLine::start().await;
    let server = server(&clock).await;
    setup(&server, &fake).await;
    let subscriber = register_born(&server, 4, first - Duration::days(99)).await;
    let sid = subscriber["id"].as_str().unwrap();
    let preview = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/schedule/preview?from={first}&days=7&subscriber={sid}"),
        None,
    )
    .await;
    let items = preview["items"].as_array().unwrap();
    // Day 99, 100 (with its milestone, お食い初め) and then every 3 days: 103.
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "child-day-099",
            "child-day-100",
            "milestone-day-100",
            "child-day-103"
        ]
    );
    assert_eq!(items[0]["channel"], "line");
    assert_eq!(items[1]["date"], (first + Duration::days(1)).to_string());
    // Nothing was written.
    assert!(deliveries(&server, "").await.is_empty());
    // Bad ranges are refused, naming the field.
    let r = server
        .op(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/schedule/preview?from={first}&days=0"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("days"));
}

trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl NowUtc for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        tayori_scheduler::Clock::now(self)
    }
}

/// Runs the `tayori` CLI against `server`; its exit status and stdout.
async fn cli(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let url = server.url("");
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tayori"))
            .args(&args)
            .env("TAYORI_URL", url)
            .env("TAYORI_TOKEN", crate::support::server::ADMIN_TOKEN)
            .output()
            .expect("run tayori");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_previews_broadcasts_and_lists_deliveries() {
    let first: NaiveDate = "2027-01-04".parse().unwrap();
    let clock = Arc::new(ManualClock::new(jst(first, 8, 0)));
    let fake = FakeLine::start().await;
    let server = server(&clock).await;
    setup(&server, &fake).await;
    register_born(&server, 9, first - Duration::days(99)).await;
    let (ok, out, err) = cli(
        &server,
        &[
            "schedule",
            "preview",
            "--tenant",
            TENANT,
            "--from",
            &first.to_string(),
            "--days",
            "2",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let preview: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = preview["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["child-day-099", "child-day-100", "milestone-day-100"]);
    let (ok, out, err) = cli(
        &server,
        &[
            "deliveries",
            "broadcast",
            "--tenant",
            TENANT,
            "--body",
            "断水のお知らせ",
            "--audience",
            r#"{"child_age_months": [{"from": 0, "to": 12}]}"#,
        ],
    )
    .await;
    assert!(ok, "{err}");
    let b: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(b["deliveries"], 1);
    server
        .launched
        .state
        .scheduler
        .dispatcher()
        .drain()
        .await
        .unwrap();
    let (ok, out, err) = cli(
        &server,
        &["deliveries", "list", "--tenant", TENANT, "--status", "sent"],
    )
    .await;
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["items"][0]["broadcast_id"], b["id"]);
    // A bad audience is refused with the field named, and a non-zero exit.
    let (ok, _, err) = cli(
        &server,
        &[
            "deliveries",
            "broadcast",
            "--tenant",
            TENANT,
            "--body",
            "x",
            "--audience",
            r#"{"pregant": true}"#,
        ],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("audience"), "{err}");
    assert_eq!(fake.accepted().len(), 1);
}
