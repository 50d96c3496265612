//! Delivery pipeline budgets (issue 4, raised by contract 0.2.0's issue 13),
//! on SQLite in a temporary directory:
//!
//! - `plan_100k`: `Planner::plan_tenant` of one fresh day for one tenant
//!   with 100,000 children ≤ 1 s;
//! - `plan_national`: `Planner::run_once` of one day for 2.6 million
//!   children over 1,741 tenants ≤ 20 s (setup reported apart);
//! - `dispatch_line` and `dispatch_native` (always run together, on copies
//!   of the same planned day): a `Dispatcher` with its default settings
//!   drains the outbox through the bundled LINE plugin (contract 0.2.0, a
//!   claim's batches in one call) ≥ 12,000 deliveries/s, then through a
//!   native Rust sender compiled in here; the WASM/native throughput ratio
//!   ≥ 0.90; each run counts sender calls per delivery (≤ 0.05; each plugin
//!   call is one fresh instance) and the fake's requests;
//! - `dispatch_1m`: the national day's deliveries (about a million) through
//!   the LINE plugin ≤ 100 s;
//! - `report_national` (issue 15), on the national data set with its day
//!   planned: one tenant's monthly report (`tayori_api::reports::figures`)
//!   ≤ 200 ms for a median and the largest tenant; the operator's figures of
//!   every tenant (`tayori_api::reports::all_tenants`) ≤ 2 s; a dashboard
//!   page's server time ≤ 100 ms at p95, `GET /t/{tenant}` of the real
//!   server (`tayori::launch`, as `tayori serve`) over loopback, signed in,
//!   across tenants. `BENCH_NATIONAL_DB=path` keeps the planned national
//!   database there and reuses it in later runs (setting it up takes about
//!   90 s).
//!
//! Children: a quarter expecting (due within the next 40 weeks), the rest
//! born within the last 3 years; one LINE contact each; the demo catalog;
//! every tenant its own LINE channel (LINE's 2,000 pushes/s is per channel).
//! The fake LINE runs in this process on 127.0.0.1 (so it shares the 2
//! cores): it checks the bearer token and that `X-Line-Retry-Key` is a UUID,
//! accepts a key once (409 after, as LINE does) and counts every request.
//!
//! Run: `cargo bench -p tayori --bench pipeline [-- SCENARIO ...]` (all
//! scenarios without one). Prints one JSON line per scenario on stdout and
//! progress on stderr.

/// The binary's allocator (`src/main.rs`), so that the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tayori_api::SecretKey;
use tayori_core::{
    Batch, Channel, ChannelSpec, DeliveryStatus, Failure, ImportRow, Locale, NewChild, NewContact,
    NewTenant, Outcome, Store, Tenant,
};
use tayori_runtime::{Plugins, Runtime, RuntimeConfig, Uploader};
use tayori_scheduler::{
    DispatchConfig, Dispatcher, ManualClock, Planner, PluginSenders, SendError, SendLimits, Sender,
    Senders,
};

/// The day planned and dispatched (a Monday), and the time the bench's
/// clock shows: just after the tenants' default send time, 09:00 JST.
const DAY: &str = "2027-01-04";
const NATIONAL_CHILDREN: usize = 2_600_000;
const NATIONAL_TENANTS: usize = 1_741;
const PLAN_100K_CHILDREN: usize = 100_000;
/// The dispatch pair's data: tenants of national size (≈1,500 children).
const DISPATCH_TENANTS: usize = 240;
const DISPATCH_CHILDREN_PER_TENANT: usize = 1_500;
/// Runs of each sender, taking turns.
const DISPATCH_ROUNDS: usize = 3;
/// Subscribers per import transaction.
const IMPORT_CHUNK: usize = 25_000;
/// LINE's limits as the bundled plugin declares them (checked against the
/// plugin's own sender in the run).
const LINE_MAX_BATCH: usize = 500;
const LINE_RATE: u32 = 2_000;
const LINE_MULTICAST_FROM: usize = 50;
const LINE_PUSH_WAVE: usize = 20;
const LINE_MAX_BATCHES_PER_CALL: usize = 256;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

fn selected(name: &str) -> bool {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    chosen.is_empty() || chosen.iter().any(|c| c == name)
}

fn day() -> NaiveDate {
    DAY.parse().expect("a date")
}

fn now() -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&day().and_hms_opt(9, 1, 0).expect("a time"))
        .single()
        .expect("Tokyo has no gaps")
        .with_timezone(&Utc)
}

fn progress(what: &str, started: Instant) {
    eprintln!(
        "[pipeline] {what} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

async fn run() -> anyhow::Result<()> {
    // The production server installs the Prometheus recorder: the
    // dispatcher's counters cost what they cost in production.
    let _ = tayori_api::prometheus();
    let fake = FakeLine::start().await?;
    // A fixed key: a national database kept by `BENCH_NATIONAL_DB` opens
    // with it in a later run (the console's server checks it).
    let key = SecretKey::from_bytes([0x42; 32], "bench");
    // `BENCH_DIR` keeps the databases there (to look at them afterwards).
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::Builder::new()
            .disable_cleanup(true)
            .tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };

    if selected("plan_100k") || selected("report_100k") {
        plan_100k(&dir, &fake, &key).await?;
    }
    if selected("dispatch_line") || selected("dispatch_native") {
        dispatch_pair(&dir, &fake, &key).await?;
    }
    if selected("report_national") {
        report_national(&dir, &fake, &key).await?;
    }
    let national = selected("plan_national");
    if national || selected("dispatch_1m") {
        let (url, setup) = national_setup(&dir, &fake, &key, national).await?;
        if selected("dispatch_1m") {
            let store = tayori_store::connect(&url).await?;
            let stats = store.outbox_stats(now().timestamp_millis()).await?;
            let run = dispatch(&store, &fake, &key, Mode::Plugin, stats.due).await?;
            let line = run.line(json!({
                "scenario": "dispatch_1m",
                "sender": "line plugin (wasm)",
                "tenants": NATIONAL_TENANTS,
                "setup_seconds": setup,
                "budget_seconds": 100,
                "within_budget": run.seconds <= 100.0,
            }));
            println!("{line}");
        }
    }
    Ok(())
}

// ---- data -------------------------------------------------------------------

/// A well-mixed 64-bit hash of `i` (splitmix64), for a reproducible spread.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Household `i` of tenant `t`: a quarter expecting with a due date in the
/// next 40 weeks, the rest born in the last 3 years; one in ten reads plain
/// Japanese.
fn household(t: usize, i: usize) -> ImportRow {
    let r = mix(((t as u64) << 32) | i as u64);
    let today = day();
    let child = if r % 4 == 0 {
        NewChild::due(today + Days::new(1 + (r >> 8) % 280))
    } else {
        NewChild::born(today - Days::new((r >> 8) % 1_096))
    };
    ImportRow {
        external_id: format!("K{i:07}"),
        locale: if (r >> 40) % 10 == 0 {
            Locale::JaEasy
        } else {
            Locale::Ja
        },
        contacts: vec![NewContact {
            channel: "line".into(),
            address: format!("U{:016x}{:016x}", t as u64, i as u64),
        }],
        children: vec![child],
    }
}

fn token(tenant: &str) -> String {
    format!("bench-line-token-{tenant}")
}

/// A store on a new SQLite file in `dir`, with the demo catalog imported
/// as the API checks and imports it.
async fn new_store(
    dir: &tempfile::TempDir,
    name: &str,
) -> anyhow::Result<(String, Arc<dyn Store>)> {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    let store = tayori_store::connect(&url).await?;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../catalog/demo.yaml"
    ))?;
    let file: tayori_api::CatalogFile = serde_yaml::from_str(&text)?;
    let programs = tayori_api::check_catalog_file(&file)
        .map_err(|e| anyhow::anyhow!("demo catalog: {e:?}"))?;
    store.import_catalog(&programs).await?;
    Ok((url, store))
}

/// Publishes the bundled plugins into the store, as `tayori serve` does.
async fn publish_bundled(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    let plugins = Plugins::open(Runtime::new(RuntimeConfig::default())?, store.clone()).await?;
    for (name, bytes) in tayori_plugin_artifacts::BUNDLED {
        plugins
            .upload(bytes, &Uploader::Operator)
            .await
            .map_err(|e| anyhow::anyhow!("uploading {name}: {e}"))?;
    }
    Ok(())
}

/// Tenant `t` with its LINE channel to the fake and `children` households.
async fn tenant_with_children(
    store: &Arc<dyn Store>,
    fake: &FakeLine,
    key: &SecretKey,
    t: usize,
    children: usize,
) -> anyhow::Result<Tenant> {
    let id = format!("t{t:04}");
    let tenant = store
        .create_tenant(&NewTenant::new(id.clone(), format!("自治体{t:04}")))
        .await?;
    fake.tokens
        .lock()
        .expect("tokens")
        .insert(format!("Bearer {}", token(&id)));
    let mut secrets = serde_json::Map::new();
    secrets.insert("channel_access_token".into(), Value::String(token(&id)));
    store
        .put_channel(
            &id,
            &ChannelSpec {
                name: "line".into(),
                plugin_id: "line".into(),
                version: None,
                config: json!({ "api_base": fake.api_base(), "mode": "push_only" }),
                secrets_ciphertext: key.seal(&id, "line", &secrets),
                allowed_hosts: vec![format!("127.0.0.1:{}", fake.addr.port())],
                rate_per_second: None,
                daily_quota: None,
            },
        )
        .await?;
    let mut i = 0;
    while i < children {
        let n = IMPORT_CHUNK.min(children - i);
        let rows: Vec<ImportRow> = (i..i + n).map(|i| household(t, i)).collect();
        store.import_subscribers(&id, &rows).await?;
        i += n;
    }
    Ok(tenant)
}

fn planner(store: &Arc<dyn Store>) -> Planner {
    Planner::new(store.clone(), Arc::new(ManualClock::new(now())))
}

// ---- planning ---------------------------------------------------------------

async fn plan_100k(
    dir: &tempfile::TempDir,
    fake: &FakeLine,
    key: &SecretKey,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (url, store) = new_store(dir, "plan100k.db").await?;
    let tenant = tenant_with_children(&store, fake, key, 0, PLAN_100K_CHILDREN).await?;
    let setup = started.elapsed().as_secs_f64();
    progress("plan_100k: set up", started);
    // A copy of the unplanned database for the phase breakdown below.
    let copy = dir.path().join("plan100k-phases.db");
    copy_database(&url, &copy).await?;
    let catalog = store.catalog_messages(None).await?;
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let plan = planner(&store).plan_tenant(&tenant, &catalog).await?;
    let seconds = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    anyhow::ensure!(plan.days == [day()], "planned {:?}", plan.days);
    let phases = plan_phases(&format!("sqlite://{}", copy.display()), &tenant).await?;
    // Planning the day again adds nothing.
    let again = planner(&store).plan_tenant(&tenant, &catalog).await?;
    anyhow::ensure!(
        again.planned.inserted == 0,
        "a second pass added {:?}",
        again.planned
    );
    if selected("report_100k") {
        report_100k(&store, &tenant).await?;
    }
    if !selected("plan_100k") {
        return Ok(());
    }
    println!(
        "{}",
        json!({
            "scenario": "plan_100k",
            "children": PLAN_100K_CHILDREN,
            "deliveries": plan.planned.inserted,
            "setup_seconds": setup,
            "seconds": seconds,
            "deliveries_per_second": plan.planned.inserted as f64 / seconds,
            "cpu_seconds": cpu,
            "phases_seconds": phases,
            "load_average": load_average(),
            "budget_seconds": 1,
            "within_budget": seconds <= 1.0,
        })
    );
    Ok(())
}

/// The month's figures of the 100,000-children tenant with its day
/// planned (issue 15: one tenant's monthly report ≤ 200 ms): the store's
/// reads and the domain's count, as `GET .../reports/monthly` does them,
/// five times; the median and the worst.
async fn report_100k(store: &Arc<dyn Store>, tenant: &Tenant) -> anyhow::Result<()> {
    let month = day().with_day(1).expect("the 1st");
    let mut runs = Vec::new();
    let mut active = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let f = tayori_api::reports::figures(store.as_ref(), tenant, month, day())
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        runs.push(t.elapsed().as_secs_f64() * 1000.0);
        active = f.active_users;
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({
            "scenario": "report_100k",
            "children": PLAN_100K_CHILDREN,
            "active_users": active,
            "median_ms": runs[2],
            "max_ms": runs[4],
            "load_average": load_average(),
            "budget_ms": 200,
            "within_budget": runs[2] <= 200.0,
        })
    );
    Ok(())
}

/// The same plan, phase by phase, on a fresh copy of the database: what
/// `plan_tenant` does for a tenant's first day.
async fn plan_phases(url: &str, tenant: &Tenant) -> anyhow::Result<Value> {
    use tayori_scheduler::plan::{MessageIndex, due_anchors, plan_day, tenant_messages};
    let store = tayori_store::connect(url).await?;
    let catalog = store.catalog_messages(None).await?;
    let t = Instant::now();
    let own = store.tenant_messages(&tenant.id).await?;
    let index = MessageIndex::new(tenant_messages(tenant, &catalog, &own));
    let _ = store.plan_state(&tenant.id).await?;
    let setup = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let all = store.plan_sources(&tenant.id, None).await?.len();
    let read_all = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (births, due_dates) = due_anchors(tenant, &index, &[day()]);
    let anchors = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let sources = store
        .plan_sources_anchored(&tenant.id, &births, &due_dates)
        .await?;
    let read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tz = tenant.tz().expect("a zone");
    let rows = plan_day(
        tenant,
        tz,
        &index,
        &sources,
        day(),
        now().timestamp_millis(),
        Some(tayori_core::LateReason::HostDown),
    );
    let compute = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let state = tayori_core::PlanState {
        day: day(),
        changes: store.change_cursor().await?,
    };
    store.write_plan(&tenant.id, &rows, &state).await?;
    let write = t.elapsed().as_secs_f64();
    Ok(json!({
        "catalog_index_and_state": setup,
        "read_all_sources": read_all,
        "all_sources": all,
        "anchors": anchors,
        "anchor_dates": births.len() + due_dates.len(),
        "read_sources": read,
        "sources": sources.len(),
        "compute_rows_and_keys": compute,
        "write_rows": write,
    }))
}

/// CPU time of this process so far (all threads, the fake LINE's
/// included), in seconds. On a shared machine, deliveries per CPU-second say
/// more than wall time: 2 idle cores give at most twice that.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and
    // stime are the 14th and 15th fields, in clock ticks (100 a second).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1-minute load average: the machine is shared, and figures move with it.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The national data set, planned when `measure` (timed and printed), else
/// planned untimed; returns the database URL and the setup time.
async fn national_setup(
    dir: &tempfile::TempDir,
    fake: &FakeLine,
    key: &SecretKey,
    measure: bool,
) -> anyhow::Result<(String, f64)> {
    let started = Instant::now();
    let (url, store) = new_store(dir, "national.db").await?;
    publish_bundled(&store).await?;
    let base = NATIONAL_CHILDREN / NATIONAL_TENANTS;
    let extra = NATIONAL_CHILDREN % NATIONAL_TENANTS;
    for t in 0..NATIONAL_TENANTS {
        tenant_with_children(&store, fake, key, t, base + usize::from(t < extra)).await?;
        if (t + 1) % 250 == 0 {
            progress(&format!("national: {} tenants set up", t + 1), started);
        }
    }
    let setup = started.elapsed().as_secs_f64();
    progress("national: set up", started);
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let planned = planner(&store).run_once().await?;
    let seconds = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    if measure {
        println!(
            "{}",
            json!({
                "scenario": "plan_national",
                "children": NATIONAL_CHILDREN,
                "tenants": NATIONAL_TENANTS,
                "deliveries": planned.inserted,
                "setup_seconds": setup,
                "seconds": seconds,
                "deliveries_per_second": planned.inserted as f64 / seconds,
                "cpu_seconds": cpu,
                "load_average": load_average(),
                "budget_seconds": 20,
                "within_budget": seconds <= 20.0,
            })
        );
    }
    Ok((url, setup))
}

// ---- reports -----------------------------------------------------------------

/// Milliseconds of `runs` sorted: (median, p95, max).
fn spread(runs: &mut [f64]) -> (f64, f64, f64) {
    runs.sort_by(f64::total_cmp);
    let at = |q: f64| runs[((runs.len() as f64 * q).ceil() as usize).clamp(1, runs.len()) - 1];
    (at(0.5), at(0.95), runs[runs.len() - 1])
}

/// The planned national database: the one `BENCH_NATIONAL_DB` names when
/// it exists, else set up (and kept there when it is named).
async fn national_database(
    dir: &tempfile::TempDir,
    fake: &FakeLine,
    key: &SecretKey,
) -> anyhow::Result<String> {
    let kept = std::env::var_os("BENCH_NATIONAL_DB").map(std::path::PathBuf::from);
    if let Some(path) = kept.as_ref().filter(|p| p.exists()) {
        eprintln!("[pipeline] national: reusing {}", path.display());
        return Ok(format!("sqlite://{}", path.display()));
    }
    let (url, _) = national_setup(dir, fake, key, false).await?;
    if let Some(path) = kept {
        copy_database(&url, &path).await?;
        eprintln!("[pipeline] national: kept in {}", path.display());
    }
    Ok(url)
}

/// `name=value` pairs of `Set-Cookie` headers, as a `Cookie` header.
fn cookies(jar: &mut Vec<(String, String)>, headers: &reqwest::header::HeaderMap) -> String {
    for set in headers.get_all(reqwest::header::SET_COOKIE) {
        let set = set.to_str().unwrap_or_default();
        let pair = set.split(';').next().unwrap_or_default();
        if let Some((name, value)) = pair.split_once('=') {
            jar.retain(|(n, _)| n != name);
            if !set.contains("Max-Age=0") {
                jar.push((name.to_string(), value.to_string()));
            }
        }
    }
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The page's CSRF field.
fn csrf_of(page: &str) -> anyhow::Result<String> {
    let start = "name=\"csrf\" value=\"";
    let from = page
        .find(start)
        .ok_or_else(|| anyhow::anyhow!("no CSRF field"))?
        + start.len();
    let to = page[from..]
        .find('"')
        .ok_or_else(|| anyhow::anyhow!("no CSRF end"))?;
    Ok(page[from..from + to].to_string())
}

const BENCH_OPERATOR: &str = "bench-operator@example.jp";
const BENCH_PASSWORD: &str = "a long enough bench passphrase";

/// Signs in as the operator (made through the first start's link on a new
/// database): the `Cookie` header of the session.
async fn operator_session(
    http: &reqwest::Client,
    base: &str,
    first_link: Option<&str>,
) -> anyhow::Result<String> {
    let mut jar = Vec::new();
    let path = match first_link {
        Some(link) => link.to_string(),
        None => format!("{base}/sign-in"),
    };
    let page = http.get(&path).send().await?;
    let cookie = cookies(&mut jar, page.headers());
    let csrf = csrf_of(&page.text().await?)?;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("email", BENCH_OPERATOR),
        ("password", BENCH_PASSWORD),
    ];
    if first_link.is_some() {
        form.extend([("name", "ベンチ"), ("confirm", BENCH_PASSWORD)]);
    }
    let signed = http
        .post(&path)
        .header("cookie", cookie)
        .form(&form)
        .send()
        .await?;
    anyhow::ensure!(
        signed.status() == StatusCode::SEE_OTHER,
        "signing in: {} {}",
        signed.status(),
        signed.text().await?
    );
    Ok(cookies(&mut jar, signed.headers()))
}

/// Issue 15's speed budgets on the national data set (see the top).
async fn report_national(
    dir: &tempfile::TempDir,
    fake: &FakeLine,
    key: &SecretKey,
) -> anyhow::Result<()> {
    let url = national_database(dir, fake, key).await?;
    let store = tayori_store::connect(&url).await?;
    let mut tenants = store.tenants().await?;
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    anyhow::ensure!(
        tenants.len() == NATIONAL_TENANTS,
        "{} tenants",
        tenants.len()
    );
    let month = day().with_day(1).expect("the 1st");
    // Tenant t0000 is among the largest (1,494 children; the generator
    // spreads children evenly, 1,493 or 1,494), t0870 the median one.
    let base = NATIONAL_CHILDREN / NATIONAL_TENANTS;
    let extra = NATIONAL_CHILDREN % NATIONAL_TENANTS;
    for (which, t) in [("median", NATIONAL_TENANTS / 2), ("largest", 0)] {
        let tenant = &tenants[t];
        let mut runs = Vec::new();
        let mut active = 0;
        for _ in 0..21 {
            let started = Instant::now();
            let f = tayori_api::reports::figures(store.as_ref(), tenant, month, day())
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            runs.push(started.elapsed().as_secs_f64() * 1000.0);
            active = f.active_users;
        }
        let (median, p95, max) = spread(&mut runs);
        println!(
            "{}",
            json!({
                "scenario": "report_national_tenant",
                "tenant": which,
                "tenant_id": tenant.id,
                "children": base + usize::from(t < extra),
                "active_users": active,
                "runs": runs.len(),
                "median_ms": median,
                "p95_ms": p95,
                "max_ms": max,
                "load_average": load_average(),
                "budget_ms": 200,
                "within_budget": median <= 200.0,
            })
        );
    }

    let mut runs = Vec::new();
    let mut rows = Vec::new();
    let cpu = cpu_seconds();
    for _ in 0..5 {
        let started = Instant::now();
        rows = tayori_api::reports::all_tenants(store.as_ref(), now())
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        runs.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let cpu = (cpu_seconds() - cpu) / runs.len() as f64;
    // The parts, once each (what the time is made of).
    let started = Instant::now();
    let households = store.report_households_all().await?;
    let read_households = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let (from, to) = (
        now() - chrono::Duration::days(3),
        now() + chrono::Duration::days(28),
    );
    let _ = store.delivery_counts_all(from, to).await?;
    let read_deliveries = started.elapsed().as_secs_f64() * 1000.0;
    let (median, _, max) = spread(&mut runs);
    anyhow::ensure!(rows.len() == NATIONAL_TENANTS, "{} rows", rows.len());
    println!(
        "{}",
        json!({
            "scenario": "report_national_all_tenants",
            "tenants": rows.len(),
            "children": households.iter().map(|h| h.children.len()).sum::<usize>(),
            "active_users": rows.iter().map(|f| f.active_users).sum::<u64>(),
            "runs": runs.len(),
            "median_ms": median,
            "max_ms": max,
            "cpu_seconds_per_run": cpu,
            "parts_ms": { "households": read_households, "deliveries": read_deliveries },
            "load_average": load_average(),
            "budget_ms": 2000,
            "within_budget": median <= 2000.0,
        })
    );
    drop(store);

    // The dashboard through the real server, as `tayori serve` runs it
    // (no scheduler: nothing else runs on the cores meanwhile).
    let config = tayori::ServeConfig {
        clock: Arc::new(ManualClock::new(now())),
        database_url: url.clone(),
        // An operator token as in production: no first-start token.
        admin_token: Some("bench-admin-token-0123456789".into()),
        load_bundled: false,
        run_scheduler: false,
        ..tayori::ServeConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let launched = tayori::launch_with_key(config, Some(key.clone()), listener, async move {
        let _ = stopped.await;
    })
    .await?;
    let base_url = format!("http://{}", launched.addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let session = operator_session(&http, &base_url, launched.first_sign_in.as_deref()).await?;
    let get = |path: String| {
        let request = http
            .get(format!("{base_url}{path}"))
            .header("cookie", &session);
        async move {
            let started = Instant::now();
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            anyhow::ensure!(status == StatusCode::OK, "{status}");
            anyhow::Ok((ms, body.len()))
        }
    };
    // Warm-up: a few pages.
    for t in 0..20 {
        get(format!("/t/{}", tenants[t].id)).await?;
    }
    let pages = 500;
    let mut runs = Vec::with_capacity(pages);
    let mut bytes = 0;
    for i in 0..pages {
        let t = (mix(i as u64) % NATIONAL_TENANTS as u64) as usize;
        let (ms, n) = get(format!("/t/{}", tenants[t].id)).await?;
        runs.push(ms);
        bytes = n;
    }
    let (p50, p95, max) = spread(&mut runs);
    println!(
        "{}",
        json!({
            "scenario": "report_national_dashboard",
            "requests": pages,
            "tenants": NATIONAL_TENANTS,
            "page_bytes": bytes,
            "p50_ms": p50,
            "p95_ms": p95,
            "max_ms": max,
            "load_average": load_average(),
            "budget_ms_p95": 100,
            "within_budget": p95 <= 100.0,
        })
    );
    let mut runs = Vec::new();
    for sort in ["name", "active", "failures"] {
        let (ms, _) = get(format!("/operator?sort={sort}&dir=desc&page=2")).await?;
        runs.push(ms);
    }
    let (median, _, max) = spread(&mut runs);
    println!(
        "{}",
        json!({
            "scenario": "report_national_operator_page",
            "requests": runs.len(),
            "median_ms": median,
            "max_ms": max,
            "load_average": load_average(),
        })
    );
    let _ = stop.send(());
    launched.task.await??;
    Ok(())
}

// ---- dispatch ---------------------------------------------------------------

/// Which sender a dispatch run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plugin,
    Native,
}

struct DispatchRun {
    deliveries: u64,
    seconds: f64,
    cpu_seconds: f64,
    /// Sender calls (for the plugin: calls, each on a fresh instance) and
    /// the batches they carried.
    calls: u64,
    batches: u64,
    /// The dispatcher's settings.
    settings: Value,
    fake: Value,
}

impl DispatchRun {
    fn per_second(&self) -> f64 {
        self.deliveries as f64 / self.seconds
    }

    fn per_cpu_second(&self) -> f64 {
        self.deliveries as f64 / self.cpu_seconds
    }

    /// The printed line: the scenario's own fields and the run's figures.
    fn line(&self, scenario: Value) -> Value {
        let mut line = scenario;
        let figures = json!({
            "deliveries": self.deliveries,
            "seconds": self.seconds,
            "per_second": self.per_second(),
            "cpu_seconds": self.cpu_seconds,
            "per_cpu_second": self.per_cpu_second(),
            "calls": self.calls,
            "calls_per_delivery": self.calls as f64 / self.deliveries as f64,
            "batches_per_call": self.batches as f64 / self.calls.max(1) as f64,
            "dispatcher": self.settings,
            "fake_line": self.fake,
            "load_average": load_average(),
        });
        if let (Some(line), Value::Object(figures)) = (line.as_object_mut(), figures) {
            line.extend(figures);
        }
        line
    }
}

async fn dispatch_pair(
    dir: &tempfile::TempDir,
    fake: &FakeLine,
    key: &SecretKey,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (url, store) = new_store(dir, "dispatch-template.db").await?;
    publish_bundled(&store).await?;
    for t in 0..dispatch_tenants() {
        tenant_with_children(&store, fake, key, t, DISPATCH_CHILDREN_PER_TENANT).await?;
    }
    let planned = planner(&store).run_once().await?;
    progress(
        &format!("dispatch: set up, {} deliveries planned", planned.inserted),
        started,
    );
    let setup = started.elapsed().as_secs_f64();
    // Each run starts from its own copy of the planned day. The machine's
    // speed drifts (other processes, the vCPUs' neighbours), so the two
    // senders take turns, round after round, and the medians are compared.
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DISPATCH_ROUNDS);
    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Mode::Plugin, Mode::Native]
        } else {
            [Mode::Native, Mode::Plugin]
        };
        for mode in order {
            let copy = dir.path().join(format!("dispatch-{mode:?}-{round}.db"));
            copy_database(&url, &copy).await?;
            let store = tayori_store::connect(&format!("sqlite://{}", copy.display())).await?;
            let run = dispatch(&store, fake, key, mode, planned.inserted).await?;
            progress(
                &format!(
                    "dispatch: round {round} {mode:?} drained, {:.0}/s",
                    run.per_second()
                ),
                started,
            );
            drop(store);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
            }
            match mode {
                Mode::Plugin => wasm.push(run),
                Mode::Native => native.push(run),
            }
        }
    }
    let per_second =
        |runs: &[DispatchRun]| -> Vec<f64> { runs.iter().map(DispatchRun::per_second).collect() };
    // The ceiling: the same number of pushes straight at the fake, as many
    // in flight as the dispatcher's default calls have (no store, no plan).
    let raw = raw_http(fake, planned.inserted).await?;
    println!(
        "{}",
        json!({
            "scenario": "dispatch_raw_http",
            "sender": "raw HTTP loop (reqwest, no dispatcher)",
            "deliveries": planned.inserted,
            "seconds": raw.0,
            "per_second": planned.inserted as f64 / raw.0,
            "in_flight": RAW_IN_FLIGHT,
            "fake_line": fake.summary(),
        })
    );
    let (w, n) = (median_run(&wasm), median_run(&native));
    println!(
        "{}",
        w.line(json!({
            "scenario": "dispatch_line",
            "sender": "line plugin (wasm)",
            "tenants": dispatch_tenants(),
            "setup_seconds": setup,
            "rounds_per_second": per_second(&wasm),
            "budget_per_second": 12_000,
            "budget_calls_per_delivery": 0.05,
            "within_budget": w.per_second() >= 12_000.0
                && (w.calls as f64) <= 0.05 * w.deliveries as f64,
        }))
    );
    let ratio = w.per_second() / n.per_second();
    println!(
        "{}",
        n.line(json!({
            "scenario": "dispatch_native",
            "sender": "native Rust (reqwest)",
            "tenants": dispatch_tenants(),
            "rounds_per_second": per_second(&native),
            "wasm_native_ratio": ratio,
            "wasm_native_ratio_by_round": wasm
                .iter()
                .zip(&native)
                .map(|(w, n)| w.per_second() / n.per_second())
                .collect::<Vec<_>>(),
            "wasm_native_ratio_per_cpu_second": w.per_cpu_second() / n.per_cpu_second(),
            "budget_ratio": 0.90,
            "within_budget": ratio >= 0.90,
        }))
    );
    Ok(())
}

/// Requests in flight in the raw HTTP loop: the dispatcher's default
/// calls in flight (3 workers × 16) × the plugin's 20 pushes at a time,
/// capped at the 64 pooled connections a host keeps.
const RAW_IN_FLIGHT: usize = 64;

/// `n` pushes straight at the fake, [`RAW_IN_FLIGHT`] at a time; seconds.
async fn raw_http(fake: &FakeLine, n: u64) -> anyhow::Result<(f64,)> {
    use futures::StreamExt;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(RAW_IN_FLIGHT)
        .tcp_nodelay(true)
        .build()?;
    let auth = format!("Bearer {}", token("t0000"));
    fake.tokens.lock().expect("tokens").insert(auth.clone());
    fake.reset();
    let url = format!("{}/v2/bot/message/push", fake.api_base());
    let started = Instant::now();
    let failures = futures::stream::iter(0..n)
        .map(|i| {
            let request = http
                .post(&url)
                .header("authorization", &auth)
                .header(
                    "x-line-retry-key",
                    format!("00000000-0000-4000-8000-{i:012x}"),
                )
                .json(&json!({
                    "to": format!("U{:032x}", i),
                    "messages": [{"type": "text", "text": "妊娠4週0日です。水分をこまめにとりましょう。"}],
                }));
            async move { request.send().await.map(|r| r.status().is_success()).unwrap_or(false) }
        })
        .buffer_unordered(RAW_IN_FLIGHT)
        .filter(|ok| std::future::ready(!ok))
        .count()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        failures == 0,
        "raw HTTP: {failures} pushes refused: {}",
        fake.summary()
    );
    Ok((seconds,))
}

/// The run of median throughput (the lower middle one of an even number).
fn median_run(runs: &[DispatchRun]) -> &DispatchRun {
    let mut sorted: Vec<&DispatchRun> = runs.iter().collect();
    sorted.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    sorted[(sorted.len() - 1) / 2]
}

/// A consistent copy of a SQLite database (`VACUUM INTO`).
async fn copy_database(url: &str, to: &std::path::Path) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let _ = std::fs::remove_file(to);
    let mut conn = sqlx::SqliteConnection::connect(url).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(to.display().to_string())
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Runs a dispatcher (default settings) until the `expected` due
/// deliveries are all sent; checks the fake accepted each exactly once.
async fn dispatch(
    store: &Arc<dyn Store>,
    fake: &FakeLine,
    key: &SecretKey,
    mode: Mode,
    expected: u64,
) -> anyhow::Result<DispatchRun> {
    let clock = Arc::new(ManualClock::new(now()));
    let plugins = Plugins::open(Runtime::new(RuntimeConfig::default())?, store.clone()).await?;
    let decrypt_key = key.clone();
    let plugin_senders = Arc::new(PluginSenders::new(
        plugins.clone(),
        Arc::new(move |channel: &Channel| {
            decrypt_key
                .channel_config(channel)
                .map_err(|e| format!("cannot open the channel's secrets: {e}"))
        }),
    ));
    // The native sender must be held to the plugin's limits.
    let tenant = store.tenants().await?.into_iter().next().expect("a tenant");
    let channel = store.channel(&tenant.id, "line").await?;
    let plugin_limits = plugin_senders
        .sender(&tenant, &channel)
        .await
        .map_err(|e| anyhow::anyhow!(e))?
        .limits();
    anyhow::ensure!(
        plugin_limits == native_limits(),
        "the LINE plugin's limits changed: {plugin_limits:?}"
    );
    let senders: Arc<dyn Senders> = match mode {
        Mode::Plugin => plugin_senders as Arc<dyn Senders>,
        Mode::Native => Arc::new(NativeSenders {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .pool_idle_timeout(Duration::from_secs(60))
                .tcp_nodelay(true)
                .build()?,
            key: key.clone(),
        }),
    };
    let counts = Arc::new(CallCounts::default());
    let senders: Arc<dyn Senders> = Arc::new(Counting {
        inner: senders,
        counts: counts.clone(),
    });
    fake.reset();
    let config = dispatch_config();
    let settings = json!({
        "workers": config.workers,
        "concurrency": config.concurrency,
        "claim_size": config.claim_size,
    });
    let dispatcher = Arc::new(Dispatcher::new(store.clone(), senders, clock, config));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let task = tokio::spawn(dispatcher.clone().run(stopped));
    let now_ms = now().timestamp_millis();
    let mut last = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let accepted = fake.accepted.load(Ordering::Relaxed);
        if accepted >= expected {
            let s = store.outbox_stats(now_ms).await?;
            if s.pending == 0 && s.in_flight == 0 {
                break;
            }
        } else if accepted != last.0 {
            last = (accepted, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            let s = store.outbox_stats(now_ms).await?;
            anyhow::bail!(
                "{mode:?}: no progress for 30 s at {accepted} of {expected} accepted; outbox {s:?}; fake {}",
                fake.summary()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let _ = stop.send(true);
    task.await?;
    let summary = fake.summary();
    anyhow::ensure!(
        fake.accepted.load(Ordering::Relaxed) == expected
            && fake.duplicates.load(Ordering::Relaxed) == 0
            && fake.refused.load(Ordering::Relaxed) == 0,
        "{mode:?}: every delivery must be accepted exactly once: {summary}"
    );
    Ok(DispatchRun {
        deliveries: expected,
        seconds,
        cpu_seconds: cpu,
        calls: counts.calls.load(Ordering::Relaxed),
        batches: counts.batches.load(Ordering::Relaxed),
        settings,
        fake: summary,
    })
}

/// Tenants of the dispatch pair: [`DISPATCH_TENANTS`], or
/// `BENCH_DISPATCH_TENANTS` (fewer for a quick look).
fn dispatch_tenants() -> usize {
    std::env::var("BENCH_DISPATCH_TENANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DISPATCH_TENANTS)
}

/// The dispatcher's defaults, or (to try others) `BENCH_WORKERS`,
/// `BENCH_CONCURRENCY` and `BENCH_CLAIM_SIZE` from the environment.
fn dispatch_config() -> DispatchConfig {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let mut config = DispatchConfig::default();
    if let Some(n) = var("BENCH_WORKERS") {
        config.workers = n;
    }
    if let Some(n) = var("BENCH_CONCURRENCY") {
        config.concurrency = n;
    }
    if let Some(n) = var("BENCH_CLAIM_SIZE") {
        config.claim_size = n as u32;
    }
    config
}

fn native_limits() -> SendLimits {
    SendLimits {
        max_batch: LINE_MAX_BATCH,
        // As the bundled LINE plugin declares and the runtime caps.
        max_batches_per_call: LINE_MAX_BATCHES_PER_CALL,
        max_recipients_per_call: 1_000,
        rate_per_second: LINE_RATE,
        windows: Vec::new(),
    }
}

/// A native LINE sender: what the bundled plugin does (push per recipient
/// with the delivery's key as the retry key, 20 at a time; multicast from
/// 50 distinct recipients), in Rust compiled into the host.
struct NativeSenders {
    http: reqwest::Client,
    key: SecretKey,
}

struct NativeSender {
    http: reqwest::Client,
    api_base: String,
    authorization: String,
}

#[async_trait::async_trait]
impl Senders for NativeSenders {
    async fn sender(&self, _tenant: &Tenant, channel: &Channel) -> Result<Arc<dyn Sender>, String> {
        let config = self
            .key
            .channel_config(channel)
            .map_err(|e| e.to_string())?;
        let token = config["channel_access_token"]
            .as_str()
            .ok_or("no channel_access_token")?;
        Ok(Arc::new(NativeSender {
            http: self.http.clone(),
            api_base: config["api_base"]
                .as_str()
                .ok_or("no api_base")?
                .trim_end_matches('/')
                .to_string(),
            authorization: format!("Bearer {token}"),
        }))
    }
}

/// Sender calls and the batches they carried, counted in the run.
#[derive(Default)]
struct CallCounts {
    calls: AtomicU64,
    batches: AtomicU64,
}

/// Senders whose every call is counted (the plugin's calls are its
/// instantiations: each runs on a fresh instance).
struct Counting {
    inner: Arc<dyn Senders>,
    counts: Arc<CallCounts>,
}

#[async_trait::async_trait]
impl Senders for Counting {
    async fn sender(&self, tenant: &Tenant, channel: &Channel) -> Result<Arc<dyn Sender>, String> {
        Ok(Arc::new(CountingSender {
            inner: self.inner.sender(tenant, channel).await?,
            counts: self.counts.clone(),
        }))
    }
}

struct CountingSender {
    inner: Arc<dyn Sender>,
    counts: Arc<CallCounts>,
}

#[async_trait::async_trait]
impl Sender for CountingSender {
    fn version(&self) -> String {
        self.inner.version()
    }

    fn limits(&self) -> SendLimits {
        self.inner.limits()
    }

    async fn deliver(&self, batches: &[Batch]) -> Result<Vec<Outcome>, SendError> {
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        self.counts
            .batches
            .fetch_add(batches.len() as u64, Ordering::Relaxed);
        self.inner.deliver(batches).await
    }
}

/// LINE's answer to a push.
#[derive(Deserialize)]
struct PushAnswer {
    #[serde(rename = "sentMessages", default)]
    sent_messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

impl NativeSender {
    async fn push(&self, r: &tayori_core::Recipient, messages: &Value) -> Outcome {
        let body = json!({ "to": r.address, "messages": messages });
        let status = match self
            .post("/v2/bot/message/push", &r.idempotency_key, &body)
            .await
        {
            Ok((200 | 409, bytes)) => {
                let ids = serde_json::from_slice::<PushAnswer>(&bytes)
                    .map(|a| {
                        a.sent_messages
                            .into_iter()
                            .map(|m| m.id)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .ok()
                    .filter(|ids| !ids.is_empty());
                DeliveryStatus::Accepted(ids)
            }
            Ok((status, _)) => {
                DeliveryStatus::Failed(Failure::transient(format!("LINE answered {status}")))
            }
            Err(e) => DeliveryStatus::Failed(Failure::transient(e)),
        };
        Outcome {
            idempotency_key: r.idempotency_key.clone(),
            status,
        }
    }

    async fn post(
        &self,
        path: &str,
        retry_key: &str,
        body: &Value,
    ) -> Result<(u16, Bytes), String> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_base))
            .header("authorization", &self.authorization)
            .header("x-line-retry-key", retry_key)
            .json(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, bytes))
    }
}

#[async_trait::async_trait]
impl Sender for NativeSender {
    fn version(&self) -> String {
        "native".into()
    }

    fn limits(&self) -> SendLimits {
        native_limits()
    }

    async fn deliver(&self, batches: &[Batch]) -> Result<Vec<Outcome>, SendError> {
        let each = futures::future::join_all(batches.iter().map(|b| self.deliver_one(b))).await;
        let mut all = Vec::new();
        for outcomes in each {
            all.extend(outcomes?);
        }
        Ok(all)
    }
}

impl NativeSender {
    async fn deliver_one(&self, batch: &Batch) -> Result<Vec<Outcome>, SendError> {
        use futures::StreamExt;
        let text = match batch.content.subject.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => format!("{s}\n\n{}", batch.content.body.trim()),
            _ => batch.content.body.trim().to_string(),
        };
        let messages = json!([{ "type": "text", "text": text }]);
        let failed = |r: &tayori_core::Recipient, e: String| Outcome {
            idempotency_key: r.idempotency_key.clone(),
            status: DeliveryStatus::Failed(Failure::transient(e)),
        };
        let distinct: HashSet<&str> = batch
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        if distinct.len() == batch.recipients.len() && distinct.len() >= LINE_MULTICAST_FROM {
            let mut keys: Vec<&str> = batch
                .recipients
                .iter()
                .map(|r| r.idempotency_key.as_str())
                .collect();
            keys.sort_unstable();
            let key = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, keys.join("\n").as_bytes());
            let to: Vec<&str> = batch
                .recipients
                .iter()
                .map(|r| r.address.as_str())
                .collect();
            let result = self
                .post(
                    "/v2/bot/message/multicast",
                    &key.to_string(),
                    &json!({ "to": to, "messages": messages }),
                )
                .await;
            return Ok(batch
                .recipients
                .iter()
                .map(|r| match &result {
                    Ok((200 | 409, _)) => Outcome {
                        idempotency_key: r.idempotency_key.clone(),
                        status: DeliveryStatus::Accepted(None),
                    },
                    Ok((status, _)) => failed(r, format!("LINE answered {status}")),
                    Err(e) => failed(r, e.clone()),
                })
                .collect());
        }
        let pushes: Vec<_> = batch
            .recipients
            .iter()
            .map(|r| self.push(r, &messages))
            .collect();
        let outcomes = futures::stream::iter(pushes)
            .buffered(LINE_PUSH_WAVE)
            .collect()
            .await;
        Ok(outcomes)
    }
}

// ---- the fake LINE ----------------------------------------------------------

/// LINE's Messaging API push and multicast, on 127.0.0.1.
struct FakeLine {
    addr: std::net::SocketAddr,
    /// `Bearer <token>` of every channel.
    tokens: Mutex<HashSet<String>>,
    /// Retry keys accepted (LINE accepts a key once).
    keys: Mutex<HashSet<u128>>,
    /// Recipients accepted.
    accepted: AtomicU64,
    pushes: AtomicU64,
    multicasts: AtomicU64,
    /// Requests whose retry key was already accepted (409).
    duplicates: AtomicU64,
    /// Requests refused (bad token, key or body).
    refused: AtomicU64,
}

#[derive(Deserialize)]
struct TextMessage {
    #[serde(rename = "type")]
    kind: String,
    text: String,
}

#[derive(Deserialize)]
struct PushBody {
    to: String,
    messages: Vec<TextMessage>,
}

#[derive(Deserialize)]
struct MulticastBody {
    to: Vec<String>,
    messages: Vec<TextMessage>,
}

impl FakeLine {
    async fn start() -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let fake = Arc::new(Self {
            addr: listener.local_addr()?,
            tokens: Mutex::new(HashSet::new()),
            keys: Mutex::new(HashSet::new()),
            accepted: AtomicU64::new(0),
            pushes: AtomicU64::new(0),
            multicasts: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .route("/v2/bot/message/push", axum::routing::post(push))
            .route("/v2/bot/message/multicast", axum::routing::post(multicast))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(fake)
    }

    fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn reset(&self) {
        self.keys.lock().expect("keys").clear();
        for c in [
            &self.accepted,
            &self.pushes,
            &self.multicasts,
            &self.duplicates,
            &self.refused,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    fn summary(&self) -> Value {
        json!({
            "accepted": self.accepted.load(Ordering::Relaxed),
            "push_requests": self.pushes.load(Ordering::Relaxed),
            "multicast_requests": self.multicasts.load(Ordering::Relaxed),
            "duplicate_retry_keys": self.duplicates.load(Ordering::Relaxed),
            "refused": self.refused.load(Ordering::Relaxed),
        })
    }

    /// The checks every request passes: bearer token, a UUID retry key (new,
    /// or 409), JSON. `Ok(None)`: accept.
    fn check(&self, headers: &HeaderMap) -> Result<(), Response> {
        let refuse = |status: StatusCode, message: &str| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Err((status, axum::Json(json!({ "message": message }))).into_response())
        };
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.tokens.lock().expect("tokens").contains(auth) {
            return refuse(StatusCode::UNAUTHORIZED, "Authentication failed");
        }
        let key = headers
            .get("x-line-retry-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| k.len() == 36)
            .and_then(|k| uuid::Uuid::try_parse(k).ok());
        let Some(key) = key else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The value for the 'X-Line-Retry-Key' header is invalid",
            );
        };
        if !self.keys.lock().expect("keys").insert(key.as_u128()) {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return Err((
                StatusCode::CONFLICT,
                axum::Json(json!({
                    "message": "The retry key is already accepted",
                    "sentMessages": [{ "id": "0", "quoteToken": "q" }],
                })),
            )
                .into_response());
        }
        Ok(())
    }
}

fn valid_messages(messages: &[TextMessage]) -> bool {
    (1..=5).contains(&messages.len())
        && messages.iter().all(|m| {
            m.kind == "text" && !m.text.is_empty() && m.text.encode_utf16().count() <= 5_000
        })
}

fn user_id(to: &str) -> bool {
    to.len() == 33 && to.starts_with('U')
}

async fn push(State(fake): State<Arc<FakeLine>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<PushBody>(&body) else {
        fake.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST.into_response();
    };
    if !user_id(&request.to) || !valid_messages(&request.messages) {
        fake.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST.into_response();
    }
    if let Err(response) = fake.check(&headers) {
        return response;
    }
    let n = fake.pushes.fetch_add(1, Ordering::Relaxed);
    fake.accepted.fetch_add(1, Ordering::Relaxed);
    let sent: Vec<Value> = (0..request.messages.len())
        .map(|i| json!({ "id": format!("{n}{i:02}"), "quoteToken": format!("q{n}{i}") }))
        .collect();
    axum::Json(json!({ "sentMessages": sent })).into_response()
}

async fn multicast(State(fake): State<Arc<FakeLine>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<MulticastBody>(&body) else {
        fake.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST.into_response();
    };
    if request.to.is_empty()
        || request.to.len() > LINE_MAX_BATCH
        || !request.to.iter().all(|t| user_id(t))
        || !valid_messages(&request.messages)
    {
        fake.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST.into_response();
    }
    if let Err(response) = fake.check(&headers) {
        return response;
    }
    fake.multicasts.fetch_add(1, Ordering::Relaxed);
    fake.accepted
        .fetch_add(request.to.len() as u64, Ordering::Relaxed);
    axum::Json(json!({})).into_response()
}
