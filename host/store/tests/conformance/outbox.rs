//! The delivery outbox: planning writes, claims with leases and fences,
//! completions and what they cause, cancellation by the subscriber
//! lifecycle, batches, broadcasts, send counters, listing.

use std::collections::HashSet;
use std::sync::Arc;

use tayori_core::{
    Broadcast, ChannelSpec, Complete, Completion, ContactStatus, DeliveryFilter, DeliverySource,
    NewDelivery, OutboxStatus, PageRequest, PlanState, Store, StoreError, Subscriber,
};

use super::harness::{d, household, tenant};

const T0: i64 = 1_800_000_000_000;

fn line_channel() -> ChannelSpec {
    super::channels::line_spec()
}

/// One scheduled delivery per contact of each (subscriber, child), for `message`.
fn rows_for(
    tenant_id: &str,
    subs: &[&Subscriber],
    message: &str,
    pregnancy: bool,
) -> Vec<NewDelivery> {
    let mut out = Vec::new();
    for s in subs {
        for c in &s.contacts {
            for k in &s.children {
                out.push(NewDelivery {
                    key: uuid::Uuid::new_v5(
                        &uuid::Uuid::NAMESPACE_OID,
                        format!("{tenant_id}/{}/{}/{message}", c.id, k.id).as_bytes(),
                    )
                    .to_string(),
                    tenant_id: tenant_id.into(),
                    subscriber_id: s.id.clone(),
                    contact_id: c.id.clone(),
                    channel: c.channel.clone(),
                    source: DeliverySource::Scheduled {
                        child_id: k.id.clone(),
                        message_id: message.into(),
                        occurs_on: d("2027-01-10"),
                        pregnancy,
                    },
                    due_at: T0,
                    expires_at: T0 + 3_600_000,
                    status: OutboxStatus::Pending,
                    late: None,
                });
            }
        }
    }
    out
}

async fn subscribers(store: &Arc<dyn Store>, tenant_id: &str, n: usize) -> Vec<Subscriber> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            store
                .create_subscriber(tenant_id, &household(&format!("U{i:032x}"), "2027-05-01"))
                .await
                .unwrap(),
        );
    }
    out
}

fn state() -> PlanState {
    PlanState {
        day: d("2027-01-10"),
        changes: 42,
    }
}

async fn statuses(store: &Arc<dyn Store>, tenant_id: &str) -> Vec<(i64, OutboxStatus)> {
    let page = store
        .deliveries(
            tenant_id,
            &DeliveryFilter::default(),
            &PageRequest {
                after: None,
                limit: 1000,
            },
        )
        .await
        .unwrap();
    let mut v: Vec<(i64, OutboxStatus)> = page.items.iter().map(|d| (d.id, d.status)).collect();
    v.sort();
    v
}

pub async fn planning_the_same_rows_again_adds_nothing(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 3).await;
    let sources = store.plan_sources("minato", None).await.unwrap();
    assert_eq!(sources.len(), 3, "one child and one contact each");
    let refs: Vec<&Subscriber> = subs.iter().collect();
    let rows = rows_for("minato", &refs, "m1", true);
    let first = store.write_plan("minato", &rows, &state()).await.unwrap();
    assert_eq!((first.inserted, first.existing), (3, 0));
    let again = store.write_plan("minato", &rows, &state()).await.unwrap();
    assert_eq!((again.inserted, again.existing), (0, 3));
    assert_eq!(statuses(&store, "minato").await.len(), 3);
    assert_eq!(store.plan_state("minato").await.unwrap(), Some(state()));
    // A plan holding another tenant's row is refused whole.
    tenant(&store, "otaru").await;
    let err = store
        .write_plan("otaru", &rows, &state())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tenant"), "{err}");
}

/// A plan written while people register goes in several short
/// transactions (so that registrations take turns with it on SQLite's one
/// writer): every row goes in once, the state with the last, and the
/// registrations made meanwhile all go in too.
pub async fn a_plan_written_while_people_register_goes_in_whole(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 1).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    // 1,000 messages for one child: more rows than the first transactions
    // take, and not a power of two.
    let rows: Vec<NewDelivery> = (0..1_000)
        .flat_map(|m| rows_for("minato", &refs, &format!("m{m}"), true))
        .collect();
    let registering = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..100 {
                let s = store
                    .create_subscriber("minato", &household(&format!("Ureg{i:029x}"), "2027-05-01"))
                    .await
                    .unwrap();
                ids.push(s.id);
            }
            ids
        })
    };
    let planned = store.write_plan("minato", &rows, &state()).await.unwrap();
    assert_eq!((planned.inserted, planned.existing), (1_000, 0));
    assert_eq!(store.plan_state("minato").await.unwrap(), Some(state()));
    let ids = registering.await.unwrap();
    assert_eq!(ids.len(), 100);
    let again = store.write_plan("minato", &rows, &state()).await.unwrap();
    assert_eq!((again.inserted, again.existing), (0, 1_000));
}

pub async fn claims_are_leased_and_fenced(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 3).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", true), &state())
        .await
        .unwrap();
    // Not yet due.
    assert!(
        store
            .claim(T0 - 1, T0 + 60_000, 10)
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    assert_eq!(store.next_due().await.unwrap(), Some(T0));
    let first = store.claim(T0, T0 + 60_000, 2).await.unwrap().deliveries;
    assert_eq!(first.len(), 2);
    let c = &first[0];
    assert_eq!(c.attempts, 1);
    assert!(c.address.as_deref().is_some_and(|a| a.starts_with('U')));
    assert!(c.contact_valid && c.subscriber_active && !c.child_stopped);
    assert_eq!(c.due_date, Some(d("2027-05-01")));
    // The rest, and then nothing.
    assert_eq!(
        store
            .claim(T0, T0 + 60_000, 10)
            .await
            .unwrap()
            .deliveries
            .len(),
        1
    );
    assert!(
        store
            .claim(T0, T0 + 60_000, 10)
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    // The lease runs out: the rows are rescued and claimed again with a new fence.
    assert_eq!(store.rescue_expired_leases(T0 + 30_000).await.unwrap(), 0);
    assert_eq!(store.rescue_expired_leases(T0 + 60_001).await.unwrap(), 3);
    let again = store
        .claim(T0 + 60_001, T0 + 120_000, 10)
        .await
        .unwrap()
        .deliveries;
    assert_eq!(again.len(), 3);
    let re = again.iter().find(|x| x.id == c.id).unwrap();
    assert_eq!(re.fence, c.fence + 1);
    assert_eq!(re.attempts, 2);
    // The stale worker's completion is refused; the new one's applies.
    let sent = |id, fence| Complete {
        id,
        fence,
        completion: Completion::Sent {
            receipt: Some("r-1".into()),
            plugin_version: "1.0.0".into(),
        },
    };
    let refused = store
        .complete(&[sent(c.id, c.fence)], T0 + 70_000)
        .await
        .unwrap();
    assert_eq!((refused.applied, refused.stale), (vec![], 1));
    // The answer names the rows recorded, so that only those are counted.
    let recorded = store
        .complete(&[sent(re.id, re.fence)], T0 + 70_000)
        .await
        .unwrap();
    assert_eq!((recorded.applied, recorded.stale), (vec![re.id], 0));
    // Completing twice does nothing more.
    assert_eq!(
        store
            .complete(&[sent(re.id, re.fence)], T0 + 70_000)
            .await
            .unwrap()
            .counts(),
        (0, 1)
    );
    let page = store
        .deliveries(
            "minato",
            &DeliveryFilter {
                status: Some(OutboxStatus::Sent),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let row = &page.items[0];
    assert_eq!(row.receipt.as_deref(), Some("r-1"));
    assert_eq!(row.plugin_version.as_deref(), Some("1.0.0"));
    assert_eq!(row.sent_at.map(|t| t.timestamp_millis()), Some(T0 + 70_000));
}

pub async fn concurrent_claims_take_disjoint_rows(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 40).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", true), &state())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let c = s.claim(T0, T0 + 60_000, 3).await.unwrap().deliveries;
                if c.is_empty() {
                    return mine;
                }
                mine.extend(c.into_iter().map(|x| x.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "row {id} claimed twice");
        }
    }
    assert_eq!(total, 40);
}

pub async fn completions_retry_fail_and_defer(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 4).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let mut claimed = store.claim(T0, T0 + 60_000, 10).await.unwrap().deliveries;
    claimed.sort_by_key(|c| c.id);
    let completions = vec![
        Complete {
            id: claimed[0].id,
            fence: claimed[0].fence,
            completion: Completion::Retry {
                at: T0 + 30_000,
                error: "429".into(),
                plugin_version: Some("1.0.0".into()),
                keep_batch: false,
            },
        },
        Complete {
            id: claimed[1].id,
            fence: claimed[1].fence,
            completion: Completion::Failed {
                error: "400 bad request".into(),
                plugin_version: Some("1.0.0".into()),
            },
        },
        Complete {
            id: claimed[2].id,
            fence: claimed[2].fence,
            completion: Completion::Defer {
                at: T0 + 10_000,
                reason: Some("quota".into()),
            },
        },
        Complete {
            id: claimed[3].id,
            fence: claimed[3].fence,
            completion: Completion::Dead {
                error: "500 eight times".into(),
                plugin_version: None,
            },
        },
    ];
    assert_eq!(
        store.complete(&completions, T0 + 1).await.unwrap().counts(),
        (4, 0)
    );
    let list = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    let by_id = |id| list.iter().find(|x| x.id == id).unwrap();
    let retried = by_id(claimed[0].id);
    assert_eq!(retried.status, OutboxStatus::Pending);
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.last_error.as_deref(), Some("429"));
    assert_eq!(
        retried.next_attempt_at.map(|t| t.timestamp_millis()),
        Some(T0 + 30_000)
    );
    assert_eq!(by_id(claimed[1].id).status, OutboxStatus::Failed);
    let deferred = by_id(claimed[2].id);
    assert_eq!(deferred.status, OutboxStatus::Pending);
    assert_eq!(deferred.attempts, 0, "a deferral is not an attempt");
    assert_eq!(by_id(claimed[3].id).status, OutboxStatus::Dead);
    // Due again in order: the deferred row first.
    assert_eq!(store.next_due().await.unwrap(), Some(T0 + 10_000));
    let next = store
        .claim(T0 + 30_000, T0 + 90_000, 10)
        .await
        .unwrap()
        .deliveries;
    assert_eq!(next.len(), 2);
}

pub async fn recipient_gone_invalidates_the_contact(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 2).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    let mut rows = rows_for("minato", &refs, "m1", false);
    let mut tomorrow = rows_for("minato", &refs, "m2", false);
    for r in &mut tomorrow {
        r.due_at += 86_400_000;
        r.expires_at += 86_400_000;
    }
    rows.extend(tomorrow);
    store.write_plan("minato", &rows, &state()).await.unwrap();
    let claimed = store.claim(T0, T0 + 60_000, 10).await.unwrap().deliveries;
    assert_eq!(claimed.len(), 2);
    let gone = claimed
        .iter()
        .find(|c| c.subscriber_id == subs[0].id)
        .unwrap();
    store
        .complete(
            &[Complete {
                id: gone.id,
                fence: gone.fence,
                completion: Completion::RecipientGone {
                    error: "400 invalid user".into(),
                    plugin_version: Some("1.0.0".into()),
                },
            }],
            T0 + 1,
        )
        .await
        .unwrap();
    let s0 = store.subscriber("minato", &subs[0].id).await.unwrap();
    assert_eq!(s0.contacts[0].status, ContactStatus::Invalid);
    // Its later delivery is cancelled; the other subscriber's stays.
    let later = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    for x in later.iter().filter(|x| x.due_at.timestamp_millis() > T0) {
        let want = if x.subscriber_id == subs[0].id {
            OutboxStatus::Cancelled
        } else {
            OutboxStatus::Pending
        };
        assert_eq!(x.status, want, "{x:?}");
    }
    // An invalid contact is no planning source.
    let sources = store.plan_sources("minato", None).await.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].subscriber_id, subs[1].id);
}

pub async fn unauthorized_pauses_the_channel_until_its_config_changes(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let channel = store
        .put_channel("minato", &line_channel())
        .await
        .unwrap()
        .channel;
    let subs = subscribers(&store, "minato", 3).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let claimed = store.claim(T0, T0 + 60_000, 1).await.unwrap().deliveries;
    store
        .complete(
            &[Complete {
                id: claimed[0].id,
                fence: claimed[0].fence,
                completion: Completion::Unauthorized {
                    error: "401 invalid token".into(),
                    config_at: channel.updated_at,
                },
            }],
            T0 + 1,
        )
        .await
        .unwrap();
    let paused = store.channel("minato", "line").await.unwrap();
    assert_eq!(
        paused.paused.as_ref().map(|p| p.reason.as_str()),
        Some("401 invalid token")
    );
    let all = statuses(&store, "minato").await;
    assert!(all.iter().all(|(_, s)| *s == OutboxStatus::Held), "{all:?}");
    assert!(
        store
            .claim(T0 + 2, T0 + 60_000, 10)
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    // The held delivery's attempt was not counted.
    let list = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert!(list.iter().all(|x| x.attempts == 0));
    // A new config resumes everything.
    store.put_channel("minato", &line_channel()).await.unwrap();
    assert_eq!(store.channel("minato", "line").await.unwrap().paused, None);
    assert_eq!(
        store
            .claim(T0 + 3, T0 + 60_000, 10)
            .await
            .unwrap()
            .deliveries
            .len(),
        3
    );
}

pub async fn a_failure_under_an_old_config_does_not_pause_the_new_one(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let old = store
        .put_channel("minato", &line_channel())
        .await
        .unwrap()
        .channel;
    let subs = subscribers(&store, "minato", 1).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let claimed = store.claim(T0, T0 + 60_000, 1).await.unwrap().deliveries;
    // The operator fixes the token while the call is in flight.
    store.put_channel("minato", &line_channel()).await.unwrap();
    store
        .complete(
            &[Complete {
                id: claimed[0].id,
                fence: claimed[0].fence,
                completion: Completion::Unauthorized {
                    error: "401".into(),
                    config_at: old.updated_at,
                },
            }],
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(store.channel("minato", "line").await.unwrap().paused, None);
    assert_eq!(statuses(&store, "minato").await[0].1, OutboxStatus::Pending);
}

pub async fn the_lifecycle_cancels_pending_deliveries(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 4).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    let mut rows = rows_for("minato", &refs, "p1", true);
    rows.extend(rows_for("minato", &refs, "c1", false));
    store.write_plan("minato", &rows, &state()).await.unwrap();
    let status_of = |list: &[tayori_core::Delivery], sub: &str, msg: &str| {
        list.iter()
            .find(|x| {
                x.subscriber_id == sub
                    && matches!(&x.source, DeliverySource::Scheduled { message_id, .. } if message_id == msg)
            })
            .unwrap()
            .status
    };
    // A birth on the due date cancels the pregnancy track only: the child
    // track counted from the due date is the child's own.
    store
        .report_birth(
            "minato",
            &subs[0].id,
            &subs[0].children[0].id,
            d("2027-05-01"),
        )
        .await
        .unwrap();
    // A birth on another day cancels the child track counted from the due
    // date too (a birth never reported, continued on the child track): the
    // real birth date replaces it.
    store
        .report_birth(
            "minato",
            &subs[3].id,
            &subs[3].children[0].id,
            d("2027-04-28"),
        )
        .await
        .unwrap();
    // A stop cancels everything of the child.
    store
        .stop_child(
            "minato",
            &subs[1].id,
            &subs[1].children[0].id,
            "pregnancy loss",
        )
        .await
        .unwrap();
    // Erasure cancels everything of the subscriber.
    store.erase_subscriber("minato", &subs[2].id).await.unwrap();
    let list = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(status_of(&list, &subs[0].id, "p1"), OutboxStatus::Cancelled);
    assert_eq!(status_of(&list, &subs[0].id, "c1"), OutboxStatus::Pending);
    assert_eq!(status_of(&list, &subs[1].id, "p1"), OutboxStatus::Cancelled);
    assert_eq!(status_of(&list, &subs[1].id, "c1"), OutboxStatus::Cancelled);
    assert_eq!(status_of(&list, &subs[2].id, "p1"), OutboxStatus::Cancelled);
    assert_eq!(status_of(&list, &subs[2].id, "c1"), OutboxStatus::Cancelled);
    assert_eq!(status_of(&list, &subs[3].id, "p1"), OutboxStatus::Cancelled);
    assert_eq!(status_of(&list, &subs[3].id, "c1"), OutboxStatus::Cancelled);
    // Deleting the channel cancels what is left.
    store.delete_channel("minato", "line").await.unwrap();
    assert!(
        statuses(&store, "minato")
            .await
            .iter()
            .all(|(_, s)| *s == OutboxStatus::Cancelled)
    );
}

pub async fn kept_batches_are_claimed_whole(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 4).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let claimed = store.claim(T0, T0 + 60_000, 10).await.unwrap().deliveries;
    let batch: Vec<(i64, i64, String)> = claimed
        .iter()
        .take(3)
        .map(|c| (c.id, c.fence, "batch-1".to_string()))
        .collect();
    store.assign_batches(&batch).await.unwrap();
    // The batch's outcome is unknown: it is retried whole.
    let completions: Vec<Complete> = claimed
        .iter()
        .map(|c| Complete {
            id: c.id,
            fence: c.fence,
            completion: Completion::Retry {
                at: T0 + 1_000,
                error: "timeout".into(),
                plugin_version: None,
                keep_batch: true,
            },
        })
        .collect();
    store.complete(&completions, T0 + 1).await.unwrap();
    // A claim of one row brings the rest of its batch.
    let again = store
        .claim(T0 + 1_000, T0 + 60_000, 1)
        .await
        .unwrap()
        .deliveries;
    if again[0].batch.is_some() {
        assert_eq!(again.len(), 3);
        assert!(again.iter().all(|c| c.batch.as_deref() == Some("batch-1")));
    } else {
        assert_eq!(again.len(), 1);
        let rest = store
            .claim(T0 + 1_000, T0 + 60_000, 1)
            .await
            .unwrap()
            .deliveries;
        assert_eq!(rest.len(), 3);
    }
}

/// A batch is recorded only by the claim that holds its rows, and a row
/// put back without an attempt (rate limit, quota) stays in its batch: the
/// batch may have gone out whole before, and goes out whole again.
pub async fn batches_are_recorded_by_their_claim_and_survive_deferral(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 3).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    // The first claim's lease runs out; another takes the rows over.
    let stale = store.claim(T0, T0 + 1_000, 10).await.unwrap().deliveries;
    assert_eq!(store.rescue_expired_leases(T0 + 2_000).await.unwrap(), 3);
    let claimed = store
        .claim(T0 + 2_000, T0 + 60_000, 10)
        .await
        .unwrap()
        .deliveries;
    let label = |rows: &[tayori_core::ClaimedDelivery], batch: &str| -> Vec<(i64, i64, String)> {
        rows.iter()
            .map(|c| (c.id, c.fence, batch.to_string()))
            .collect()
    };
    assert!(
        store
            .assign_batches(&label(&stale, "stale"))
            .await
            .unwrap()
            .is_empty(),
        "a superseded claim records no batch"
    );
    let mut assigned = store
        .assign_batches(&label(&claimed, "batch-2"))
        .await
        .unwrap();
    assigned.sort_unstable();
    let mut ids: Vec<i64> = claimed.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    assert_eq!(assigned, ids);
    // Deferred by the channel's rate limit: still one batch.
    let deferred: Vec<Complete> = claimed
        .iter()
        .map(|c| Complete {
            id: c.id,
            fence: c.fence,
            completion: Completion::Defer {
                at: T0 + 3_000,
                reason: Some("the channel's rate limit".into()),
            },
        })
        .collect();
    assert_eq!(
        store
            .complete(&deferred, T0 + 2_001)
            .await
            .unwrap()
            .counts(),
        (3, 0)
    );
    let again = store
        .claim(T0 + 3_000, T0 + 60_000, 1)
        .await
        .unwrap()
        .deliveries;
    assert_eq!(again.len(), 3, "one row brings its whole batch");
    assert!(again.iter().all(|c| c.batch.as_deref() == Some("batch-2")));
}

/// Claims running side by side take each kept batch whole, in one claim,
/// and never wait on each other for a batch's rows (on PostgreSQL that was
/// a deadlock). The batches' retries are due at jittered times, row by row.
pub async fn concurrent_claims_take_kept_batches_whole(store: Arc<dyn Store>) {
    const ROUNDS: i64 = 5;
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 40).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let mut claimed = store.claim(T0, T0 + 60_000, 40).await.unwrap().deliveries;
    assert_eq!(claimed.len(), 40);
    claimed.sort_by_key(|c| c.id);
    let labels: Vec<(i64, i64, String)> = claimed
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id, c.fence, format!("batch-{}", i % 4)))
        .collect();
    assert_eq!(store.assign_batches(&labels).await.unwrap().len(), 40);
    for round in 0..ROUNDS {
        // Every batch's outcome is unknown: retried whole, each row at its
        // own jittered time.
        let at = T0 + 10_000 * round;
        let retries: Vec<Complete> = claimed
            .iter()
            .enumerate()
            .map(|(i, c)| Complete {
                id: c.id,
                fence: c.fence,
                completion: Completion::Retry {
                    at: at + 1_000 + (i as i64 * 37) % 500,
                    error: "timeout".into(),
                    plugin_version: None,
                    keep_batch: true,
                },
            })
            .collect();
        assert_eq!(
            store.complete(&retries, at + 1).await.unwrap().counts(),
            (40, 0)
        );
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = store.clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                let mut claims = Vec::new();
                start.wait().await;
                loop {
                    let c = s
                        .claim(at + 2_000, at + 60_000, 3)
                        .await
                        .expect("a claim beside others succeeds")
                        .deliveries;
                    if c.is_empty() {
                        return claims;
                    }
                    claims.push(c);
                }
            }));
        }
        claimed.clear();
        let mut whole: HashSet<String> = HashSet::new();
        for t in tasks {
            for claim in t.await.unwrap() {
                let batches: HashSet<&str> =
                    claim.iter().filter_map(|c| c.batch.as_deref()).collect();
                for b in batches {
                    let members = claim
                        .iter()
                        .filter(|c| c.batch.as_deref() == Some(b))
                        .count();
                    assert_eq!(members, 10, "round {round}: {b} was claimed in parts");
                    assert!(
                        whole.insert(b.to_string()),
                        "round {round}: {b} claimed twice"
                    );
                }
                claimed.extend(claim);
            }
        }
        let ids: HashSet<i64> = claimed.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 40, "round {round}: every row once");
        assert_eq!(claimed.len(), 40, "round {round}: every row once");
        assert_eq!(whole.len(), 4, "round {round}");
    }
}

pub async fn broadcasts_store_their_deliveries(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 3).await;
    store
        .stop_subscriber("minato", &subs[2].id, "moved away")
        .await
        .unwrap();
    let audience = store.audience("minato").await.unwrap();
    assert_eq!(audience.len(), 2, "active subscribers' valid contacts");
    assert_eq!(audience[0].children.len(), 1);
    let b = Broadcast {
        id: "b1".into(),
        tenant_id: "minato".into(),
        subject: None,
        body: "大雨の警報".into(),
        audience: serde_json::json!({}),
        send_at: chrono::DateTime::from_timestamp_millis(T0).unwrap(),
        deliveries: 0,
        created_at: chrono::DateTime::from_timestamp_millis(T0).unwrap(),
    };
    let rows: Vec<NewDelivery> = audience
        .iter()
        .map(|m| NewDelivery {
            key: uuid::Uuid::new_v4().to_string(),
            tenant_id: "minato".into(),
            subscriber_id: m.subscriber_id.clone(),
            contact_id: m.contact_id.clone(),
            channel: m.channel.clone(),
            source: DeliverySource::Broadcast {
                broadcast_id: "b1".into(),
            },
            due_at: T0,
            expires_at: T0 + 60_000,
            status: OutboxStatus::Pending,
            late: None,
        })
        .collect();
    let planned = store.create_broadcast(&b, &rows).await.unwrap();
    assert_eq!(planned.inserted, 2);
    let stored = store.broadcast("minato", "b1").await.unwrap();
    assert_eq!(stored.body, "大雨の警報");
    assert_eq!(stored.deliveries, 2);
    assert!(
        store.create_broadcast(&b, &[]).await.is_err(),
        "ids are unique"
    );
    let list = store
        .deliveries(
            "minato",
            &DeliveryFilter {
                broadcast_id: Some("b1".into()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(list.items.len(), 2);
    // Listed newest first, with its progress by status.
    let listed = store.broadcasts("minato", 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "b1");
    assert_eq!(listed[0].deliveries, 2);
    assert_eq!(
        store.broadcast_progress("minato", "b1").await.unwrap(),
        vec![("pending".to_string(), 2)]
    );
    // Cancelling ends its open deliveries, once.
    assert_eq!(store.cancel_broadcast("minato", "b1").await.unwrap(), 2);
    assert_eq!(store.cancel_broadcast("minato", "b1").await.unwrap(), 0);
    assert_eq!(
        store.broadcast_progress("minato", "b1").await.unwrap(),
        vec![("cancelled".to_string(), 2)]
    );
    assert!(matches!(
        store.cancel_broadcast("minato", "nope").await,
        Err(StoreError::NotFound(_))
    ));
    // Another tenant sees neither the broadcast nor its deliveries.
    tenant(&store, "otaru").await;
    assert!(store.broadcast("otaru", "b1").await.is_err());
    assert!(store.broadcasts("otaru", 10).await.unwrap().is_empty());
    assert!(matches!(
        store.broadcast_progress("otaru", "b1").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.cancel_broadcast("otaru", "b1").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store
            .deliveries("otaru", &DeliveryFilter::default(), &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn send_counters_hold_windows(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let windows = [(900, 5), (86_400, 8)];
    let now = T0;
    assert_eq!(
        store
            .reserve_sends("minato", "x", &windows, 0, 3, now)
            .await
            .unwrap(),
        (3, None)
    );
    // Only 2 left in the 15-minute window.
    let (granted, until) = store
        .reserve_sends("minato", "x", &windows, 0, 4, now)
        .await
        .unwrap();
    assert_eq!(granted, 2);
    let window_end = now - now.rem_euclid(900_000) + 900_000;
    assert_eq!(until, Some(window_end));
    assert_eq!(
        store
            .quota_exhausted_until("minato", "x", &windows, 0, now)
            .await
            .unwrap(),
        Some(window_end)
    );
    // The next window: the daily quota has 3 left.
    let later = window_end + 1;
    let (granted, until) = store
        .reserve_sends("minato", "x", &windows, 0, 5, later)
        .await
        .unwrap();
    assert_eq!(granted, 3);
    let day_end = later - later.rem_euclid(86_400_000) + 86_400_000;
    assert_eq!(until, Some(day_end));
    // Another channel counts on its own.
    assert_eq!(
        store
            .reserve_sends("minato", "y", &windows, 0, 5, later)
            .await
            .unwrap(),
        (5, None)
    );
}

pub async fn deliveries_are_paged_newest_first(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let subs = subscribers(&store, "minato", 5).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let first = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest {
                after: None,
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.items[0].id > first.items[1].id);
    let second = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest {
                after: first.next_cursor.clone(),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 3);
    assert!(second.next_cursor.is_none());
    assert!(second.items[0].id < first.items[1].id);
    let one = store
        .deliveries(
            "minato",
            &DeliveryFilter {
                subscriber_id: Some(subs[3].id.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].subscriber_id, subs[3].id);
    let bad = store
        .deliveries(
            "minato",
            &DeliveryFilter::default(),
            &PageRequest {
                after: Some("not-a-cursor".into()),
                limit: 10,
            },
        )
        .await;
    assert!(bad.is_err());
}

/// The subscriber ids among a tenant's plan sources changed after `cursor`.
async fn changed_after(store: &Arc<dyn Store>, tenant_id: &str, cursor: i64) -> HashSet<String> {
    store
        .plan_sources(tenant_id, Some(cursor))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.subscriber_id)
        .collect()
}

pub async fn changes_are_read_above_the_cursor_taken_before(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    store.put_channel("otaru", &line_channel()).await.unwrap();
    let before = subscribers(&store, "minato", 2).await;
    let start = store.change_cursor().await.unwrap();
    // A registration, a birth report (a change to a child touches its
    // subscriber) and another tenant's registration, all after the cursor.
    let new = store
        .create_subscriber("minato", &household(&format!("U{:032x}", 7), "2027-05-01"))
        .await
        .unwrap();
    let child = &before[0].children[0];
    store
        .report_birth("minato", &before[0].id, &child.id, d("2027-04-28"))
        .await
        .unwrap();
    store
        .create_subscriber("otaru", &household(&format!("U{:032x}", 8), "2027-05-01"))
        .await
        .unwrap();
    let changed = changed_after(&store, "minato", start).await;
    assert!(changed.contains(&new.id), "the registration: {changed:?}");
    assert!(
        changed.contains(&before[0].id),
        "the birth report: {changed:?}"
    );
    // Without a cursor, everything; the cursor only moves forward.
    assert_eq!(store.plan_sources("minato", None).await.unwrap().len(), 3);
    let later = store.change_cursor().await.unwrap();
    assert!(later >= start, "{later} < {start}");
    // A stop is a change too; the other tenant's subscribers are never
    // among a tenant's changes.
    store
        .stop_subscriber("minato", &before[1].id, "moved")
        .await
        .unwrap();
    let all: HashSet<String> = before
        .iter()
        .map(|s| s.id.clone())
        .chain([new.id])
        .collect();
    assert!(changed_after(&store, "minato", 0).await.is_subset(&all));
    assert!(
        !changed_after(&store, "minato", later)
            .await
            .contains(&before[1].id),
        "a stopped subscriber is no source"
    );
}

/// A change whose transaction was still open when the cursor was read is
/// above the cursor once it commits, however long it took: what the planner
/// relies on to plan a long import that commits after its next pass began.
/// `exec` runs a statement on a connection of its own; with
/// `concurrent_writers` (PostgreSQL), another registration commits while
/// that transaction is open, so the change committed last is not the one
/// numbered last.
pub async fn a_change_committed_after_the_cursor_is_above_it(
    store: Arc<dyn Store>,
    begin: &str,
    concurrent_writers: bool,
    exec: impl AsyncFn(&str),
) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    let s = subscribers(&store, "minato", 1).await.remove(0);
    exec(begin).await;
    exec(&format!(
        "UPDATE subscribers SET locale = 'en' WHERE tenant_id = 'minato' AND id = '{}'",
        s.id
    ))
    .await;
    if concurrent_writers {
        store
            .create_subscriber("minato", &household(&format!("U{:032x}", 9), "2027-05-01"))
            .await
            .unwrap();
    }
    let cursor = store.change_cursor().await.unwrap();
    exec("COMMIT").await;
    assert_eq!(
        store.subscriber("minato", &s.id).await.unwrap().locale,
        tayori_core::Locale::En
    );
    let changed = changed_after(&store, "minato", cursor).await;
    assert!(
        changed.contains(&s.id),
        "the change committed after the cursor was read is above it: {changed:?}"
    );
}

/// The error rate per plugin version: attempted deliveries by the plugin
/// of their channel, the version of their last attempt and their status,
/// from a time on; the channels of every tenant by plugin.
pub async fn outcomes_are_counted_per_plugin_version(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "chiyoda").await;
    store.put_channel("minato", &line_channel()).await.unwrap();
    store.put_channel("chiyoda", &line_channel()).await.unwrap();
    let mut email = line_channel();
    email.name = "email".into();
    email.plugin_id = "email".into();
    store.put_channel("chiyoda", &email).await.unwrap();
    assert_eq!(
        store.plugin_channel_counts().await.unwrap(),
        vec![("email".to_string(), 1), ("line".to_string(), 2)]
    );

    let subs = subscribers(&store, "minato", 6).await;
    let refs: Vec<&Subscriber> = subs.iter().collect();
    store
        .write_plan("minato", &rows_for("minato", &refs, "m1", false), &state())
        .await
        .unwrap();
    let mut claimed = store.claim(T0, T0 + 60_000, 10).await.unwrap().deliveries;
    claimed.sort_by_key(|c| c.id);
    assert_eq!(claimed.len(), 6);
    let sent = |version: &str| Completion::Sent {
        receipt: None,
        plugin_version: version.into(),
    };
    let outcomes = [
        sent("1.0.0"),
        sent("1.0.0"),
        Completion::Failed {
            error: "400".into(),
            plugin_version: Some("1.0.0".into()),
        },
        sent("1.1.0"),
        Completion::Dead {
            error: "500 eight times".into(),
            plugin_version: Some("1.1.0".into()),
        },
        // Expired without an attempt: no version, not counted.
        Completion::Expired { error: None },
    ];
    let completions: Vec<Complete> = claimed
        .iter()
        .zip(outcomes)
        .map(|(c, completion)| Complete {
            id: c.id,
            fence: c.fence,
            completion,
        })
        .collect();
    store.complete(&completions, T0 + 5_000).await.unwrap();

    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let counted = |o: &[tayori_core::PluginOutcome]| -> Vec<(String, String, OutboxStatus, u64)> {
        o.iter()
            .map(|o| (o.plugin_id.clone(), o.version.clone(), o.status, o.count))
            .collect()
    };
    let line = |v: &str, s, n| ("line".to_string(), v.to_string(), s, n);
    let expected = vec![
        line("1.0.0", OutboxStatus::Failed, 1),
        line("1.0.0", OutboxStatus::Sent, 2),
        line("1.1.0", OutboxStatus::Dead, 1),
        line("1.1.0", OutboxStatus::Sent, 1),
    ];
    assert_eq!(
        counted(&store.plugin_outcomes(None, at(T0)).await.unwrap()),
        expected
    );
    assert_eq!(
        counted(
            &store
                .plugin_outcomes(Some("line"), at(T0 + 5_000))
                .await
                .unwrap()
        ),
        expected,
        "from the time of the last attempt on"
    );
    assert!(
        store
            .plugin_outcomes(None, at(T0 + 5_001))
            .await
            .unwrap()
            .is_empty(),
        "nothing attempted after"
    );
    assert!(
        store
            .plugin_outcomes(Some("email"), at(T0))
            .await
            .unwrap()
            .is_empty(),
        "another plugin's deliveries are its own"
    );
}
