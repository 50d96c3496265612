//! Chat conversations: saved only where they were read (two events racing
//! for one contact cannot both act), scoped by tenant, channel and address,
//! removed when the household is erased; front door events counted by
//! channel and kind within a time range.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tayori_core::Store;
use tayori_core::domain::conversation::{Conversation, FrontDoorKind, Step};

use super::harness::{d, household, tenant};

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_798_000_000, 0).unwrap() + Duration::minutes(minutes)
}

fn asked(round: u32) -> Conversation {
    Conversation {
        step: Step::AskDate { born: true },
        round,
        ..Conversation::default()
    }
}

pub async fn conversations_are_saved_only_where_they_were_read(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    let (t, c, a) = ("minato", "line", "U1");
    assert_eq!(store.conversation(t, c, a).await.unwrap(), None);
    // The first save expects nothing stored; a second first save loses.
    assert!(
        store
            .save_conversation(t, c, a, None, &asked(1), at(0))
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_conversation(t, c, a, None, &asked(9), at(0))
            .await
            .unwrap()
    );
    assert_eq!(store.conversation(t, c, a).await.unwrap(), Some(asked(1)));
    // Two events read round 1: the first to save wins, the other is told.
    assert!(
        store
            .save_conversation(t, c, a, Some(1), &asked(2), at(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .save_conversation(t, c, a, Some(1), &asked(3), at(1))
            .await
            .unwrap()
    );
    assert_eq!(store.conversation(t, c, a).await.unwrap(), Some(asked(2)));
    // Scoped: another address, channel or tenant has none.
    assert_eq!(store.conversation(t, c, "U2").await.unwrap(), None);
    assert_eq!(store.conversation(t, "line-2", a).await.unwrap(), None);
    assert_eq!(store.conversation("otaru", c, a).await.unwrap(), None);
    assert!(
        store
            .save_conversation("nowhere", c, a, None, &asked(1), at(0))
            .await
            .is_err()
    );
}

pub async fn erasing_a_household_removes_its_conversations(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = store
        .create_subscriber("minato", &household("U1", "2027-05-01"))
        .await
        .unwrap();
    store
        .save_conversation("minato", "line", "U1", None, &asked(1), at(0))
        .await
        .unwrap();
    store
        .save_conversation("minato", "line", "U2", None, &asked(1), at(0))
        .await
        .unwrap();
    store.erase_subscriber("minato", &s.id).await.unwrap();
    assert_eq!(
        store.conversation("minato", "line", "U1").await.unwrap(),
        None
    );
    assert_eq!(
        store.conversation("minato", "line", "U2").await.unwrap(),
        Some(asked(1)),
        "another contact's stays"
    );
}

pub async fn front_door_events_are_counted_by_channel_and_kind(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    for (channel, kind, minute) in [
        ("line", FrontDoorKind::Registered, 0),
        ("line", FrontDoorKind::Registered, 1),
        ("line", FrontDoorKind::Blocked, 2),
        ("email", FrontDoorKind::Confirmed, 3),
        ("email", FrontDoorKind::Registered, 3),
        ("line", FrontDoorKind::Registered, 60),
    ] {
        store
            .record_front_door("minato", channel, kind, None, at(minute))
            .await
            .unwrap();
    }
    store
        .record_front_door("otaru", "line", FrontDoorKind::Stopped, Some("s1"), at(0))
        .await
        .unwrap();
    let counts = store
        .front_door_counts("minato", at(0), at(60))
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![
            ("email".to_string(), FrontDoorKind::Confirmed, 1),
            ("email".to_string(), FrontDoorKind::Registered, 1),
            ("line".to_string(), FrontDoorKind::Blocked, 1),
            ("line".to_string(), FrontDoorKind::Registered, 2),
        ]
    );
    assert!(
        store
            .front_door_counts("nowhere", at(0), at(60))
            .await
            .is_err()
    );
}

pub async fn birth_questions_are_claimed_once_for_late_expected_children(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let late = store
        .create_subscriber("minato", &household("U1", "2027-05-01"))
        .await
        .unwrap();
    let recent = store
        .create_subscriber("minato", &household("U2", "2027-05-20"))
        .await
        .unwrap();
    let born = store
        .create_subscriber("minato", &household("U3", "2027-05-01"))
        .await
        .unwrap();
    store
        .report_birth("minato", &born.id, &born.children[0].id, d("2027-04-28"))
        .await
        .unwrap();
    let stopped = store
        .create_subscriber("minato", &household("U4", "2027-05-01"))
        .await
        .unwrap();
    store
        .stop_subscriber("minato", &stopped.id, "test")
        .await
        .unwrap();
    let claimed = store
        .claim_birth_questions("minato", d("2027-05-05"), at(0))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].subscriber_id, late.id);
    assert_eq!(claimed[0].child.id, late.children[0].id);
    assert_eq!(claimed[0].contacts, vec![("line".into(), "U1".into())]);
    // Asked once: a second pass (or node) claims nothing.
    assert!(
        store
            .claim_birth_questions("minato", d("2027-05-05"), at(1))
            .await
            .unwrap()
            .is_empty()
    );
    // The later one, when its day comes.
    let next = store
        .claim_birth_questions("minato", d("2027-05-20"), at(2))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].subscriber_id, recent.id);
}
