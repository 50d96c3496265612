//! The console's accounts, sessions, invitations and audit log. Times are
//! milliseconds; permission sets and audit details are JSON text.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use tayori_core::{
    AuditEntry, ConsoleAccount, ConsoleInvitation, ConsoleRole, ConsoleSession, ConsoleStore,
    FailedSignIn, NewAuditEntry, NewConsoleAccount, NewConsoleInvitation, Permission, StoreError,
    StoreResult,
};

use super::{Engine, require_tenant};
use crate::error::{DbResultExt, new_id, unreadable};

const SELECT_ACCOUNT: &str = "SELECT id, email, name, password_hash, role, tenant_id, permissions, \
     failed_attempts, locked_until, created_at FROM console_accounts";
const SELECT_INVITATION: &str = "SELECT id, token_hash, role, tenant_id, email, permissions, \
     invited_by, created_at, expires_at, used_at FROM console_invitations";

type AccountRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    i64,
);
type InvitationRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

fn time(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| unreadable("console time", ms))
}

fn role(s: &str) -> StoreResult<ConsoleRole> {
    s.parse().map_err(|e| unreadable("console role", e))
}

fn permissions_json(p: &BTreeSet<Permission>) -> String {
    serde_json::to_string(p).expect("permissions are plain data")
}

fn permissions(s: &str) -> StoreResult<BTreeSet<Permission>> {
    serde_json::from_str(s).map_err(|e| unreadable("console permissions", e))
}

fn account(r: AccountRow) -> StoreResult<ConsoleAccount> {
    Ok(ConsoleAccount {
        id: r.0,
        email: r.1,
        name: r.2,
        password_hash: r.3,
        role: role(&r.4)?,
        tenant_id: r.5,
        permissions: permissions(&r.6)?,
        failed_attempts: u32::try_from(r.7).unwrap_or(u32::MAX),
        locked_until: r.8.map(time).transpose()?,
        created_at: time(r.9)?,
    })
}

fn invitation(r: InvitationRow) -> StoreResult<ConsoleInvitation> {
    Ok(ConsoleInvitation {
        id: r.0,
        token_hash: r.1,
        role: role(&r.2)?,
        tenant_id: r.3,
        email: r.4,
        permissions: permissions(&r.5)?,
        invited_by: r.6,
        created_at: time(r.7)?,
        expires_at: time(r.8)?,
        used_at: r.9.map(time).transpose()?,
    })
}

#[async_trait::async_trait]
impl ConsoleStore for Engine {
    async fn console_account_count(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM console_accounts")
            .fetch_one(self.reader())
            .await
            .db()?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    async fn console_account(&self, id: &str) -> StoreResult<Option<ConsoleAccount>> {
        sqlx::query_as::<_, AccountRow>(&format!("{SELECT_ACCOUNT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await
            .db()?
            .map(account)
            .transpose()
    }

    async fn console_account_by_email(&self, email: &str) -> StoreResult<Option<ConsoleAccount>> {
        sqlx::query_as::<_, AccountRow>(&format!("{SELECT_ACCOUNT} WHERE email = $1"))
            .bind(email)
            .fetch_optional(self.reader())
            .await
            .db()?
            .map(account)
            .transpose()
    }

    async fn console_accounts(&self, tenant_id: Option<&str>) -> StoreResult<Vec<ConsoleAccount>> {
        let rows = match tenant_id {
            Some(t) => {
                sqlx::query_as::<_, AccountRow>(&format!(
                    "{SELECT_ACCOUNT} WHERE tenant_id = $1 ORDER BY email"
                ))
                .bind(t)
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as::<_, AccountRow>(&format!("{SELECT_ACCOUNT} ORDER BY email"))
                    .fetch_all(self.reader())
                    .await
            }
        }
        .db()?;
        rows.into_iter().map(account).collect()
    }

    async fn record_failed_sign_in(
        &self,
        account_id: &str,
        at: DateTime<Utc>,
        max_failures: u32,
        lock_until: DateTime<Utc>,
    ) -> StoreResult<FailedSignIn> {
        let mut tx = self.begin_write().await?;
        // A lock that has ended starts the count again.
        let count: Option<i64> = sqlx::query_scalar(
            "UPDATE console_accounts SET failed_attempts = CASE \
             WHEN locked_until IS NOT NULL AND locked_until <= $2 THEN 1 \
             ELSE failed_attempts + 1 END, \
             locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= $2 \
             THEN NULL ELSE locked_until END \
             WHERE id = $1 RETURNING failed_attempts",
        )
        .bind(account_id)
        .bind(at.timestamp_millis())
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        let Some(count) = count else {
            return Err(StoreError::NotFound(format!(
                "console account `{account_id}`"
            )));
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let outcome = if count >= max_failures {
            sqlx::query(
                "UPDATE console_accounts SET failed_attempts = 0, locked_until = $2 WHERE id = $1",
            )
            .bind(account_id)
            .bind(lock_until.timestamp_millis())
            .execute(&mut *tx)
            .await
            .db()?;
            FailedSignIn::Locked(lock_until)
        } else {
            FailedSignIn::Counted(count)
        };
        tx.commit().await.db()?;
        Ok(outcome)
    }

    async fn record_sign_in(&self, account_id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE console_accounts SET failed_attempts = 0, locked_until = NULL WHERE id = $1",
        )
        .bind(account_id)
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_sessions \
             (token_hash, account_id, csrf_secret, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.token_hash)
        .bind(&session.account_id)
        .bind(&session.csrf_secret)
        .bind(session.created_at.timestamp_millis())
        .bind(session.last_seen_at.timestamp_millis())
        .bind(session.expires_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .conflict(|| "a session with this token is already stored".to_string())?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn console_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ConsoleSession>> {
        let row: Option<(String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT token_hash, account_id, csrf_secret, created_at, last_seen_at, expires_at \
             FROM console_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.timestamp_millis())
        .fetch_optional(self.reader())
        .await
        .db()?;
        row.map(|r| {
            Ok(ConsoleSession {
                token_hash: r.0,
                account_id: r.1,
                csrf_secret: r.2,
                created_at: time(r.3)?,
                last_seen_at: time(r.4)?,
                expires_at: time(r.5)?,
            })
        })
        .transpose()
    }

    async fn touch_console_session(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE console_sessions SET last_seen_at = $2, expires_at = $3 WHERE token_hash = $1",
        )
        .bind(token_hash)
        .bind(at.timestamp_millis())
        .bind(expires_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn create_console_invitation(
        &self,
        new: &NewConsoleInvitation,
    ) -> StoreResult<ConsoleInvitation> {
        if (new.role == ConsoleRole::Staff) != new.tenant_id.is_some() {
            return Err(StoreError::Invalid {
                field: "tenant".into(),
                message: "a staff invitation names a tenant; an operator's does not".into(),
            });
        }
        let mut tx = self.begin_write().await?;
        if let Some(tenant_id) = &new.tenant_id {
            require_tenant(&mut tx, tenant_id).await?;
        }
        let stored = ConsoleInvitation {
            id: new_id(),
            token_hash: new.token_hash.clone(),
            role: new.role,
            tenant_id: new.tenant_id.clone(),
            email: new.email.clone(),
            permissions: new.permissions.clone(),
            invited_by: new.invited_by.clone(),
            created_at: new.created_at,
            expires_at: new.expires_at,
            used_at: None,
        };
        sqlx::query(
            "INSERT INTO console_invitations (id, token_hash, role, tenant_id, email, permissions, \
             invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&stored.id)
        .bind(&stored.token_hash)
        .bind(stored.role.as_str())
        .bind(stored.tenant_id.as_deref())
        .bind(stored.email.as_deref())
        .bind(permissions_json(&stored.permissions))
        .bind(stored.invited_by.as_deref())
        .bind(stored.created_at.timestamp_millis())
        .bind(stored.expires_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .conflict(|| "an invitation with this token is already stored".to_string())?;
        tx.commit().await.db()?;
        Ok(stored)
    }

    async fn console_invitation(&self, token_hash: &str) -> StoreResult<Option<ConsoleInvitation>> {
        sqlx::query_as::<_, InvitationRow>(&format!("{SELECT_INVITATION} WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.reader())
            .await
            .db()?
            .map(invitation)
            .transpose()
    }

    async fn console_invitations(
        &self,
        tenant_id: Option<&str>,
    ) -> StoreResult<Vec<ConsoleInvitation>> {
        let rows = match tenant_id {
            Some(t) => {
                sqlx::query_as::<_, InvitationRow>(&format!(
                    "{SELECT_INVITATION} WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
                ))
                .bind(t)
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as::<_, InvitationRow>(&format!(
                    "{SELECT_INVITATION} ORDER BY created_at DESC, id DESC"
                ))
                .fetch_all(self.reader())
                .await
            }
        }
        .db()?;
        rows.into_iter().map(invitation).collect()
    }

    async fn accept_console_invitation(
        &self,
        token_hash: &str,
        new: &NewConsoleAccount,
        at: DateTime<Utc>,
    ) -> StoreResult<ConsoleAccount> {
        let mut tx = self.begin_write().await?;
        // Taking the invitation first: of two concurrent acceptances, one
        // updates the row and the other finds it used.
        let taken: Option<InvitationRow> = sqlx::query_as(
            "UPDATE console_invitations SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING id, token_hash, role, tenant_id, email, permissions, invited_by, \
             created_at, expires_at, used_at",
        )
        .bind(token_hash)
        .bind(at.timestamp_millis())
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        let Some(taken) = taken else {
            return Err(StoreError::NotFound("open invitation".into()));
        };
        let invitation = invitation(taken)?;
        let created = ConsoleAccount {
            id: new_id(),
            email: new.email.clone(),
            name: new.name.clone(),
            password_hash: new.password_hash.clone(),
            role: invitation.role,
            tenant_id: invitation.tenant_id.clone(),
            permissions: invitation.permissions.clone(),
            failed_attempts: 0,
            locked_until: None,
            created_at: time(at.timestamp_millis())?,
        };
        sqlx::query(
            "INSERT INTO console_accounts (id, email, name, password_hash, role, tenant_id, \
             permissions, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&created.id)
        .bind(&created.email)
        .bind(&created.name)
        .bind(&created.password_hash)
        .bind(created.role.as_str())
        .bind(created.tenant_id.as_deref())
        .bind(permissions_json(&created.permissions))
        .bind(created.created_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .conflict(|| "an account with this email address already exists".to_string())?;
        tx.commit().await.db()?;
        Ok(created)
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_audit (at, account_id, tenant_id, action, detail) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(entry.at.timestamp_millis())
        .bind(entry.account_id.as_deref())
        .bind(entry.tenant_id.as_deref())
        .bind(&entry.action)
        .bind(entry.detail.to_string())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn audit_log(
        &self,
        tenant_id: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let before = before.unwrap_or(i64::MAX);
        let limit = i64::from(limit);
        let rows: Vec<(i64, i64, Option<String>, Option<String>, String, String)> = match tenant_id
        {
            Some(t) => {
                sqlx::query_as(
                    "SELECT id, at, account_id, tenant_id, action, detail FROM console_audit \
                     WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(t)
                .bind(before)
                .bind(limit)
                .fetch_all(self.reader())
                .await
            }
            None => {
                sqlx::query_as(
                    "SELECT id, at, account_id, tenant_id, action, detail FROM console_audit \
                     WHERE id < $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(before)
                .bind(limit)
                .fetch_all(self.reader())
                .await
            }
        }
        .db()?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.0,
                    at: time(r.1)?,
                    account_id: r.2,
                    tenant_id: r.3,
                    action: r.4,
                    detail: serde_json::from_str(&r.5)
                        .map_err(|e| unreadable("audit detail", e))?,
                })
            })
            .collect()
    }
}
