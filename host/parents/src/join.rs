//! The join link of an invitation mail (`/j/{token}`, a signed link with
//! purpose `invite` naming the tenant, its email channel, the invited
//! address and the household in `data`; sent from the page of what is
//! registered, `manage/invite.rs`).
//!
//! The GET only asks, with one button: a mail scanner following the link
//! changes nothing. The POST (CSRF-checked, rate-limited like every POST)
//! adds the invited address to the household as one more email contact,
//! confirmed by that click, and says so. Nothing changes, and a page says
//! why, when the link is expired or altered (410, 400), when the address is
//! already registered anywhere in the tenant (409), or when the household
//! has stopped or is gone meanwhile (409).

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use tayori_core::{
    LinkClaims, LinkError, LinkPurpose, Locale, NewContact, StoreError, Subscriber,
    SubscriberPatch, SubscriberStatus, Tenant,
};

use crate::Inner;
use crate::csrf;
use crate::pages::{Link, MessageView};
use crate::routes::{
    EMAIL_PLUGIN, MANAGE_HOURS, Shared, cookie_header, field, locale_of, see_other,
};
use crate::text::texts;

/// `?lang=`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct JoinQuery {
    lang: Option<String>,
}

/// What a join link names, verified: the invited address on the tenant's
/// email channel, and the household.
struct Invited {
    claims: LinkClaims,
    tenant: Tenant,
    household: Subscriber,
    /// `?lang=`, else the household's language.
    locale: Locale,
}

/// Why an invitation cannot be taken up now.
enum Refused {
    /// The page to answer (a bad link, a store failure).
    Page(Response),
    /// The household has stopped or is gone.
    Stopped(Invited),
    /// The address already gets the tenant's messages.
    Already(Invited),
}

impl Inner {
    /// The link's invitation, checked against the store as it is now.
    async fn invited(&self, token: &str, lang: Option<&str>) -> Result<Invited, Refused> {
        let fallback = locale_of(lang);
        let problem = |e| async move { Refused::Page(self.link_problem(fallback, token, e).await) };
        let claims = match self.links.verify(token, LinkPurpose::Invite, self.now()) {
            // A LINE code names no address: it is sent in the chat.
            Ok(claims) if !claims.address.is_empty() => claims,
            Ok(_) => return Err(problem(LinkError::WrongPurpose).await),
            Err(e) => return Err(problem(e).await),
        };
        let tenant = self
            .tenant(&claims.tenant, fallback)
            .await
            .map_err(Refused::Page)?;
        let channels = match self.app.store.channels(&tenant.id).await {
            Ok(channels) => channels,
            Err(e) => return Err(Refused::Page(self.failed(fallback, Some(&tenant), &e))),
        };
        if !channels
            .iter()
            .any(|c| c.name == claims.channel && c.plugin_id == EMAIL_PLUGIN)
        {
            return Err(problem(LinkError::WrongPurpose).await);
        }
        let household = match self.app.store.subscriber(&tenant.id, &claims.data).await {
            Ok(household) => household,
            Err(StoreError::NotFound(_)) => return Err(problem(LinkError::WrongPurpose).await),
            Err(e) => return Err(Refused::Page(self.failed(fallback, Some(&tenant), &e))),
        };
        let locale = lang
            .and_then(|l| l.parse().ok())
            .unwrap_or(household.locale);
        let stopped = household.status != SubscriberStatus::Active;
        let invited = Invited {
            claims,
            tenant,
            household,
            locale,
        };
        if stopped {
            return Err(Refused::Stopped(invited));
        }
        // Anywhere in the tenant: on any of its email channels.
        for channel in channels.iter().filter(|c| c.plugin_id == EMAIL_PLUGIN) {
            match self
                .app
                .store
                .subscriber_by_contact(&invited.tenant.id, &channel.name, &invited.claims.address)
                .await
            {
                Ok(None) => {}
                Ok(Some(_)) => return Err(Refused::Already(invited)),
                Err(e) => {
                    return Err(Refused::Page(self.failed(
                        locale,
                        Some(&invited.tenant),
                        &e,
                    )));
                }
            }
        }
        Ok(invited)
    }

    /// The page for an invitation refused.
    fn refused(&self, refused: Refused) -> Response {
        let (invited, status, title, body) = match refused {
            Refused::Page(page) => return page,
            Refused::Stopped(i) => {
                let t = texts(i.locale);
                (
                    i,
                    StatusCode::CONFLICT,
                    t.join_stopped_title,
                    t.join_stopped_body,
                )
            }
            Refused::Already(i) => {
                let t = texts(i.locale);
                (
                    i,
                    StatusCode::CONFLICT,
                    t.join_already_title,
                    t.join_already_body,
                )
            }
        };
        self.message(
            status,
            self.frame(invited.locale, Some(&invited.tenant), Vec::new()),
            title,
            vec![
                body.replace("{address}", &invited.claims.address)
                    .replace("{tenant}", &invited.tenant.name),
            ],
            None,
            Vec::new(),
        )
    }
}

pub(crate) async fn page(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<JoinQuery>,
    headers: HeaderMap,
) -> Response {
    let i = match p.invited(&token, q.lang.as_deref()).await {
        Ok(i) => i,
        Err(refused) => return p.refused(refused),
    };
    let t = texts(i.locale);
    p.one_button_page(
        &headers,
        i.locale,
        &i.tenant,
        &format!("/j/{token}"),
        (
            &t.join_title.replace("{tenant}", &i.tenant.name),
            t.join_body.replace("{address}", &i.claims.address),
        ),
        t.join_button,
        false,
        Vec::new(),
    )
}

pub(crate) async fn post(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<JoinQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let i = match p.invited(&token, q.lang.as_deref()).await {
        Ok(i) => i,
        Err(refused) => return p.refused(refused),
    };
    if !p
        .csrf
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        let again = p.link(&format!("/j/{token}?lang={}", i.locale));
        return p.csrf_refused(i.locale, Some(&i.tenant), again);
    }
    let mut contacts: Vec<NewContact> = i
        .household
        .contacts
        .iter()
        .map(|c| NewContact {
            channel: c.channel.clone(),
            address: c.address.clone(),
        })
        .collect();
    contacts.push(NewContact {
        channel: i.claims.channel.clone(),
        address: i.claims.address.clone(),
    });
    let patch = SubscriberPatch {
        locale: None,
        contacts: Some(contacts),
    };
    let tenant = &i.tenant.id;
    match p
        .app
        .store
        .update_subscriber(tenant, &i.household.id, &patch)
        .await
    {
        Ok(_) => {
            tracing::info!(tenant = %tenant, subscriber = %i.household.id, channel = %i.claims.channel, "a second parent joined a household on the web");
            p.app.scheduler.subscribers_changed(tenant);
            see_other(&p.link(&format!("/j/{token}/joined?lang={}", i.locale)))
        }
        // Registered meanwhile (by another link, the form), or erased.
        Err(StoreError::Conflict(_)) => p.refused(Refused::Already(i)),
        Err(e) => p.failed(i.locale, Some(&i.tenant), &e),
    }
}

/// After joining: what happens now, and the new contact's own page of
/// what is registered.
pub(crate) async fn joined(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<JoinQuery>,
) -> Response {
    let fallback = locale_of(q.lang.as_deref());
    let claims = match p.links.verify(&token, LinkPurpose::Invite, p.now()) {
        Ok(claims) if !claims.address.is_empty() => claims,
        Ok(_) => {
            return p
                .link_problem(fallback, &token, LinkError::WrongPurpose)
                .await;
        }
        Err(e) => return p.link_problem(fallback, &token, e).await,
    };
    let tenant = match p.tenant(&claims.tenant, fallback).await {
        Ok(tenant) => tenant,
        Err(page) => return page,
    };
    // Only a contact that did join this household is told it did.
    let member = p
        .app
        .store
        .subscriber_by_contact(&tenant.id, &claims.channel, &claims.address)
        .await;
    let household = match member {
        Ok(Some(s)) if s.id == claims.data => s,
        Ok(_) => {
            return p
                .link_problem(fallback, &token, LinkError::WrongPurpose)
                .await;
        }
        Err(e) => return p.failed(fallback, Some(&tenant), &e),
    };
    let locale = q
        .lang
        .as_deref()
        .and_then(|l| l.parse().ok())
        .unwrap_or(household.locale);
    let t = texts(locale);
    let manage = p.links.sign(&LinkClaims {
        purpose: LinkPurpose::Manage,
        tenant: tenant.id.clone(),
        channel: claims.channel.clone(),
        address: claims.address.clone(),
        data: String::new(),
        expires_at: p.now() + Duration::hours(MANAGE_HOURS),
    });
    let path = format!("/j/{token}/joined");
    p.page(
        StatusCode::OK,
        &MessageView {
            frame: p.frame(locale, Some(&tenant), p.switch(locale, &path, "")),
            title: t.joined_title.to_string(),
            paragraphs: vec![
                t.joined_body.replace("{address}", &claims.address),
                t.registered_stop.to_string(),
            ],
            button: None,
            links: vec![Link {
                href: p.link(&format!("/m/{manage}?lang={locale}")),
                label: t.already_manage,
            }],
            panel: true,
        },
    )
}
