//! The web console of municipal staff and the operator (issue 15),
//! served by `tayori serve` at `/` beside the API and the parents' pages:
//!
//! - `GET /`: the signed-in account's home (the operator's list of every
//!   tenant, a staff member's dashboard), or the sign-in page.
//! - `GET|POST /sign-in`, `POST /sign-out`.
//! - `GET /t/{tenant}`: the tenant's dashboard, the monthly figures of
//!   `GET /v1/tenants/{tenant}/reports/monthly` computed by the same
//!   function (`?month=YYYY-MM`), with a chart drawn on the server.
//! - `GET|POST /t/{tenant}/team`: the team, and invitations by link.
//! - `GET /t/{tenant}/audit`, `GET /audit`: the audit log.
//! - `GET /t/{tenant}/support`, `GET /t/{tenant}/support/{subscriber}`,
//!   `POST /t/{tenant}/support/{subscriber}/stop`: the support desk (find a
//!   household, read its contacts, children, history and schedule, stop it).
//! - `GET|POST /t/{tenant}/broadcasts`, `GET|POST /t/{tenant}/broadcasts/new`,
//!   `GET /t/{tenant}/broadcasts/{id}`, `POST /t/{tenant}/broadcasts/{id}/cancel`:
//!   broadcasts (an audience by stage and channel, now or at a time; the
//!   count, a sample and a preview per channel before a confirmed send;
//!   progress by status; cancelling the waiting deliveries).
//! - `GET /t/{tenant}/channels` (and `/new`, `/{channel}`, its `pause`,
//!   `resume` and `test`): the tenant's platforms, a config form made from
//!   the plugin's JSON Schema with write-only secrets (the API's own put),
//!   pause and resume, a test send to a staff address.
//! - `GET /t/{tenant}/content`, `GET|POST /t/{tenant}/content/inserts/{kind}/{key}`
//!   (and its `delete`), `GET|POST /t/{tenant}/content/new-message` and
//!   `/t/{tenant}/content/messages/{id}` (and its `delete`): local content,
//!   the tenant's inserts and own messages, with the API's checks and a
//!   preview through the dispatcher's renderer per locale and channel.
//! - `GET /operator`: every tenant, paged (operators only).
//! - `GET /operator/plugins`, `GET /operator/plugins/{plugin}` (and its
//!   `activate`, `canary` and `rollback` POSTs): every plugin with its
//!   versions, canaries and failure rate per version over 7 days;
//!   activation for every tenant or a canary, one-button rollback, through
//!   the API's own functions (operators only).
//! - `GET|POST /operator/partners`, `GET|POST /operator/partners/{id}/revoke`:
//!   partner accounts (partner API tokens scoped to plugins), the token
//!   shown once (operators only).
//! - `GET|POST /invite/{token}` and `/first/{token}`: an invitation (the
//!   first start's link makes the first operator).
//!
//! People sign in as themselves: Argon2id passwords ([`auth`]), sessions
//! in the database (only a token's SHA-256 is stored), CSRF protection on
//! every form ([`csrf`]), a lock after repeated wrong passwords, and an
//! audit log of every change. A staff member reaches one tenant: any other
//! tenant's page is the same 404 as a tenant that does not exist.
//! Server-rendered, Japanese first and English, working without
//! JavaScript; every answer carries a strict content security policy.

pub mod auth;
pub mod chart;
pub mod csrf;
mod pages;
pub mod poster;
mod routes;
pub mod schema_form;
pub mod text;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tayori_api::AppState;
use tayori_core::{ConsoleRole, NewAuditEntry, NewConsoleInvitation, StoreResult};

/// The session cookie. Not `__Host-` prefixed, so that it also works over
/// plain http on a loopback address; `Secure` whenever the public URL is
/// https.
pub const SESSION_COOKIE: &str = "tayori_console";
/// A session ends after this long without a request.
pub const SESSION_IDLE_HOURS: i64 = 12;
/// Wrong passwords in a row that lock an account...
pub const MAX_FAILURES: u32 = 5;
/// ...for this long.
pub const LOCK_MINUTES: i64 = 15;
/// How long an invitation link works.
pub const INVITE_HOURS: i64 = 72;
/// How long the first start's link works.
pub const FIRST_LINK_HOURS: i64 = 24;

/// What the pages share.
pub(crate) struct Inner {
    pub app: AppState,
    pub pages: pages::Pages,
    pub form: csrf::FormKey,
    pub limiter: Limiter,
    /// `public_url` without a trailing slash.
    pub base: String,
    /// Cookies get `Secure` (the public URL is https).
    pub secure: bool,
}

/// The console, as a router to merge into the app.
pub fn router(app: AppState) -> Router {
    let base = app.public_url.trim_end_matches('/').to_string();
    let secure = base.starts_with("https://");
    let inner = Inner {
        form: csrf::FormKey::new(app.secrets.derive("console-csrf"), secure),
        pages: pages::Pages::new(),
        limiter: Limiter::new(20, Duration::from_secs(3)),
        base,
        secure,
        app,
    };
    routes::router(Arc::new(inner))
}

/// On a first start (no console account yet), makes a one-time link that
/// creates the first operator: `{public_url}/first/{token}`, working for
/// [`FIRST_LINK_HOURS`]; only the token's SHA-256 is stored. `None` when
/// there is an account already.
pub async fn first_start_link(
    store: &dyn tayori_core::Store,
    public_url: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    if store.console_account_count().await? > 0 {
        return Ok(None);
    }
    let token = auth::new_token();
    let invitation = store
        .create_console_invitation(&NewConsoleInvitation {
            token_hash: auth::digest(&token),
            role: ConsoleRole::Operator,
            tenant_id: None,
            email: None,
            permissions: Default::default(),
            invited_by: None,
            created_at: now,
            expires_at: now + chrono::Duration::hours(FIRST_LINK_HOURS),
        })
        .await?;
    store
        .append_audit(&NewAuditEntry {
            at: now,
            account_id: None,
            tenant_id: None,
            action: "first_link".into(),
            detail: serde_json::json!({ "invitation": invitation.id }),
        })
        .await?;
    Ok(Some(format!(
        "{}/first/{token}",
        public_url.trim_end_matches('/')
    )))
}

/// Sign-in and invitation POSTs per client address: a burst, then one
/// per period (the lock protects each account; this, the service).
pub(crate) struct Limiter {
    limiter: RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock>,
}

impl Limiter {
    fn new(burst: u32, period: Duration) -> Self {
        let quota = Quota::with_period(period)
            .expect("a period above zero")
            .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"));
        Self {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// `Ok` when the client may post now; otherwise how long to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let key = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
                }
            },
            v4 => v4,
        };
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}
