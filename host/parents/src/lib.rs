//! The parents' own pages, served by `tayori serve` beside the API:
//!
//! - `GET|POST /r/{tenant}`: the registration form. Opened with a signed
//!   register link (`?t=`: a LINE user or an email address already proven)
//!   it registers that contact; without one it asks for an email address
//!   and sends a confirmation mail, and nothing is stored until the parent
//!   opens it (double opt-in: the answers ride in the signed link).
//! - `GET|POST /c/{token}`: the confirmation link; the GET only shows a
//!   button, so that a mail scanner following links changes nothing.
//! - `GET|POST /u/{token}`: the stop link of every mail. A mail client's
//!   one-click POST (RFC 8058, `List-Unsubscribe=One-Click`) stops the
//!   contact at once; the page's own button does too.
//! - `GET /m/{token}`: what is registered for a contact, where the parent
//!   reports a birth (`POST /m/{token}/birth/{child}`), changes the language
//!   (`POST /m/{token}/language`) or stops one child
//!   (`GET|POST /m/{token}/stop/{child}`, a page that asks first), adds a
//!   child (`POST /m/{token}/children`) or invites a second parent: a code
//!   to send in the tenant's LINE chat, or a mail with a join link
//!   (`POST /m/{token}/invite`); stopping everything is the stop link's
//!   page (`manage.rs`, `manage/`).
//! - `GET|POST /j/{token}`: the join link of an invitation mail; the GET
//!   only asks, the button adds the invited address to the household
//!   (`join.rs`).
//!
//! Server-rendered, working without JavaScript, mobile first, in Japanese,
//! やさしい日本語 and English. Every form is CSRF-safe ([`csrf`]) and every
//! POST rate-limited per client, and invitation mails per household
//! ([`limit`]); every answer carries a strict
//! content security policy and no referrer, so that a link's token never
//! leaves the page.

mod confirm;
pub mod csrf;
pub mod form;
mod join;
pub mod limit;
mod manage;
pub mod pages;
mod routes;
mod stop;
pub mod text;

use std::sync::Arc;

use axum::Router;
use tayori_api::AppState;
use tayori_core::{LinkSigner, Messenger};

pub use routes::{CONFIRM_HOURS, INVITE_HOURS, MANAGE_HOURS};

/// What the pages share.
pub(crate) struct Inner {
    pub app: AppState,
    pub messenger: Arc<dyn Messenger>,
    pub links: LinkSigner,
    pub csrf: csrf::Csrf,
    pub limiter: limit::Limiter,
    /// Invitation mails, per household.
    pub invites: limit::Households,
    pub pages: pages::Pages,
    /// `public_url` without a trailing slash.
    pub base: String,
}

/// The parents' pages, as a router to merge into the app. Links are signed
/// with the key derived from the host's secret for `links`, form tokens
/// with the one for `csrf`; mails go through the app's messenger.
pub fn router(app: AppState) -> Router {
    let base = app.public_url.trim_end_matches('/').to_string();
    let inner = Inner {
        links: LinkSigner::new(app.secrets.derive("links")),
        csrf: csrf::Csrf::new(app.secrets.derive("csrf"), base.starts_with("https://")),
        limiter: limit::Limiter::default(),
        invites: limit::Households::default(),
        pages: pages::Pages::new(),
        base,
        messenger: app.messenger.clone(),
        app,
    };
    routes::router(Arc::new(inner))
}
