//! The dashboard's reads: front-door events and deliveries counted per
//! range (months, days) on the ranges' edges, failures by their reason,
//! and the tenant's yearly births kept and checked.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::{
    Complete, Completion, DeliverySource, FailureReason, NewDelivery, OutboxStatus, PlanState,
    Store, StoreError, TenantPatch, from_millis,
};

use super::harness::{d, household, tenant};

const T0: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;

fn at(ms: i64) -> DateTime<Utc> {
    from_millis(ms)
}

/// Four day bounds from `T0`: three days.
fn days() -> Vec<DateTime<Utc>> {
    (0..4).map(|i| at(T0 + i * DAY)).collect()
}

pub async fn front_door_events_are_counted_per_range_on_its_edges(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    let registered = FrontDoorKind::Registered;
    for (kind, ms) in [
        // Before the first range.
        (registered, T0 - 1),
        // The first range's first and last milliseconds.
        (registered, T0),
        (registered, T0 + DAY - 1),
        // The second range's first millisecond.
        (registered, T0 + DAY),
        // Another kind.
        (FrontDoorKind::Blocked, T0 + DAY),
        // The end is not in the last range.
        (registered, T0 + 3 * DAY),
    ] {
        store
            .record_front_door("minato", "line", kind, None, at(ms))
            .await
            .unwrap();
    }
    store
        .record_front_door("otaru", "line", registered, None, at(T0))
        .await
        .unwrap();
    assert_eq!(
        store
            .front_door_by_range("minato", registered, &days())
            .await
            .unwrap(),
        vec![2, 1, 0]
    );
    // One range, and none.
    assert_eq!(
        store
            .front_door_by_range("minato", registered, &days()[..2])
            .await
            .unwrap(),
        vec![2]
    );
    assert_eq!(
        store
            .front_door_by_range("minato", registered, &days()[..1])
            .await
            .unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(
        store
            .front_door_by_range("minato", FrontDoorKind::Blocked, &days())
            .await
            .unwrap(),
        vec![0, 1, 0]
    );
    assert!(matches!(
        store
            .front_door_by_range("nowhere", registered, &days())
            .await,
        Err(StoreError::NotFound(_))
    ));
}

fn delivery(tenant_id: &str, s: &tayori_core::Subscriber, due_at: i64) -> NewDelivery {
    let c = &s.contacts[0];
    let k = &s.children[0];
    NewDelivery {
        key: uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("{tenant_id}/{}/{}/m", c.id, k.id).as_bytes(),
        )
        .to_string(),
        tenant_id: tenant_id.into(),
        subscriber_id: s.id.clone(),
        contact_id: c.id.clone(),
        channel: c.channel.clone(),
        source: DeliverySource::Scheduled {
            child_id: k.id.clone(),
            message_id: "m".into(),
            occurs_on: d("2027-01-10"),
            pregnancy: true,
        },
        due_at,
        expires_at: due_at + 30 * DAY,
        status: OutboxStatus::Pending,
        late: None,
    }
}

pub async fn deliveries_are_counted_per_day_and_failures_by_reason(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    store
        .put_channel("minato", &super::channels::line_spec())
        .await
        .unwrap();
    store
        .put_channel("otaru", &super::channels::line_spec())
        .await
        .unwrap();
    // Due: before the days; day 0's first and last milliseconds; day 1's
    // first and a later one; day 2's first; the end (not in the days).
    let dues = [
        T0 - 1,
        T0,
        T0 + DAY - 1,
        T0 + DAY,
        T0 + DAY + 1_000,
        T0 + 2 * DAY,
        T0 + 3 * DAY,
    ];
    let mut subs = Vec::new();
    for i in 0..dues.len() {
        subs.push(
            store
                .create_subscriber("minato", &household(&format!("U{i:032x}"), "2027-05-01"))
                .await
                .unwrap(),
        );
    }
    let rows: Vec<NewDelivery> = subs
        .iter()
        .zip(dues)
        .map(|(s, due)| delivery("minato", s, due))
        .collect();
    let state = PlanState {
        day: d("2027-01-10"),
        changes: 1,
    };
    store.write_plan("minato", &rows, &state).await.unwrap();
    // Another tenant's failure, on day 0.
    let other = store
        .create_subscriber("otaru", &household("Uother", "2027-05-01"))
        .await
        .unwrap();
    store
        .write_plan("otaru", &[delivery("otaru", &other, T0)], &state)
        .await
        .unwrap();
    // Everything due by day 2 is claimed (the last stays pending).
    let claimed = store
        .claim(T0 + 2 * DAY, T0 + 2 * DAY + 60_000, 50)
        .await
        .unwrap()
        .deliveries;
    assert_eq!(claimed.len(), 7, "six of minato, one of otaru");
    let by_due = |due: i64| {
        claimed
            .iter()
            .find(|c| c.due_at == due && c.tenant_id == "minato")
            .unwrap()
    };
    let version = || Some("1.0.0".to_string());
    let done = |due: i64, completion: Completion| {
        let c = by_due(due);
        Complete {
            id: c.id,
            fence: c.fence,
            completion,
        }
    };
    let refused = |plugin_version| Completion::Failed {
        error: "400 bad request".into(),
        plugin_version,
    };
    let mut completions = vec![
        done(
            T0 - 1,
            Completion::Dead {
                error: "before the days".into(),
                plugin_version: version(),
            },
        ),
        done(
            T0,
            Completion::Sent {
                receipt: None,
                plugin_version: "1.0.0".into(),
            },
        ),
        done(T0 + DAY - 1, refused(version())),
        done(T0 + DAY, refused(None)),
        done(
            T0 + DAY + 1_000,
            Completion::RecipientGone {
                error: "blocked".into(),
                plugin_version: version(),
            },
        ),
        done(
            T0 + 2 * DAY,
            Completion::Dead {
                error: "500 (attempt 8 of 8)".into(),
                plugin_version: version(),
            },
        ),
    ];
    let theirs = claimed.iter().find(|c| c.tenant_id == "otaru").unwrap();
    completions.push(Complete {
        id: theirs.id,
        fence: theirs.fence,
        completion: refused(version()),
    });
    store
        .complete(&completions, T0 + 2 * DAY + 1)
        .await
        .unwrap();

    let s = |v: &str| v.to_string();
    assert_eq!(
        store
            .delivery_counts_by_range("minato", &days())
            .await
            .unwrap(),
        vec![
            (0, s("line"), s("failed"), 1),
            (0, s("line"), s("sent"), 1),
            (1, s("line"), s("failed"), 2),
            (2, s("line"), s("dead"), 1),
        ]
    );
    assert_eq!(
        store
            .delivery_counts_by_range("minato", &days()[..2])
            .await
            .unwrap(),
        vec![(0, s("line"), s("failed"), 1), (0, s("line"), s("sent"), 1)]
    );
    let (from, to) = (at(T0), at(T0 + 3 * DAY));
    assert_eq!(
        store.failure_counts("minato", from, to).await.unwrap(),
        vec![
            (FailureReason::Refused, 1),
            (FailureReason::RecipientGone, 1),
            (FailureReason::GaveUp, 1),
            (FailureReason::NotMade, 1),
        ]
    );
    assert_eq!(
        store
            .failure_counts("minato", at(T0 - DAY), at(T0))
            .await
            .unwrap(),
        vec![(FailureReason::GaveUp, 1)],
        "the day before: the dead row due a millisecond before the days"
    );
    assert_eq!(
        store.failure_counts("otaru", from, to).await.unwrap(),
        vec![(FailureReason::Refused, 1)]
    );
    assert!(matches!(
        store.delivery_counts_by_range("nowhere", &days()).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.failure_counts("nowhere", from, to).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn yearly_births_are_kept_and_checked(store: Arc<dyn Store>) {
    let t = tenant(&store, "minato").await;
    assert_eq!(t.yearly_births, None, "not set by default");
    let set = |n: Option<u32>| TenantPatch {
        yearly_births: Some(n),
        ..TenantPatch::default()
    };
    let t = store
        .update_tenant("minato", &set(Some(700)))
        .await
        .unwrap();
    assert_eq!(t.yearly_births, Some(700));
    assert_eq!(
        store.tenant("minato").await.unwrap().yearly_births,
        Some(700)
    );
    // Other changes keep it.
    let renamed = TenantPatch {
        name: Some("港区".into()),
        ..TenantPatch::default()
    };
    let t = store.update_tenant("minato", &renamed).await.unwrap();
    assert_eq!(t.yearly_births, Some(700));
    for bad in [0, 1_000_001] {
        match store.update_tenant("minato", &set(Some(bad))).await {
            Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "yearly_births"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(
        store.tenant("minato").await.unwrap().yearly_births,
        Some(700)
    );
    let t = store.update_tenant("minato", &set(None)).await.unwrap();
    assert_eq!(t.yearly_births, None);
    let mut new = tayori_core::NewTenant::new("otaru", "小樽市");
    new.yearly_births = Some(1_000_000);
    assert_eq!(
        store.create_tenant(&new).await.unwrap().yearly_births,
        Some(1_000_000)
    );
}
