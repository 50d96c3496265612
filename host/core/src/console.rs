//! The web console's people: accounts (operators and tenants' staff), their
//! sessions, invitations, and the audit log (issue 15). Secrets never reach
//! these types in clear: a password is its Argon2id PHC string, a session or
//! invitation token its SHA-256.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::StoreResult;

/// Who an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    /// Sees and does everything, in every tenant.
    Operator,
    /// A municipality's staff member: one tenant, with permissions.
    Staff,
}

impl ConsoleRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Staff => "staff",
        }
    }
}

impl std::str::FromStr for ConsoleRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "operator" => Ok(Self::Operator),
            "staff" => Ok(Self::Staff),
            other => Err(format!("unknown console role `{other}`")),
        }
    }
}

/// What a staff member may do, as GOV.UK Notify splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See the dashboard (the monthly figures).
    Dashboard,
    /// Send broadcasts (urgent notices).
    Broadcasts,
    /// Edit local content.
    Content,
    /// Manage channels and settings.
    Channels,
    /// Manage the team (invite people).
    Team,
}

impl Permission {
    /// Every permission, in the order the console lists them.
    pub const ALL: [Permission; 5] = [
        Self::Dashboard,
        Self::Broadcasts,
        Self::Content,
        Self::Channels,
        Self::Team,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Broadcasts => "broadcasts",
            Self::Content => "content",
            Self::Channels => "channels",
            Self::Team => "team",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown permission `{s}`"))
    }
}

/// A console account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleAccount {
    pub id: String,
    /// Lower case, unique.
    pub email: String,
    pub name: String,
    /// The Argon2id PHC string.
    #[serde(skip)]
    pub password_hash: String,
    pub role: ConsoleRole,
    /// The tenant of a staff member; `None` for an operator.
    pub tenant_id: Option<String>,
    pub permissions: BTreeSet<Permission>,
    /// Wrong passwords since the last sign-in or lock.
    pub failed_attempts: u32,
    /// When the account's lock ends, if it was locked.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ConsoleAccount {
    /// Whether the account may see the tenant at all.
    pub fn reaches(&self, tenant_id: &str) -> bool {
        self.role == ConsoleRole::Operator || self.tenant_id.as_deref() == Some(tenant_id)
    }

    /// Whether the account may do `permission` in the tenant (an operator
    /// may do everything everywhere).
    pub fn may(&self, tenant_id: &str, permission: Permission) -> bool {
        self.role == ConsoleRole::Operator
            || (self.tenant_id.as_deref() == Some(tenant_id)
                && self.permissions.contains(&permission))
    }

    /// Whether the account is locked at `now`.
    pub fn locked_at(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsoleAccount {
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the cookie's token, lower-case hex.
    pub token_hash: String,
    pub account_id: String,
    /// What the session's forms carry (compared in constant time).
    pub csrf_secret: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A link that creates one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleInvitation {
    pub id: String,
    #[serde(skip)]
    pub token_hash: String,
    pub role: ConsoleRole,
    pub tenant_id: Option<String>,
    /// The address invited (none for the first start's operator link).
    pub email: Option<String>,
    pub permissions: BTreeSet<Permission>,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

impl ConsoleInvitation {
    /// Whether the link still creates an account at `now`.
    pub fn open_at(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }
}

/// An invitation to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsoleInvitation {
    pub token_hash: String,
    pub role: ConsoleRole,
    pub tenant_id: Option<String>,
    pub email: Option<String>,
    pub permissions: BTreeSet<Permission>,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub account_id: Option<String>,
    pub tenant_id: Option<String>,
    /// `sign_in`, `sign_in_failed`, `locked`, `sign_out`,
    /// `invitation_made`, `invitation_used`, ...
    pub action: String,
    pub detail: serde_json::Value,
}

/// A line to append to the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub account_id: Option<String>,
    pub tenant_id: Option<String>,
    pub action: String,
    pub detail: serde_json::Value,
}

/// What a wrong password did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedSignIn {
    /// Counted; this many wrong passwords now.
    Counted(u32),
    /// It was one too many: locked until then (the count starts again).
    Locked(DateTime<Utc>),
}

/// The console's accounts, sessions, invitations and audit log. Every
/// method with a tenant is scoped by it.
#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync {
    /// How many accounts there are (none: the first start's link is due).
    async fn console_account_count(&self) -> StoreResult<u64>;
    /// One account by id.
    async fn console_account(&self, id: &str) -> StoreResult<Option<ConsoleAccount>>;
    /// One account by its (lower-case) email address.
    async fn console_account_by_email(&self, email: &str) -> StoreResult<Option<ConsoleAccount>>;
    /// The staff of a tenant (`Some`), or every account (`None`), by email.
    async fn console_accounts(&self, tenant_id: Option<&str>) -> StoreResult<Vec<ConsoleAccount>>;
    /// Counts a wrong password at `at`; the `max_failures`-th in a row
    /// locks the account until `lock_until`. Atomic: concurrent failures
    /// are all counted. `NotFound` when there is no such account.
    async fn record_failed_sign_in(
        &self,
        account_id: &str,
        at: DateTime<Utc>,
        max_failures: u32,
        lock_until: DateTime<Utc>,
    ) -> StoreResult<FailedSignIn>;
    /// A right password: the count of wrong ones starts again.
    async fn record_sign_in(&self, account_id: &str) -> StoreResult<()>;
    /// Stores a new session.
    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// The session with this token hash unless it expired before `now`.
    async fn console_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ConsoleSession>>;
    /// Marks a session used at `at`, now expiring at `expires_at`.
    async fn touch_console_session(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Ends a session (ending an ended one changes nothing).
    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Stores an invitation. `NotFound` when its tenant does not exist;
    /// `Conflict` when the hash is taken.
    async fn create_console_invitation(
        &self,
        invitation: &NewConsoleInvitation,
    ) -> StoreResult<ConsoleInvitation>;
    /// The invitation with this token hash, used or not.
    async fn console_invitation(&self, token_hash: &str) -> StoreResult<Option<ConsoleInvitation>>;
    /// A tenant's invitations (`Some`) or every one (`None`), newest first.
    async fn console_invitations(
        &self,
        tenant_id: Option<&str>,
    ) -> StoreResult<Vec<ConsoleInvitation>>;
    /// Uses an invitation at `at` to create its account, in one
    /// transaction: `NotFound` when no open invitation has this hash (used,
    /// expired or never made), `Conflict` when the email address has an
    /// account. The account gets the invitation's role, tenant and
    /// permissions.
    async fn accept_console_invitation(
        &self,
        token_hash: &str,
        account: &NewConsoleAccount,
        at: DateTime<Utc>,
    ) -> StoreResult<ConsoleAccount>;
    /// Appends a line to the audit log.
    async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    /// The log of a tenant (`Some`) or all of it (`None`), newest first:
    /// up to `limit` lines with ids below `before` when given.
    async fn audit_log(
        &self,
        tenant_id: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
}
