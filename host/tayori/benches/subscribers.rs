//! Subscriber budgets of issue 3, through the real server on 127.0.0.1:0 and
//! a fresh SQLite database, driven over HTTP with reqwest:
//!
//! - CSV import of 100,000 subscribers (`POST .../subscribers/import`) ≤ 10 s,
//!   then the same file again (idempotent: nothing changes);
//! - subscriber create (`POST .../subscribers`) p99 ≤ 10 ms with 50
//!   concurrent clients: measured closed-loop (each client sends its next
//!   request as soon as the last one is answered: the host's saturation,
//!   where latency is 50 ÷ throughput) and paced (each client sends one
//!   request every 100 ms, the clients' start spread over that interval:
//!   500 creates/s in all).
//!
//! The server runs on a runtime of its own, as `tayori serve` does (a worker
//! per core); the clients run on one thread of their own, as a load
//! generator in another process would, so that the server's tasks do not
//! wait behind the clients' in one scheduler. Both share the machine's
//! cores.
//!
//! Run: `cargo bench -p tayori --bench subscribers`. Prints one JSON line per
//! scenario.

/// The binary's allocator (`src/main.rs`), so that the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use serde_json::json;
use tayori::{ServeConfig, launch};
use tayori_runtime::RuntimeConfig;

const TOKEN: &str = "bench-operator-token";
const IMPORT_SUBSCRIBERS: usize = 100_000;
const CLIENTS: usize = 50;
const CREATES_PER_CLIENT: usize = 100;
const WARMUP_PER_CLIENT: usize = 10;
/// The paced run: each client's interval between requests.
const PACE: Duration = Duration::from_millis(100);

fn main() -> anyhow::Result<()> {
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clients = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    clients.block_on(run(server.handle()))
}

fn csv(due_base: chrono::NaiveDate, born_base: chrono::NaiveDate) -> String {
    let mut out = String::with_capacity(IMPORT_SUBSCRIBERS * 64);
    out.push_str("external_id,locale,channel,address,due_date,birth_date\n");
    for i in 0..IMPORT_SUBSCRIBERS {
        let locale = if i % 7 == 0 { "ja-easy" } else { "ja" };
        if i % 2 == 0 {
            let due = due_base + Days::new((i % 250) as u64);
            out.push_str(&format!("K{i:07},{locale},line,U{i:032x},{due},\n"));
        } else {
            let born = born_base - Days::new((i % 900) as u64);
            out.push_str(&format!("K{i:07},{locale},line,U{i:032x},,{born}\n"));
        }
        if i % 4 == 0 {
            out.push_str(&format!("K{i:07},,email,parent{i}@example.jp,,\n"));
        }
    }
    out
}

async fn run(server: &tokio::runtime::Handle) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // The scheduler runs, as in production, on a clock stopped at 02:00 in
    // Tokyo: today's plan is made (and redone for each registration) but
    // nothing falls due while the clients run, whatever the hour the bench
    // is run at.
    let today = (Utc::now() + chrono::Duration::hours(9)).date_naive();
    let two_am = today.and_hms_opt(2, 0, 0).expect("a time") - chrono::Duration::hours(9);
    let config = ServeConfig {
        clock: Arc::new(tayori_scheduler::ManualClock::new(two_am.and_utc())),
        database_url: format!("sqlite://{}", dir.path().join("tayori.db").display()),
        admin_token: Some(TOKEN.into()),
        runtime: RuntimeConfig::default(),
        load_bundled: false,
        // `BENCH_NO_SCHEDULER=1`: the API and the store alone.
        run_scheduler: std::env::var_os("BENCH_NO_SCHEDULER").is_none(),
        ..ServeConfig::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let launched = server
        .spawn(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            launch(config, listener, async move {
                let _ = rx.await;
            })
            .await
        })
        .await??;
    let base = format!("http://{}", launched.addr);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let post = |path: &str| http.post(format!("{base}{path}")).bearer_auth(TOKEN);

    // The demo catalog, so that the planner has today's messages to plan.
    let catalog = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../catalog/demo.yaml"
    ))?;
    post("/v1/catalog/import")
        .header("content-type", "application/yaml")
        .body(catalog)
        .send()
        .await?
        .error_for_status()?;
    let echo = std::fs::read(tayori_plugin_artifacts::ECHO)?;
    post("/v1/plugins")
        .header("content-type", "application/wasm")
        .body(echo)
        .send()
        .await?
        .error_for_status()?;
    for tenant in ["import", "create"] {
        post("/v1/tenants")
            .json(&json!({"id": tenant, "name": tenant}))
            .send()
            .await?
            .error_for_status()?;
        for channel in ["line", "email"] {
            http.put(format!("{base}/v1/tenants/{tenant}/channels/{channel}"))
                .bearer_auth(TOKEN)
                .json(&json!({"plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/"}}))
                .send()
                .await?
                .error_for_status()?;
        }
    }

    // CSV import.
    let body = csv(today + Days::new(10), today - Days::new(1));
    let bytes = body.len();
    for run in ["first", "again"] {
        let started = Instant::now();
        let resp = post("/v1/tenants/import/subscribers/import")
            .header("content-type", "text/csv")
            .body(body.clone())
            .send()
            .await?;
        let status = resp.status();
        let answer: serde_json::Value = resp.json().await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(status.is_success(), "import failed: {answer}");
        println!(
            "{}",
            json!({
                "scenario": format!("csv_import_100k_sqlite_{run}"),
                "subscribers": IMPORT_SUBSCRIBERS,
                "bytes": bytes,
                "seconds": elapsed.as_secs_f64(),
                "budget_seconds": 10,
                "within_budget": elapsed <= Duration::from_secs(10),
                "answer": answer,
            })
        );
    }

    // The imported households are planned into today by a pass woken by
    // the import; the creates are measured once that is done (the count of
    // the tenant's deliveries is the same a second later).
    let planned = Instant::now();
    let mut last = 0;
    loop {
        let count = count_deliveries(&http, &base, "import").await?;
        if count > 0 && count == last {
            break;
        }
        last = count;
        anyhow::ensure!(
            planned.elapsed() < Duration::from_secs(120),
            "the import was not planned within 2 minutes"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!(
        "[subscribers] import planned ({last} deliveries) within {:.1} s of its answer",
        planned.elapsed().as_secs_f64()
    );

    // Subscriber create, 50 concurrent clients.
    let due = (today + Days::new(100)).to_string();
    let http = Arc::new(http);
    let url = Arc::new(format!("{base}/v1/tenants/create/subscribers"));
    let drive = |per_client: usize, offset: usize, pace: Option<Duration>| {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let http = http.clone();
                let url = url.clone();
                let due = due.clone();
                tokio::spawn(async move {
                    let mut samples = Vec::with_capacity(per_client);
                    // Clients start spread over one interval, as independent
                    // callers would, not in lockstep bursts.
                    let mut ticks = pace.map(|p| {
                        let start = tokio::time::Instant::now() + p * c as u32 / CLIENTS as u32;
                        let mut t = tokio::time::interval_at(start, p);
                        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        t
                    });
                    for i in 0..per_client {
                        if let Some(t) = ticks.as_mut() {
                            t.tick().await;
                        }
                        let n = offset + c * per_client + i;
                        let body = json!({
                            "locale": "ja",
                            "contacts": [{"channel": "line", "address": format!("U{n:032x}")}],
                            "children": [{"due_date": due}],
                        });
                        let started = Instant::now();
                        let resp = http
                            .post(url.as_str())
                            .bearer_auth(TOKEN)
                            .json(&body)
                            .send()
                            .await?;
                        let status = resp.status();
                        let _ = resp.bytes().await?;
                        samples.push(started.elapsed());
                        anyhow::ensure!(
                            status == reqwest::StatusCode::CREATED,
                            "create answered {status}"
                        );
                    }
                    anyhow::Ok(samples)
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await??);
            }
            anyhow::Ok(all)
        }
    };
    drive(WARMUP_PER_CLIENT, 0, None).await?;
    let mut offset = CLIENTS * WARMUP_PER_CLIENT;
    for (scenario, pace) in [
        ("subscriber_create_50_clients_closed_loop_sqlite", None),
        (
            "subscriber_create_50_clients_paced_500_per_second_sqlite",
            Some(PACE),
        ),
    ] {
        let started = Instant::now();
        let mut samples = drive(CREATES_PER_CLIENT, offset, pace).await?;
        offset += CLIENTS * CREATES_PER_CLIENT;
        let wall = started.elapsed();
        samples.sort_unstable();
        let pct = |p: f64| {
            let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[i].as_secs_f64() * 1000.0
        };
        let p99 = pct(0.99);
        println!(
            "{}",
            json!({
                "scenario": scenario,
                "requests": samples.len(),
                "clients": CLIENTS,
                "p50_ms": pct(0.50),
                "p99_ms": p99,
                "max_ms": samples.last().map(|d| d.as_secs_f64() * 1000.0),
                "per_second": samples.len() as f64 / wall.as_secs_f64(),
                "budget_p99_ms": 10,
                "within_budget": p99 <= 10.0,
            })
        );
    }

    let _ = tx.send(());
    let _ = launched.task.await;
    Ok(())
}

/// A tenant's deliveries, counted page by page through the API.
async fn count_deliveries(
    http: &reqwest::Client,
    base: &str,
    tenant: &str,
) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/tenants/{tenant}/deliveries?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value = http
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        count += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(count),
        }
    }
}
