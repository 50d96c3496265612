//! API tokens: stored hashed, found until revoked, scoped by role.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tayori_core::{NewApiToken, Role, Store, StoreError};

use super::harness::tenant;

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new(token: &str, role: Role, tenant: Option<&str>, plugins: &[&str]) -> NewApiToken {
    NewApiToken {
        token_hash: hash(token),
        role,
        tenant_id: tenant.map(str::to_string),
        plugin_ids: plugins.iter().map(|p| p.to_string()).collect(),
        label: None,
    }
}

pub async fn tokens_are_found_by_hash_until_revoked(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let operator = store
        .insert_token(&new("tyr_operator", Role::Operator, None, &[]))
        .await
        .unwrap();
    let admin = store
        .insert_token(&new("tyr_admin", Role::TenantAdmin, Some("minato"), &[]))
        .await
        .unwrap();
    let partner = store
        .insert_token(&NewApiToken {
            label: Some("LINE の開発会社".into()),
            ..new("tyr_partner", Role::Partner, None, &["line", "kanameto"])
        })
        .await
        .unwrap();
    assert_eq!(admin.tenant_id.as_deref(), Some("minato"));
    assert_eq!(partner.plugin_ids, ["line", "kanameto"]);
    assert_eq!(partner.label.as_deref(), Some("LINE の開発会社"));
    assert_eq!(admin.label, None);

    assert_eq!(
        store.token_by_hash(&hash("tyr_admin")).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        store.token_by_hash(&hash("tyr_unknown")).await.unwrap(),
        None
    );
    assert_eq!(
        store.tokens(None).await.unwrap(),
        vec![operator.clone(), admin.clone(), partner.clone()]
    );
    assert_eq!(
        store.tokens(Some("minato")).await.unwrap(),
        vec![admin.clone()]
    );

    let revoked = store.revoke_token(&admin.id).await.unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert_eq!(store.token_by_hash(&hash("tyr_admin")).await.unwrap(), None);
    assert_eq!(
        store.revoke_token(&admin.id).await.unwrap().revoked_at,
        Some(at),
        "revoking twice keeps the first time"
    );
    assert_eq!(store.tokens(Some("minato")).await.unwrap(), vec![revoked]);
    assert!(matches!(
        store.revoke_token("no-such-token").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .insert_token(&new("tyr_operator", Role::Operator, None, &[]))
            .await,
        Err(StoreError::Conflict(_))
    ));
}

pub async fn token_roles_and_scopes_must_agree(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    let cases = [
        (new("a", Role::TenantAdmin, None, &[]), "tenant"),
        (new("b", Role::Operator, Some("minato"), &[]), "tenant"),
        (new("c", Role::Partner, None, &[]), "plugins"),
        (
            new("d", Role::TenantAdmin, Some("minato"), &["line"]),
            "plugins",
        ),
        (
            NewApiToken {
                label: Some(" ".into()),
                ..new("f", Role::Partner, None, &["line"])
            },
            "label",
        ),
        (
            NewApiToken {
                label: Some("x".repeat(101)),
                ..new("g", Role::Partner, None, &["line"])
            },
            "label",
        ),
        (
            NewApiToken {
                token_hash: "not-a-hash".into(),
                ..new("e", Role::Operator, None, &[])
            },
            "token_hash",
        ),
    ];
    for (token, field) in cases {
        match store.insert_token(&token).await {
            Err(StoreError::Invalid { field: f, .. }) => assert_eq!(f, field, "{token:?}"),
            other => panic!("expected Invalid {field}, got {other:?}"),
        }
    }
    assert!(matches!(
        store
            .insert_token(&new("f", Role::TenantAdmin, Some("nowhere"), &[]))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.tokens(None).await.unwrap().is_empty());
}
