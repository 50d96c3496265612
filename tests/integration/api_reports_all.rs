//! The operator's figures of every tenant (`tayori_api::reports::all_tenants`,
//! a few reads over all tenants) are each tenant's own monthly figures
//! (`tayori_api::reports::figures`), on tenants whose rules, spans and
//! time zones differ: at the chosen instant it is already February in
//! Tokyo and still January in Honolulu, so the same child is in its window
//! in one tenant and past it in another, and each tenant's month holds
//! different events and deliveries.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Utc};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::{
    Complete, Completion, DeliverySource, DeliverySpan, NewChild, NewContact, NewDelivery,
    NewSubscriber, NewTenant, OutboxStatus, PlanState, Store, Subscriber, UnreportedBirth,
};

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The instant: 2027-02-01 05:00 in Tokyo, 2027-01-31 10:00 in Honolulu.
fn now() -> DateTime<Utc> {
    utc("2027-01-31T20:00:00Z")
}

fn spec(name: &str) -> tayori_core::ChannelSpec {
    tayori_core::ChannelSpec {
        name: name.into(),
        plugin_id: "line".into(),
        version: None,
        config: serde_json::json!({}),
        secrets_ciphertext: Vec::new(),
        allowed_hosts: Vec::new(),
        rate_per_second: None,
        daily_quota: None,
    }
}

/// The children every tenant gets (one household each), around the
/// counting days of 31 January and 1 February 2027.
fn households() -> Vec<Vec<NewChild>> {
    vec![
        // Third birthday on 31 January: in the span there on that day only.
        vec![NewChild::born(d("2024-01-31"))],
        // Fourth birthday soon: only a span to the 6th birthday has it.
        vec![NewChild::born(d("2023-03-01"))],
        // Due 10 January, no birth reported: counted from the due date, or
        // paused.
        vec![NewChild::due(d("2027-01-10"))],
        // Two children, one expected, one born.
        vec![
            NewChild::due(d("2027-06-01")),
            NewChild::born(d("2025-05-05")),
        ],
        // Too early in the pregnancy (before week 4).
        vec![NewChild::due(d("2027-10-30"))],
        vec![NewChild::born(d("2026-12-24"))],
        vec![NewChild::born(d("2026-07-01"))],
    ]
}

async fn household(
    store: &Arc<dyn Store>,
    tenant: &str,
    i: usize,
    children: Vec<NewChild>,
) -> Subscriber {
    store
        .create_subscriber(
            tenant,
            &NewSubscriber {
                external_id: None,
                locale: tayori_core::Locale::Ja,
                contacts: vec![NewContact {
                    channel: "line".into(),
                    address: format!("U{:032x}", 0x0a11_0000 + i),
                }],
                children,
            },
        )
        .await
        .unwrap()
}

fn delivery(tenant: &str, s: &Subscriber, n: usize, due: DateTime<Utc>) -> NewDelivery {
    let c = &s.contacts[0];
    NewDelivery {
        key: uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("{tenant}/{}/{n}", c.id).as_bytes(),
        )
        .to_string(),
        tenant_id: tenant.into(),
        subscriber_id: s.id.clone(),
        contact_id: c.id.clone(),
        channel: c.channel.clone(),
        source: DeliverySource::Scheduled {
            child_id: s.children[0].id.clone(),
            message_id: format!("m{n}"),
            occurs_on: due.date_naive(),
            pregnancy: false,
        },
        due_at: due.timestamp_millis(),
        expires_at: (due + Duration::days(30)).timestamp_millis(),
        status: OutboxStatus::Pending,
        late: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenants_figures_are_its_own_monthly_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = tayori_store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    // Tokyo, default rules; Tokyo, pause unreported births, to the 6th
    // birthday; Honolulu; and a tenant with nothing.
    let mut tenants = vec![
        NewTenant::new("otaru", "小樽市"),
        NewTenant::new("minato", "港区"),
        NewTenant::new("hilo", "Hilo"),
        NewTenant::new("empty", "空の町"),
    ];
    tenants[1].unreported_birth = UnreportedBirth::Pause;
    tenants[1].span = DeliverySpan::ToSixthBirthday;
    tenants[2].time_zone = "Pacific/Honolulu".into();
    for t in &tenants {
        store.create_tenant(t).await.unwrap();
    }
    for t in ["otaru", "minato", "hilo"] {
        store.put_channel(t, &spec("line")).await.unwrap();
    }
    store.put_channel("otaru", &spec("email")).await.unwrap();
    store
        .set_channel_pause("minato", "line", Some("unauthorized"))
        .await
        .unwrap();
    let mut made = Vec::new();
    let mut i = 0;
    for t in ["otaru", "minato", "hilo"] {
        for children in households() {
            i += 1;
            made.push((t, household(&store, t, i, children).await));
        }
    }
    // Otaru: a stopped household, a stopped child of the household of two.
    let (_, stopped) = &made[6];
    store
        .stop_subscriber("otaru", &stopped.id, "moved_away")
        .await
        .unwrap();
    let (_, two) = &made[3];
    store
        .stop_child("otaru", &two.id, &two.children[1].id, "pregnancy_loss")
        .await
        .unwrap();
    // Front-door events: in Tokyo's February, in Honolulu's January, and
    // in the hours that are February in Tokyo but January in Honolulu.
    for (t, kind, at) in [
        ("otaru", FrontDoorKind::Registered, "2027-01-31T15:00:00Z"),
        ("otaru", FrontDoorKind::Registered, "2027-01-31T19:00:00Z"),
        ("otaru", FrontDoorKind::Stopped, "2027-01-31T16:00:00Z"),
        ("otaru", FrontDoorKind::Blocked, "2027-01-31T14:59:59Z"),
        ("minato", FrontDoorKind::Blocked, "2027-01-31T17:00:00Z"),
        ("minato", FrontDoorKind::Confirmed, "2027-01-31T17:00:00Z"),
        ("hilo", FrontDoorKind::Registered, "2027-01-31T16:00:00Z"),
        ("hilo", FrontDoorKind::Registered, "2027-01-01T10:00:00Z"),
        ("hilo", FrontDoorKind::Registered, "2027-01-01T09:59:59Z"),
        ("hilo", FrontDoorKind::Stopped, "2027-01-15T00:00:00Z"),
    ] {
        store
            .record_front_door(t, "line", kind, None, utc(at))
            .await
            .unwrap();
    }
    // Deliveries: one due in each tenant's month and one before it per
    // household, then some sent, some failed, some given up.
    let mut rows: std::collections::BTreeMap<&str, Vec<NewDelivery>> = Default::default();
    for (n, (t, s)) in made.iter().enumerate() {
        let (this_month, earlier) = if *t == "hilo" {
            (utc("2027-01-20T19:00:00Z"), utc("2026-12-20T19:00:00Z"))
        } else {
            (utc("2027-01-31T16:00:00Z"), utc("2027-01-20T00:00:00Z"))
        };
        rows.entry(t)
            .or_default()
            .push(delivery(t, s, 2 * n, this_month));
        rows.entry(t)
            .or_default()
            .push(delivery(t, s, 2 * n + 1, earlier));
    }
    let state = PlanState {
        day: d("2027-01-31"),
        changes: 1,
    };
    for (t, rows) in &rows {
        store.write_plan(t, rows, &state).await.unwrap();
    }
    let at = now().timestamp_millis();
    let claimed = store
        .claim(at, at + 60_000, 1_000)
        .await
        .unwrap()
        .deliveries;
    let completions: Vec<Complete> = claimed
        .iter()
        .enumerate()
        .filter(|(k, _)| k % 4 != 3)
        .map(|(k, c)| Complete {
            id: c.id,
            fence: c.fence,
            completion: match k % 4 {
                0 => Completion::Sent {
                    receipt: None,
                    plugin_version: "1.0.0".into(),
                },
                1 => Completion::Failed {
                    error: "400".into(),
                    plugin_version: None,
                },
                _ => Completion::Dead {
                    error: "500".into(),
                    plugin_version: None,
                },
            },
        })
        .collect();
    store.complete(&completions, at).await.unwrap();

    let all = tayori_api::reports::all_tenants(store.as_ref(), now())
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|f| f.tenant_id.as_str()).collect::<Vec<_>>(),
        ["hilo", "otaru", "minato", "empty"],
        "every tenant, by name"
    );
    let mut totals = (0, 0, 0);
    for f in &all {
        let tenant = store.tenant(&f.tenant_id).await.unwrap();
        let today = tayori_api::front_door::today(&tenant, now());
        let month = today.with_day(1).unwrap();
        let own = tayori_api::reports::figures(store.as_ref(), &tenant, month, today)
            .await
            .unwrap();
        let id = &f.tenant_id;
        assert_eq!(f.name, tenant.name);
        assert_eq!(f.month, own.month, "{id}");
        assert_eq!(f.counted_on, own.counted_on, "{id}");
        assert_eq!(f.active_users, own.active_users, "{id}: active users");
        assert_eq!(f.registrations, own.registrations, "{id}: registrations");
        assert_eq!(f.stops, own.stops, "{id}: stops");
        assert_eq!(f.blocks, own.blocks, "{id}: blocks");
        let status = |s: &str| -> u64 { own.deliveries.values().filter_map(|by| by.get(s)).sum() };
        assert_eq!(f.sent, status("sent"), "{id}: sent");
        assert_eq!(f.failed, status("failed") + status("dead"), "{id}: failed");
        let channels = store.channels(id).await.unwrap();
        assert_eq!(
            f.active_channels,
            channels.iter().filter(|c| c.paused.is_none()).count() as u64,
            "{id}: channels"
        );
        totals.0 += f.active_users;
        totals.1 += f.sent;
        totals.2 += f.failed;
    }
    // The data set is varied enough to mean something: the months differ,
    // the rules change the counts, and each tenant has sent and failed.
    let by = |id: &str| all.iter().find(|f| f.tenant_id == id).unwrap();
    assert_eq!(by("otaru").month, "2027-02");
    assert_eq!(by("hilo").month, "2027-01");
    assert_eq!(
        (
            by("otaru").active_users,
            by("minato").active_users,
            by("hilo").active_users
        ),
        // Otaru (1 Feb): the 2023 and 2024 children are past their 3rd
        // birthday, the 1 Jul household is stopped, the early pregnancy is
        // out: due 10 Jan, two (one child stopped), 24 Dec. Minato (6th birthday, pause):
        // 2024, 2023, two, 24 Dec, 1 Jul. Hilo (31 Jan): 2024's last day,
        // due 10 Jan, two, 24 Dec, 1 Jul.
        (3, 5, 5)
    );
    assert_eq!(
        (
            by("otaru").registrations,
            by("otaru").stops,
            by("otaru").blocks
        ),
        (2, 1, 0)
    );
    assert_eq!((by("hilo").registrations, by("hilo").stops), (2, 1));
    assert_eq!(by("minato").blocks, 1);
    assert!(totals.1 > 0 && totals.2 > 0, "{totals:?}");
    assert_eq!(
        by("empty"),
        &tayori_core::domain::figures::TenantFigures {
            tenant_id: "empty".into(),
            name: "空の町".into(),
            month: "2027-02".into(),
            counted_on: d("2027-02-01"),
            ..Default::default()
        }
    );
    assert_eq!(by("otaru").active_channels, 2);
    assert_eq!(by("minato").active_channels, 0);
}
