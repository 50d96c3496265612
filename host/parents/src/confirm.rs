//! The confirmation link of the registration form's mail (`/c/{token}`):
//! the mail itself, sent when a form without a register link is good; the
//! GET that only shows a button (a mail scanner following links changes
//! nothing); the POST that registers the confirmed address with the
//! answers the signed link carries.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::registration::DateRules;
use tayori_core::{
    Channel, Content, LinkClaims, LinkError, LinkPurpose, Locale, NewContact, Tenant,
};

use crate::Inner;
use crate::csrf;
use crate::form::{self, Answers};
use crate::pages::Link;
use crate::routes::{CONFIRM_HOURS, PageQuery, Shared, cookie_header, field, locale_of, sender};
use crate::text::texts;

/// What a confirmation link carries besides the contact.
#[derive(Debug, Serialize, Deserialize)]
struct ConfirmData {
    #[serde(flatten)]
    answers: Answers,
    /// The language the parent read the form in.
    #[serde(rename = "p")]
    page: Locale,
}

impl Inner {
    /// Sends the confirmation mail for a form without a register link.
    pub(crate) async fn send_confirmation(
        &self,
        locale: Locale,
        tenant: &Tenant,
        channel: &Channel,
        address: String,
        answers: Answers,
    ) -> Response {
        let t = texts(locale);
        let data = serde_json::to_string(&ConfirmData {
            answers,
            page: locale,
        })
        .expect("plain data");
        let token = self.links.sign(&LinkClaims {
            purpose: LinkPurpose::Confirm,
            tenant: tenant.id.clone(),
            channel: channel.name.clone(),
            address: address.clone(),
            data,
            expires_at: self.now() + Duration::hours(CONFIRM_HOURS),
        });
        // One message per form sent: the link's signature names it.
        let message_id = format!("confirm:{}", token.rsplit('.').next().unwrap_or_default());
        let link = self.link(&format!("/c/{token}?lang={locale}"));
        let hours = CONFIRM_HOURS.to_string();
        let content = Content {
            subject: Some(t.mail_subject.replace("{tenant}", &tenant.name)),
            body: t
                .mail_body
                .replace("{tenant}", &tenant.name)
                .replace("{hours}", &hours)
                .replace("{link}", &link),
            locale: locale.as_str().to_string(),
            ..Content::default()
        };
        if let Err(e) = self
            .messenger
            .send_now(&tenant.id, &channel.name, &address, &message_id, content)
            .await
        {
            tracing::warn!(tenant = %tenant.id, channel = %channel.name, error = %e, "cannot send a confirmation mail");
            return self.failed(locale, Some(tenant), &e);
        }
        let filter = match sender(channel) {
            Some((from, domain)) => t
                .filter_from
                .replace("{from}", &from)
                .replace("{domain}", &domain),
            None => t.filter_unknown.to_string(),
        };
        self.message(
            StatusCode::OK,
            self.frame(locale, Some(tenant), Vec::new()),
            t.check_title,
            vec![
                t.check_body.replace("{address}", &address),
                t.check_expiry.replace("{hours}", &hours),
                filter,
                t.check_not_received.to_string(),
            ],
            None,
            vec![Link {
                href: self.link(&format!("/r/{}?lang={locale}", tenant.id)),
                label: t.start_again,
            }],
        )
    }
}

/// A confirmation link's claims, answers and tenant.
async fn confirm_claims(
    p: &Inner,
    token: &str,
    lang: Option<&str>,
) -> Result<(LinkClaims, ConfirmData, Tenant, Locale), Response> {
    let fallback = locale_of(lang);
    let claims = match p.links.verify(token, LinkPurpose::Confirm, p.now()) {
        Ok(claims) => claims,
        Err(e) => return Err(p.link_problem(fallback, token, e).await),
    };
    let Ok(data) = serde_json::from_str::<ConfirmData>(&claims.data) else {
        return Err(p.link_problem(fallback, token, LinkError::Malformed).await);
    };
    let locale = lang.and_then(|l| l.parse().ok()).unwrap_or(data.page);
    let tenant = p.tenant(&claims.tenant, locale).await?;
    Ok((claims, data, tenant, locale))
}

pub(crate) async fn page(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (claims, _, tenant, locale) = match confirm_claims(&p, &token, q.lang.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let t = texts(locale);
    p.one_button_page(
        &headers,
        locale,
        &tenant,
        &format!("/c/{token}"),
        (
            t.confirm_title,
            t.confirm_body.replace("{address}", &claims.address),
        ),
        t.confirm_button,
        false,
        Vec::new(),
    )
}

pub(crate) async fn post(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (claims, data, tenant, locale) = match confirm_claims(&p, &token, q.lang.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if !p
        .csrf
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        let again = p.link(&format!("/c/{token}?lang={locale}"));
        return p.csrf_refused(locale, Some(&tenant), again);
    }
    // The day may have moved on since the form was sent.
    let rules = DateRules::new(p.today(&tenant));
    if rules
        .child(data.answers.stage == form::Stage::Born, data.answers.date)
        .is_err()
    {
        return p.link_problem(locale, &token, LinkError::Expired).await;
    }
    if p.app
        .store
        .channel(&tenant.id, &claims.channel)
        .await
        .is_err()
    {
        return p
            .link_problem(locale, &token, LinkError::WrongPurpose)
            .await;
    }
    tayori_api::front_door::record(
        &p.app,
        &tenant.id,
        &claims.channel,
        FrontDoorKind::Confirmed,
        None,
    )
    .await;
    let contact = NewContact {
        channel: claims.channel,
        address: claims.address,
    };
    p.register(locale, &tenant, contact, &data.answers).await
}
