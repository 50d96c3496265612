//! Bulk import of 100,000 subscribers (issue 3's budget: ≤ 10 s on SQLite).
//!
//! ```sh
//! cargo bench -p tayori-store --bench import
//! # also on PostgreSQL, in a scratch schema that is dropped afterwards:
//! TAYORI_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tayori-store --bench import
//! ```
//!
//! Prints one JSON line per scenario: a first import into an empty tenant, a
//! re-import of the same file (idempotent: nothing changes), and a re-import
//! in which one row in ten reports a birth. Each file has 100,000 households:
//! one LINE contact each, an email contact for one in four, one child each
//! (expecting or born), a second child for one in ten.

use std::time::Instant;

use chrono::{Days, NaiveDate};
use sqlx::{Connection, Executor};
use tayori_core::{ImportRow, Locale, NewChild, NewContact, NewTenant, Store};

const SUBSCRIBERS: usize = 100_000;

fn rows() -> Vec<ImportRow> {
    let base = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    (0..SUBSCRIBERS)
        .map(|i| {
            let mut contacts = vec![NewContact {
                channel: "line".into(),
                address: format!("U{i:032x}"),
            }];
            if i % 4 == 0 {
                contacts.push(NewContact {
                    channel: "email".into(),
                    address: format!("parent{i}@example.jp"),
                });
            }
            let day = base + Days::new((i % 900) as u64);
            let mut children = vec![if i % 2 == 0 {
                NewChild::due(day)
            } else {
                NewChild::born(day)
            }];
            if i % 10 == 0 {
                children.push(NewChild::born(base - Days::new(700)));
            }
            ImportRow {
                external_id: format!("K{i:07}"),
                locale: if i % 7 == 0 {
                    Locale::JaEasy
                } else {
                    Locale::Ja
                },
                contacts,
                children,
            }
        })
        .collect()
}

async fn run(engine: &str, store: &dyn Store) {
    store
        .create_tenant(&NewTenant::new("bench", "Bench City"))
        .await
        .expect("create the tenant");
    let mut file = rows();
    let scenario = |name: &str, seconds: f64, summary: tayori_core::ImportSummary| {
        println!(
            "{{\"scenario\":\"{name}\",\"engine\":\"{engine}\",\"subscribers\":{SUBSCRIBERS},\
             \"seconds\":{seconds:.3},\"per_second\":{:.0},\"created\":{},\"updated\":{},\"unchanged\":{}}}",
            SUBSCRIBERS as f64 / seconds,
            summary.created,
            summary.updated,
            summary.unchanged
        );
    };

    let start = Instant::now();
    let summary = store
        .import_subscribers("bench", &file)
        .await
        .expect("first import");
    scenario("import_new", start.elapsed().as_secs_f64(), summary);

    let start = Instant::now();
    let summary = store
        .import_subscribers("bench", &file)
        .await
        .expect("re-import");
    scenario("reimport_unchanged", start.elapsed().as_secs_f64(), summary);

    for row in file.iter_mut().step_by(10) {
        if row.children[0].birth_date.is_none() {
            row.children[0].birth_date = row.children[0].due_date;
        } else {
            row.locale = Locale::En;
        }
    }
    let start = Instant::now();
    let summary = store
        .import_subscribers("bench", &file)
        .await
        .expect("re-import with changes");
    scenario(
        "reimport_10pct_changed",
        start.elapsed().as_secs_f64(),
        summary,
    );
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("tayori-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let store = tayori_store::connect(&url).await.expect("open SQLite");
    run("sqlite", store.as_ref()).await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    if let Ok(base) = std::env::var("TAYORI_TEST_DATABASE_URL") {
        let schema = format!("tayori_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .expect("reach PostgreSQL");
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .expect("create the scratch schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let store =
            tayori_store::connect(&format!("{base}{separator}options[search_path]={schema}"))
                .await
                .expect("open PostgreSQL");
        run("postgres", store.as_ref()).await;
        drop(store);
        admin
            .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
            .await
            .expect("drop the scratch schema");
    }
}
