//! Upgrading a database made by an earlier release: its data stays and
//! the newer migrations apply on top.

use std::borrow::Cow;
use std::path::Path;

use sqlx::migrate::Migrator;
use tayori_core::{DeliveryFilter, OutboxStatus, PageRequest, Store};

/// The migrations of `engine` (`sqlite` or `postgres`) up to and including
/// `version`: the schema as a release of that time left it.
pub async fn migrator_up_to(engine: &str, version: i64) -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(engine);
    let mut migrator = Migrator::new(dir).await.expect("read the migrations");
    migrator.migrations = Cow::Owned(
        migrator
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect(),
    );
    migrator
}

/// An outbox row of tenant `minato`, pending, as both schemas take it.
macro_rules! delivery_insert {
    ($key:literal, $message:literal, $day:literal) => {
        concat!(
            "INSERT INTO deliveries (key, tenant_id, subscriber_id, contact_id, channel, ",
            "child_id, message_id, occurs_on, due_at, expires_at, status, next_attempt_at, ",
            "updated_at) VALUES ('",
            $key,
            "', 'minato', 's1', 'c1', 'line', 'k1', '",
            $message,
            "', '",
            $day,
            "', 1000, 2000, 'pending', 1000, 1000)"
        )
    };
}

/// A tenant and one planned delivery, written as the schema of migration
/// 0010 has them (the key then unique across the table).
pub const BEFORE_0011: &[&str] = &[
    "INSERT INTO tenants (id, name, created_at, updated_at) \
     VALUES ('minato', '港区', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    delivery_insert!("4b0e2b9c-planned", "p-w5-d1", "2027-01-04"),
];

/// What must hold once the store has migrated that database: the row is
/// there with its id, the same key for the same day is still refused, and
/// a new row's id comes after the old one.
pub async fn check_after_0011(
    store: &dyn Store,
    count_key_indexes: &str,
    raw: impl AsyncFn(&str) -> Result<i64, String>,
) {
    assert_eq!(
        raw(count_key_indexes).await,
        Ok(2),
        "the keys are indexed per tenant and day, and per broadcast"
    );
    let page = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest::default(),
        )
        .await
        .expect("list deliveries");
    assert_eq!(page.items.len(), 1, "the planned delivery survives");
    let kept = &page.items[0];
    assert_eq!(kept.key, "4b0e2b9c-planned");
    assert_eq!(kept.status, OutboxStatus::Pending);
    let again = raw(concat!(
        delivery_insert!("4b0e2b9c-planned", "p-w5-d1", "2027-01-04"),
        " RETURNING id"
    ))
    .await;
    let err = again.expect_err("the same key on the same day is refused");
    assert!(err.to_lowercase().contains("unique"), "{err}");
    let next = raw(concat!(
        delivery_insert!("4b0e2b9c-next", "p-w5-d2", "2027-01-05"),
        " RETURNING id"
    ))
    .await
    .expect("a new key is taken");
    assert!(
        next > kept.id,
        "ids go on after the kept row ({next} ≤ {})",
        kept.id
    );
}
