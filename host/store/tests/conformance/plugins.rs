//! Plugin versions, artifacts, activation and rollback.

use std::sync::Arc;

use tayori_core::{ActivationScope, InsertVersion, Store, StoreError};

use super::harness::{plugin_record, tenant};

fn v(s: &str) -> semver::Version {
    s.parse().unwrap()
}

pub async fn versions_are_inserted_once(store: Arc<dyn Store>) {
    let line1 = plugin_record("line", "1.0.0", b"line component 1.0.0");
    assert_eq!(
        store
            .insert_plugin_version(&line1, b"line component 1.0.0")
            .await
            .unwrap(),
        InsertVersion::Inserted
    );
    assert_eq!(
        store
            .insert_plugin_version(&line1, b"line component 1.0.0")
            .await
            .unwrap(),
        InsertVersion::AlreadyPresent
    );
    let other = plugin_record("line", "1.0.0", b"other bytes claiming 1.0.0");
    assert_eq!(
        store
            .insert_plugin_version(&other, b"other bytes claiming 1.0.0")
            .await
            .unwrap(),
        InsertVersion::DifferentBytes(line1.digest.clone())
    );
    let email = plugin_record("email", "0.3.0", b"email component");
    store
        .insert_plugin_version(&email, b"email component")
        .await
        .unwrap();
    let line2 = plugin_record("line", "1.1.0", b"line component 1.1.0");
    store
        .insert_plugin_version(&line2, b"line component 1.1.0")
        .await
        .unwrap();

    // Oldest first, exactly as given.
    assert_eq!(
        store.plugin_versions().await.unwrap(),
        vec![line1.clone(), email, line2]
    );
    assert_eq!(
        store.plugin_bytes(&line1.digest).await.unwrap().as_deref(),
        Some(&b"line component 1.0.0"[..])
    );
    assert_eq!(store.plugin_bytes(&"0".repeat(64)).await.unwrap(), None);
}

pub async fn concurrent_uploads_of_one_version_insert_it_once(store: Arc<dyn Store>) {
    let bytes = b"the same component from eight nodes".to_vec();
    let record = plugin_record("line", "2.0.0", &bytes);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, record, bytes) = (store.clone(), record.clone(), bytes.clone());
            tokio::spawn(async move { store.insert_plugin_version(&record, &bytes).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let inserted = outcomes
        .iter()
        .filter(|o| **o == InsertVersion::Inserted)
        .count();
    assert_eq!(inserted, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, InsertVersion::Inserted | InsertVersion::AlreadyPresent)),
        "{outcomes:?}"
    );
    assert_eq!(store.plugin_versions().await.unwrap().len(), 1);
}

pub async fn versions_must_match_their_bytes(store: Arc<dyn Store>) {
    let record = plugin_record("line", "1.0.0", b"real bytes");
    match store
        .insert_plugin_version(&record, b"tampered bytes")
        .await
    {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "digest"),
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    let mut wrong_manifest = record.clone();
    wrong_manifest.manifest.id = "email".into();
    match store
        .insert_plugin_version(&wrong_manifest, b"real bytes")
        .await
    {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "manifest"),
        other => panic!("expected a manifest mismatch, got {other:?}"),
    }
    assert!(store.plugin_versions().await.unwrap().is_empty());
}

pub async fn artifacts_are_kept_per_digest_and_engine(store: Arc<dyn Store>) {
    let digest = "ab".repeat(32);
    assert_eq!(
        store
            .plugin_artifact(&digest, "wasmtime-48-a")
            .await
            .unwrap(),
        None
    );
    store
        .put_plugin_artifact(&digest, "wasmtime-48-a", b"compiled a")
        .await
        .unwrap();
    store
        .put_plugin_artifact(&digest, "wasmtime-48-b", b"compiled b")
        .await
        .unwrap();
    assert_eq!(
        store
            .plugin_artifact(&digest, "wasmtime-48-a")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"compiled a"[..])
    );
    // A recompiled artifact replaces an unusable one.
    store
        .put_plugin_artifact(&digest, "wasmtime-48-a", b"compiled again")
        .await
        .unwrap();
    assert_eq!(
        store
            .plugin_artifact(&digest, "wasmtime-48-a")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"compiled again"[..])
    );
    assert_eq!(
        store
            .plugin_artifact(&digest, "wasmtime-48-b")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"compiled b"[..])
    );
}

pub async fn activation_and_rollback(store: Arc<dyn Store>) {
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        let bytes = format!("line {version}").into_bytes();
        store
            .insert_plugin_version(&plugin_record("line", version, &bytes), &bytes)
            .await
            .unwrap();
    }
    let all = ActivationScope::All;
    assert!(store.active_plugins().await.unwrap().is_empty());
    match store.rollback_plugin("line", &all).await {
        Err(StoreError::NotFound(what)) => assert!(what.contains("line"), "{what}"),
        other => panic!("nothing to roll back yet, got {other:?}"),
    }

    let first = store
        .activate_plugin("line", &v("1.0.0"), &all)
        .await
        .unwrap();
    store
        .activate_plugin("line", &v("1.1.0"), &all)
        .await
        .unwrap();
    let third = store
        .activate_plugin("line", &v("1.2.0"), &all)
        .await
        .unwrap();
    assert!(first.id < third.id);
    let active = store.active_plugins().await.unwrap();
    assert_eq!(active, vec![third.clone()]);

    let now = store.rollback_plugin("line", &all).await.unwrap().unwrap();
    assert_eq!(now.version, v("1.1.0"));
    assert_eq!(store.active_plugins().await.unwrap(), vec![now]);
    let now = store.rollback_plugin("line", &all).await.unwrap().unwrap();
    assert_eq!(now, first);
    assert_eq!(store.rollback_plugin("line", &all).await.unwrap(), None);
    assert!(store.active_plugins().await.unwrap().is_empty());
    assert!(matches!(
        store.rollback_plugin("line", &all).await,
        Err(StoreError::NotFound(_))
    ));

    // Activating again after a full rollback starts a new history entry.
    let again = store
        .activate_plugin("line", &v("1.2.0"), &all)
        .await
        .unwrap();
    assert_eq!(store.active_plugins().await.unwrap(), vec![again]);

    match store.activate_plugin("line", &v("9.9.9"), &all).await {
        Err(StoreError::NotFound(what)) => {
            assert_eq!(what, "version 9.9.9 of plugin `line`");
        }
        other => panic!("an unknown version cannot be activated, got {other:?}"),
    }
    assert!(matches!(
        store.activate_plugin("nobody", &v("1.0.0"), &all).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn canaries_roll_back_on_their_own(store: Arc<dyn Store>) {
    for version in ["1.0.0", "2.0.0"] {
        let bytes = format!("line {version}").into_bytes();
        store
            .insert_plugin_version(&plugin_record("line", version, &bytes), &bytes)
            .await
            .unwrap();
    }
    let bytes = b"email 1".to_vec();
    store
        .insert_plugin_version(&plugin_record("email", "1.0.0", &bytes), &bytes)
        .await
        .unwrap();
    let all = store
        .activate_plugin("line", &v("1.0.0"), &ActivationScope::All)
        .await
        .unwrap();
    // A canary for a tenant that does not exist is refused, naming it.
    let nowhere = store
        .activate_plugin(
            "line",
            &v("2.0.0"),
            &ActivationScope::Tenant("minato".into()),
        )
        .await;
    assert!(
        matches!(&nowhere, Err(StoreError::Invalid { field, message }) if field == "tenants" && message.contains("minato")),
        "{nowhere:?}"
    );
    tenant(&store, "minato").await;
    let minato = ActivationScope::Tenant("minato".into());
    let canary = store
        .activate_plugin("line", &v("2.0.0"), &minato)
        .await
        .unwrap();
    let email = store
        .activate_plugin("email", &v("1.0.0"), &ActivationScope::All)
        .await
        .unwrap();

    let mut active = store.active_plugins().await.unwrap();
    active.sort_by_key(|a| a.id);
    assert_eq!(active, vec![all.clone(), canary, email.clone()]);

    // Rolling back the canary leaves the all-tenants activation in force and
    // reports nothing left for that tenant.
    assert_eq!(store.rollback_plugin("line", &minato).await.unwrap(), None);
    let mut active = store.active_plugins().await.unwrap();
    active.sort_by_key(|a| a.id);
    assert_eq!(active, vec![all, email]);
    assert!(matches!(
        store
            .rollback_plugin("line", &ActivationScope::Tenant("shibuya".into()))
            .await,
        Err(StoreError::NotFound(_))
    ));
}
