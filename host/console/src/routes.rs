//! The handlers: one per page and method. Each finds the session, then
//! checks, in this order, that the account reaches the tenant (else the
//! same 404 as a tenant that does not exist), the form's CSRF token (else
//! a 403 page, nothing changed) and the permission; then one store call
//! and the audit line.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::Method;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use tayori_core::{
    ConsoleAccount, ConsoleInvitation, ConsoleRole, ConsoleSession, FailedSignIn, NewAuditEntry,
    NewConsoleAccount, NewConsoleInvitation, Permission, StoreError, Tenant,
};

use crate::pages::{CSS, CSS_PATH};
use crate::text::{self, Lang, Texts};
use crate::{
    INVITE_HOURS, Inner, LOCK_MINUTES, MAX_FAILURES, SESSION_COOKIE, SESSION_IDLE_HOURS, auth, csrf,
};

type Shared = Arc<Inner>;

/// The language cookie (a preference, not a secret).
const LANG_COOKIE: &str = "tayori_console_lang";
/// Tenants on one page of the operator's list.
const TENANTS_PER_PAGE: usize = 50;
/// Lines on one page of the audit log.
const AUDIT_PER_PAGE: u32 = 50;
/// The largest form accepted.
const MAX_FORM_BODY: usize = 16 * 1024;
/// The largest channel config form accepted.
const MAX_CHANNEL_FORM_BODY: usize = 2 * 1024 * 1024;
/// The content security policy: this origin's style sheet, no script.
const CSP: &str = "default-src 'self'; script-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// A session is written again when it was last seen longer ago than this.
const TOUCH_AFTER_SECONDS: i64 = 60;

pub(crate) fn router(inner: Shared) -> Router {
    Router::new()
        .route(CSS_PATH, get(css))
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in_post))
        .route("/sign-out", post(sign_out))
        .route("/operator", get(operator))
        .route("/operator/plugins", get(plugins_page))
        .route("/operator/plugins/{plugin}", get(plugin_page))
        .route("/operator/plugins/{plugin}/activate", post(plugin_activate))
        .route("/operator/plugins/{plugin}/canary", post(plugin_canary))
        .route("/operator/plugins/{plugin}/rollback", post(plugin_rollback))
        .route(
            "/operator/partners",
            get(partners_page).post(partner_create),
        )
        .route(
            "/operator/partners/{id}/revoke",
            get(partner_revoke_page).post(partner_revoke),
        )
        .route("/audit", get(audit_all))
        .route("/t/{tenant}", get(dashboard))
        .route("/t/{tenant}/settings", post(settings_post))
        .route("/t/{tenant}/team", get(team_page).post(team_post))
        .route("/t/{tenant}/audit", get(audit_tenant))
        .route("/t/{tenant}/support", get(support_search))
        .route("/t/{tenant}/support/{subscriber}", get(support_household))
        .route("/t/{tenant}/support/{subscriber}/stop", post(support_stop))
        .route(
            "/t/{tenant}/support/{subscriber}/erase",
            post(support_erase),
        )
        .route("/t/{tenant}/content", get(content_list))
        .route(
            "/t/{tenant}/content/inserts/{kind}/{key}",
            get(insert_page).post(insert_post),
        )
        .route(
            "/t/{tenant}/content/inserts/{kind}/{key}/delete",
            get(insert_delete_page).post(insert_delete),
        )
        .route(
            "/t/{tenant}/content/new-message",
            get(own_new_page).post(own_new_post),
        )
        .route(
            "/t/{tenant}/content/messages/{id}",
            get(own_page).post(own_post),
        )
        .route(
            "/t/{tenant}/content/messages/{id}/delete",
            get(own_delete_page).post(own_delete),
        )
        .route(
            "/t/{tenant}/broadcasts",
            get(broadcasts_list).post(broadcast_create),
        )
        .route(
            "/t/{tenant}/broadcasts/new",
            get(broadcast_new).post(broadcast_check),
        )
        .route("/t/{tenant}/broadcasts/{broadcast}", get(broadcast_page))
        .route(
            "/t/{tenant}/broadcasts/{broadcast}/cancel",
            post(broadcast_cancel),
        )
        .route("/t/{tenant}/poster", get(poster_page))
        .route("/t/{tenant}/poster.svg", get(poster_svg))
        .route("/t/{tenant}/channels", get(channels_page))
        .route("/t/{tenant}/channels/new", get(channel_new))
        .route(
            "/t/{tenant}/channels/{channel}",
            get(channel_page)
                .post(channel_save)
                // A config may carry a picture (LINE's rich menu, 1 MB as base64).
                .layer(DefaultBodyLimit::max(MAX_CHANNEL_FORM_BODY)),
        )
        .route("/t/{tenant}/channels/{channel}/pause", post(channel_pause))
        .route(
            "/t/{tenant}/channels/{channel}/resume",
            post(channel_resume),
        )
        .route("/t/{tenant}/channels/{channel}/test", post(channel_test))
        .route("/invite/{token}", get(accept_page).post(accept_post))
        .route("/first/{token}", get(accept_page).post(accept_post))
        .layer(DefaultBodyLimit::max(MAX_FORM_BODY))
        .layer(middleware::from_fn_with_state(
            inner.clone(),
            limit_signed_out_posts,
        ))
        .layer(middleware::map_response(security_headers))
        .with_state(inner)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Sign-in and invitation POSTs, per client address, before anything
/// else is read.
async fn limit_signed_out_posts(State(c): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let signed_out_form =
        path == "/sign-in" || path.starts_with("/invite/") || path.starts_with("/first/");
    if request.method() == Method::POST && signed_out_form {
        let ip = client_ip(request.extensions().get::<ConnectInfo<SocketAddr>>());
        if let Err(wait) = c.limiter.check(ip) {
            let r = Req::new(request.uri(), request.headers());
            return c.limited(&r, wait);
        }
    }
    next.run(request).await
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

// ---------------------------------------------------------------- plumbing

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn with_cookie(mut response: Response, set_cookie: Option<String>) -> Response {
    if let Some(value) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn cookie_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|v| v.to_str().ok())
}

/// The last value of a posted field.
fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn client_ip(connect: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    connect
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The page's language: `?lang=` (kept in a cookie), else the cookie, else
/// Japanese; and the request's path and query for the switch's links.
#[derive(Debug, Clone)]
struct Req {
    lang: Lang,
    /// The `Set-Cookie` that keeps a `?lang=` choice.
    set_lang: Option<String>,
    path: String,
    /// The query without `lang`.
    query: Vec<(String, String)>,
}

impl Req {
    fn new(uri: &Uri, headers: &HeaderMap) -> Self {
        let query: Vec<(String, String)> = uri
            .query()
            .map(|q| {
                q.split('&')
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        (k.to_string(), v.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let asked = query
            .iter()
            .rev()
            .find(|(k, _)| k == "lang")
            .and_then(|(_, v)| Lang::parse(v));
        let kept = csrf::cookie(cookie_header(headers), LANG_COOKIE).and_then(Lang::parse);
        let lang = asked.or(kept).unwrap_or(Lang::Ja);
        let set_lang = asked.filter(|a| Some(*a) != kept).map(|a| {
            format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                a.code()
            )
        });
        Self {
            lang,
            set_lang,
            path: uri.path().to_string(),
            query: query.into_iter().filter(|(k, _)| k != "lang").collect(),
        }
    }

    fn t(&self) -> &'static Texts {
        self.lang.texts()
    }

    fn switch(&self) -> Vec<Value> {
        [(Lang::Ja, "日本語"), (Lang::En, "English")]
            .into_iter()
            .map(|(lang, label)| {
                let mut q: Vec<String> =
                    self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                q.push(format!("lang={}", lang.code()));
                context! {
                    label,
                    lang => lang.code(),
                    href => format!("{}?{}", self.path, q.join("&")),
                    current => lang == self.lang,
                }
            })
            .collect()
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A signed-in browser.
struct Signed {
    account: ConsoleAccount,
    session: ConsoleSession,
}

/// A menu link.
#[derive(Serialize)]
struct NavItem {
    href: String,
    label: &'static str,
    current: bool,
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        self.app.scheduler.clock().now()
    }

    fn store(&self) -> &dyn tayori_core::Store {
        self.app.store.as_ref()
    }

    fn session_cookie(&self, token: &str) -> String {
        format!(
            "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
            SESSION_IDLE_HOURS * 3600,
            if self.secure { "; Secure" } else { "" }
        )
    }

    fn clear_session_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    async fn audit(
        &self,
        account: Option<&str>,
        tenant: Option<&str>,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), Response> {
        self.store()
            .append_audit(&NewAuditEntry {
                at: self.now(),
                account_id: account.map(str::to_string),
                tenant_id: tenant.map(str::to_string),
                action: action.into(),
                detail,
            })
            .await
            .map_err(|e| self.failed(e))
    }

    /// A store failure: logged, and a plain 500 page.
    fn failed(&self, e: StoreError) -> Response {
        tracing::error!(error = %e, "console: the store failed");
        html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<!doctype html><title>500</title><p>Something went wrong. Try again later.</p>".into(),
        )
    }

    /// The session of the request, if it has a live one (seen now).
    async fn signed(&self, headers: &HeaderMap) -> Result<Option<Signed>, Response> {
        let Some(token) = csrf::cookie(cookie_header(headers), SESSION_COOKIE) else {
            return Ok(None);
        };
        if !auth::well_formed(token) {
            return Ok(None);
        }
        let now = self.now();
        let hash = auth::digest(token);
        let Some(session) = self
            .store()
            .console_session(&hash, now)
            .await
            .map_err(|e| self.failed(e))?
        else {
            return Ok(None);
        };
        let Some(account) = self
            .store()
            .console_account(&session.account_id)
            .await
            .map_err(|e| self.failed(e))?
        else {
            return Ok(None);
        };
        if (now - session.last_seen_at).num_seconds() >= TOUCH_AFTER_SECONDS {
            self.store()
                .touch_console_session(&hash, now, now + Duration::hours(SESSION_IDLE_HOURS))
                .await
                .map_err(|e| self.failed(e))?;
        }
        Ok(Some(Signed { account, session }))
    }

    /// The frame every page has.
    fn frame(
        &self,
        r: &Req,
        signed: Option<&Signed>,
        tenant: Option<&Tenant>,
        title: &str,
    ) -> Value {
        let t = r.t();
        let nav = signed.map(|s| {
            let mut items = Vec::new();
            let mut item = |href: String, label: &'static str| {
                let current = r.path == href;
                items.push(NavItem {
                    href,
                    label,
                    current,
                });
            };
            if s.account.role == ConsoleRole::Operator {
                item("/operator".into(), t.nav_operator);
                item("/operator/plugins".into(), t.pl_nav);
                item("/operator/partners".into(), t.pt_nav);
            }
            let tenant_id = tenant
                .map(|t| t.id.clone())
                .or_else(|| s.account.tenant_id.clone());
            if let Some(id) = tenant_id {
                if s.account.may(&id, Permission::Dashboard) {
                    item(format!("/t/{id}"), t.nav_dashboard);
                    item(format!("/t/{id}/support"), t.nav_support);
                }
                if s.account.may(&id, Permission::Broadcasts) {
                    item(format!("/t/{id}/broadcasts"), t.nav_broadcasts);
                }
                if s.account.may(&id, Permission::Content) {
                    item(format!("/t/{id}/content"), t.nav_content);
                    item(format!("/t/{id}/poster"), t.nav_poster);
                }
                if s.account.may(&id, Permission::Channels) {
                    item(format!("/t/{id}/channels"), t.nav_channels);
                }
                if s.account.may(&id, Permission::Team) {
                    item(format!("/t/{id}/team"), t.nav_team);
                    item(format!("/t/{id}/audit"), t.nav_audit);
                }
            }
            if s.account.role == ConsoleRole::Operator {
                item("/audit".into(), t.nav_audit);
            }
            // Two "audit" links for an operator on a tenant: keep the
            // tenant's, it is the page's context.
            if s.account.role == ConsoleRole::Operator && tenant.is_some() {
                items.retain(|i| i.href != "/audit");
            }
            context! {
                name => s.account.name.clone(),
                csrf => s.session.csrf_secret.clone(),
                tenant_name => tenant.map(|t| t.name.clone()),
                items,
            }
        });
        context! {
            t,
            title,
            switch => r.switch(),
            nav,
        }
    }

    fn render(&self, r: &Req, status: StatusCode, name: &str, view: Value) -> Response {
        with_cookie(
            html(status, self.pages.render(name, view)),
            r.set_lang.clone(),
        )
    }

    fn message(
        &self,
        r: &Req,
        signed: Option<&Signed>,
        status: StatusCode,
        title: &str,
        paragraphs: Vec<String>,
    ) -> Response {
        let frame = self.frame(r, signed, None, title);
        self.render(
            r,
            status,
            "message.html",
            context! { paragraphs, home => "/", ..frame },
        )
    }

    fn not_found(&self, r: &Req, signed: Option<&Signed>) -> Response {
        let t = r.t();
        self.message(
            r,
            signed,
            StatusCode::NOT_FOUND,
            t.not_found_title,
            vec![t.not_found_body.into()],
        )
    }

    fn forbidden_form(&self, r: &Req, signed: Option<&Signed>) -> Response {
        let t = r.t();
        self.message(
            r,
            signed,
            StatusCode::FORBIDDEN,
            t.forbidden_title,
            vec![t.forbidden_body.into()],
        )
    }

    fn no_permission(&self, r: &Req, signed: &Signed) -> Response {
        let t = r.t();
        self.message(
            r,
            Some(signed),
            StatusCode::FORBIDDEN,
            t.no_permission_title,
            vec![t.no_permission_body.into()],
        )
    }

    fn limited(&self, r: &Req, wait: std::time::Duration) -> Response {
        let t = r.t();
        let seconds = wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0);
        let mut response = self.message(
            r,
            None,
            StatusCode::TOO_MANY_REQUESTS,
            t.limited_title,
            vec![t.limited_body.replace("{seconds}", &seconds.to_string())],
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds.to_string()).expect("digits"),
        );
        response
    }

    /// The tenant a signed-in account may open, or the 404 page: a staff
    /// member of another tenant sees exactly what a missing tenant shows.
    async fn reach(&self, r: &Req, s: &Signed, tenant_id: &str) -> Result<Tenant, Response> {
        if !s.account.reaches(tenant_id) {
            return Err(self.not_found(r, Some(s)));
        }
        match self.store().tenant(tenant_id).await {
            Ok(tenant) => Ok(tenant),
            Err(StoreError::NotFound(_)) => Err(self.not_found(r, Some(s))),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// The checks of a GET of a tenant's page, in their order: the account
    /// reaches the tenant (else the same 404 as a tenant that does not
    /// exist) and holds `permission` (else the 403 page).
    async fn tenant_get(
        &self,
        r: &Req,
        s: &Signed,
        tenant_id: &str,
        permission: Permission,
    ) -> Result<Tenant, Response> {
        let tenant = self.reach(r, s, tenant_id).await?;
        if !s.account.may(&tenant.id, permission) {
            return Err(self.no_permission(r, s));
        }
        Ok(tenant)
    }

    /// The checks of a POST to a tenant's page, in their order: the
    /// account reaches the tenant (else the same 404 as a tenant that does
    /// not exist), the form carries the session's CSRF token (else a 403
    /// page, nothing changed), and the account holds `permission`.
    async fn tenant_post(
        &self,
        r: &Req,
        s: &Signed,
        tenant_id: &str,
        pairs: &[(String, String)],
        permission: Permission,
    ) -> Result<Tenant, Response> {
        let tenant = self.reach(r, s, tenant_id).await?;
        if !session_form_ok(s, pairs) {
            return Err(self.forbidden_form(r, Some(s)));
        }
        if !s.account.may(&tenant.id, permission) {
            return Err(self.no_permission(r, s));
        }
        Ok(tenant)
    }

    /// Starts a session for the account: its cookie.
    async fn start_session(&self, account: &ConsoleAccount) -> Result<String, Response> {
        let token = auth::new_token();
        let now = self.now();
        self.store()
            .create_console_session(&ConsoleSession {
                token_hash: auth::digest(&token),
                account_id: account.id.clone(),
                csrf_secret: auth::new_token(),
                created_at: now,
                last_seen_at: now,
                expires_at: now + Duration::hours(SESSION_IDLE_HOURS),
            })
            .await
            .map_err(|e| self.failed(e))?;
        Ok(self.session_cookie(&token))
    }
}

/// Whether a signed-in POST carries its session's CSRF token.
fn session_form_ok(s: &Signed, pairs: &[(String, String)]) -> bool {
    field(pairs, csrf::FIELD).is_some_and(|f| auth::same(f.trim(), &s.session.csrf_secret))
}

/// Where a signed-in account starts.
fn home_of(account: &ConsoleAccount) -> String {
    match (&account.role, &account.tenant_id) {
        (ConsoleRole::Staff, Some(tenant)) => format!("/t/{tenant}"),
        _ => "/operator".into(),
    }
}

/// A time as staff read it: Japan's time.
fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A plausible email address, lower case (the address is proven by the
/// person who opens the link sent to it).
fn email_of(typed: &str) -> Option<String> {
    let e = typed.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.contains(char::is_whitespace)
        && !domain.contains('@')
        && e.len() <= 254;
    ok.then_some(e)
}

// ---------------------------------------------------------------- pages

async fn home(State(c): State<Shared>, headers: HeaderMap) -> Response {
    match c.signed(&headers).await {
        Err(r) => r,
        Ok(Some(s)) => see_other(&home_of(&s.account)),
        Ok(None) => see_other("/sign-in"),
    }
}

/// The session or the way to the sign-in page.
macro_rules! signed_or_sign_in {
    ($c:expr, $headers:expr) => {
        match $c.signed(&$headers).await {
            Err(resp) => return resp,
            Ok(None) => return see_other("/sign-in"),
            Ok(Some(s)) => s,
        }
    };
}

mod accept;
mod audit;
mod broadcasts;
mod channels;
mod content;
mod dashboard;
mod operator;
mod partners;
mod plugins;
mod poster;
mod sign_in;
mod support;
mod team;

use accept::*;
use audit::*;
use broadcasts::*;
use channels::*;
use content::*;
use dashboard::*;
use operator::*;
use partners::*;
use plugins::*;
use poster::*;
use sign_in::*;
use support::*;
use team::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_months_are_read_strictly() {
        assert_eq!(
            email_of(" Hanako@Example.JP ").as_deref(),
            Some("hanako@example.jp")
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@example.jp",
            "a b@example.jp",
            "a@.jp",
            "a@b@c.jp",
        ] {
            assert_eq!(email_of(bad), None, "{bad}");
        }
        assert_eq!(
            month_of(Some("2027-01")),
            NaiveDate::from_ymd_opt(2027, 1, 1)
        );
        for bad in ["2027-1", "2027-13", "1999-12", "x"] {
            assert_eq!(month_of(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn every_template_renders() {
        let pages = crate::pages::Pages::new();
        for name in [
            "message.html",
            "sign_in.html",
            "accept.html",
            "dashboard.html",
            "operator.html",
            "team.html",
            "audit.html",
            "support.html",
            "channels.html",
            "content.html",
            "broadcasts.html",
            "plugins.html",
            "partners.html",
            "poster.html",
        ] {
            let html = pages.render(name, context! { t => Lang::En.texts(), title => "T" });
            assert!(html.contains("<h1>T</h1>"), "{name}: {html}");
        }
    }
}
