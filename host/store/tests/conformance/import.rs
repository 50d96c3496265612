//! Bulk import by external id: creation, idempotence, updates, all or
//! nothing.

use std::sync::Arc;

use tayori_core::{
    ChildStatus, ImportRow, ImportSummary, Locale, NewChild, PageRequest, Store, StoreError,
    SubscriberStatus,
};

use super::harness::{contact, d, household, tenant};

/// `n` rows: `E0000..`, one LINE contact each, one child due in 2027.
pub fn rows(n: usize) -> Vec<ImportRow> {
    (0..n)
        .map(|i| ImportRow {
            external_id: format!("E{i:06}"),
            locale: if i % 5 == 0 {
                Locale::JaEasy
            } else {
                Locale::Ja
            },
            contacts: vec![contact("line", &format!("U{i:032x}"))],
            children: vec![NewChild::due(
                d("2027-01-01") + chrono::Days::new((i % 280) as u64),
            )],
        })
        .collect()
}

async fn count(store: &Arc<dyn Store>, tenant: &str) -> u64 {
    let c = store.subscriber_counts(tenant).await.unwrap();
    c.active + c.stopped + c.erased
}

pub async fn an_import_creates_then_is_idempotent(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let file = rows(300);
    assert_eq!(
        store.import_subscribers("minato", &file).await.unwrap(),
        ImportSummary {
            created: 300,
            updated: 0,
            unchanged: 0
        }
    );
    let before = store
        .subscribers(
            "minato",
            &PageRequest {
                after: None,
                limit: 1000,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(before.len(), 300);
    assert_eq!(
        store.import_subscribers("minato", &file).await.unwrap(),
        ImportSummary {
            created: 0,
            updated: 0,
            unchanged: 300
        }
    );
    let after = store
        .subscribers(
            "minato",
            &PageRequest {
                after: None,
                limit: 1000,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        after, before,
        "a re-import changes nothing, not even timestamps"
    );

    let s = store
        .subscriber_by_contact("minato", "line", &format!("U{:032x}", 7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.external_id.as_deref(), Some("E000007"));
    assert_eq!(s.children[0].due_date, Some(d("2027-01-08")));
}

pub async fn a_reimport_updates_by_external_id(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut file = rows(3);
    store.import_subscribers("minato", &file).await.unwrap();
    let first = store
        .subscriber_by_contact("minato", "line", &file[0].contacts[0].address)
        .await
        .unwrap()
        .unwrap();

    // Row 0: born, a second contact, English. Row 1: a sibling. Row 2: same.
    file[0].locale = Locale::En;
    file[0].contacts.push(contact("email", "e0@example.jp"));
    file[0].children[0].birth_date = Some(d("2027-01-03"));
    file[1].children.push(NewChild::born(d("2024-06-30")));
    file.push(ImportRow {
        external_id: "NEW".into(),
        ..rows(4).pop().unwrap()
    });
    assert_eq!(
        store.import_subscribers("minato", &file).await.unwrap(),
        ImportSummary {
            created: 1,
            updated: 2,
            unchanged: 1
        }
    );
    let updated = store.subscriber("minato", &first.id).await.unwrap();
    assert_eq!(updated.locale, Locale::En);
    assert_eq!(updated.contacts.len(), 2);
    assert_eq!(
        updated.contacts[0].id, first.contacts[0].id,
        "the kept contact keeps its id"
    );
    assert_eq!(updated.children.len(), 1);
    assert_eq!(
        updated.children[0].id, first.children[0].id,
        "the child is the same child"
    );
    assert_eq!(updated.children[0].status, ChildStatus::Born);
    assert_eq!(updated.children[0].birth_date, Some(d("2027-01-03")));

    let second = store
        .subscriber_by_contact("minato", "line", &file[1].contacts[0].address)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.children.len(), 2);
    assert_eq!(second.children[1].status, ChildStatus::Born);

    // A stopped child is left alone by an import; a stopped household with a
    // new child in the file is active again.
    store
        .stop_child("minato", &second.id, &second.children[0].id, "moved")
        .await
        .unwrap();
    store
        .stop_child("minato", &second.id, &second.children[1].id, "moved")
        .await
        .unwrap();
    file[1].children[0].birth_date = Some(d("2027-02-02"));
    file[1].children.push(NewChild::due(d("2028-03-03")));
    store.import_subscribers("minato", &file).await.unwrap();
    let second = store.subscriber("minato", &second.id).await.unwrap();
    assert_eq!(second.status, SubscriberStatus::Active);
    assert_eq!(second.children[0].status, ChildStatus::Stopped);
    assert_eq!(second.children[0].birth_date, None);
    assert_eq!(second.children[2].status, ChildStatus::Expecting);
}

pub async fn a_reimport_restores_the_file_after_other_changes(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let file = rows(3);
    store.import_subscribers("minato", &file).await.unwrap();
    let imported = store
        .subscriber_by_contact("minato", "line", &file[2].contacts[0].address)
        .await
        .unwrap()
        .unwrap();
    // Changed through the API since the import...
    store
        .update_subscriber(
            "minato",
            &imported.id,
            &tayori_core::SubscriberPatch {
                locale: Some(Locale::En),
                contacts: Some(vec![contact("email", "moved@example.jp")]),
            },
        )
        .await
        .unwrap();
    // ...the same file puts the row's contacts and locale back.
    assert_eq!(
        store.import_subscribers("minato", &file).await.unwrap(),
        ImportSummary {
            created: 0,
            updated: 1,
            unchanged: 2
        }
    );
    let restored = store.subscriber("minato", &imported.id).await.unwrap();
    assert_eq!(restored.locale, file[2].locale);
    let addresses: Vec<&str> = restored
        .contacts
        .iter()
        .map(|c| c.address.as_str())
        .collect();
    assert_eq!(addresses, [file[2].contacts[0].address.as_str()]);
    assert_eq!(
        store
            .import_subscribers("minato", &file)
            .await
            .unwrap()
            .unchanged,
        3
    );
}

pub async fn a_bad_row_leaves_nothing_behind(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let existing = store
        .create_subscriber("minato", &household("TAKEN", "2027-05-01"))
        .await
        .unwrap();

    // Row 250's address belongs to a subscriber the file does not name.
    let mut file = rows(400);
    file[250].contacts[0].address = "TAKEN".into();
    match store.import_subscribers("minato", &file).await {
        Err(StoreError::Invalid { field, message }) => {
            assert_eq!(field, "rows[250].contacts[0].address");
            assert!(message.contains("another subscriber"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(
        count(&store, "minato").await,
        1,
        "nothing of the file was written"
    );
    let mut file = rows(400);
    file[399].external_id = file[10].external_id.clone();
    match store.import_subscribers("minato", &file).await {
        Err(StoreError::Invalid { field, message }) => {
            assert_eq!(field, "rows[399].external_id");
            assert!(message.contains("rows[10]"), "{message}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let mut file = rows(400);
    file[42].children.push(NewChild::default());
    match store.import_subscribers("minato", &file).await {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "rows[42].children[1]"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let mut file = rows(400);
    file[300].contacts[0].address = file[3].contacts[0].address.clone();
    match store.import_subscribers("minato", &file).await {
        Err(StoreError::Invalid { field, .. }) => {
            assert_eq!(field, "rows[300].contacts[0].address")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(count(&store, "minato").await, 1);
    assert_eq!(
        store.subscriber("minato", &existing.id).await.unwrap(),
        existing
    );

    assert!(matches!(
        store.import_subscribers("nowhere", &rows(2)).await,
        Err(StoreError::NotFound(_))
    ));
    // The same file, fixed, goes in whole.
    store
        .import_subscribers("minato", &rows(400))
        .await
        .unwrap();
    assert_eq!(count(&store, "minato").await, 401);
}

pub async fn a_large_import_spans_many_statements(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut file = rows(5_000);
    for row in file.iter_mut().step_by(3) {
        row.contacts
            .push(contact("email", &format!("{}@example.jp", row.external_id)));
        row.children.push(NewChild::born(d("2024-04-01")));
    }
    let summary = store.import_subscribers("minato", &file).await.unwrap();
    assert_eq!(summary.created, 5_000);
    assert_eq!(count(&store, "minato").await, 5_000);
    let last = store
        .subscriber_by_contact("minato", "email", "E004998@example.jp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.external_id.as_deref(), Some("E004998"));
    assert_eq!(last.children.len(), 2);
    assert_eq!(
        store
            .import_subscribers("minato", &file)
            .await
            .unwrap()
            .unchanged,
        5_000
    );
}

pub async fn every_stored_refusal_is_listed_before_an_import(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let mut file = rows(400);
    store
        .import_subscribers("minato", &file[..10])
        .await
        .unwrap();
    let outside = store
        .create_subscriber("minato", &household("TAKEN", "2027-05-01"))
        .await
        .unwrap();
    let mut other = household("TAKEN-2", "2027-05-01");
    other.contacts.push(contact("email", "taken@example.jp"));
    store.create_subscriber("minato", &other).await.unwrap();

    // The import stops at its first refusal; the check lists them all. A
    // row keeps the addresses its own household has (row 3, imported).
    file[250].contacts[0].address = "TAKEN".into();
    file[300]
        .contacts
        .push(contact("email", "taken@example.jp"));
    file[3].locale = Locale::En;
    // A row the file's other faults left without contacts or children.
    file.push(ImportRow {
        external_id: "E-NONE".into(),
        locale: Locale::Ja,
        contacts: Vec::new(),
        children: Vec::new(),
    });
    let refusals = store.import_refusals("minato", &file).await.unwrap();
    let fields: Vec<&str> = refusals.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "rows[250].contacts[0].address",
            "rows[300].contacts[1].address"
        ]
    );
    assert!(
        refusals[1]
            .message
            .contains("email address is already registered to another subscriber"),
        "{refusals:?}"
    );
    match store.import_subscribers("minato", &file).await {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, fields[0]),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(count(&store, "minato").await, 12, "nothing was written");
    assert_eq!(
        store.subscriber("minato", &outside.id).await.unwrap(),
        outside
    );

    let mut clean = rows(400);
    assert_eq!(store.import_refusals("minato", &clean).await.unwrap(), []);
    clean[7].external_id = clean[8].external_id.clone();
    assert!(matches!(
        store.import_refusals("minato", &clean).await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store.import_refusals("nowhere", &rows(2)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(count(&store, "minato").await, 12, "a check writes nothing");
}
