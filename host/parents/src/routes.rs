//! The router, the steps every page shares (the tenant, a link's problem,
//! a refused CSRF pair, the frame), and the registration form's handlers;
//! the confirmation link is `confirm.rs`, the stop link `stop.rs`, the
//! page of what is registered `manage.rs`, the join link `join.rs`. Each
//! handler is a few steps (the tenant, the link, the form's CSRF pair, the
//! checks, one store call) with the page it answers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use tayori_core::registration::{DateRules, written_date};
use tayori_core::{
    Channel, LinkClaims, LinkError, LinkPurpose, LinkSigner, Locale, NewContact, StoreError, Tenant,
};

use crate::Inner;
use crate::csrf;
use crate::form::{self, Answers, Errors, Typed};
use crate::pages::{Button, CSS, CSS_PATH, FormView, Frame, LangLink, Link, MessageView, switch};
use crate::text::texts;
use crate::{confirm, join, manage, stop};

pub(crate) type Shared = Arc<Inner>;

/// How long a confirmation mail's link works.
pub const CONFIRM_HOURS: i64 = 48;
/// How long the link to what is registered works (given on the page that
/// says a contact is already registered).
pub const MANAGE_HOURS: i64 = 24;
/// How long an invitation for a second parent works (a LINE code or a
/// join link), as long as the chat's own invitations.
pub const INVITE_HOURS: i64 = 72;
/// The largest form accepted (the registration form is well under 1 KiB).
const MAX_FORM_BODY: usize = 16 * 1024;
/// The plugin whose channels carry confirmation mails.
pub(crate) const EMAIL_PLUGIN: &str = "email";
/// The plugin of LINE channels (where an invitation code is sent).
pub(crate) const LINE_PLUGIN: &str = "line";
/// The pages' content security policy: nothing but this origin's style
/// sheet, no script at all, forms only to this origin, never in a frame.
const CSP: &str = "default-src 'self'; script-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn router(inner: Shared) -> Router {
    Router::new()
        .route(CSS_PATH, get(css))
        .route("/r/{tenant}", get(form_page).post(form_post))
        .route("/r/{tenant}/registered", get(registered_page))
        .route("/c/{token}", get(confirm::page).post(confirm::post))
        .route("/u/{token}", get(stop::page).post(stop::post))
        .route("/m/{token}", get(manage::page))
        .route("/m/{token}/birth/{child}", post(manage::birth))
        .route("/m/{token}/language", post(manage::language))
        .route("/m/{token}/children", post(manage::add_child::post))
        .route("/m/{token}/invite", post(manage::invite::post))
        .route("/j/{token}", get(join::page).post(join::post))
        .route("/j/{token}/joined", get(join::joined))
        .route(
            "/m/{token}/stop/{child}",
            get(manage::stop_page).post(manage::stop_post),
        )
        .layer(DefaultBodyLimit::max(MAX_FORM_BODY))
        .layer(middleware::from_fn_with_state(inner.clone(), limit_posts))
        .layer(middleware::map_response(security_headers))
        .with_state(inner)
}

/// `?lang=` and a register link's `?t=`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    pub(crate) lang: Option<String>,
    pub(crate) t: Option<String>,
}

/// The page's language: `?lang=`, else Japanese.
pub(crate) fn locale_of(lang: Option<&str>) -> Locale {
    lang.and_then(|l| l.parse().ok()).unwrap_or(Locale::Ja)
}

// ---------------------------------------------------------------- answers

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

pub(crate) fn with_cookie(mut response: Response, set_cookie: Option<String>) -> Response {
    if let Some(value) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub(crate) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

pub(crate) fn cookie_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::COOKIE).and_then(|v| v.to_str().ok())
}

/// The last value of a posted field.
pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
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
        // Pages hold tokens and personal answers: never kept by a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Every POST, per client address, before anything else is read.
async fn limit_posts(State(p): State<Shared>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let ip = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if let Err(wait) = p.limiter.check(ip) {
            let lang = request.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|pair| pair.strip_prefix("lang="))
                    .map(str::to_owned)
            });
            let locale = locale_of(lang.as_deref());
            let seconds = wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0);
            let t = texts(locale);
            let mut response = p.message(
                StatusCode::TOO_MANY_REQUESTS,
                Frame::new(locale, None, Vec::new()),
                t.limited_title,
                vec![t.limited_body.replace("{seconds}", &seconds.to_string())],
                None,
                Vec::new(),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&seconds.to_string()).expect("digits"),
            );
            return response;
        }
    }
    next.run(request).await
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CSS,
    )
        .into_response()
}

// ------------------------------------------------------------ shared steps

impl Inner {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.app.scheduler.clock().now()
    }

    /// The tenant's today, in its zone.
    pub(crate) fn today(&self, tenant: &Tenant) -> NaiveDate {
        tayori_api::front_door::today(tenant, self.now())
    }

    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn page(&self, status: StatusCode, view: &MessageView) -> Response {
        html(status, self.pages.message(view))
    }

    pub(crate) fn message(
        &self,
        status: StatusCode,
        frame: Frame,
        title: &str,
        paragraphs: Vec<String>,
        button: Option<Button>,
        links: Vec<Link>,
    ) -> Response {
        self.page(
            status,
            &MessageView {
                frame,
                title: title.to_string(),
                paragraphs,
                button,
                links,
                panel: false,
            },
        )
    }

    /// The language switch of a page at `path` (its other query kept).
    pub(crate) fn switch(&self, locale: Locale, path: &str, query: &str) -> Vec<LangLink> {
        switch(locale, |l| self.link(&format!("{path}?lang={l}{query}")))
    }

    pub(crate) fn frame(
        &self,
        locale: Locale,
        tenant: Option<&Tenant>,
        switch: Vec<LangLink>,
    ) -> Frame {
        Frame::new(locale, tenant.map(|t| t.name.clone()), switch)
    }

    /// The tenant, `Err` with the page to answer when there is none.
    pub(crate) async fn tenant(&self, id: &str, locale: Locale) -> Result<Tenant, Response> {
        match self.app.store.tenant(id).await {
            Ok(tenant) => Ok(tenant),
            Err(StoreError::NotFound(_)) => Err(self.not_found(locale)),
            Err(e) => Err(self.failed(locale, None, &e)),
        }
    }

    fn not_found(&self, locale: Locale) -> Response {
        let t = texts(locale);
        self.message(
            StatusCode::NOT_FOUND,
            self.frame(locale, None, Vec::new()),
            t.not_found_title,
            vec![t.not_found_body.to_string()],
            None,
            Vec::new(),
        )
    }

    pub(crate) fn failed(
        &self,
        locale: Locale,
        tenant: Option<&Tenant>,
        error: &dyn std::fmt::Display,
    ) -> Response {
        tracing::error!(tenant = tenant.map(|t| t.id.as_str()), error = %error, "a parents' page failed");
        let t = texts(locale);
        self.message(
            StatusCode::SERVICE_UNAVAILABLE,
            self.frame(locale, tenant, Vec::new()),
            t.failed_title,
            vec![t.failed_body.to_string()],
            None,
            Vec::new(),
        )
    }

    /// An expired, cut or altered link: 410 when it is only old, 400
    /// otherwise, with the way to start again when the tenant is known.
    pub(crate) async fn link_problem(
        &self,
        locale: Locale,
        token: &str,
        error: LinkError,
    ) -> Response {
        let t = texts(locale);
        // Only to offer the form again: the tenant the token names, read
        // without trusting it, and shown only when it exists.
        let tenant = match LinkSigner::peek_tenant(token) {
            Some(id) => self.app.store.tenant(&id).await.ok(),
            None => None,
        };
        let status = match error {
            LinkError::Expired => StatusCode::GONE,
            _ => StatusCode::BAD_REQUEST,
        };
        let links = tenant
            .iter()
            .map(|tenant| Link {
                href: self.link(&format!("/r/{}?lang={locale}", tenant.id)),
                label: t.start_again,
            })
            .collect();
        self.message(
            status,
            self.frame(locale, tenant.as_ref(), Vec::new()),
            t.link_title,
            vec![t.link_body.to_string()],
            None,
            links,
        )
    }

    /// A POST without its CSRF pair.
    pub(crate) fn csrf_refused(
        &self,
        locale: Locale,
        tenant: Option<&Tenant>,
        again: String,
    ) -> Response {
        let t = texts(locale);
        self.message(
            StatusCode::FORBIDDEN,
            self.frame(locale, tenant, Vec::new()),
            t.csrf_title,
            vec![t.csrf_body.to_string()],
            None,
            vec![Link {
                href: again,
                label: t.try_again,
            }],
        )
    }

    /// A register link's claims for this tenant, with the contact's channel.
    async fn register_claims(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<(LinkClaims, Channel), LinkError> {
        let claims = self
            .links
            .verify(token, LinkPurpose::Register, self.now())?;
        if claims.tenant != tenant.id {
            return Err(LinkError::WrongPurpose);
        }
        let channel = self
            .app
            .store
            .channel(&tenant.id, &claims.channel)
            .await
            .map_err(|_| LinkError::WrongPurpose)?;
        Ok((claims, channel))
    }

    /// What the form registers: the contact a register link names, or
    /// else an email address confirmed through the tenant's email channel;
    /// the page to answer when neither can be.
    #[allow(clippy::type_complexity)]
    async fn form_way<'t>(
        &self,
        locale: Locale,
        tenant: &Tenant,
        token: Option<&'t str>,
    ) -> Result<(Option<(&'t str, (LinkClaims, Channel))>, Option<Channel>), Response> {
        if let Some(token) = token {
            return match self.register_claims(tenant, token).await {
                Ok(found) => Ok((Some((token, found)), None)),
                Err(e) => Err(self.link_problem(locale, token, e).await),
            };
        }
        match self.email_channel(tenant).await {
            Ok(Some(channel)) => Ok((None, Some(channel))),
            Ok(None) => Err(self.no_way(locale, tenant)),
            Err(e) => Err(self.failed(locale, Some(tenant), &e)),
        }
    }

    /// The tenant's email channel (confirmation mails go through it).
    pub(crate) async fn email_channel(
        &self,
        tenant: &Tenant,
    ) -> Result<Option<Channel>, StoreError> {
        self.channel_of(tenant, EMAIL_PLUGIN).await
    }

    /// The tenant's first channel of `plugin`.
    pub(crate) async fn channel_of(
        &self,
        tenant: &Tenant,
        plugin: &str,
    ) -> Result<Option<Channel>, StoreError> {
        Ok(self
            .app
            .store
            .channels(&tenant.id)
            .await?
            .into_iter()
            .find(|c| c.plugin_id == plugin))
    }

    /// The registration form as `typed`, with `errors`.
    #[allow(clippy::too_many_arguments)]
    fn form_view(
        &self,
        locale: Locale,
        tenant: &Tenant,
        register: Option<(&str, &LinkClaims, &Channel)>,
        email: Option<&Channel>,
        typed: Typed,
        errors: Errors,
        csrf: String,
    ) -> FormView {
        let token_query = register
            .map(|(token, _, _)| format!("&t={token}"))
            .unwrap_or_default();
        let path = format!("/r/{}", tenant.id);
        let rules = DateRules::new(self.today(tenant));
        let ((due_from, due_to), (birth_from, _)) = (rules.due_range(), rules.birth_range());
        let w = |d| written_date(d, locale);
        let t = texts(locale);
        FormView {
            frame: self.frame(
                locale,
                Some(tenant),
                self.switch(locale, &path, &token_query),
            ),
            action: format!("{path}?lang={locale}"),
            csrf,
            token: register.map(|(token, _, _)| token.to_string()),
            contact: register.map(|(_, claims, channel)| contact_shown(claims, channel)),
            ask_email: register.is_none(),
            from: email.and_then(sender),
            date_range: t
                .date_range
                .replace("{due_from}", &w(due_from))
                .replace("{due_to}", &w(due_to))
                .replace("{birth_from}", &w(birth_from)),
            typed,
            errors,
        }
    }

    /// The page for a tenant that takes no registration on the web (no
    /// register link, no email channel to confirm an address with).
    fn no_way(&self, locale: Locale, tenant: &Tenant) -> Response {
        let t = texts(locale);
        self.message(
            StatusCode::OK,
            self.frame(
                locale,
                Some(tenant),
                self.switch(locale, &format!("/r/{}", tenant.id), ""),
            ),
            t.no_way_title,
            vec![t.no_way_body.replace("{tenant}", &tenant.name)],
            None,
            Vec::new(),
        )
    }

    /// A page that asks once, with one button that POSTs to `path` (a GET
    /// of a link changes nothing: a mail scanner follows links).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn one_button_page(
        &self,
        headers: &HeaderMap,
        locale: Locale,
        tenant: &Tenant,
        path: &str,
        (title, paragraph): (&str, String),
        label: &'static str,
        warning: bool,
        links: Vec<Link>,
    ) -> Response {
        let form_token = self.csrf.for_page(cookie_header(headers));
        let view = MessageView {
            frame: self.frame(locale, Some(tenant), self.switch(locale, path, "")),
            title: title.to_string(),
            paragraphs: vec![paragraph],
            button: Some(Button {
                action: format!("{path}?lang={locale}"),
                csrf: form_token.field,
                label,
                warning,
            }),
            links,
            panel: false,
        };
        with_cookie(self.page(StatusCode::OK, &view), form_token.set_cookie)
    }

    /// Registers a proven contact with the form's answers.
    pub(crate) async fn register(
        &self,
        locale: Locale,
        tenant: &Tenant,
        contact: NewContact,
        answers: &Answers,
    ) -> Response {
        let created = tayori_api::front_door::register(
            &self.app,
            &tenant.id,
            contact.clone(),
            answers.locale,
            answers.child(),
        )
        .await;
        match created {
            Ok(_) => see_other(&self.link(&format!("/r/{}/registered?lang={locale}", tenant.id))),
            Err(StoreError::Conflict(_)) => self.already(locale, tenant, contact),
            Err(e) => self.failed(locale, Some(tenant), &e),
        }
    }

    fn already(&self, locale: Locale, tenant: &Tenant, contact: NewContact) -> Response {
        let t = texts(locale);
        let manage = self.links.sign(&LinkClaims {
            purpose: LinkPurpose::Manage,
            tenant: tenant.id.clone(),
            channel: contact.channel,
            address: contact.address,
            data: String::new(),
            expires_at: self.now() + Duration::hours(MANAGE_HOURS),
        });
        self.message(
            StatusCode::OK,
            self.frame(locale, Some(tenant), Vec::new()),
            t.already_title,
            vec![t.already_body.to_string()],
            None,
            vec![Link {
                href: self.link(&format!("/m/{manage}?lang={locale}")),
                label: t.already_manage,
            }],
        )
    }
}

/// A contact as a parent recognises it: an email address as it is, a chat
/// account by its platform's name.
pub(crate) fn contact_shown(claims: &LinkClaims, channel: &Channel) -> String {
    match channel.plugin_id.as_str() {
        EMAIL_PLUGIN => claims.address.clone(),
        LINE_PLUGIN => "LINE".into(),
        "x-dm" => "X".into(),
        _ => channel.name.clone(),
    }
}

/// The address confirmation mails come from and its domain, from the
/// channel's `from` (a bare address or `Name <address>`).
pub(crate) fn sender(channel: &Channel) -> Option<(String, String)> {
    let from = channel.config.get("from")?.as_str()?.trim();
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    };
    let domain = address.rsplit_once('@')?.1;
    (!domain.is_empty()).then(|| (address.to_string(), domain.to_string()))
}

// ------------------------------------------------------------- the form

async fn form_page(
    State(p): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let locale = locale_of(q.lang.as_deref());
    let tenant = match p.tenant(&tenant, locale).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let token = q.t.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (register, email) = match p.form_way(locale, &tenant, token).await {
        Ok(way) => way,
        Err(page) => return page,
    };
    let form_token = p.csrf.for_page(cookie_header(&headers));
    let typed = Typed {
        locale: locale.as_str().to_string(),
        ..Typed::default()
    };
    let view = p.form_view(
        locale,
        &tenant,
        register
            .as_ref()
            .map(|(token, (claims, channel))| (*token, claims, channel)),
        email.as_ref(),
        typed,
        Errors::default(),
        form_token.field,
    );
    with_cookie(
        html(StatusCode::OK, p.pages.form(&view)),
        form_token.set_cookie,
    )
}

async fn form_post(
    State(p): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let locale = locale_of(q.lang.as_deref());
    let tenant = match p.tenant(&tenant, locale).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let token = field(&pairs, "t").map(str::trim).filter(|t| !t.is_empty());
    if !p
        .csrf
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        let again = match token {
            Some(token) => format!("/r/{}?lang={locale}&t={token}", tenant.id),
            None => format!("/r/{}?lang={locale}", tenant.id),
        };
        return p.csrf_refused(locale, Some(&tenant), p.link(&again));
    }
    let (register, email) = match p.form_way(locale, &tenant, token).await {
        Ok(way) => way,
        Err(page) => return page,
    };
    let typed = Typed::from_pairs(&pairs);
    let rules = DateRules::new(p.today(&tenant));
    match form::check(&typed, &rules, register.is_none(), texts(locale), locale) {
        Err(errors) => {
            let form_token = p.csrf.for_page(cookie_header(&headers));
            let view = p.form_view(
                locale,
                &tenant,
                register
                    .as_ref()
                    .map(|(token, (claims, channel))| (*token, claims, channel)),
                email.as_ref(),
                typed,
                errors,
                form_token.field,
            );
            with_cookie(
                html(StatusCode::UNPROCESSABLE_ENTITY, p.pages.form(&view)),
                form_token.set_cookie,
            )
        }
        Ok((answers, address)) => match (register, email, address) {
            (Some((_, (claims, _))), _, _) => {
                let contact = NewContact {
                    channel: claims.channel,
                    address: claims.address,
                };
                p.register(locale, &tenant, contact, &answers).await
            }
            (None, Some(channel), Some(address)) => {
                p.send_confirmation(locale, &tenant, &channel, address, answers)
                    .await
            }
            (None, _, _) => p.no_way(locale, &tenant),
        },
    }
}

async fn registered_page(
    State(p): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let locale = locale_of(q.lang.as_deref());
    let tenant = match p.tenant(&tenant, locale).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let t = texts(locale);
    let path = format!("/r/{}/registered", tenant.id);
    p.page(
        StatusCode::OK,
        &MessageView {
            frame: p.frame(locale, Some(&tenant), p.switch(locale, &path, "")),
            title: t.registered_title.to_string(),
            paragraphs: vec![t.registered_body.to_string(), t.registered_stop.to_string()],
            button: None,
            links: Vec::new(),
            panel: true,
        },
    )
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_is_read_from_the_channels_from() {
        let channel = |from: serde_json::Value| Channel {
            tenant_id: "otaru".into(),
            name: "email".into(),
            plugin_id: "email".into(),
            version: None,
            config: serde_json::json!({ "from": from }),
            secrets_ciphertext: Vec::new(),
            allowed_hosts: Vec::new(),
            rate_per_second: None,
            daily_quota: None,
            paused: None,
            setup: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert_eq!(
            sender(&channel("touroku@otaru.example.jp".into())),
            Some(("touroku@otaru.example.jp".into(), "otaru.example.jp".into()))
        );
        assert_eq!(
            sender(&channel("小樽市 <touroku@otaru.example.jp>".into())),
            Some(("touroku@otaru.example.jp".into(), "otaru.example.jp".into()))
        );
        assert_eq!(sender(&channel(serde_json::Value::Null)), None);
    }
}
