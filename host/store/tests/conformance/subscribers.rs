//! Subscribers: create, birth, stop, erase, patch, contact status, pages.

use std::sync::Arc;

use tayori_core::{
    Anchor, ChildStatus, ContactStatus, Locale, NewChild, NewSubscriber, PageRequest, Store,
    StoreError, SubscriberCounts, SubscriberPatch, SubscriberStatus,
};

use super::harness::{contact, d, household, tenant};

pub async fn a_subscriber_is_created_with_contacts_and_children(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let new = NewSubscriber {
        external_id: Some("M-0001".into()),
        locale: Locale::JaEasy,
        contacts: vec![
            contact("line", "U4af4980629"),
            contact("email", "parent@example.jp"),
        ],
        children: vec![
            NewChild::born(d("2025-01-31")),
            NewChild::due(d("2027-05-01")),
        ],
    };
    let created = store.create_subscriber("minato", &new).await.unwrap();
    assert_eq!(created.tenant_id, "minato");
    assert_eq!(created.external_id.as_deref(), Some("M-0001"));
    assert_eq!(created.locale, Locale::JaEasy);
    assert_eq!(created.status, SubscriberStatus::Active);
    let channels: Vec<&str> = created
        .contacts
        .iter()
        .map(|c| c.channel.as_str())
        .collect();
    assert_eq!(channels, ["line", "email"]);
    assert!(
        created
            .contacts
            .iter()
            .all(|c| c.status == ContactStatus::Valid)
    );
    assert_eq!(created.children[0].status, ChildStatus::Born);
    assert_eq!(
        created.children[0].anchor(),
        Some(Anchor::Birth(d("2025-01-31")))
    );
    assert_eq!(created.children[1].status, ChildStatus::Expecting);
    assert_eq!(
        created.children[1].anchor(),
        Some(Anchor::Due(d("2027-05-01")))
    );

    assert_eq!(
        store.subscriber("minato", &created.id).await.unwrap(),
        created
    );
    assert_eq!(
        store
            .subscriber_by_contact("minato", "email", "parent@example.jp")
            .await
            .unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        store
            .subscriber_by_contact("minato", "line", "parent@example.jp")
            .await
            .unwrap(),
        None,
        "an address is looked up on its own channel"
    );
    match store
        .subscriber("minato", "00000000-0000-0000-0000-000000000000")
        .await
    {
        Err(StoreError::NotFound(what)) => assert!(what.contains("minato"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub async fn a_refused_create_writes_nothing(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut first = household("U1", "2027-05-01");
    first.external_id = Some("M-1".into());
    store.create_subscriber("minato", &first).await.unwrap();

    // Its second contact is taken: nothing of it may remain, not even the
    // subscriber row or its first contact.
    let taken = NewSubscriber {
        external_id: Some("M-2".into()),
        locale: Locale::Ja,
        contacts: vec![contact("email", "new@example.jp"), contact("line", "U1")],
        children: vec![NewChild::due(d("2027-06-01"))],
    };
    match store.create_subscriber("minato", &taken).await {
        Err(e @ StoreError::Conflict(_)) => {
            let text = e.to_string();
            assert!(text.contains("contacts[1]"), "{text}");
            assert!(!text.contains("U1"), "the address is not echoed: {text}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut same_external = household("U2", "2027-05-01");
    same_external.external_id = Some("M-1".into());
    assert!(matches!(
        store.create_subscriber("minato", &same_external).await,
        Err(StoreError::Conflict(_))
    ));
    let mut dateless = household("U3", "2027-05-01");
    dateless.children.push(NewChild::default());
    match store.create_subscriber("minato", &dateless).await {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "children[1]"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let mut twice = household("U4", "2027-05-01");
    twice.contacts.push(contact("line", "U4"));
    assert!(matches!(
        store.create_subscriber("minato", &twice).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store
            .create_subscriber("nowhere", &household("U5", "2027-05-01"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let all = store
        .subscribers("minato", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(
        store
            .subscriber_by_contact("minato", "email", "new@example.jp")
            .await
            .unwrap(),
        None
    );
    // The refused subscriber's external id and addresses are still free.
    store
        .create_subscriber(
            "minato",
            &NewSubscriber {
                contacts: vec![contact("email", "new@example.jp")],
                ..taken
            },
        )
        .await
        .unwrap();
}

pub async fn concurrent_registrations_get_the_answers_of_sequential_ones(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "adachi").await;
    // 60 registrations at once: 20 addresses each tried twice in minato,
    // 10 in adachi, and 10 for a tenant that does not exist.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let (tenant_id, address) = match i {
            0..40 => ("minato", format!("U{}", i % 20)),
            40..50 => ("adachi", format!("U{}", i % 20)),
            _ => ("nowhere", format!("U{i}")),
        };
        let mut new = household(&address, "2027-05-01");
        new.external_id = Some(format!("X{}", i % 20));
        tasks.push(tokio::spawn(async move {
            (
                tenant_id,
                address.clone(),
                store.create_subscriber(tenant_id, &new).await,
            )
        }));
    }
    let mut created = std::collections::HashMap::new();
    for t in tasks {
        let (tenant_id, address, result) = t.await.unwrap();
        match (tenant_id, result) {
            ("nowhere", Err(StoreError::NotFound(what))) => assert_eq!(what, "tenant `nowhere`"),
            ("nowhere", other) => panic!("an unknown tenant must be NotFound, got {other:?}"),
            (_, Ok(s)) => {
                assert_eq!(s.contacts[0].address, address);
                assert!(
                    created.insert((tenant_id, address), s).is_none(),
                    "one address registered twice"
                );
            }
            (_, Err(StoreError::Conflict(_))) => {}
            (_, Err(e)) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(
        created.len(),
        30,
        "each address registered exactly once per tenant"
    );
    for ((tenant_id, _), s) in &created {
        assert_eq!(&store.subscriber(tenant_id, &s.id).await.unwrap(), s);
    }
    let minato = store.subscriber_counts("minato").await.unwrap();
    assert_eq!(minato.active, 20, "refused registrations wrote nothing");
    assert_eq!(store.subscriber_counts("adachi").await.unwrap().active, 10);
}

pub async fn birth_and_stop(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = store
        .create_subscriber("minato", &household("U1", "2027-05-01"))
        .await
        .unwrap();
    let child = &s.children[0];

    let born = store
        .report_birth("minato", &s.id, &child.id, d("2027-04-28"))
        .await
        .unwrap();
    assert_eq!(born.status, ChildStatus::Born);
    assert_eq!(born.birth_date, Some(d("2027-04-28")));
    assert_eq!(born.due_date, Some(d("2027-05-01")), "the due date is kept");
    assert_eq!(born.anchor(), Some(Anchor::Birth(d("2027-04-28"))));
    // A correction.
    let corrected = store
        .report_birth("minato", &s.id, &child.id, d("2027-04-27"))
        .await
        .unwrap();
    assert_eq!(corrected.birth_date, Some(d("2027-04-27")));

    let sibling = store
        .add_child("minato", &s.id, &NewChild::due(d("2029-01-10")))
        .await
        .unwrap();
    assert_eq!(sibling.status, ChildStatus::Expecting);

    let stopped = store
        .stop_child("minato", &s.id, &sibling.id, "pregnancy loss")
        .await
        .unwrap();
    assert_eq!(stopped.status, ChildStatus::Stopped);
    assert_eq!(stopped.stopped_reason.as_deref(), Some("pregnancy loss"));
    assert_eq!(stopped.anchor(), None);
    // Stopping again changes nothing.
    assert_eq!(
        store
            .stop_child("minato", &s.id, &sibling.id, "other")
            .await
            .unwrap(),
        stopped
    );
    assert!(matches!(
        store
            .report_birth("minato", &s.id, &sibling.id, d("2029-01-01"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.subscriber("minato", &s.id).await.unwrap().status,
        SubscriberStatus::Active,
        "one child is still followed"
    );

    store
        .stop_child("minato", &s.id, &child.id, "moved away")
        .await
        .unwrap();
    let after = store.subscriber("minato", &s.id).await.unwrap();
    assert_eq!(after.status, SubscriberStatus::Stopped);
    let children: Vec<ChildStatus> = after.children.iter().map(|c| c.status).collect();
    assert_eq!(children, [ChildStatus::Stopped, ChildStatus::Stopped]);

    // A new pregnancy makes the household active again.
    store
        .add_child("minato", &s.id, &NewChild::due(d("2030-02-01")))
        .await
        .unwrap();
    let again = store.subscriber("minato", &s.id).await.unwrap();
    assert_eq!(again.status, SubscriberStatus::Active);
    assert_eq!(again.children.len(), 3);

    assert!(matches!(
        store
            .report_birth("minato", &s.id, "no-such-child", d("2027-04-28"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.add_child("minato", &s.id, &NewChild::default()).await,
        Err(StoreError::Invalid { .. })
    ));
}

pub async fn stopping_a_subscriber_stops_every_child(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut new = household("U1", "2027-05-01");
    new.children.push(NewChild::born(d("2025-03-03")));
    let s = store.create_subscriber("minato", &new).await.unwrap();
    let stopped = store
        .stop_subscriber("minato", &s.id, "asked to stop")
        .await
        .unwrap();
    assert_eq!(stopped.status, SubscriberStatus::Stopped);
    assert!(
        stopped
            .children
            .iter()
            .all(|c| c.status == ChildStatus::Stopped
                && c.stopped_reason.as_deref() == Some("asked to stop"))
    );
    assert_eq!(store.subscriber("minato", &s.id).await.unwrap(), stopped);
}

pub async fn erasure_removes_personal_data_and_keeps_counts(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut new = household("U1", "2027-05-01");
    new.external_id = Some("M-1".into());
    new.contacts.push(contact("email", "parent@example.jp"));
    let s = store.create_subscriber("minato", &new).await.unwrap();
    store
        .stop_child("minato", &s.id, &s.children[0].id, "pregnancy loss")
        .await
        .unwrap();
    store
        .create_subscriber("minato", &household("U2", "2027-08-01"))
        .await
        .unwrap();

    store.erase_subscriber("minato", &s.id).await.unwrap();
    let erased = store.subscriber("minato", &s.id).await.unwrap();
    assert_eq!(erased.status, SubscriberStatus::Erased);
    assert_eq!(erased.external_id, None);
    assert!(erased.contacts.is_empty(), "addresses are gone");
    assert_eq!(erased.children.len(), 1, "the anonymous child row stays");
    let child = &erased.children[0];
    assert_eq!((child.due_date, child.birth_date), (None, None));
    assert_eq!(child.status, ChildStatus::Stopped);
    assert_eq!(
        child.stopped_reason.as_deref(),
        Some("erased"),
        "the health reason is gone"
    );
    assert_eq!(
        store.subscriber_counts("minato").await.unwrap(),
        SubscriberCounts {
            active: 1,
            stopped: 0,
            erased: 1
        }
    );
    assert_eq!(
        store
            .subscriber_by_contact("minato", "line", "U1")
            .await
            .unwrap(),
        None
    );

    // Erasing twice is harmless; an erased subscriber cannot be changed.
    store.erase_subscriber("minato", &s.id).await.unwrap();
    assert!(matches!(
        store
            .update_subscriber(
                "minato",
                &s.id,
                &SubscriberPatch {
                    locale: Some(Locale::En),
                    contacts: None
                }
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .add_child("minato", &s.id, &NewChild::due(d("2028-01-01")))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // The family can register again with the same address and external id.
    store.create_subscriber("minato", &new).await.unwrap();
}

pub async fn patching_contacts_keeps_the_unchanged_ones(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut new = household("U1", "2027-05-01");
    new.contacts.push(contact("email", "old@example.jp"));
    let s = store.create_subscriber("minato", &new).await.unwrap();
    let line_id = s.contacts[0].id.clone();

    let patched = store
        .update_subscriber(
            "minato",
            &s.id,
            &SubscriberPatch {
                locale: Some(Locale::En),
                contacts: Some(vec![
                    contact("email", "new@example.jp"),
                    contact("line", "U1"),
                ]),
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.locale, Locale::En);
    let contacts: Vec<(&str, &str)> = patched
        .contacts
        .iter()
        .map(|c| (c.channel.as_str(), c.address.as_str()))
        .collect();
    assert_eq!(contacts, [("email", "new@example.jp"), ("line", "U1")]);
    assert_eq!(
        patched.contacts[1].id, line_id,
        "an unchanged contact keeps its id"
    );
    assert_eq!(store.subscriber("minato", &s.id).await.unwrap(), patched);

    // The removed address is free for someone else; a taken one is refused.
    let other = store
        .create_subscriber(
            "minato",
            &NewSubscriber {
                contacts: vec![contact("email", "old@example.jp")],
                ..household("U9", "2027-09-09")
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .update_subscriber(
                "minato",
                &other.id,
                &SubscriberPatch {
                    locale: None,
                    contacts: Some(vec![contact("line", "U1")]),
                }
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .subscriber("minato", &other.id)
            .await
            .unwrap()
            .contacts
            .len(),
        1
    );
}

pub async fn contacts_can_be_marked_invalid(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = store
        .create_subscriber("minato", &household("U1", "2027-05-01"))
        .await
        .unwrap();
    let id = &s.contacts[0].id;
    let gone = store
        .set_contact_status("minato", id, ContactStatus::Invalid)
        .await
        .unwrap();
    assert_eq!(gone.status, ContactStatus::Invalid);
    assert_eq!(
        store.subscriber("minato", &s.id).await.unwrap().contacts[0].status,
        ContactStatus::Invalid
    );
    let back = store
        .set_contact_status("minato", id, ContactStatus::Valid)
        .await
        .unwrap();
    assert_eq!(back.status, ContactStatus::Valid);
    assert!(matches!(
        store
            .set_contact_status("minato", "nope", ContactStatus::Invalid)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn subscribers_are_listed_in_pages(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut created = Vec::new();
    for i in 0..25 {
        let s = store
            .create_subscriber("minato", &household(&format!("U{i}"), "2027-05-01"))
            .await
            .unwrap();
        created.push(s.id);
    }
    let mut seen = Vec::new();
    let mut page = PageRequest {
        after: None,
        limit: 10,
    };
    let mut pages = 0;
    loop {
        let got = store.subscribers("minato", &page).await.unwrap();
        pages += 1;
        assert!(got.items.len() <= 10);
        assert!(
            got.items
                .iter()
                .all(|s| s.contacts.len() == 1 && s.children.len() == 1)
        );
        seen.extend(got.items.into_iter().map(|s| s.id));
        match got.next_cursor {
            Some(cursor) => page.after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every subscriber once, in creation order");
    assert!(matches!(
        store.subscribers("nowhere", &PageRequest::default()).await,
        Err(StoreError::NotFound(_))
    ));
}
