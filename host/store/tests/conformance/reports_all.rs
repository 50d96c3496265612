//! The figures' reads over every tenant at once say what the one-tenant
//! reads say of each tenant.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::domain::figures::ChildDates;
use tayori_core::{
    Complete, Completion, DeliverySource, NewChild, NewDelivery, NewSubscriber, OutboxStatus,
    PlanState, Store, Subscriber,
};

use super::harness::{contact, d, tenant};

const T0: i64 = 1_800_000_000_000;

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

fn subscriber(i: usize, children: Vec<NewChild>, channels: &[&str]) -> NewSubscriber {
    NewSubscriber {
        external_id: None,
        locale: tayori_core::Locale::Ja,
        contacts: channels
            .iter()
            .map(|c| contact(c, &format!("U{i:031x}{}", c.len())))
            .collect(),
        children,
    }
}

/// One delivery per contact of `s`, due at `due_at`.
fn deliveries(tenant_id: &str, s: &Subscriber, due_at: i64) -> Vec<NewDelivery> {
    s.contacts
        .iter()
        .map(|c| NewDelivery {
            key: uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_OID,
                format!("{tenant_id}/{}/{due_at}", c.id).as_bytes(),
            )
            .to_string(),
            tenant_id: tenant_id.into(),
            subscriber_id: s.id.clone(),
            contact_id: c.id.clone(),
            channel: c.channel.clone(),
            source: DeliverySource::Scheduled {
                child_id: s.children[0].id.clone(),
                message_id: format!("m{due_at}"),
                occurs_on: d("2027-01-10"),
                pregnancy: false,
            },
            due_at,
            expires_at: due_at + 3_600_000,
            status: OutboxStatus::Pending,
            late: None,
        })
        .collect()
}

/// A household's children as the figures see them, in a fixed order.
fn sorted(mut children: Vec<ChildDates>) -> Vec<(Option<String>, Option<String>, String)> {
    children.sort_by_key(|c| (c.due_date, c.birth_date));
    children
        .into_iter()
        .map(|c| {
            (
                c.due_date.map(|d| d.to_string()),
                c.birth_date.map(|d| d.to_string()),
                c.status.as_str().to_string(),
            )
        })
        .collect()
}

pub async fn figures_of_every_tenant_are_each_tenants_own(store: Arc<dyn Store>) {
    for t in ["minato", "otaru", "naha", "empty"] {
        tenant(&store, t).await;
    }
    for t in ["minato", "otaru", "naha"] {
        store
            .put_channel(t, &super::channels::line_spec())
            .await
            .unwrap();
    }
    let mut email = super::channels::line_spec();
    email.name = "email".into();
    store.put_channel("minato", &email).await.unwrap();
    store
        .set_channel_pause("otaru", "line", Some("unauthorized"))
        .await
        .unwrap();
    let mut made: BTreeMap<&str, Vec<Subscriber>> = BTreeMap::new();
    let mut i = 0;
    for (t, n) in [("minato", 7), ("otaru", 4), ("naha", 3)] {
        for k in 0..n {
            i += 1;
            let children = match k % 4 {
                0 => vec![NewChild::due(d("2027-05-01"))],
                1 => vec![
                    NewChild::born(d("2025-03-01")),
                    NewChild::due(d("2027-08-01")),
                ],
                2 => vec![NewChild::born(d("2020-01-01"))],
                _ => vec![NewChild::born(d("2026-12-24"))],
            };
            let channels: &[&str] = if t == "minato" && k % 2 == 0 {
                &["line", "email"]
            } else if k == 3 {
                &[]
            } else {
                &["line"]
            };
            let s = store
                .create_subscriber(t, &subscriber(i, children, channels))
                .await
                .unwrap();
            made.entry(t).or_default().push(s);
        }
    }
    // A stopped household, a stopped child of a household of two.
    let minato = &made["minato"];
    store
        .stop_subscriber("minato", &minato[2].id, "moved_away")
        .await
        .unwrap();
    store
        .stop_child(
            "minato",
            &minato[1].id,
            &minato[1].children[1].id,
            "pregnancy_loss",
        )
        .await
        .unwrap();
    // Deliveries in and out of the range, some sent, some failed.
    for (t, subs) in &made {
        let mut rows = Vec::new();
        for (k, s) in subs.iter().enumerate() {
            rows.extend(deliveries(t, s, T0 + k as i64));
            rows.extend(deliveries(t, s, T0 + 10_000_000));
        }
        let state = PlanState {
            day: d("2027-01-10"),
            changes: 1,
        };
        store.write_plan(t, &rows, &state).await.unwrap();
    }
    let claimed = store
        .claim(T0 + 5, T0 + 60_000, 1_000)
        .await
        .unwrap()
        .deliveries;
    let completions: Vec<Complete> = claimed
        .iter()
        .enumerate()
        .filter(|(k, _)| k % 3 != 2)
        .map(|(k, c)| Complete {
            id: c.id,
            fence: c.fence,
            completion: if k % 3 == 0 {
                Completion::Sent {
                    receipt: None,
                    plugin_version: "1.0.0".into(),
                }
            } else {
                Completion::Failed {
                    error: "400".into(),
                    plugin_version: None,
                }
            },
        })
        .collect();
    store.complete(&completions, T0 + 10).await.unwrap();
    for (t, channel, kind, ms) in [
        ("minato", "line", FrontDoorKind::Registered, 0),
        ("minato", "email", FrontDoorKind::Registered, 1),
        ("minato", "line", FrontDoorKind::Stopped, 2),
        ("minato", "line", FrontDoorKind::Blocked, 3),
        ("minato", "email", FrontDoorKind::Confirmed, 3),
        ("otaru", "line", FrontDoorKind::Registered, 4),
        ("otaru", "line", FrontDoorKind::Registered, 10_000_000),
        ("naha", "line", FrontDoorKind::Blocked, -1),
    ] {
        store
            .record_front_door(t, channel, kind, None, at(T0 + ms))
            .await
            .unwrap();
    }
    let (from, to) = (at(T0), at(T0 + 1_000_000));

    // Households: each tenant's, without their channels.
    let all = store.report_households_all().await.unwrap();
    let tenants: Vec<&str> = all.iter().map(|h| h.tenant_id.as_str()).collect();
    assert_eq!(
        tenants,
        ["minato", "naha", "otaru"],
        "by tenant, none empty"
    );
    for h in &all {
        let mut every: Vec<_> = h.households().map(|c| sorted(c.to_vec())).collect();
        let mut own: Vec<_> = store
            .report_households(&h.tenant_id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| sorted(r.children))
            .collect();
        every.sort();
        own.sort();
        assert_eq!(every, own, "{}", h.tenant_id);
    }
    let minato_rows = store.report_households("minato").await.unwrap();
    assert_eq!(minato_rows.len(), 6, "the stopped household is out");
    assert_eq!(
        minato_rows.iter().map(|r| r.children.len()).sum::<usize>(),
        7,
        "the stopped child is out"
    );
    let mut channels: Vec<Vec<String>> = minato_rows
        .into_iter()
        .map(|mut r| {
            r.channels.sort();
            r.channels
        })
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [
            vec![],
            vec!["email".to_string(), "line".to_string()],
            vec!["email".to_string(), "line".to_string()],
            vec!["email".to_string(), "line".to_string()],
            vec!["line".to_string()],
            vec!["line".to_string()],
        ],
        "valid contacts' channels"
    );
    assert!(store.report_households("empty").await.unwrap().is_empty());

    // Front-door events and deliveries: each tenant's, summed over channels.
    let events = store.front_door_counts_all(from, to).await.unwrap();
    let deliveries = store.delivery_counts_all(from, to).await.unwrap();
    let mut own_events = Vec::new();
    let mut own_deliveries = Vec::new();
    for t in ["empty", "minato", "naha", "otaru"] {
        let mut by: BTreeMap<FrontDoorKind, u64> = BTreeMap::new();
        for (_, kind, n) in store.front_door_counts(t, from, to).await.unwrap() {
            *by.entry(kind).or_default() += n;
        }
        own_events.extend(by.into_iter().map(|(k, n)| (t.to_string(), k, n)));
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for (_, status, n) in store.delivery_counts(t, from, to).await.unwrap() {
            *by.entry(status).or_default() += n;
        }
        own_deliveries.extend(by.into_iter().map(|(s, n)| (t.to_string(), s, n)));
    }
    own_events.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
    assert_eq!(events, own_events);
    assert_eq!(
        events
            .iter()
            .filter(|(t, _, _)| t == "minato")
            .map(|(_, k, n)| (k.as_str(), *n))
            .collect::<Vec<_>>(),
        [
            ("blocked", 1),
            ("confirmed", 1),
            ("registered", 2),
            ("stopped", 1)
        ]
    );
    assert_eq!(deliveries, own_deliveries);
    let statuses: BTreeMap<&str, u64> =
        deliveries
            .iter()
            .fold(BTreeMap::new(), |mut by, (_, s, n)| {
                *by.entry(s.as_str()).or_default() += n;
                by
            });
    assert!(
        statuses["sent"] > 0 && statuses["failed"] > 0,
        "{statuses:?}"
    );
    // Channels not paused.
    assert_eq!(
        store.active_channel_counts().await.unwrap(),
        [("minato".to_string(), 2), ("naha".to_string(), 1)]
    );
}
