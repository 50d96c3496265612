//! Subscriber registration under concurrency, at the store (issue 3's budget
//! for the whole API: p99 ≤ 10 ms with 50 concurrent clients on SQLite).
//!
//! ```sh
//! cargo bench -p tayori-store --bench create
//! ```
//!
//! 50 tasks each create subscribers back to back (one LINE contact, one
//! child) for a fixed number of rounds; prints one JSON line with the
//! throughput and latency percentiles of `create_subscriber`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tayori_core::{Locale, NewChild, NewContact, NewSubscriber, NewTenant, Store};

const CLIENTS: usize = 50;
const PER_CLIENT: usize = 200;

async fn client(store: Arc<dyn Store>, client: usize) -> Vec<Duration> {
    let due = NaiveDate::from_ymd_opt(2027, 5, 1).expect("a date");
    let mut latencies = Vec::with_capacity(PER_CLIENT);
    for i in 0..PER_CLIENT {
        let new = NewSubscriber {
            external_id: None,
            locale: Locale::Ja,
            contacts: vec![NewContact {
                channel: "line".into(),
                address: format!("U{client:04}{i:06}"),
            }],
            children: vec![NewChild::due(due)],
        };
        let start = Instant::now();
        store
            .create_subscriber("bench", &new)
            .await
            .expect("create a subscriber");
        latencies.push(start.elapsed());
    }
    latencies
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("tayori-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let store = tayori_store::connect(&url).await.expect("open SQLite");
    store
        .create_tenant(&NewTenant::new("bench", "Bench City"))
        .await
        .expect("create the tenant");

    let start = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(client(store.clone(), c)))
        .collect();
    let mut all = Vec::with_capacity(CLIENTS * PER_CLIENT);
    for t in tasks {
        all.extend(t.await.expect("a client"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "{{\"scenario\":\"create_subscriber\",\"engine\":\"sqlite\",\"clients\":{CLIENTS},\
         \"creates\":{},\"per_second\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
