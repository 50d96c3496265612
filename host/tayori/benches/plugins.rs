//! Plugin runtime benchmarks (issue budgets): instantiate + `deliver` of a
//! one-recipient batch with no HTTP, single task and across 2 cores; upload
//! to active of a real plugin; restart loading 50 stored plugins.
//!
//! Run: `cargo bench -p tayori --bench plugins`. Prints one JSON line per
//! scenario. The machine is shared: the `deliver` lines carry the 1-minute
//! load average, and the 2-core line also the calls per CPU-second the
//! process used, which other processes' load disturbs far less than the
//! wall-clock rate.

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
        },
        recipients: vec![Recipient {
            address: "U0123".into(),
            idempotency_key: "00000000-0000-4000-8000-000000000001".into(),
        }],
    }
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

async fn run() -> anyhow::Result<()> {
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
        runtime.deliver(&plugin, &ctx, &config, &b).await.result?;
    }

    // Single task: per-call latency.
    let n = 20_000;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        runtime.deliver(&plugin, &ctx, &config, &b).await.result?;
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
                    .deliver(&plugin, &ctx, &config, &b)
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
