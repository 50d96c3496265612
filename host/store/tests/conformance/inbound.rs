//! Inbound events: kept once per platform event id and acted on once
//! (unfollow invalidates the contact and cancels what was pending for it;
//! follow is kept and changes nothing), late unfollows superseded,
//! listing in pages, scoping by tenant and channel, erasure.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tayori_core::{
    ContactStatus, DeliveryFilter, DeliverySource, EventKind, InboundAction, InboundEvent,
    InboundKind, NewDelivery, OutboxStatus, PageRequest, PlanState, Store, StoreError, Subscriber,
};

use super::harness::{contact, d, household, tenant};

/// A LINE user id as the tests address them.
fn user(i: u32) -> String {
    format!("U{i:032x}")
}

fn event(id: &str, address: &str, at_ms: u64, kind: EventKind) -> InboundEvent {
    InboundEvent {
        id: id.into(),
        address: address.into(),
        timestamp_ms: at_ms,
        kind,
        reply: None,
        redelivery: false,
    }
}

/// A time both engines keep exactly (whole microseconds).
fn received() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

const T0: u64 = 1_800_000_000_000;

async fn subscriber(store: &Arc<dyn Store>, tenant_id: &str, address: &str) -> Subscriber {
    store
        .create_subscriber(tenant_id, &household(address, "2027-05-01"))
        .await
        .unwrap()
}

/// A pending scheduled delivery to the subscriber's first contact.
async fn pending_delivery(store: &Arc<dyn Store>, s: &Subscriber) {
    let now = Utc::now().timestamp_millis();
    let row = NewDelivery {
        key: uuid::Uuid::new_v4().to_string(),
        tenant_id: s.tenant_id.clone(),
        subscriber_id: s.id.clone(),
        contact_id: s.contacts[0].id.clone(),
        channel: s.contacts[0].channel.clone(),
        source: DeliverySource::Scheduled {
            child_id: s.children[0].id.clone(),
            message_id: "pregnancy-day-100".into(),
            occurs_on: d("2027-01-10"),
            pregnancy: true,
        },
        due_at: now + 3_600_000,
        expires_at: now + 7_200_000,
        status: OutboxStatus::Pending,
        late: None,
    };
    let state = PlanState {
        day: d("2027-01-10"),
        changes: store.change_cursor().await.unwrap(),
    };
    let planned = store
        .write_plan(&s.tenant_id, &[row], &state)
        .await
        .unwrap();
    assert_eq!(planned.inserted, 1);
}

async fn delivery_statuses(store: &Arc<dyn Store>, tenant_id: &str) -> Vec<OutboxStatus> {
    store
        .deliveries(
            tenant_id,
            &DeliveryFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| d.status)
        .collect()
}

async fn contact_status(store: &Arc<dyn Store>, s: &Subscriber) -> ContactStatus {
    store
        .subscriber(&s.tenant_id, &s.id)
        .await
        .unwrap()
        .contacts[0]
        .status
}

pub async fn an_event_is_recorded_once_and_acted_on_once(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = subscriber(&store, "minato", &user(1)).await;
    pending_delivery(&store, &s).await;

    // The parent blocks the account: the contact is invalid, what was
    // pending for it is cancelled.
    let unfollow = event("ev-unfollow", &user(1), T0, EventKind::Unfollow);
    let first = store
        .record_inbound(
            "minato",
            "line",
            std::slice::from_ref(&unfollow),
            received(),
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(!first[0].duplicate);
    let record = &first[0].record;
    assert_eq!(record.action, InboundAction::ContactInvalidated);
    assert_eq!(record.kind, InboundKind::Unfollow);
    assert_eq!(
        record.contact_id.as_deref(),
        Some(s.contacts[0].id.as_str())
    );
    assert_eq!(record.subscriber_id.as_deref(), Some(s.id.as_str()));
    assert_eq!(record.occurred_at.timestamp_millis(), T0 as i64);
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Invalid);
    assert_eq!(
        delivery_statuses(&store, "minato").await,
        [OutboxStatus::Cancelled]
    );

    // LINE redelivers it: the same record, nothing done again.
    let again = store
        .record_inbound(
            "minato",
            "line",
            std::slice::from_ref(&unfollow),
            received(),
        )
        .await
        .unwrap();
    assert!(again[0].duplicate);
    assert_eq!(again[0].record, *record);

    // The parent unblocks the account: kept, and nothing changes in the
    // store (the conversation asks whether to resume).
    let follow = event(
        "ev-follow",
        &user(1),
        T0 + 60_000,
        EventKind::Follow { unblocked: true },
    );
    let kept = store
        .record_inbound("minato", "line", &[follow], received())
        .await
        .unwrap();
    assert_eq!(kept[0].record.action, InboundAction::Recorded);
    assert!(kept[0].record.unblocked);
    assert_eq!(
        kept[0].record.contact_id.as_deref(),
        Some(s.contacts[0].id.as_str())
    );
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Invalid);
    // The parent says yes: the contact is valid again, and the subscriber
    // is touched so that the planner plans it from today.
    let before = store.subscriber("minato", &s.id).await.unwrap().updated_at;
    store
        .set_contact_status("minato", &s.contacts[0].id, ContactStatus::Valid)
        .await
        .unwrap();
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Valid);
    assert!(store.subscriber("minato", &s.id).await.unwrap().updated_at > before);

    // A late redelivery of the old unfollow is still recognised: the
    // contact stays valid.
    let late = store
        .record_inbound("minato", "line", &[unfollow], received())
        .await
        .unwrap();
    assert!(late[0].duplicate);
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Valid);

    let listed = store
        .inbound_events("minato", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2, "a redelivery adds no row");
    assert_eq!(listed.items[0], *record);
    assert_eq!(listed.items[1], kept[0].record);
}

pub async fn strangers_texts_and_postbacks_are_recorded_only(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = subscriber(&store, "minato", &user(1)).await;
    let events = vec![
        event("a", &user(9), T0, EventKind::Follow { unblocked: false }),
        event("b", &user(9), T0 + 1, EventKind::Unfollow),
        event(
            "c",
            &user(1),
            T0 + 2,
            EventKind::Text("出産しました".into()),
        ),
        event(
            "d",
            &user(1),
            T0 + 3,
            EventKind::Postback("action=stop".into()),
        ),
        event(
            "e",
            &user(1),
            T0 + 4,
            EventKind::Follow { unblocked: false },
        ),
    ];
    let recorded = store
        .record_inbound("minato", "line", &events, received())
        .await
        .unwrap();
    let actions: Vec<InboundAction> = recorded.iter().map(|r| r.record.action).collect();
    assert_eq!(actions, [InboundAction::Recorded; 5]);
    assert!(recorded.iter().all(|r| !r.duplicate));
    // A stranger is no one's contact; a known address is linked.
    assert_eq!(recorded[0].record.subscriber_id, None);
    assert_eq!(recorded[1].record.contact_id, None);
    assert_eq!(
        recorded[2].record.subscriber_id.as_deref(),
        Some(s.id.as_str())
    );
    assert_eq!(recorded[2].record.data.as_deref(), Some("出産しました"));
    assert_eq!(recorded[3].record.kind, InboundKind::Postback);
    assert_eq!(recorded[3].record.data.as_deref(), Some("action=stop"));
    assert_eq!(recorded[4].record.data, None);
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Valid);

    // Listed in order of arrival, in pages.
    let mut page = PageRequest {
        after: None,
        limit: 2,
    };
    let mut ids = Vec::new();
    loop {
        let got = store.inbound_events("minato", &page).await.unwrap();
        assert!(got.items.len() <= 2);
        ids.extend(got.items.iter().map(|r| r.event_id.clone()));
        match got.next_cursor {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    let bad = store
        .inbound_events(
            "minato",
            &PageRequest {
                after: Some("not-a-cursor".into()),
                limit: 2,
            },
        )
        .await;
    assert!(
        matches!(&bad, Err(StoreError::Invalid { field, .. }) if field == "cursor"),
        "{bad:?}"
    );
}

pub async fn a_late_unfollow_is_superseded(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = subscriber(&store, "minato", &user(1)).await;
    let unfollow = event("later", &user(1), T0 + 5_000, EventKind::Unfollow);
    store
        .record_inbound("minato", "line", &[unfollow], received())
        .await
        .unwrap();
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Invalid);
    // The parent came back and said yes; a follow is kept and changes
    // nothing, an unfollow stops the contact, in their order within one
    // webhook.
    store
        .set_contact_status("minato", &s.contacts[0].id, ContactStatus::Valid)
        .await
        .unwrap();
    let both = vec![
        event("u2", &user(1), T0 + 7_000, EventKind::Unfollow),
        event(
            "f3",
            &user(1),
            T0 + 8_000,
            EventKind::Follow { unblocked: true },
        ),
    ];
    let recorded = store
        .record_inbound("minato", "line", &both, received())
        .await
        .unwrap();
    let actions: Vec<InboundAction> = recorded.iter().map(|r| r.record.action).collect();
    assert_eq!(
        actions,
        [InboundAction::ContactInvalidated, InboundAction::Recorded]
    );
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Invalid);
    // An unfollow that happened before the latest follow arrives after it:
    // superseded, it changes nothing.
    store
        .set_contact_status("minato", &s.contacts[0].id, ContactStatus::Valid)
        .await
        .unwrap();
    let early = event("earlier", &user(1), T0 + 7_500, EventKind::Unfollow);
    let recorded = store
        .record_inbound("minato", "line", &[early], received())
        .await
        .unwrap();
    assert_eq!(recorded[0].record.action, InboundAction::Superseded);
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Valid);
}

pub async fn events_are_scoped_by_tenant_and_channel(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    let s = subscriber(&store, "minato", &user(1)).await;
    // The same address on another channel is another contact (or none).
    let other_channel = store
        .record_inbound(
            "minato",
            "kanameto",
            &[event("x", &user(1), T0, EventKind::Unfollow)],
            received(),
        )
        .await
        .unwrap();
    assert_eq!(other_channel[0].record.action, InboundAction::Recorded);
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Valid);
    // The same event id on another channel or tenant is another event.
    let same_id = store
        .record_inbound(
            "minato",
            "line",
            &[event("x", &user(1), T0, EventKind::Unfollow)],
            received(),
        )
        .await
        .unwrap();
    assert!(!same_id[0].duplicate);
    assert_eq!(same_id[0].record.action, InboundAction::ContactInvalidated);
    let other_tenant = store
        .record_inbound(
            "otaru",
            "line",
            &[event("x", &user(1), T0, EventKind::Unfollow)],
            received(),
        )
        .await
        .unwrap();
    assert!(!other_tenant[0].duplicate);
    assert_eq!(other_tenant[0].record.action, InboundAction::Recorded);
    let otaru = store
        .inbound_events("otaru", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(otaru.items.len(), 1);
    assert_eq!(otaru.items[0].tenant_id, "otaru");

    assert!(matches!(
        store
            .record_inbound("nowhere", "line", &[], received())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .inbound_events("nowhere", &PageRequest::default())
            .await,
        Err(StoreError::NotFound(_))
    ));
    // An event without a usable id cannot be kept at all: the call is
    // refused, naming it, and nothing of it is kept (the API drops such
    // events before it calls).
    for bad_id in [" ".to_string(), "a\0b".to_string(), "e".repeat(257)] {
        let refused = store
            .record_inbound(
                "otaru",
                "line",
                &[
                    event("ok", &user(2), T0, EventKind::Unfollow),
                    event(&bad_id, &user(2), T0, EventKind::Unfollow),
                ],
                received(),
            )
            .await;
        assert!(
            matches!(&refused, Err(StoreError::Invalid { field, .. }) if field == "events[1].id"),
            "{refused:?}"
        );
    }
    let otaru = store
        .inbound_events("otaru", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(otaru.items.len(), 1, "nothing of a refused call is kept");
}

pub async fn a_bad_event_is_refused_alone_and_the_rest_take_effect(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = subscriber(&store, "minato", &user(1)).await;
    pending_delivery(&store, &s).await;
    let batch = [
        event("unfollow", &user(1), T0, EventKind::Unfollow),
        event("nul-text", &user(2), T0, EventKind::Text("a\0b".into())),
        event(
            "long-text",
            &user(2),
            T0,
            EventKind::Text("あ".repeat(10_000)),
        ),
        event("nul-address", "U\0x", T0, EventKind::Unfollow),
        event("late", &user(3), u64::MAX, EventKind::Postback("p".into())),
        event("text", &user(2), T0, EventKind::Text("こんにちは".into())),
    ];
    let recorded = store
        .record_inbound("minato", "line", &batch, received())
        .await
        .expect("one bad event does not refuse the others");
    let actions: Vec<InboundAction> = recorded.iter().map(|r| r.record.action).collect();
    assert_eq!(
        actions,
        [
            InboundAction::ContactInvalidated,
            InboundAction::Refused,
            InboundAction::Refused,
            InboundAction::Refused,
            InboundAction::Refused,
            InboundAction::Recorded,
        ]
    );
    assert_eq!(contact_status(&store, &s).await, ContactStatus::Invalid);
    assert_eq!(
        delivery_statuses(&store, "minato").await,
        [OutboxStatus::Cancelled]
    );
    let reasons: Vec<Option<&str>> = recorded
        .iter()
        .map(|r| r.record.reason.as_deref())
        .collect();
    assert_eq!(
        reasons,
        [
            None,
            Some("the data contains a NUL character"),
            Some("the data is over 16384 bytes"),
            Some("the address contains a NUL character"),
            Some("the time is out of range"),
            None,
        ]
    );
    // Kept without what was wrong, and listed as the store gave them.
    let listed = store
        .inbound_events("minato", &PageRequest::default())
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 6);
    for (r, kept) in listed.iter().zip(&recorded) {
        assert_eq!(r, &kept.record);
    }
    assert_eq!(listed[1].data, None);
    assert_eq!(listed[1].address.as_deref(), Some(user(2).as_str()));
    assert_eq!(listed[3].address, None);
    assert_eq!(listed[1].kind, InboundKind::Text);

    // A redelivery of the whole batch is a redelivery of each.
    let again = store
        .record_inbound("minato", "line", &batch, received())
        .await
        .unwrap();
    assert!(again.iter().all(|r| r.duplicate), "{again:?}");
    assert_eq!(again[1].record.action, InboundAction::Refused);
    assert_eq!(
        store
            .inbound_events("minato", &PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        6
    );
}

pub async fn erasure_removes_the_personal_data_of_inbound_events(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut new = household(&user(1), "2027-05-01");
    new.contacts.push(contact("email", "mother@example.jp"));
    let s = store.create_subscriber("minato", &new).await.unwrap();
    let other = subscriber(&store, "minato", &user(2)).await;
    let events = [
        event(
            "t1",
            &user(1),
            T0,
            EventKind::Text("予定日は5月です".into()),
        ),
        event(
            "t2",
            "mother@example.jp",
            T0,
            EventKind::Text("はい".into()),
        ),
        event("t3", &user(2), T0, EventKind::Text("こんにちは".into())),
    ];
    store
        .record_inbound("minato", "line", &events[..1], received())
        .await
        .unwrap();
    store
        .record_inbound("minato", "email", &events[1..2], received())
        .await
        .unwrap();
    store
        .record_inbound("minato", "line", &events[2..], received())
        .await
        .unwrap();
    store.erase_subscriber("minato", &s.id).await.unwrap();
    let listed = store
        .inbound_events("minato", &PageRequest::default())
        .await
        .unwrap();
    for r in &listed.items[..2] {
        assert_eq!(
            (r.address.as_deref(), r.data.as_deref()),
            (None, None),
            "{r:?}"
        );
    }
    assert_eq!(listed.items[2].address.as_deref(), Some(user(2).as_str()));
    assert_eq!(listed.items[2].data.as_deref(), Some("こんにちは"));
    assert_eq!(
        listed.items[2].subscriber_id.as_deref(),
        Some(other.id.as_str())
    );
    // A redelivery of an erased event is still only a redelivery.
    let again = store
        .record_inbound("minato", "line", &events[..1], received())
        .await
        .unwrap();
    assert!(again[0].duplicate);
    assert_eq!(again[0].record.address, None);
}
