//! The stop link of every mail (`/u/{token}`): a page with one button, and
//! the POST that stops the contact, from that button or from a mail
//! client's one-click POST (RFC 8058, `List-Unsubscribe=One-Click`), which
//! acts at once on the signed URL alone.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::{ContactStatus, LinkClaims, LinkError, LinkPurpose, Locale, StoreError};

use crate::Inner;
use crate::csrf;
use crate::pages::{Link, MessageView};
use crate::routes::{MANAGE_HOURS, PageQuery, Shared, cookie_header, field, locale_of};
use crate::text::texts;

/// What a one-click stop (RFC 8058) posts.
const ONE_CLICK: (&str, &str) = ("List-Unsubscribe", "One-Click");

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

impl Inner {
    /// Marks the contact a stop link names invalid (its pending deliveries
    /// are cancelled in the same transaction); the subscriber's locale when
    /// there was one. Stopping a stopped contact changes nothing.
    async fn stop_contact(&self, claims: &LinkClaims) -> Result<Option<Locale>, StoreError> {
        let Some(subscriber) = self
            .app
            .store
            .subscriber_by_contact(&claims.tenant, &claims.channel, &claims.address)
            .await?
        else {
            return Ok(None);
        };
        for contact in &subscriber.contacts {
            if contact.channel == claims.channel
                && contact.address == claims.address
                && contact.status == ContactStatus::Valid
            {
                self.app
                    .store
                    .set_contact_status(&claims.tenant, &contact.id, ContactStatus::Invalid)
                    .await?;
                tracing::info!(tenant = %claims.tenant, subscriber = %subscriber.id, channel = %claims.channel, "a parent stopped a contact");
                self.app.scheduler.subscribers_changed(&claims.tenant);
                tayori_api::front_door::record(
                    &self.app,
                    &claims.tenant,
                    &claims.channel,
                    FrontDoorKind::Stopped,
                    Some(&subscriber.id),
                )
                .await;
            }
        }
        Ok(Some(subscriber.locale))
    }
}

pub(crate) async fn page(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let fallback = locale_of(q.lang.as_deref());
    let claims = match p.links.verify(&token, LinkPurpose::Unsubscribe, p.now()) {
        Ok(claims) => claims,
        Err(e) => return p.link_problem(fallback, &token, e).await,
    };
    let registered = p
        .app
        .store
        .subscriber_by_contact(&claims.tenant, &claims.channel, &claims.address)
        .await
        .ok()
        .flatten();
    let locale = q
        .lang
        .as_deref()
        .and_then(|l| l.parse().ok())
        .or(registered.as_ref().map(|s| s.locale))
        .unwrap_or(Locale::Ja);
    let tenant = match p.tenant(&claims.tenant, locale).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let t = texts(locale);
    // A registered contact may rather change what is registered: the same
    // contact's manage page, behind a link of its own.
    let mut links = Vec::new();
    if registered.is_some() {
        let manage = p.links.sign(&LinkClaims {
            purpose: LinkPurpose::Manage,
            tenant: claims.tenant.clone(),
            channel: claims.channel.clone(),
            address: claims.address.clone(),
            data: String::new(),
            expires_at: p.now() + Duration::hours(MANAGE_HOURS),
        });
        links.push(Link {
            href: p.link(&format!("/m/{manage}?lang={locale}")),
            label: t.manage_instead,
        });
    }
    p.one_button_page(
        &headers,
        locale,
        &tenant,
        &format!("/u/{token}"),
        (
            t.stop_title,
            t.stop_body.replace("{address}", &claims.address),
        ),
        t.stop_button,
        true,
        links,
    )
}

pub(crate) async fn post(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let verified = p.links.verify(&token, LinkPurpose::Unsubscribe, p.now());
    let one_click =
        field(&pairs, ONE_CLICK.0) == Some(ONE_CLICK.1) && field(&pairs, csrf::FIELD).is_none();
    if one_click {
        // RFC 8058: a mail client's POST, no cookie and no page: the signed
        // URL is the authority. Answered in plain text, acted on at once.
        let claims = match verified {
            Ok(claims) => claims,
            Err(LinkError::Expired) => {
                return plain(StatusCode::GONE, "This link has expired.\n");
            }
            Err(_) => return plain(StatusCode::BAD_REQUEST, "This link is not complete.\n"),
        };
        return match p.stop_contact(&claims).await {
            Ok(_) => plain(StatusCode::OK, "Unsubscribed.\n"),
            Err(e) => {
                tracing::error!(tenant = %claims.tenant, error = %e, "a one-click stop failed");
                plain(StatusCode::SERVICE_UNAVAILABLE, "Please try again later.\n")
            }
        };
    }
    let fallback = locale_of(q.lang.as_deref());
    let claims = match verified {
        Ok(claims) => claims,
        Err(e) => return p.link_problem(fallback, &token, e).await,
    };
    let tenant = match p.tenant(&claims.tenant, fallback).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    if !p
        .csrf
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        let again = p.link(&format!("/u/{token}?lang={fallback}"));
        return p.csrf_refused(fallback, Some(&tenant), again);
    }
    match p.stop_contact(&claims).await {
        Ok(locale) => {
            let locale = q
                .lang
                .as_deref()
                .and_then(|l| l.parse().ok())
                .or(locale)
                .unwrap_or(fallback);
            let t = texts(locale);
            p.page(
                StatusCode::OK,
                &MessageView {
                    frame: p.frame(locale, Some(&tenant), Vec::new()),
                    title: t.stopped_title.to_string(),
                    paragraphs: vec![t.stopped_body.replace("{address}", &claims.address)],
                    button: None,
                    links: Vec::new(),
                    panel: true,
                },
            )
        }
        Err(e) => p.failed(fallback, Some(&tenant), &e),
    }
}
