//! Inviting a second parent from the page of what is registered, the two
//! ways the tenant's channels allow:
//!
//! - **LINE**: the page shows `tayori-invite:<code>`, a signed link token
//!   with purpose `invite` naming the tenant, its LINE channel and the
//!   household (`data`), for [`INVITE_HOURS`]; the other parent sends it
//!   in the tenant's LINE chat, whose conversation adds their LINE account
//!   to the household (exactly the code the chat's own "invite" gives).
//! - **Email**: `POST /m/{token}/invite` with one address sends, through
//!   the tenant's email channel, a mail with a join link (`/j/{token}`, the
//!   same claims with the invited address; see `join.rs`). An address that
//!   is not one is named on the page and nothing is sent. A household may
//!   send [`crate::limit::INVITE_BURST`] mails at once, then one every
//!   [`crate::limit::INVITE_PERIOD`] (429 with `Retry-After`).

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Duration;
use tayori_core::domain::conversation::INVITE_PREFIX;
use tayori_core::{Content, LinkClaims, LinkPurpose, SubscriberStatus};

use super::{Found, ManageQuery, Wrong};
use crate::Inner;
use crate::form::{self, MAX_EMAIL_LEN};
use crate::pages::{ErrorLink, InviteView};
use crate::routes::{EMAIL_PLUGIN, INVITE_HOURS, LINE_PLUGIN, Shared, field, see_other};
use crate::text::texts;

/// The id of the address input (the error summary links to it).
const EMAIL_ANCHOR: &str = "invite-email";
/// LINE's share link: opens LINE with the text, to send to a friend.
const LINE_SHARE: &str = "https://line.me/R/share?text=";

/// `text` for a URL's query: everything but the unreserved characters
/// percent-encoded (UTF-8).
pub(crate) fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Inner {
    /// An invitation to the household `f` names, for `channel` and
    /// `address` (empty for a LINE code: whoever sends it in the chat).
    fn invitation(&self, f: &Found, channel: &str, address: &str) -> String {
        self.links.sign(&LinkClaims {
            purpose: LinkPurpose::Invite,
            tenant: f.tenant.id.clone(),
            channel: channel.to_string(),
            address: address.to_string(),
            data: f.subscriber.id.clone(),
            expires_at: self.now() + Duration::hours(INVITE_HOURS),
        })
    }

    /// The invitation section: a fresh LINE code when the tenant has a
    /// LINE channel, the mail form when it has an email channel.
    pub(super) fn invite_view(
        &self,
        f: &Found,
        token: &str,
        wrong: &Wrong,
        errors: &mut Vec<ErrorLink>,
    ) -> InviteView {
        if f.subscriber.status != SubscriberStatus::Active {
            // Nothing is sent to a stopped household: no one to invite into.
            return InviteView::default();
        }
        let (locale, t) = (f.locale, texts(f.locale));
        let of = |plugin: &str| f.channels.iter().find(|c| c.plugin_id == plugin);
        let line_code = of(LINE_PLUGIN)
            .map(|line| format!("{INVITE_PREFIX}{}", self.invitation(f, &line.name, "")));
        let line_share = line_code.as_ref().map(|code| {
            let words = t.invite_share_text.replace("{tenant}", &f.tenant.name);
            format!("{LINE_SHARE}{}", percent(&format!("{words}\n{code}")))
        });
        let (email, email_error) = match wrong {
            Wrong::Invite { typed, message } => {
                errors.push(ErrorLink {
                    anchor: EMAIL_ANCHOR.into(),
                    message: message.clone(),
                });
                (typed.clone(), Some(message.clone()))
            }
            _ => (String::new(), None),
        };
        InviteView {
            line_code,
            line_share,
            hours: INVITE_HOURS,
            email_action: of(EMAIL_PLUGIN)
                .map(|_| self.link(&format!("/m/{token}/invite?lang={locale}"))),
            email,
            email_error,
        }
    }

    /// The page for a household that has sent its invitations for now.
    fn invites_limited(&self, f: &Found, token: &str, wait: std::time::Duration) -> Response {
        let t = texts(f.locale);
        let seconds = wait.as_secs().max(1) + u64::from(wait.subsec_nanos() > 0);
        let minutes = seconds.div_ceil(60);
        let mut response = self.back_page(
            f,
            token,
            StatusCode::TOO_MANY_REQUESTS,
            t.limited_title,
            &t.invite_limited_body
                .replace("{minutes}", &minutes.to_string()),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&seconds.to_string()).expect("digits"),
        );
        response
    }
}

pub(crate) async fn post(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<ManageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = match p.manage_link(&token, q.lang.as_deref()).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    if let Some(refused) = p.manage_csrf(&headers, &pairs, &f, &token) {
        return refused;
    }
    let (locale, t) = (f.locale, texts(f.locale));
    if f.subscriber.status != SubscriberStatus::Active {
        // The section is not shown to a stopped household; a POST made
        // anyway sends nothing.
        return p.back_page(
            &f,
            &token,
            StatusCode::CONFLICT,
            t.join_stopped_title,
            t.join_stopped_body,
        );
    }
    let Some(channel) = f
        .channels
        .iter()
        .find(|c| c.plugin_id == EMAIL_PLUGIN)
        .cloned()
    else {
        // No email channel (any more): there is no form to post.
        return p.back_page(
            &f,
            &token,
            StatusCode::NOT_FOUND,
            t.not_found_title,
            t.not_found_body,
        );
    };
    let written: String = field(&pairs, "email")
        .unwrap_or_default()
        .chars()
        .take(MAX_EMAIL_LEN + 1)
        .collect();
    let address = if written.trim().is_empty() {
        Err(t.err_email_empty)
    } else {
        form::email_address(&written).ok_or(t.err_email_invalid)
    };
    let address = match address {
        Ok(address) => address,
        Err(message) => {
            let wrong = Wrong::Invite {
                typed: written,
                message: message.to_string(),
            };
            return p.manage_view(&headers, &f, &token, None, wrong);
        }
    };
    if let Err(wait) = p.invites.check(&f.tenant.id, &f.subscriber.id) {
        tracing::info!(tenant = %f.tenant.id, subscriber = %f.subscriber.id, "an invitation mail was not sent: too many for this household");
        return p.invites_limited(&f, &token, wait);
    }
    let join = p.invitation(&f, &channel.name, &address);
    let link = p.link(&format!("/j/{join}?lang={locale}"));
    let hours = INVITE_HOURS.to_string();
    let tenant = &f.tenant;
    let content = Content {
        subject: Some(t.invite_mail_subject.replace("{tenant}", &tenant.name)),
        body: t
            .invite_mail_body
            .replace("{tenant}", &tenant.name)
            .replace("{hours}", &hours)
            .replace("{link}", &link),
        locale: locale.as_str().to_string(),
        ..Content::default()
    };
    // One message per invitation: the link's signature names it.
    let message_id = format!("invite:{}", join.rsplit('.').next().unwrap_or_default());
    if let Err(e) = p
        .messenger
        .send_now(&tenant.id, &channel.name, &address, &message_id, content)
        .await
    {
        tracing::warn!(tenant = %tenant.id, channel = %channel.name, error = %e, "cannot send an invitation mail");
        return p.failed(locale, Some(tenant), &e);
    }
    tracing::info!(tenant = %tenant.id, subscriber = %f.subscriber.id, "a parent invited a second parent by email");
    see_other(&p.manage_path(
        &token,
        &f,
        &format!("&done=invite&to={}", percent(&address)),
    ))
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn text_is_percent_encoded_for_a_query() {
        assert_eq!(percent("papa+1@example.jp"), "papa%2B1%40example.jp");
        assert_eq!(percent("a b\nc"), "a%20b%0Ac");
        assert_eq!(percent("招待"), "%E6%8B%9B%E5%BE%85");
        assert_eq!(percent("tayori-invite:x.y_~"), "tayori-invite%3Ax.y_~");
    }
}
