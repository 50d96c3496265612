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
        .route("/audit", get(audit_all))
        .route("/t/{tenant}", get(dashboard))
        .route("/t/{tenant}/team", get(team_page).post(team_post))
        .route("/t/{tenant}/audit", get(audit_tenant))
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
            }
            let tenant_id = tenant
                .map(|t| t.id.clone())
                .or_else(|| s.account.tenant_id.clone());
            if let Some(id) = tenant_id {
                if s.account.may(&id, Permission::Dashboard) {
                    item(format!("/t/{id}"), t.nav_dashboard);
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

async fn sign_in_page(State(c): State<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let r = Req::new(&uri, &headers);
    match c.signed(&headers).await {
        Err(resp) => return resp,
        Ok(Some(s)) => return see_other(&home_of(&s.account)),
        Ok(None) => {}
    }
    render_sign_in(&c, &r, &headers, "", None)
}

fn render_sign_in(
    c: &Inner,
    r: &Req,
    headers: &HeaderMap,
    email: &str,
    error: Option<&str>,
) -> Response {
    let t = r.t();
    let token = c.form.for_page(cookie_header(headers));
    let frame = c.frame(r, None, None, t.sign_in_title);
    let action = match r.lang {
        Lang::Ja => "/sign-in".to_string(),
        Lang::En => "/sign-in?lang=en".to_string(),
    };
    with_cookie(
        c.render(
            r,
            StatusCode::OK,
            "sign_in.html",
            context! { action, csrf => token.field, email, error, error_title => error.is_some(), ..frame },
        ),
        token.set_cookie,
    )
}

async fn sign_in_post(
    State(c): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    if !c
        .form
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        return c.forbidden_form(&r, None);
    }
    let typed = field(&pairs, "email").unwrap_or_default();
    let email = typed.trim().to_lowercase();
    let password = field(&pairs, "password").unwrap_or_default().to_string();
    let now = c.now();
    let account = match c.store().console_account_by_email(&email).await {
        Ok(a) => a,
        Err(e) => return c.failed(e),
    };
    let right =
        auth::verify_password_blocking(password, account.as_ref().map(|a| a.password_hash.clone()))
            .await;
    let t = r.t();
    let Some(account) = account else {
        // No account: logged without the address typed (it may be
        // anything, a password typed in the wrong box too).
        if let Err(resp) = c
            .audit(None, None, "sign_in_failed", serde_json::json!({}))
            .await
        {
            return resp;
        }
        return render_sign_in(&c, &r, &headers, typed.trim(), Some(t.sign_in_failed));
    };
    let tenant = account.tenant_id.as_deref();
    if account.locked_at(now) {
        if let Err(resp) = c
            .audit(
                Some(&account.id),
                tenant,
                "sign_in_failed",
                serde_json::json!({ "locked": true }),
            )
            .await
        {
            return resp;
        }
        return render_sign_in(&c, &r, &headers, typed.trim(), Some(t.sign_in_failed));
    }
    if !right {
        let outcome = match c
            .store()
            .record_failed_sign_in(
                &account.id,
                now,
                MAX_FAILURES,
                now + Duration::minutes(LOCK_MINUTES),
            )
            .await
        {
            Ok(o) => o,
            Err(e) => return c.failed(e),
        };
        let (count, locked) = match outcome {
            FailedSignIn::Counted(n) => (n, None),
            FailedSignIn::Locked(until) => (MAX_FAILURES, Some(until)),
        };
        if let Err(resp) = c
            .audit(
                Some(&account.id),
                tenant,
                "sign_in_failed",
                serde_json::json!({ "attempt": count }),
            )
            .await
        {
            return resp;
        }
        if let Some(until) = locked
            && let Err(resp) = c
                .audit(
                    Some(&account.id),
                    tenant,
                    "locked",
                    serde_json::json!({ "until": until.to_rfc3339() }),
                )
                .await
        {
            return resp;
        }
        return render_sign_in(&c, &r, &headers, typed.trim(), Some(t.sign_in_failed));
    }
    if let Err(e) = c.store().record_sign_in(&account.id).await {
        return c.failed(e);
    }
    let cookie = match c.start_session(&account).await {
        Ok(cookie) => cookie,
        Err(resp) => return resp,
    };
    if let Err(resp) = c
        .audit(Some(&account.id), tenant, "sign_in", serde_json::json!({}))
        .await
    {
        return resp;
    }
    with_cookie(see_other(&home_of(&account)), Some(cookie))
}

async fn sign_out(
    State(c): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = match c.signed(&headers).await {
        Err(resp) => return resp,
        Ok(None) => return see_other("/sign-in"),
        Ok(Some(s)) => s,
    };
    if !session_form_ok(&s, &pairs) {
        return c.forbidden_form(&r, Some(&s));
    }
    if let Err(e) = c
        .store()
        .delete_console_session(&s.session.token_hash)
        .await
    {
        return c.failed(e);
    }
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            s.account.tenant_id.as_deref(),
            "sign_out",
            serde_json::json!({}),
        )
        .await
    {
        return resp;
    }
    with_cookie(see_other("/sign-in"), Some(c.clear_session_cookie()))
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

/// `?month=YYYY-MM` (2000-01 to 2100-12), the first day.
fn month_of(text: Option<&str>) -> Option<NaiveDate> {
    let (y, m) = text?.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    if !(2000..=2100).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, 1)
}

fn month_label(lang: Lang, month: NaiveDate) -> String {
    match lang {
        Lang::Ja => format!("{}年{}月", month.year(), month.month()),
        Lang::En => month.format("%B %Y").to_string(),
    }
}

async fn dashboard(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.reach(&r, &s, &tenant_id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !s.account.may(&tenant.id, Permission::Dashboard) {
        return c.no_permission(&r, &s);
    }
    let t = r.t();
    let today = tayori_api::front_door::today(&tenant, c.now());
    let this_month = today.with_day(1).expect("a first day");
    let month = month_of(r.query("month")).unwrap_or(this_month);
    let f = match tayori_api::reports::figures(c.store(), &tenant, month, today).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = ?e, "console: cannot compute the figures");
            return c.failed(StoreError::Backend("figures".into()));
        }
    };
    // The month picker: the two years to this month, and the month shown.
    let mut months: Vec<NaiveDate> = (0..24)
        .filter_map(|back| this_month.checked_sub_months(chrono::Months::new(back)))
        .collect();
    if !months.contains(&month) {
        months.push(month);
        months.sort_by(|a, b| b.cmp(a));
    }
    let months: Vec<Value> = months
        .into_iter()
        .map(|m| {
            context! {
                value => m.format("%Y-%m").to_string(),
                label => month_label(r.lang, m),
                selected => m == month,
            }
        })
        .collect();
    let stage_keys = ["pregnancy", "0-1", "1-2", "2-3", "later"];
    let stages: Vec<(String, String, u64)> = stage_keys
        .iter()
        .map(|k| {
            (
                k.to_string(),
                text::stage(t, k),
                f.active_by_stage.get(*k).copied().unwrap_or(0),
            )
        })
        .collect();
    let chart = crate::chart::bars(
        "stage-chart-title",
        t.stage_chart,
        &stages
            .iter()
            .map(|(_, label, v)| (label.clone(), *v))
            .collect::<Vec<_>>(),
    );
    let stage_rows: Vec<Value> = stages
        .iter()
        .map(|(key, label, value)| context! { key, label, value })
        .collect();
    let channels: Vec<Value> = f
        .active_by_channel
        .iter()
        .map(|(key, value)| context! { key, value })
        .collect();
    let month_figures: Vec<Value> = [
        ("registrations", t.registrations, f.registrations),
        (
            "households_created",
            t.households_created,
            f.households_created,
        ),
        ("confirmations", t.confirmations, f.confirmations),
        ("stops", t.stops, f.stops),
        ("blocks", t.blocks, f.blocks),
    ]
    .into_iter()
    .map(|(key, label, value)| context! { key, label, value })
    .collect();
    let deliveries: Vec<Value> = f
        .deliveries
        .iter()
        .flat_map(|(channel, by)| {
            by.iter()
                .map(move |(status, value)| context! { channel, status, value })
        })
        .collect();
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.dashboard_title);
    c.render(
        &r,
        StatusCode::OK,
        "dashboard.html",
        context! {
            tenant_name => tenant.name.clone(),
            action => format!("/t/{}", tenant.id),
            lang_param => (r.lang == Lang::En).then_some("en"),
            months,
            active_users => f.active_users,
            counted_on => t.counted_on.replace("{date}", &f.counted_on.to_string()),
            stage_chart => Value::from_safe_string(chart),
            stages => stage_rows,
            channels,
            month_figures,
            deliveries,
            same_as_api => t.same_as_api.replace("{tenant}", &tenant.id),
            ..frame
        },
    )
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

async fn operator(
    State(c): State<Shared>,
    Query(q): Query<PageQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if s.account.role != ConsoleRole::Operator {
        return c.not_found(&r, Some(&s));
    }
    let t = r.t();
    let tenants = match c.store().tenants().await {
        Ok(t) => t,
        Err(e) => return c.failed(e),
    };
    let pages = tenants.len().div_ceil(TENANTS_PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let now = c.now();
    let mut rows = Vec::new();
    for tenant in tenants
        .iter()
        .skip((page - 1) * TENANTS_PER_PAGE)
        .take(TENANTS_PER_PAGE)
    {
        let today = tayori_api::front_door::today(tenant, now);
        let month = today.with_day(1).expect("a first day");
        let active = match tayori_api::reports::figures(c.store(), tenant, month, today).await {
            Ok(f) => f.active_users,
            Err(e) => {
                tracing::error!(error = ?e, tenant = %tenant.id, "console: cannot compute the figures");
                return c.failed(StoreError::Backend("figures".into()));
            }
        };
        rows.push(context! {
            href => format!("/t/{}", tenant.id),
            name => tenant.name.clone(),
            id => tenant.id.clone(),
            active,
        });
    }
    let link = |p: usize| format!("/operator?page={p}");
    let frame = c.frame(&r, Some(&s), None, t.operator_title);
    c.render(
        &r,
        StatusCode::OK,
        "operator.html",
        context! {
            tenants => rows,
            pages,
            page_of => t.page_of.replace("{page}", &page.to_string()).replace("{pages}", &pages.to_string()),
            previous => (page > 1).then(|| link(page - 1)),
            next => (page < pages).then(|| link(page + 1)),
            ..frame
        },
    )
}

// ---------------------------------------------------------------- team

fn permission_list(t: &Texts, set: &BTreeSet<Permission>) -> String {
    let words: Vec<&str> = Permission::ALL
        .into_iter()
        .filter(|p| set.contains(p))
        .map(|p| text::permission(t, p))
        .collect();
    if words.is_empty() {
        "—".into()
    } else {
        words.join(match t.html_lang {
            "ja" => "、",
            _ => ", ",
        })
    }
}

/// What the team page shows besides its frame.
struct TeamForm<'a> {
    email: &'a str,
    error: Option<&'static str>,
    checked: BTreeSet<Permission>,
    made: Option<(String, String)>,
}

async fn render_team(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    form: TeamForm<'_>,
) -> Response {
    let t = r.t();
    let (members, invitations) = match (
        c.store().console_accounts(Some(&tenant.id)).await,
        c.store().console_invitations(Some(&tenant.id)).await,
    ) {
        (Ok(m), Ok(i)) => (m, i),
        (Err(e), _) | (_, Err(e)) => return c.failed(e),
    };
    let now = c.now();
    let members: Vec<Value> = members
        .iter()
        .map(|m| {
            context! {
                name => m.name.clone(),
                email => m.email.clone(),
                permissions => permission_list(t, &m.permissions),
            }
        })
        .collect();
    let pending: Vec<Value> = invitations
        .iter()
        .filter(|i| i.open_at(now))
        .map(|i: &ConsoleInvitation| {
            context! {
                email => i.email.clone().unwrap_or_default(),
                permissions => permission_list(t, &i.permissions),
                expires => local_time(i.expires_at),
            }
        })
        .collect();
    let choices: Vec<Value> = Permission::ALL
        .into_iter()
        .map(|p| {
            context! {
                value => p.as_str(),
                label => text::permission(t, p),
                checked => form.checked.contains(&p),
            }
        })
        .collect();
    let made = form.made.map(|(email, link)| {
        context! { body => t.invite_made_body.replace("{email}", &email), link }
    });
    let action = match r.lang {
        Lang::Ja => format!("/t/{}/team", tenant.id),
        Lang::En => format!("/t/{}/team?lang=en", tenant.id),
    };
    let frame = c.frame(r, Some(s), Some(tenant), t.team_title);
    c.render(
        r,
        StatusCode::OK,
        "team.html",
        context! {
            tenant_name => tenant.name.clone(),
            members,
            pending,
            can_invite => true,
            action,
            csrf => s.session.csrf_secret.clone(),
            email => form.email,
            error => form.error,
            error_title => form.error.is_some(),
            permission_choices => choices,
            made,
            ..frame
        },
    )
}

async fn team_page(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.reach(&r, &s, &tenant_id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !s.account.may(&tenant.id, Permission::Team) {
        return c.no_permission(&r, &s);
    }
    let form = TeamForm {
        email: "",
        error: None,
        checked: BTreeSet::from([Permission::Dashboard]),
        made: None,
    };
    render_team(&c, &r, &s, &tenant, form).await
}

async fn team_post(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.reach(&r, &s, &tenant_id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !session_form_ok(&s, &pairs) {
        return c.forbidden_form(&r, Some(&s));
    }
    if !s.account.may(&tenant.id, Permission::Team) {
        return c.no_permission(&r, &s);
    }
    let t = r.t();
    let typed = field(&pairs, "email").unwrap_or_default();
    let checked: BTreeSet<Permission> = pairs
        .iter()
        .filter(|(k, _)| k == "permission")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let refuse = |error: &'static str| TeamForm {
        email: typed,
        error: Some(error),
        checked: checked.clone(),
        made: None,
    };
    let Some(email) = email_of(typed) else {
        return render_team(&c, &r, &s, &tenant, refuse(t.email_invalid)).await;
    };
    match c.store().console_account_by_email(&email).await {
        Ok(Some(_)) => return render_team(&c, &r, &s, &tenant, refuse(t.email_taken)).await,
        Ok(None) => {}
        Err(e) => return c.failed(e),
    }
    let token = auth::new_token();
    let now = c.now();
    let invitation = match c
        .store()
        .create_console_invitation(&NewConsoleInvitation {
            token_hash: auth::digest(&token),
            role: ConsoleRole::Staff,
            tenant_id: Some(tenant.id.clone()),
            email: Some(email.clone()),
            permissions: checked.clone(),
            invited_by: Some(s.account.id.clone()),
            created_at: now,
            expires_at: now + Duration::hours(INVITE_HOURS),
        })
        .await
    {
        Ok(i) => i,
        Err(e) => return c.failed(e),
    };
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "invitation_made",
            serde_json::json!({
                "invitation": invitation.id,
                "email": email,
                "permissions": checked,
            }),
        )
        .await
    {
        return resp;
    }
    let link = format!("{}/invite/{token}", c.base);
    let form = TeamForm {
        email: "",
        error: None,
        checked: BTreeSet::from([Permission::Dashboard]),
        made: Some((email, link)),
    };
    render_team(&c, &r, &s, &tenant, form).await
}

// ---------------------------------------------------------------- invitations

/// The open invitation a link's token stands for.
async fn open_invitation(c: &Inner, token: &str) -> Result<Option<ConsoleInvitation>, Response> {
    if !auth::well_formed(token) {
        return Ok(None);
    }
    let invitation = c
        .store()
        .console_invitation(&auth::digest(token))
        .await
        .map_err(|e| c.failed(e))?;
    Ok(invitation.filter(|i| i.open_at(c.now())))
}

fn closed(c: &Inner, r: &Req) -> Response {
    let t = r.t();
    c.message(
        r,
        None,
        StatusCode::NOT_FOUND,
        t.invite_closed_title,
        vec![t.invite_closed_body.into()],
    )
}

#[derive(Default, Serialize)]
struct AcceptErrors {
    name: Option<&'static str>,
    email: Option<&'static str>,
    password: Option<&'static str>,
    confirm: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
async fn render_accept(
    c: &Inner,
    r: &Req,
    headers: &HeaderMap,
    invitation: &ConsoleInvitation,
    name: &str,
    email: &str,
    err: AcceptErrors,
) -> Response {
    let t = r.t();
    let intro = match &invitation.tenant_id {
        Some(tenant_id) => {
            let tenant_name = c
                .store()
                .tenant(tenant_id)
                .await
                .map(|t| t.name)
                .unwrap_or_else(|_| tenant_id.clone());
            t.accept_staff.replace("{tenant}", &tenant_name)
        }
        None => t.accept_operator.to_string(),
    };
    let mut errors = Vec::new();
    for (anchor, message) in [
        ("name", err.name),
        ("email", err.email),
        ("password", err.password),
        ("confirm", err.confirm),
    ] {
        if let Some(message) = message {
            errors.push(context! { anchor, message });
        }
    }
    let token = c.form.for_page(cookie_header(headers));
    let action = match r.lang {
        Lang::Ja => r.path.clone(),
        Lang::En => format!("{}?lang=en", r.path),
    };
    let frame = c.frame(r, None, None, t.accept_title);
    with_cookie(
        c.render(
            r,
            StatusCode::OK,
            "accept.html",
            context! {
                intro,
                action,
                csrf => token.field,
                name,
                email,
                fixed_email => invitation.email.clone(),
                error_title => !errors.is_empty(),
                errors,
                err,
                ..frame
            },
        ),
        token.set_cookie,
    )
}

async fn accept_page(
    State(c): State<Shared>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let invitation = match open_invitation(&c, &token).await {
        Ok(Some(i)) => i,
        Ok(None) => return closed(&c, &r),
        Err(resp) => return resp,
    };
    render_accept(
        &c,
        &r,
        &headers,
        &invitation,
        "",
        "",
        AcceptErrors::default(),
    )
    .await
}

async fn accept_post(
    State(c): State<Shared>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    if !c
        .form
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        return c.forbidden_form(&r, None);
    }
    let invitation = match open_invitation(&c, &token).await {
        Ok(Some(i)) => i,
        Ok(None) => return closed(&c, &r),
        Err(resp) => return resp,
    };
    let t = r.t();
    let name = field(&pairs, "name").unwrap_or_default().trim().to_string();
    let typed_email = field(&pairs, "email").unwrap_or_default();
    let password = field(&pairs, "password").unwrap_or_default().to_string();
    let confirm = field(&pairs, "confirm").unwrap_or_default();
    let mut err = AcceptErrors::default();
    if name.is_empty() || name.chars().count() > 100 {
        err.name = Some(t.name_missing);
    }
    let email = match &invitation.email {
        Some(e) => Some(e.clone()),
        None => email_of(typed_email),
    };
    if email.is_none() {
        err.email = Some(t.email_invalid);
    }
    let chars = password.chars().count();
    if chars < auth::MIN_PASSWORD_CHARS {
        err.password = Some(t.password_short);
    } else if chars > auth::MAX_PASSWORD_CHARS {
        err.password = Some(t.password_long);
    } else if confirm != password {
        err.confirm = Some(t.password_mismatch);
    }
    let (Some(email), None, None, None, None) =
        (email, err.name, err.email, err.password, err.confirm)
    else {
        return render_accept(&c, &r, &headers, &invitation, &name, typed_email, err).await;
    };
    let password_hash = auth::hash_password_blocking(password).await;
    let account = match c
        .store()
        .accept_console_invitation(
            &invitation.token_hash,
            &NewConsoleAccount {
                email: email.clone(),
                name: name.clone(),
                password_hash,
            },
            c.now(),
        )
        .await
    {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => return closed(&c, &r),
        Err(StoreError::Conflict(_)) => {
            let err = AcceptErrors {
                email: Some(t.email_taken),
                ..AcceptErrors::default()
            };
            return render_accept(&c, &r, &headers, &invitation, &name, typed_email, err).await;
        }
        Err(e) => return c.failed(e),
    };
    if let Err(resp) = c
        .audit(
            Some(&account.id),
            account.tenant_id.as_deref(),
            "invitation_used",
            serde_json::json!({ "invitation": invitation.id, "role": account.role }),
        )
        .await
    {
        return resp;
    }
    let cookie = match c.start_session(&account).await {
        Ok(cookie) => cookie,
        Err(resp) => return resp,
    };
    if let Err(resp) = c
        .audit(
            Some(&account.id),
            account.tenant_id.as_deref(),
            "sign_in",
            serde_json::json!({}),
        )
        .await
    {
        return resp;
    }
    with_cookie(see_other(&home_of(&account)), Some(cookie))
}

// ---------------------------------------------------------------- audit

#[derive(Debug, Deserialize)]
struct AuditQuery {
    before: Option<i64>,
}

async fn render_audit(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: Option<&Tenant>,
    before: Option<i64>,
) -> Response {
    let t = r.t();
    let entries = match c
        .store()
        .audit_log(tenant.map(|t| t.id.as_str()), before, AUDIT_PER_PAGE)
        .await
    {
        Ok(e) => e,
        Err(e) => return c.failed(e),
    };
    let accounts: HashMap<String, ConsoleAccount> = match c.store().console_accounts(None).await {
        Ok(all) => all.into_iter().map(|a| (a.id.clone(), a)).collect(),
        Err(e) => return c.failed(e),
    };
    let older = (entries.len() == AUDIT_PER_PAGE as usize)
        .then(|| {
            entries
                .last()
                .map(|e| format!("{}?before={}", r.path, e.id))
        })
        .flatten();
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let who = e
                .account_id
                .as_ref()
                .and_then(|id| accounts.get(id))
                .map(|a| format!("{} <{}>", a.name, a.email))
                .unwrap_or_else(|| t.someone_unknown.to_string());
            let detail = match &e.detail {
                serde_json::Value::Object(map) if map.is_empty() => String::new(),
                serde_json::Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}: {s}"),
                        other => format!("{k}: {other}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            context! {
                at => local_time(e.at),
                who,
                tenant => e.tenant_id.clone().unwrap_or_default(),
                action => e.action.clone(),
                what => text::action(t, &e.action),
                detail,
            }
        })
        .collect();
    let frame = c.frame(r, Some(s), tenant, t.audit_title);
    c.render(
        r,
        StatusCode::OK,
        "audit.html",
        context! {
            tenant_name => tenant.map(|t| t.name.clone()),
            show_tenant => tenant.is_none(),
            entries => rows,
            older,
            ..frame
        },
    )
}

async fn audit_tenant(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    Query(q): Query<AuditQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.reach(&r, &s, &tenant_id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !s.account.may(&tenant.id, Permission::Team) {
        return c.no_permission(&r, &s);
    }
    render_audit(&c, &r, &s, Some(&tenant), q.before).await
}

async fn audit_all(
    State(c): State<Shared>,
    Query(q): Query<AuditQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if s.account.role != ConsoleRole::Operator {
        return c.not_found(&r, Some(&s));
    }
    render_audit(&c, &r, &s, None, q.before).await
}

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
        ] {
            let html = pages.render(name, context! { t => Lang::En.texts(), title => "T" });
            assert!(html.contains("<h1>T</h1>"), "{name}: {html}");
        }
    }
}
