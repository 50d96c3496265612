//! The delivery pipeline in real `tayori serve` processes: a broadcast
//! survives SIGKILL at random moments on SQLite, and two nodes share one on
//! PostgreSQL, each delivery reaching the LINE fake exactly once.
//!
//! The LINE fake accepts a retry key once (later requests with it get 409)
//! and records every raw request, so a delivery sent twice under two keys
//! shows as a user who got the message twice, and a lost one as a user who
//! never got it.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::support::api::DATABASE_URL_VAR;
use crate::support::platforms::line::{self, FakeLine, LineFault};
use crate::support::process::{ServeProcess, ServeSpec, random_secret_key, random_token};

const TENANT: &str = "muroran";
/// LINE's largest multicast, which a broadcast's batches fill.
const MULTICAST: usize = 500;
/// The longest wait for the fake to see the next requests, or for the
/// outbox to settle: far beyond what a working pipeline needs.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(60);
/// The variable that replays a crash test's random moments.
const SEED_VAR: &str = "TAYORI_TEST_SEED";

fn user(i: usize) -> String {
    format!("U{:032x}", 0x5eed_0000 + i)
}

async fn call(node: &ServeProcess, method: Method, path: &str, body: Option<Value>) -> Value {
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

/// A tenant with a LINE channel to `fake` (at most `rate` recipients a
/// second per node) and `n` households imported from CSV, one LINE contact
/// each.
async fn setup(node: &ServeProcess, fake: &FakeLine, n: usize, rate: u32) {
    call(
        node,
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": TENANT, "name": "室蘭市"})),
    )
    .await;
    call(
        node,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/channels/line"),
        Some(json!({
            "plugin": "line",
            "config": {
                "channel_access_token": line::ACCESS_TOKEN,
                "channel_secret": line::CHANNEL_SECRET,
                "api_base": fake.api_base(),
            },
            "allowed_hosts": [format!("127.0.0.1:{}", fake.addr.port())],
            "rate_per_second": rate,
        })),
    )
    .await;
    let born = (chrono::Utc::now() - chrono::Duration::days(200)).date_naive();
    let mut csv = String::from("external_id,locale,channel,address,birth_date\n");
    for i in 0..n {
        csv.push_str(&format!("H{i:06},ja,line,{},{born}\n", user(i)));
    }
    let path = format!("/v1/tenants/{TENANT}/subscribers/import");
    let response = node
        .op(Method::POST, &path)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    let status = response.status();
    let text = response.text().await.expect("import answer");
    assert!(status.is_success(), "POST {path}: {status} {text}");
    let counts: Value = serde_json::from_str(&text).expect("import counts");
    assert_eq!(counts["created"], n, "{counts}");
}

/// A broadcast to every subscriber, now; its id.
async fn broadcast(node: &ServeProcess, n: usize) -> String {
    let b = call(
        node,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/broadcasts"),
        Some(json!({"content": {"body": "【室蘭市】断水のお知らせ: 本日14時から給水車が出ます。"}, "audience": {}})),
    )
    .await;
    assert_eq!(b["deliveries"], n, "{b}");
    b["id"].as_str().expect("broadcast id").to_string()
}

/// Every delivery of the tenant, all pages.
async fn deliveries(node: &ServeProcess) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/tenants/{TENANT}/deliveries?limit=500");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = call(node, Method::GET, &path, None).await;
        out.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn by_status(rows: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for d in rows {
        *counts
            .entry(d["status"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    counts
}

/// Waits until no delivery can change any more (none pending, held or in
/// flight: a row read in a final state stays in it); every row.
async fn settled(node: &ServeProcess) -> Vec<Value> {
    let deadline = Instant::now() + PROGRESS_DEADLINE;
    loop {
        let rows = deliveries(node).await;
        let open = rows
            .iter()
            .filter(|d| matches!(d["status"].as_str(), Some("pending" | "held" | "in_flight")))
            .count();
        if open == 0 {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not settle within {PROGRESS_DEADLINE:?}: {:?}; the server's log ends:\n{}",
            by_status(&rows),
            node.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many times each user got the broadcast, as the fake delivered it.
fn received_by_user(fake: &FakeLine) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for d in fake.deliveries() {
        *counts.entry(d.user).or_default() += 1;
    }
    counts
}

/// Every row sent, and every one of the `n` users reached exactly once.
fn assert_exactly_once(fake: &FakeLine, rows: &[Value], n: usize) {
    assert_eq!(rows.len(), n, "one delivery per recipient");
    let not_sent: Vec<&Value> = rows.iter().filter(|d| d["status"] != "sent").collect();
    assert!(
        not_sent.is_empty(),
        "{} deliveries did not end sent ({:?}); the first: {:#?}",
        not_sent.len(),
        by_status(rows),
        &not_sent[..not_sent.len().min(3)]
    );
    let received = received_by_user(fake);
    let twice: Vec<(&String, &usize)> = received.iter().filter(|(_, c)| **c > 1).collect();
    let never: Vec<String> = (0..n)
        .map(user)
        .filter(|u| !received.contains_key(u))
        .collect();
    let strangers = received
        .keys()
        .filter(|u| !(0..n).any(|i| user(i) == **u))
        .count();
    // The requests that reached the first user reached twice: their retry
    // keys say whether one batch went out twice under two keys.
    let requests: Vec<String> = twice
        .first()
        .map(|(u, _)| {
            fake.accepted()
                .iter()
                .filter(|a| a.to.contains(u))
                .map(|a| format!("{} {:?} to {} users", a.request_id, a.retry_key, a.to.len()))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        twice.is_empty() && never.is_empty() && strangers == 0,
        "LINE delivered {} users more than once (e.g. {:?}, by the requests {requests:?}), never reached {} (e.g. {:?}), and reached {strangers} unknown users",
        twice.len(),
        &twice[..twice.len().min(3)],
        never.len(),
        &never[..never.len().min(3)],
    );
}

/// The raw requests the fake answered, by status.
fn attempts_by_status(fake: &FakeLine) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for a in fake.attempts() {
        *counts.entry(a.status).or_default() += 1;
    }
    counts
}

fn seed() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={text} is not a number")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

/// When a node dies.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// As soon as it answers `/healthz` (it is rescuing and claiming).
    AtStart,
    /// Once LINE has received this many more requests: the last one
    /// accepted or refused, its answer on its way.
    AfterRequests(usize),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_killed_at_random_moments_reaches_everyone_exactly_once() {
    // Not a multiple of 500: a batch cut otherwise on a later attempt
    // would overlap the first one.
    const RECIPIENTS: usize = 5_237;
    const KILLS: usize = 6;
    // One multicast a second: the broadcast takes ten seconds of batches,
    // so the kills land while it is under way, and batches queue for the
    // channel's rate limit (some are put back for later: a batch that went
    // out before a kill must still go out again whole, under its key).
    const RATE: u32 = 500;
    let seed = seed();
    eprintln!("crash test seed {seed} ({SEED_VAR}={seed} replays these moments)");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let dir = tempfile::tempdir().expect("temp dir");
    let spec = ServeSpec {
        database_url: format!("sqlite://{}", dir.path().join("tayori.db").display()),
        admin_token: random_token(),
        secret_key: random_secret_key(),
        lease_seconds: Some(2),
        retry_base_seconds: Some(1),
        dir: dir.path().to_path_buf(),
        log_name: "tayori.log".into(),
    };
    let fake = FakeLine::start().await;
    let mut node = ServeProcess::start(&spec).await;
    setup(&node, &fake, RECIPIENTS, RATE).await;
    broadcast(&node, RECIPIENTS).await;

    let mut kills: Vec<String> = Vec::new();
    for round in 0..KILLS {
        // LINE fails now and then: those batches are retried whole.
        if rng.random_bool(0.3) {
            fake.fail_next(rng.random_range(1..=2), LineFault::Status(500));
        }
        // Never wait for more requests than the broadcast still needs: each
        // undelivered multicast takes at least one more.
        let delivered = received_by_user(&fake).len();
        let needed = (RECIPIENTS - delivered).div_ceil(MULTICAST);
        let moment = if (round > 0 && rng.random_bool(0.25)) || needed == 0 {
            Moment::AtStart
        } else {
            Moment::AfterRequests(rng.random_range(1..=3).min(needed))
        };
        let before = fake.attempts().len();
        if let Moment::AfterRequests(k) = moment
            && tokio::time::timeout(PROGRESS_DEADLINE, fake.received(before + k))
                .await
                .is_err()
        {
            panic!(
                "round {round}: LINE saw no request for {PROGRESS_DEADLINE:?} (seed {seed}); the server's log ends:\n{}",
                node.log_tail()
            );
        }
        node.kill().await;
        kills.push(format!(
            "{moment:?} at request {} (LINE had reached {} users)",
            fake.attempts().len(),
            received_by_user(&fake).len()
        ));
        node = ServeProcess::start(&spec).await;
    }

    let rows = settled(&node).await;
    // A graceful stop lets anything still in flight land before counting.
    let final_pid = node.pid();
    node.stop().await;
    eprintln!(
        "crash test: seed {seed}, {KILLS} SIGKILLs [{}], final node {final_pid}; LINE answered {:?} over {} requests; {:.1} s",
        kills.join("; "),
        attempts_by_status(&fake),
        fake.attempts().len(),
        started.elapsed().as_secs_f64()
    );
    assert_exactly_once(&fake, &rows, RECIPIENTS);
}

/// Completions this node's dispatcher made that the store refused because
/// another claim had taken the rows over (its log's warnings).
fn stale_in(node: &ServeProcess) -> u64 {
    node.log_text()
        .lines()
        .filter(|l| l.contains("completions refused"))
        .filter_map(|l| l.split("stale=").nth(1))
        .filter_map(|n| n.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// What this node's dispatcher recorded as sent, from the summary it logs
/// when it stops (the same count as its `tayori_deliveries_total` sent
/// counter: only completions the store recorded, not those refused because
/// the other node had taken the rows over).
fn sent_in(node: &ServeProcess) -> u64 {
    node.log_text()
        .lines()
        .filter(|l| l.contains("dispatcher stopped"))
        .filter_map(|l| l.split(" sent=").nth(1))
        .filter_map(|n| n.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_share_a_broadcast_and_send_each_delivery_once() {
    const RECIPIENTS: usize = 3_119;
    // One multicast a second per node: both nodes find work.
    const RATE: u32 = 500;
    let Ok(base) = std::env::var(DATABASE_URL_VAR) else {
        eprintln!("{DATABASE_URL_VAR} is not set: skipping the two-node PostgreSQL test");
        return;
    };
    let started = Instant::now();
    let schema = format!("tayori_nodes_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {DATABASE_URL_VAR}: {e}"));
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create the test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let dir = tempfile::tempdir().expect("temp dir");
    // Both nodes open the channel's secrets with one key.
    let key = random_secret_key();

    let outcome = AssertUnwindSafe(async {
        let spec = |name: &str| ServeSpec {
            database_url: url.clone(),
            admin_token: "two-nodes-operator-token".into(),
            secret_key: key.clone(),
            lease_seconds: Some(2),
            retry_base_seconds: Some(1),
            dir: dir.path().to_path_buf(),
            log_name: format!("{name}.log"),
        };
        let fake = FakeLine::start().await;
        // The first node migrates the schema and publishes the plugins; the
        // second joins the database as it is.
        let mut a = ServeProcess::start(&spec("a")).await;
        let mut b = ServeProcess::start(&spec("b")).await;
        setup(&a, &fake, RECIPIENTS, RATE).await;
        // A few batches fail and go again whole, on whichever node.
        fake.fail_next(3, LineFault::Status(500));
        broadcast(&b, RECIPIENTS).await;
        let rows = settled(&a).await;
        a.stop().await;
        b.stop().await;
        // Which node sent what (not asserted: it depends on timing).
        let (sent_a, sent_b) = (sent_in(&a), sent_in(&b));
        let (stale_a, stale_b) = (stale_in(&a), stale_in(&b));
        eprintln!(
            "two nodes: node a recorded {sent_a} sent completions ({stale_a} completions refused as stale), node b {sent_b} ({stale_b} stale); LINE answered {:?} over {} requests; {:.1} s",
            attempts_by_status(&fake),
            fake.attempts().len(),
            started.elapsed().as_secs_f64()
        );
        assert_exactly_once(&fake, &rows, RECIPIENTS);
        // Each delivery's `sent` is counted once, by the node whose
        // completion was recorded, however the nodes shared the work and
        // whatever completions were refused as stale.
        assert_eq!(
            sent_a + sent_b,
            RECIPIENTS as u64,
            "the nodes' sent counts together (a {sent_a}, b {sent_b}; {stale_a} + {stale_b} completions refused as stale)"
        );
    })
    .catch_unwind()
    .await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop the test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Deliveries in flight in a SQLite database, read straight from it (the
/// node that claimed them is dead).
async fn in_flight_in(database_url: &str) -> i64 {
    let mut conn = sqlx::SqliteConnection::connect(database_url)
        .await
        .unwrap_or_else(|e| panic!("cannot open {database_url}: {e}"));
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'in_flight'")
        .fetch_one(&mut conn)
        .await
        .expect("count in-flight deliveries");
    conn.close().await.expect("close");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_lease_a_restarted_sqlite_host_resends_what_its_predecessor_left_in_flight()
 {
    // The case: kill -9 three times during a 3,000-recipient LINE
    // broadcast, with `tayori serve`'s own lease and retry settings. With
    // the old 300 s lease the rows in flight at a kill waited out the lease
    // (far beyond the settling deadline); now a restart takes them back at
    // once, and they go again under the keys they went with.
    const RECIPIENTS: usize = 3_000;
    const KILLS: usize = 3;
    const RATE: u32 = 500;
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
    let fake = FakeLine::start().await;
    let mut node = ServeProcess::start(&spec).await;
    setup(&node, &fake, RECIPIENTS, RATE).await;
    broadcast(&node, RECIPIENTS).await;
    let mut left_in_flight = 0;
    for round in 0..KILLS {
        // Killed once LINE has the next multicast: that batch's answer is
        // on its way, the claim's next batch waits for the rate limit.
        let before = fake.attempts().len();
        if tokio::time::timeout(PROGRESS_DEADLINE, fake.received(before + 1))
            .await
            .is_err()
        {
            panic!(
                "round {round}: LINE saw no request for {PROGRESS_DEADLINE:?}; the server's log ends:\n{}",
                node.log_tail()
            );
        }
        node.kill().await;
        left_in_flight += in_flight_in(&spec.database_url).await;
        node = ServeProcess::start(&spec).await;
    }
    // What this test is about: the kills left claims behind.
    assert!(left_in_flight > 0, "no kill left a delivery in flight");
    let rows = settled(&node).await;
    node.stop().await;
    eprintln!(
        "default lease: {left_in_flight} rows in flight over {KILLS} kills; LINE answered {:?} over {} requests",
        attempts_by_status(&fake),
        fake.attempts().len()
    );
    assert_exactly_once(&fake, &rows, RECIPIENTS);
    assert!(
        node.log_text()
            .contains("took back deliveries a previous run left in flight"),
        "the restarted host did not say it took the claims back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_lease_another_postgres_node_takes_over_a_dead_nodes_claims() {
    // Node a claims and dies with claims in flight; node b, started on the
    // same database afterwards, cannot know a is gone but by its lease:
    // with the default (20 s, renewed while a call runs) b sends them
    // within the settling deadline; the old 300 s lease kept them waiting
    // five minutes.
    const RECIPIENTS: usize = 2_119;
    const RATE: u32 = 500;
    let Ok(base) = std::env::var(DATABASE_URL_VAR) else {
        eprintln!("{DATABASE_URL_VAR} is not set: skipping the PostgreSQL takeover test");
        return;
    };
    let schema = format!("tayori_takeover_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot reach {DATABASE_URL_VAR}: {e}"));
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create the test schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options[search_path]={schema}");
    let dir = tempfile::tempdir().expect("temp dir");
    let key = random_secret_key();
    let outcome = AssertUnwindSafe(async {
        let spec = |name: &str| ServeSpec {
            database_url: url.clone(),
            admin_token: "takeover-operator-token".into(),
            secret_key: key.clone(),
            lease_seconds: None,
            retry_base_seconds: None,
            dir: dir.path().to_path_buf(),
            log_name: format!("{name}.log"),
        };
        let fake = FakeLine::start().await;
        let mut a = ServeProcess::start(&spec("a")).await;
        setup(&a, &fake, RECIPIENTS, RATE).await;
        broadcast(&a, RECIPIENTS).await;
        tokio::time::timeout(PROGRESS_DEADLINE, fake.received(1))
            .await
            .expect("node a sent nothing");
        a.kill().await;
        let mut counting = sqlx::PgConnection::connect(&url).await.expect("connect");
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'in_flight'")
                .fetch_one(&mut counting)
                .await
                .expect("count");
        assert!(left > 0, "node a died holding no claims");
        let mut b = ServeProcess::start(&spec("b")).await;
        let rows = settled(&b).await;
        b.stop().await;
        eprintln!(
            "takeover: node a left {left} rows in flight; LINE answered {:?} over {} requests",
            attempts_by_status(&fake),
            fake.attempts().len()
        );
        assert_exactly_once(&fake, &rows, RECIPIENTS);
        assert!(
            b.log_text()
                .contains("rescued deliveries whose dispatcher's lease ran out"),
            "node b did not rescue node a's claims"
        );
    })
    .catch_unwind()
    .await;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .expect("drop the test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
