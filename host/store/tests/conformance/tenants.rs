//! Tenants: defaults, patching, uniqueness, deletion.

use std::sync::Arc;

use tayori_core::{DeliverySpan, NewTenant, QuietHours, Store, StoreError, TenantPatch, hhmm};

use super::harness::{household, tenant};

pub async fn tenants_have_defaults_and_can_be_patched(store: Arc<dyn Store>) {
    let created = tenant(&store, "minato").await;
    assert_eq!(created.time_zone, "Asia/Tokyo");
    assert_eq!(hhmm::format(created.send_time), "09:00");
    assert_eq!(created.span, DeliverySpan::ToThirdBirthday);
    assert_eq!(created.programs, ["standard"]);
    assert_eq!(created.lateness_window_minutes, 360);
    assert_eq!(created.quiet_hours, None);
    assert_eq!(store.tenant("minato").await.unwrap(), created);

    let quiet = QuietHours {
        start: hhmm::parse("21:00").unwrap(),
        end: hhmm::parse("07:30").unwrap(),
    };
    let patched = store
        .update_tenant(
            "minato",
            &TenantPatch {
                name: Some("港区".into()),
                send_time: Some(hhmm::parse("08:15").unwrap()),
                span: Some(DeliverySpan::EndOfSchoolYearAge7),
                programs: Some(vec!["standard".into(), "school-entry".into()]),
                lateness_window_minutes: Some(90),
                quiet_hours: Some(Some(quiet)),
                ..TenantPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.name, "港区");
    assert_eq!(hhmm::format(patched.send_time), "08:15");
    assert_eq!(patched.span, DeliverySpan::EndOfSchoolYearAge7);
    assert_eq!(patched.programs, ["standard", "school-entry"]);
    assert_eq!(patched.lateness_window_minutes, 90);
    assert_eq!(patched.quiet_hours, Some(quiet));
    assert_eq!(patched.time_zone, "Asia/Tokyo", "unpatched settings stay");
    assert_eq!(patched.created_at, created.created_at);
    assert!(patched.updated_at >= created.updated_at);
    assert_eq!(store.tenant("minato").await.unwrap(), patched);

    let cleared = store
        .update_tenant(
            "minato",
            &TenantPatch {
                quiet_hours: Some(None),
                ..TenantPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.quiet_hours, None);
    assert_eq!(cleared.name, "港区");

    tenant(&store, "adachi").await;
    let ids: Vec<String> = store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["adachi", "minato"]);

    match store
        .update_tenant("nowhere", &TenantPatch::default())
        .await
    {
        Err(StoreError::NotFound(what)) => assert_eq!(what, "tenant `nowhere`"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub async fn tenant_ids_are_unique_and_checked(store: Arc<dyn Store>) {
    let mut custom = NewTenant::new("sapporo", "札幌市");
    custom.time_zone = "Asia/Tokyo".into();
    custom.span = DeliverySpan::ToSixthBirthday;
    let created = store.create_tenant(&custom).await.unwrap();
    assert_eq!(created.span, DeliverySpan::ToSixthBirthday);

    match store
        .create_tenant(&NewTenant::new("sapporo", "again"))
        .await
    {
        Err(e @ StoreError::Conflict(_)) => {
            assert_eq!(e.to_string(), "conflict: tenant `sapporo` already exists");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    for bad in ["Sapporo", "-x", "", "a b"] {
        assert!(
            matches!(
                store.create_tenant(&NewTenant::new(bad, "x")).await,
                Err(StoreError::Invalid { .. })
            ),
            "`{bad}` must be refused"
        );
    }
    assert_eq!(store.tenants().await.unwrap().len(), 1);
    assert!(matches!(
        store.tenant("nowhere").await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn a_tenant_with_subscribers_is_not_deleted(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let s = store
        .create_subscriber("minato", &household("U1", "2027-05-01"))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_tenant("minato").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.tenant("minato").await.is_ok());

    store.erase_subscriber("minato", &s.id).await.unwrap();
    store.delete_tenant("minato").await.unwrap();
    assert!(matches!(
        store.tenant("minato").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_tenant("minato").await,
        Err(StoreError::NotFound(_))
    ));
}
