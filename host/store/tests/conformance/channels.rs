//! Channels: put, read, list, delete, pause.

use std::sync::Arc;

use tayori_core::{ChannelSpec, Store, StoreError};

use super::harness::tenant;

pub fn line_spec() -> ChannelSpec {
    ChannelSpec {
        name: "line".into(),
        plugin_id: "line".into(),
        version: None,
        config: serde_json::json!({"api_base": "https://api.line.me"}),
        secrets_ciphertext: vec![0, 1, 2, 250, 251, 252],
        allowed_hosts: vec!["api.line.me:443".into()],
        rate_per_second: None,
        daily_quota: None,
    }
}

pub async fn channels_are_put_read_and_deleted(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let put = store.put_channel("minato", &line_spec()).await.unwrap();
    assert!(put.created);
    let line = put.channel;
    assert_eq!(line.tenant_id, "minato");
    assert_eq!(line.version, None);
    assert_eq!(
        line.config,
        serde_json::json!({"api_base": "https://api.line.me"})
    );
    assert_eq!(line.secrets_ciphertext, vec![0, 1, 2, 250, 251, 252]);
    assert_eq!(line.allowed_hosts, ["api.line.me:443"]);
    assert_eq!(line.paused, None);
    assert_eq!(store.channel("minato", "line").await.unwrap(), line);

    let mut pinned = line_spec();
    pinned.version = Some("1.2.3".parse().unwrap());
    pinned.secrets_ciphertext = Vec::new();
    pinned.rate_per_second = Some(50);
    pinned.daily_quota = Some(10_000);
    let put = store.put_channel("minato", &pinned).await.unwrap();
    assert!(!put.created);
    assert_eq!(put.channel.version, Some("1.2.3".parse().unwrap()));
    assert!(put.channel.secrets_ciphertext.is_empty());
    assert_eq!(put.channel.rate_per_second, Some(50));
    assert_eq!(put.channel.daily_quota, Some(10_000));
    assert_eq!(put.channel.created_at, line.created_at);

    let mut email = line_spec();
    email.name = "email".into();
    email.plugin_id = "email".into();
    store.put_channel("minato", &email).await.unwrap();
    let names: Vec<String> = store
        .channels("minato")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["email", "line"]);

    store.delete_channel("minato", "line").await.unwrap();
    match store.channel("minato", "line").await {
        Err(StoreError::NotFound(what)) => assert_eq!(what, "channel `line` of tenant `minato`"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        store.delete_channel("minato", "line").await,
        Err(StoreError::NotFound(_))
    ));
    let mut bad = line_spec();
    bad.name = "LINE!".into();
    assert!(matches!(
        store.put_channel("minato", &bad).await,
        Err(StoreError::Invalid { .. })
    ));
}

pub async fn pausing_a_channel_and_putting_it_again(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    store.put_channel("minato", &line_spec()).await.unwrap();
    let paused = store
        .set_channel_pause(
            "minato",
            "line",
            Some("unauthorized: invalid channel access token"),
        )
        .await
        .unwrap();
    let pause = paused.paused.clone().expect("paused");
    assert_eq!(pause.reason, "unauthorized: invalid channel access token");
    // Pausing again keeps when it started.
    let again = store
        .set_channel_pause("minato", "line", Some("unauthorized again"))
        .await
        .unwrap();
    assert_eq!(again.paused.as_ref().unwrap().since, pause.since);
    assert_eq!(again.paused.as_ref().unwrap().reason, "unauthorized again");
    assert_eq!(
        store.channel("minato", "line").await.unwrap().paused,
        again.paused
    );

    // A new config resumes the channel.
    let put = store.put_channel("minato", &line_spec()).await.unwrap();
    assert_eq!(put.channel.paused, None);

    store
        .set_channel_pause("minato", "line", Some("x"))
        .await
        .unwrap();
    let resumed = store
        .set_channel_pause("minato", "line", None)
        .await
        .unwrap();
    assert_eq!(resumed.paused, None);
    assert!(matches!(
        store.set_channel_pause("minato", "email", Some("x")).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn channels_need_their_tenant(store: Arc<dyn Store>) {
    match store.put_channel("nowhere", &line_spec()).await {
        Err(StoreError::NotFound(what)) => assert_eq!(what, "tenant `nowhere`"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}
