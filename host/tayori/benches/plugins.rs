//! Plugin runtime benchmarks (issue budgets): instantiate + `deliver` of a
//! one-recipient batch with no HTTP, single task and across 2 cores; upload
//! to active of a real plugin; restart loading 50 stored plugins.
//!
//! Run: `cargo bench -p tayori --bench plugins`. Prints one JSON line per
//! scenario. The machine is shared: the `deliver` lines carry the 1-minute
//! load average, and the 2-core line also the calls per CPU-second the
//! process used, which other processes' load disturbs far less than the
//! wall-clock rate.

/// The binary's allocator (`src/main.rs`), so that the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tayori_core::{Batch, Content, PluginVersionRecord, Recipient};
use tayori_runtime::{CallContext, Plugins, Runtime, RuntimeConfig, Uploader};

fn batch() -> Batch {
    Batch {
        message_id: "child-day-1".into(),
        content: Content {
            subject: None,
            body: "おめでとうございます".into(),
            locale: "ja".into(),
            ..Content::default()
        },
        recipients: vec![Recipient {
            address: "U0123".into(),
            idempotency_key: "00000000-0000-4000-8000-000000000001".into(),
            unsubscribe_url: None,
        }],
    }
}

fn main() -> anyhow::Result<()> {
    let rt = if std::env::var_os("BENCH_CURRENT_THREAD").is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    };
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "push") {
        // On a worker thread, as the dispatcher's calls are.
        return tokio::spawn(push_over_http()).await?;
    }
    let echo = std::fs::read(tayori_plugin_artifacts::ECHO)?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let plugin = runtime
        .prepare(&echo)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .plugin;
    let config = json!({ "endpoint": "http://127.0.0.1:9/", "skip_http": true }).to_string();
    let ctx = CallContext::default();
    let b = batch();

    // Warm up.
    for _ in 0..2_000 {
        runtime
            .deliver(&plugin, &ctx, &config, std::slice::from_ref(&b))
            .await
            .result?;
    }

    // Single task: per-call latency.
    let n = 20_000;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        runtime
            .deliver(&plugin, &ctx, &config, std::slice::from_ref(&b))
            .await
            .result?;
        samples.push(t.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6;
    println!(
        "{}",
        json!({ "scenario": "deliver_1_recipient_no_http_single_task", "calls": n, "median_us": pct(0.5), "p99_us": pct(0.99), "load_1m": load_average() })
    );

    // Throughput across the 2 worker threads.
    let tasks = 4;
    let per_task = 50_000;
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (runtime, plugin, config, b) =
            (runtime.clone(), plugin.clone(), config.clone(), b.clone());
        handles.push(tokio::spawn(async move {
            let ctx = CallContext::default();
            for _ in 0..per_task {
                runtime
                    .deliver(&plugin, &ctx, &config, std::slice::from_ref(&b))
                    .await
                    .result
                    .expect("deliver");
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let total = tasks * per_task;
    println!(
        "{}",
        json!({ "scenario": "deliver_1_recipient_no_http_2_cores", "calls": total, "seconds": elapsed.as_secs_f64(), "calls_per_second": total as f64 / elapsed.as_secs_f64(), "calls_per_cpu_second": cpu.map(|c| total as f64 / c), "load_1m": load_average() })
    );

    // `cargo bench -p tayori --bench plugins -- deliver` stops here (for profiling).
    if std::env::args().any(|a| a == "deliver") {
        return Ok(());
    }

    // Upload → active (check, compile, store, publish) of the real plugin,
    // into a fresh SQLite database.
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = tayori_store::connect(&url).await?;
    let plugins = Plugins::open(Runtime::new(RuntimeConfig::default())?, store.clone()).await?;
    let biggest = bundled_or_echo();
    let t = Instant::now();
    let (record, _) = plugins
        .upload(&biggest.1, &Uploader::Operator)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let upload = t.elapsed();
    assert!(plugins.resolve(&record.plugin_id, None, None).is_some());
    println!(
        "{}",
        json!({ "scenario": "upload_to_active", "plugin": biggest.0, "bytes": biggest.1.len(), "ms": ms(upload) })
    );

    // Restart with 50 stored plugin versions: the first open compiles and
    // stores artifacts, the second (the restart) loads them.
    for i in 0..50u64 {
        let mut bytes = echo.clone();
        append_custom_section(&mut bytes, i);
        let mut rec: PluginVersionRecord = record.clone();
        rec.plugin_id = format!("bench-{i}");
        rec.version = semver::Version::new(1, 0, i);
        rec.manifest.id = rec.plugin_id.clone();
        rec.manifest.version = rec.version.clone();
        rec.digest = hex_digest(&bytes);
        rec.size = bytes.len() as u64;
        store.insert_plugin_version(&rec, &bytes).await?;
    }
    drop(plugins);
    let first = Plugins::open(Runtime::new(RuntimeConfig::default())?, store.clone()).await?;
    assert!(first.load_stats().compiled >= 50);
    drop(first);
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let t = Instant::now();
    let restarted = Plugins::open(runtime, store.clone()).await?;
    let restart = t.elapsed();
    let stats = restarted.load_stats();
    assert_eq!(stats.compiled, 0);
    println!(
        "{}",
        json!({ "scenario": "restart_load_stored_plugins", "plugins": stats.from_artifact, "ms": ms(restart) })
    );
    Ok(())
}

/// CPU seconds (user and system, all threads) this process has used, from
/// `/proc/self/stat` (Linux; `None` elsewhere).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses: utime and
    // stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The 1-minute load average (Linux; `None` elsewhere).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The largest bundled plugin (a real platform plugin), or echo if none yet.
fn bundled_or_echo() -> (String, Arc<Vec<u8>>) {
    tayori_plugin_artifacts::BUNDLED
        .iter()
        .max_by_key(|(_, b)| b.len())
        .map(|(n, b)| (n.to_string(), Arc::new(b.to_vec())))
        .unwrap_or_else(|| {
            (
                "echo".into(),
                Arc::new(std::fs::read(tayori_plugin_artifacts::ECHO).expect("echo")),
            )
        })
}

fn append_custom_section(bytes: &mut Vec<u8>, i: u64) {
    let name = b"bench";
    let payload = i.to_le_bytes();
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
}

fn hex_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn json_str(json: &str, field: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("the bench's own config");
    v[field].as_str().unwrap_or_default().to_string()
}

/// One LINE push through the bundled LINE plugin (instantiate, `deliver`,
/// `wasi:http` to a fake LINE on 127.0.0.1), against the same push made by
/// reqwest directly: what a delivery costs in the plugin beyond its HTTP.
/// `cargo bench -p tayori --bench plugins -- push`.
async fn push_over_http() -> anyhow::Result<()> {
    let app = axum::Router::new().route(
        "/v2/bot/message/push",
        axum::routing::post(|| async {
            axum::Json(json!({ "sentMessages": [{ "id": "1", "quoteToken": "q" }] }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let line = tayori_plugin_artifacts::BUNDLED
        .iter()
        .find(|(name, _)| *name == "line")
        .map(|(_, bytes)| bytes.to_vec())
        .ok_or_else(|| anyhow::anyhow!("no bundled line plugin"))?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let plugin = runtime
        .prepare(&line)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .plugin;
    // `BENCH_PUSH_HOST=localhost`: the plugin reaches the fake by name, as
    // it reaches `api.line.me` (the name's private address approved too).
    let host = std::env::var("BENCH_PUSH_HOST").unwrap_or_else(|_| addr.ip().to_string());
    let authority = format!("{host}:{}", addr.port());
    let config = json!({
        "channel_access_token": "token",
        "api_base": format!("http://{authority}"),
        "mode": "push_only",
    })
    .to_string();
    let ctx = CallContext {
        approved_hosts: vec![authority, addr.to_string()],
        ..CallContext::default()
    };
    let mut b = batch();
    b.recipients[0].address = format!("U{:032x}", 1);
    let n = 5_000;
    let measure = |samples: &mut Vec<Duration>| {
        samples.sort();
        samples[samples.len() / 2].as_secs_f64() * 1e6
    };
    for round in 0..3 {
        let mut samples = Vec::with_capacity(n);
        let cpu = cpu_seconds();
        for i in 0..n {
            b.recipients[0].idempotency_key = uuid::Uuid::new_v4().to_string();
            let t = Instant::now();
            let outcomes = runtime
                .deliver(&plugin, &ctx, &config, std::slice::from_ref(&b))
                .await
                .result?;
            samples.push(t.elapsed());
            if i == 0 {
                anyhow::ensure!(
                    matches!(outcomes[0].status, tayori_core::DeliveryStatus::Accepted(_)),
                    "{outcomes:?}"
                );
            }
        }
        let plugin_cpu = cpu
            .zip(cpu_seconds())
            .map(|(a, b)| (b - a) / n as f64 * 1e6);
        let plugin_median = measure(&mut samples);
        if std::env::var_os("BENCH_PLUGIN_ONLY").is_some() {
            println!(
                "{}",
                json!({ "plugin_median_us": plugin_median, "plugin_cpu_us": plugin_cpu })
            );
            continue;
        }
        let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
        let url = format!("{}/v2/bot/message/push", json_str(&config, "api_base"));
        let mut samples = Vec::with_capacity(n);
        let cpu = cpu_seconds();
        for _ in 0..n {
            let t = Instant::now();
            let body = json!({ "to": b.recipients[0].address, "messages": [{ "type": "text", "text": b.content.body }] });
            let r = http
                .post(&url)
                .bearer_auth("token")
                .header("x-line-retry-key", uuid::Uuid::new_v4().to_string())
                .json(&body)
                .send()
                .await?;
            let _: serde_json::Value = r.json().await?;
            samples.push(t.elapsed());
        }
        let native_cpu = cpu
            .zip(cpu_seconds())
            .map(|(a, b)| (b - a) / n as f64 * 1e6);
        let native_median = measure(&mut samples);
        println!(
            "{}",
            json!({ "scenario": "line_push_over_http_single_task", "round": round, "calls": n,
                    "plugin_median_us": plugin_median, "plugin_cpu_us": plugin_cpu,
                    "reqwest_median_us": native_median, "reqwest_cpu_us": native_cpu,
                    "load_1m": load_average() })
        );
    }
    Ok(())
}
