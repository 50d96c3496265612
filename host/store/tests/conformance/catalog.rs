//! The catalog: whole-program replacement, conflicts, tenants' additions.

use std::collections::BTreeMap;
use std::sync::Arc;

use tayori_core::{
    CatalogImported, CatalogMessage, InsertTarget, LocalInsert, Locale, MessageContent, Program,
    ProgramImport, ScheduleRule, Store, StoreError, TenantMessage,
};

use super::harness::tenant;

fn content(text: &str) -> BTreeMap<Locale, MessageContent> {
    BTreeMap::from([
        (
            Locale::Ja,
            MessageContent {
                subject: format!("{text}（件名）"),
                body: format!("{text} {{{{ child.age_in_words }}}}"),
            },
        ),
        (
            Locale::En,
            MessageContent {
                subject: format!("{text} (subject)"),
                body: format!("{text} in English"),
            },
        ),
    ])
}

fn message(program: &str, id: &str, rule: ScheduleRule) -> CatalogMessage {
    CatalogMessage {
        id: id.to_string(),
        program: program.to_string(),
        stage: Some("pregnancy".into()),
        rule,
        content: content(id),
    }
}

fn program(id: &str, messages: Vec<CatalogMessage>) -> ProgramImport {
    ProgramImport {
        program: Program {
            id: id.to_string(),
            name: format!("{id} program"),
            description: String::new(),
        },
        messages,
    }
}

pub async fn importing_a_program_replaces_it(store: Arc<dyn Store>) {
    let standard = program(
        "standard",
        vec![
            message("standard", "p-028", ScheduleRule::PregnancyDay(28)),
            message("standard", "c-000", ScheduleRule::ChildDay(0)),
            message("standard", "m-004", ScheduleRule::ChildMonth(4)),
        ],
    );
    let school = program(
        "school-entry",
        vec![message(
            "school-entry",
            "s-000",
            ScheduleRule::SchoolEntry { offset_days: -7 },
        )],
    );
    assert_eq!(
        store
            .import_catalog(&[standard.clone(), school.clone()])
            .await
            .unwrap(),
        CatalogImported {
            programs: 2,
            messages: 4,
            removed: 0
        }
    );
    assert_eq!(
        store.catalog_messages(Some("standard")).await.unwrap(),
        standard.messages
    );
    let ids: Vec<String> = store
        .programs()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["school-entry", "standard"]);

    // v2 drops one message, changes one, reorders.
    let mut changed = message("standard", "c-000", ScheduleRule::ChildDay(1));
    changed.content = content("changed");
    let v2 = program(
        "standard",
        vec![
            changed,
            message("standard", "p-028", ScheduleRule::PregnancyDay(28)),
        ],
    );
    assert_eq!(
        store
            .import_catalog(std::slice::from_ref(&v2))
            .await
            .unwrap(),
        CatalogImported {
            programs: 1,
            messages: 2,
            removed: 1
        }
    );
    assert_eq!(
        store.catalog_messages(Some("standard")).await.unwrap(),
        v2.messages
    );
    assert_eq!(
        store.catalog_messages(Some("school-entry")).await.unwrap(),
        school.messages,
        "a program not in the import is untouched"
    );
    assert_eq!(store.catalog_messages(None).await.unwrap().len(), 3);

    store.delete_program("school-entry").await.unwrap();
    assert!(
        store
            .catalog_messages(Some("school-entry"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.delete_program("school-entry").await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn a_refused_catalog_import_changes_nothing(store: Arc<dyn Store>) {
    let standard = program(
        "standard",
        vec![message("standard", "p-028", ScheduleRule::PregnancyDay(28))],
    );
    store
        .import_catalog(std::slice::from_ref(&standard))
        .await
        .unwrap();

    // `p-028` belongs to `standard`, which this import does not replace.
    let thief = program(
        "extra",
        vec![
            message("extra", "x-001", ScheduleRule::ChildYear(1)),
            message("extra", "p-028", ScheduleRule::ChildDay(5)),
        ],
    );
    match store.import_catalog(&[thief]).await {
        Err(StoreError::Conflict(m)) => {
            assert!(m.contains("`p-028`") && m.contains("`standard`"), "{m}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let mut mislabelled = program(
        "extra",
        vec![message("standard", "x-001", ScheduleRule::ChildYear(1))],
    );
    match store
        .import_catalog(std::slice::from_ref(&mislabelled))
        .await
    {
        Err(StoreError::Invalid { field, .. }) => {
            assert_eq!(field, "programs[0].messages[0].program")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    mislabelled.messages = vec![
        message("extra", "x-001", ScheduleRule::ChildYear(1)),
        message("extra", "x-001", ScheduleRule::ChildYear(2)),
    ];
    match store.import_catalog(&[mislabelled]).await {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "programs[0].messages[1].id"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let ids: Vec<String> = store
        .programs()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["standard"]);
    assert_eq!(
        store.catalog_messages(None).await.unwrap(),
        standard.messages
    );

    // Moving a message between two programs replaced together is fine.
    let moved = [
        program("standard", vec![]),
        program(
            "extra",
            vec![message("extra", "p-028", ScheduleRule::PregnancyDay(28))],
        ),
    ];
    let done = store.import_catalog(&moved).await.unwrap();
    assert_eq!(done.messages, 1);
    assert_eq!(
        store.catalog_messages(Some("extra")).await.unwrap().len(),
        1
    );
}

pub async fn local_inserts_and_extra_messages(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store
        .import_catalog(&[program(
            "standard",
            vec![message("standard", "m-004", ScheduleRule::ChildMonth(4))],
        )])
        .await
        .unwrap();
    let checkup = LocalInsert {
        target: InsertTarget::Message("m-004".into()),
        content: BTreeMap::from([(Locale::Ja, "4か月健診は区役所で。".to_string())]),
    };
    let pregnancy = LocalInsert {
        target: InsertTarget::Stage("pregnancy".into()),
        content: BTreeMap::from([(Locale::Ja, "母子手帳は窓口で。".to_string())]),
    };
    store.put_local_insert("minato", &checkup).await.unwrap();
    store.put_local_insert("minato", &pregnancy).await.unwrap();
    let mut updated = checkup.clone();
    updated
        .content
        .insert(Locale::En, "4-month check-up at the ward office.".into());
    store.put_local_insert("minato", &updated).await.unwrap();
    assert_eq!(
        store.local_inserts("minato").await.unwrap(),
        vec![updated.clone(), pregnancy.clone()]
    );
    store
        .delete_local_insert("minato", &pregnancy.target)
        .await
        .unwrap();
    assert_eq!(store.local_inserts("minato").await.unwrap(), vec![updated]);
    assert!(matches!(
        store.delete_local_insert("minato", &pregnancy.target).await,
        Err(StoreError::NotFound(_))
    ));

    let extra = TenantMessage {
        id: "minato-festival".into(),
        stage: None,
        rule: ScheduleRule::ChildYear(1),
        content: content("festival"),
    };
    store.put_tenant_message("minato", &extra).await.unwrap();
    assert_eq!(
        store.tenant_messages("minato").await.unwrap(),
        vec![extra.clone()]
    );
    let clash = TenantMessage {
        id: "m-004".into(),
        ..extra.clone()
    };
    assert!(matches!(
        store.put_tenant_message("minato", &clash).await,
        Err(StoreError::Conflict(_))
    ));
    // Nor may the catalog later take a tenant's id.
    match store
        .import_catalog(&[program(
            "standard",
            vec![message(
                "standard",
                "minato-festival",
                ScheduleRule::ChildDay(3),
            )],
        )])
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("minato"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    store
        .delete_tenant_message("minato", &extra.id)
        .await
        .unwrap();
    assert!(store.tenant_messages("minato").await.unwrap().is_empty());
    assert!(matches!(
        store.put_local_insert("nowhere", &checkup).await,
        Err(StoreError::NotFound(_))
    ));
}
