//! The console's people: invitations used once to create accounts, wrong
//! passwords counted to a lock, sessions until they expire, and the audit
//! log, each scoped by tenant.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tayori_core::{
    ConsoleRole, ConsoleSession, FailedSignIn, NewAuditEntry, NewConsoleAccount,
    NewConsoleInvitation, Permission, Store, StoreError,
};

use super::harness::tenant;

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_798_000_000, 0).unwrap() + Duration::minutes(minutes)
}

fn invitation(hash: &str, tenant: Option<&str>, perms: &[Permission]) -> NewConsoleInvitation {
    NewConsoleInvitation {
        token_hash: hash.into(),
        role: if tenant.is_some() {
            ConsoleRole::Staff
        } else {
            ConsoleRole::Operator
        },
        tenant_id: tenant.map(str::to_string),
        email: tenant.map(|t| format!("staff@{t}.example.jp")),
        permissions: perms.iter().copied().collect(),
        invited_by: None,
        created_at: at(0),
        expires_at: at(60),
    }
}

fn account(email: &str) -> NewConsoleAccount {
    NewConsoleAccount {
        email: email.into(),
        name: "Hanako".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    }
}

pub async fn invitations_make_accounts_once(store: Arc<dyn Store>) {
    tenant(&store, "minato").await;
    tenant(&store, "otaru").await;
    assert_eq!(store.console_account_count().await.unwrap(), 0);
    // The first operator.
    store
        .create_console_invitation(&invitation("h-op", None, &[]))
        .await
        .unwrap();
    let op = store
        .accept_console_invitation("h-op", &account("op@example.jp"), at(1))
        .await
        .unwrap();
    assert_eq!(op.role, ConsoleRole::Operator);
    assert_eq!(op.tenant_id, None);
    assert!(op.reaches("minato") && op.reaches("otaru"));
    // Used once only.
    assert!(matches!(
        store
            .accept_console_invitation("h-op", &account("other@example.jp"), at(2))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .console_invitation("h-op")
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(at(1))
    );
    // A staff member of minato, with the invitation's permissions.
    let mut new = invitation("h-staff", Some("minato"), &[Permission::Dashboard]);
    new.invited_by = Some(op.id.clone());
    store.create_console_invitation(&new).await.unwrap();
    let staff = store
        .accept_console_invitation("h-staff", &account("staff@minato.example.jp"), at(3))
        .await
        .unwrap();
    assert_eq!(staff.tenant_id.as_deref(), Some("minato"));
    assert_eq!(staff.permissions, BTreeSet::from([Permission::Dashboard]));
    assert!(staff.may("minato", Permission::Dashboard));
    assert!(!staff.may("minato", Permission::Team));
    assert!(!staff.reaches("otaru"));
    // An expired invitation makes nothing; an email address is taken once.
    store
        .create_console_invitation(&invitation("h-late", Some("otaru"), &[]))
        .await
        .unwrap();
    assert!(matches!(
        store
            .accept_console_invitation("h-late", &account("late@example.jp"), at(61))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .create_console_invitation(&invitation("h-dup", Some("otaru"), &[]))
        .await
        .unwrap();
    assert!(matches!(
        store
            .accept_console_invitation("h-dup", &account("op@example.jp"), at(4))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The refused acceptance left the invitation open.
    assert!(
        store
            .console_invitation("h-dup")
            .await
            .unwrap()
            .unwrap()
            .open_at(at(5))
    );
    // Scoped by tenant.
    let minato: Vec<_> = store
        .console_accounts(Some("minato"))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.email)
        .collect();
    assert_eq!(minato, ["staff@minato.example.jp"]);
    assert!(
        store
            .console_accounts(Some("otaru"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.console_accounts(None).await.unwrap().len(), 2);
    assert_eq!(
        store
            .console_invitations(Some("otaru"))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .console_invitations(Some("minato"))
            .await
            .unwrap()
            .len(),
        1
    );
    // A staff invitation needs an existing tenant.
    assert!(matches!(
        store
            .create_console_invitation(&invitation("h-x", Some("nowhere"), &[]))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store
            .console_account_by_email("staff@minato.example.jp")
            .await
            .unwrap()
            .map(|a| a.id),
        Some(staff.id)
    );
}

pub async fn wrong_passwords_lock_and_sessions_expire(store: Arc<dyn Store>) {
    store
        .create_console_invitation(&invitation("h", None, &[]))
        .await
        .unwrap();
    let a = store
        .accept_console_invitation("h", &account("op@example.jp"), at(0))
        .await
        .unwrap();
    for n in 1..5 {
        assert_eq!(
            store
                .record_failed_sign_in(&a.id, at(1), 5, at(16))
                .await
                .unwrap(),
            FailedSignIn::Counted(n)
        );
    }
    assert_eq!(
        store
            .record_failed_sign_in(&a.id, at(1), 5, at(16))
            .await
            .unwrap(),
        FailedSignIn::Locked(at(16))
    );
    let locked = store.console_account(&a.id).await.unwrap().unwrap();
    assert!(locked.locked_at(at(15)) && !locked.locked_at(at(16)));
    // After the lock, the count starts again.
    assert_eq!(
        store
            .record_failed_sign_in(&a.id, at(17), 5, at(32))
            .await
            .unwrap(),
        FailedSignIn::Counted(1)
    );
    store.record_sign_in(&a.id).await.unwrap();
    assert_eq!(
        store
            .console_account(&a.id)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        0
    );
    // Sessions: found until they expire, touched, ended.
    let session = ConsoleSession {
        token_hash: "s1".into(),
        account_id: a.id.clone(),
        csrf_secret: "c1".into(),
        created_at: at(0),
        last_seen_at: at(0),
        expires_at: at(10),
    };
    store.create_console_session(&session).await.unwrap();
    assert_eq!(
        store.console_session("s1", at(9)).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.console_session("s1", at(10)).await.unwrap(), None);
    store
        .touch_console_session("s1", at(9), at(20))
        .await
        .unwrap();
    assert_eq!(
        store
            .console_session("s1", at(15))
            .await
            .unwrap()
            .map(|s| s.last_seen_at),
        Some(at(9))
    );
    store.delete_console_session("s1").await.unwrap();
    assert_eq!(store.console_session("s1", at(15)).await.unwrap(), None);
    store.delete_console_session("s1").await.unwrap();
}

pub async fn the_audit_log_is_newest_first_and_scoped(store: Arc<dyn Store>) {
    for (i, t) in [Some("minato"), None, Some("otaru"), Some("minato")]
        .into_iter()
        .enumerate()
    {
        store
            .append_audit(&NewAuditEntry {
                at: at(i as i64),
                account_id: Some("a".into()),
                tenant_id: t.map(str::to_string),
                action: format!("action-{i}"),
                detail: serde_json::json!({ "i": i }),
            })
            .await
            .unwrap();
    }
    let all = store.audit_log(None, None, 10).await.unwrap();
    let actions: Vec<_> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["action-3", "action-2", "action-1", "action-0"]);
    assert_eq!(all[0].detail, serde_json::json!({ "i": 3 }));
    assert_eq!(all[0].at, at(3));
    let minato: Vec<_> = store
        .audit_log(Some("minato"), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(minato, ["action-3", "action-0"]);
    let page = store.audit_log(None, Some(all[1].id), 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].action, "action-1");
}
