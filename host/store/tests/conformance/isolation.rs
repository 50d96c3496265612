//! Tenant isolation: every tenant-scoped call of tenant A, given the ids of
//! tenant B's records, finds nothing and changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use tayori_core::{
    ContactStatus, ImportRow, InsertTarget, LocalInsert, Locale, NewApiToken, NewChild,
    PageRequest, Role, ScheduleRule, Store, StoreError, SubscriberPatch, TenantMessage,
};

use super::channels::line_spec;
use super::harness::{contact, d, household, tenant};

fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::NotFound(_))),
        "expected NotFound, got {r:?}"
    );
}

pub async fn one_tenant_never_sees_another(store: Arc<dyn Store>) {
    tenant(&store, "a").await;
    tenant(&store, "b").await;
    // Same channel names and addresses in both: allowed, and kept apart.
    store.put_channel("a", &line_spec()).await.unwrap();
    let mut b_line = line_spec();
    b_line.config = serde_json::json!({"api_base": "https://b.example"});
    store.put_channel("b", &b_line).await.unwrap();
    let mut a_new = household("U-shared", "2027-05-01");
    a_new.external_id = Some("X-1".into());
    let a_sub = store.create_subscriber("a", &a_new).await.unwrap();
    let b_sub = store.create_subscriber("b", &a_new).await.unwrap();
    let b_child = &b_sub.children[0];
    let b_contact = &b_sub.contacts[0];
    store
        .put_local_insert(
            "b",
            &LocalInsert {
                target: InsertTarget::Stage("pregnancy".into()),
                content: BTreeMap::from([(Locale::Ja, "B only".to_string())]),
            },
        )
        .await
        .unwrap();
    store
        .put_tenant_message(
            "b",
            &TenantMessage {
                id: "b-only".into(),
                stage: None,
                rule: ScheduleRule::ChildDay(10),
                content: BTreeMap::new(),
            },
        )
        .await
        .unwrap();
    store
        .insert_token(&NewApiToken {
            token_hash: "ab".repeat(32),
            role: Role::TenantAdmin,
            tenant_id: Some("b".into()),
            plugin_ids: vec![],
            label: None,
        })
        .await
        .unwrap();

    // Reads.
    assert_eq!(
        store.channel("a", "line").await.unwrap().config,
        serde_json::json!({"api_base": "https://api.line.me"})
    );
    assert_eq!(store.channels("a").await.unwrap().len(), 1);
    not_found(store.subscriber("a", &b_sub.id).await);
    let page = store
        .subscribers("a", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, a_sub.id);
    assert_eq!(
        store
            .subscriber_by_contact("a", "line", "U-shared")
            .await
            .unwrap()
            .unwrap()
            .id,
        a_sub.id
    );
    assert!(store.local_inserts("a").await.unwrap().is_empty());
    assert!(store.tenant_messages("a").await.unwrap().is_empty());
    assert!(store.tokens(Some("a")).await.unwrap().is_empty());
    let counts = store.subscriber_counts("a").await.unwrap();
    assert_eq!(counts.active, 1);

    // Writes aimed at B's records through A.
    not_found(
        store
            .report_birth("a", &b_sub.id, &b_child.id, d("2027-04-30"))
            .await,
    );
    not_found(store.stop_child("a", &b_sub.id, &b_child.id, "x").await);
    not_found(store.stop_subscriber("a", &b_sub.id, "x").await);
    not_found(
        store
            .add_child("a", &b_sub.id, &NewChild::due(d("2028-01-01")))
            .await,
    );
    not_found(
        store
            .update_subscriber(
                "a",
                &b_sub.id,
                &SubscriberPatch {
                    locale: Some(Locale::En),
                    contacts: Some(vec![]),
                },
            )
            .await,
    );
    not_found(
        store
            .set_contact_status("a", &b_contact.id, ContactStatus::Invalid)
            .await,
    );
    not_found(store.erase_subscriber("a", &b_sub.id).await);
    // A's child id with B's subscriber id, and the reverse, are not found.
    not_found(
        store
            .report_birth("a", &a_sub.id, &b_child.id, d("2027-04-30"))
            .await,
    );
    not_found(
        store
            .report_birth("b", &b_sub.id, &a_sub.children[0].id, d("2027-04-30"))
            .await,
    );
    not_found(
        store
            .delete_local_insert("a", &InsertTarget::Stage("pregnancy".into()))
            .await,
    );
    not_found(store.delete_tenant_message("a", "b-only").await);
    not_found(store.set_channel_pause("a", "email", Some("x")).await);

    // An import into A with B's external id creates A's own subscriber.
    let summary = store
        .import_subscribers(
            "a",
            &[ImportRow {
                external_id: "X-2".into(),
                locale: Locale::Ja,
                contacts: vec![contact("email", "only-a@example.jp")],
                children: vec![NewChild::due(d("2027-07-07"))],
            }],
        )
        .await
        .unwrap();
    assert_eq!(summary.created, 1);

    // B is exactly as it was.
    assert_eq!(store.subscriber("b", &b_sub.id).await.unwrap(), b_sub);
    assert_eq!(
        store.channel("b", "line").await.unwrap().config,
        b_line.config
    );
    assert_eq!(store.local_inserts("b").await.unwrap().len(), 1);
    assert_eq!(store.tenant_messages("b").await.unwrap().len(), 1);
    assert_eq!(store.tokens(Some("b")).await.unwrap().len(), 1);
    let b_counts = store.subscriber_counts("b").await.unwrap();
    assert_eq!((b_counts.active, b_counts.erased), (1, 0));
}
