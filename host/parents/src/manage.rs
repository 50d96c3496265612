//! What is registered for a contact, and what a parent changes there
//! themselves (`/m/{token}`, a signed link with purpose `manage`): report
//! the birth of an expected child, change the language of the messages,
//! stop the messages about one child, add a child ([`add_child`]) and
//! invite a second parent ([`invite`]). Stopping everything stays the stop
//! link's page (`/u/...`), linked from here.
//!
//! Every change is a POST under the same token, CSRF-checked and
//! rate-limited like every form, answered by a 303 back to the page with a
//! banner that says what changed. Wrong input changes nothing: a date that
//! is not a date of birth shows the page again with an error summary (422);
//! a child that is not in the registration (404) or already stopped (409)
//! gets a page that says so.
//!
//! Stopping an expected child is also the path after a pregnancy loss: the
//! words say only that nothing more about that child will be sent, thank
//! the parent and name the municipality's public health nurses; they never
//! ask why (as the chat's self-service does).

pub(crate) mod add_child;
pub(crate) mod invite;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::registration::{DateRules, written_date};
use tayori_core::{
    Channel, Child, ChildStatus, LinkClaims, LinkError, LinkPurpose, Locale, StoreError,
    Subscriber, SubscriberPatch, Tenant,
};

use crate::Inner;
use crate::csrf;
use crate::form::{self, WrongDate};
use crate::pages::{
    AddChildForm, Banner, BirthForm, Button, ChildView, ErrorLink, Link, ManageView, MessageView,
};
use crate::routes::{
    MANAGE_HOURS, Shared, contact_shown, cookie_header, field, html, locale_of, see_other,
    with_cookie,
};
use crate::text::{Texts, texts};

/// Why a child is stopped when the parent stops it here.
const STOP_REASON: &str = "unsubscribed";
/// The longest value kept from a field shown again.
const MAX_FIELD_LEN: usize = 16;

/// `?lang=`, and after a change what changed
/// (`done=birth|language|stopped|child`, with the child's id;
/// `done=invite` with the address invited).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ManageQuery {
    lang: Option<String>,
    done: Option<String>,
    child: Option<String>,
    to: Option<String>,
}

/// What a manage link names, verified.
struct Found {
    claims: LinkClaims,
    tenant: Tenant,
    subscriber: Subscriber,
    /// The contact's channel (to show the contact as the parent knows it).
    channel: Option<Channel>,
    /// The tenant's channels (where a second parent can be invited).
    channels: Vec<Channel>,
    /// The page's language: `?lang=`, else the subscriber's.
    locale: Locale,
}

/// What was wrong with a POST, shown again on the page.
enum Wrong {
    Nothing,
    Birth {
        child: String,
        typed: [String; 3],
        wrong: WrongDate,
    },
    Language {
        typed: String,
    },
    AddChild(Box<AddChildForm>),
    Invite {
        typed: String,
        message: String,
    },
}

/// The language names, each in its own language.
fn language_name(locale: Locale) -> &'static str {
    match locale {
        Locale::Ja => "日本語",
        Locale::JaEasy => "やさしい にほんご",
        Locale::En => "English",
    }
}

/// A child as the parent knows it: by its birthday or its due date.
fn label(child: &Child, t: &Texts, locale: Locale) -> String {
    match (child.birth_date, child.due_date) {
        (Some(born), _) => t.child_born.replace("{date}", &written_date(born, locale)),
        (None, Some(due)) => t.child_due.replace("{date}", &written_date(due, locale)),
        (None, None) => t.manage_children.to_string(),
    }
}

/// A posted field, cut to a length worth showing again.
fn typed(pairs: &[(String, String)], name: &str) -> String {
    field(pairs, name)
        .unwrap_or_default()
        .chars()
        .take(MAX_FIELD_LEN)
        .collect()
}

impl Inner {
    /// The link's claims, tenant and subscriber, or the page to answer.
    async fn manage_link(&self, token: &str, lang: Option<&str>) -> Result<Found, Response> {
        let fallback = locale_of(lang);
        let claims = match self.links.verify(token, LinkPurpose::Manage, self.now()) {
            Ok(claims) => claims,
            Err(e) => return Err(self.link_problem(fallback, token, e).await),
        };
        let tenant = self.tenant(&claims.tenant, fallback).await?;
        let subscriber = match self
            .app
            .store
            .subscriber_by_contact(&claims.tenant, &claims.channel, &claims.address)
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => return Err(self.link_problem(fallback, token, LinkError::Expired).await),
            Err(e) => return Err(self.failed(fallback, Some(&tenant), &e)),
        };
        let locale = lang
            .and_then(|l| l.parse().ok())
            .unwrap_or(subscriber.locale);
        let channels = match self.app.store.channels(&tenant.id).await {
            Ok(channels) => channels,
            Err(e) => return Err(self.failed(locale, Some(&tenant), &e)),
        };
        let channel = channels.iter().find(|c| c.name == claims.channel).cloned();
        Ok(Found {
            claims,
            tenant,
            subscriber,
            channel,
            channels,
            locale,
        })
    }

    /// The page itself, at `/m/{token}` in the page's language.
    fn manage_path(&self, token: &str, f: &Found, extra: &str) -> String {
        self.link(&format!("/m/{token}?lang={}{extra}", f.locale))
    }

    /// A child of the registration that messages are still sent about, or
    /// the page that says why not.
    fn active_child<'f>(
        &self,
        f: &'f Found,
        token: &str,
        id: &str,
    ) -> Result<&'f Child, Box<Response>> {
        let t = texts(f.locale);
        let (status, title, body) = match f.subscriber.children.iter().find(|c| c.id == id) {
            Some(child) if child.status != ChildStatus::Stopped => return Ok(child),
            Some(_) => (
                StatusCode::CONFLICT,
                t.child_already_title,
                t.child_already_body,
            ),
            None => (
                StatusCode::NOT_FOUND,
                t.child_unknown_title,
                t.child_unknown_body,
            ),
        };
        Err(Box::new(self.back_page(f, token, status, title, body)))
    }

    /// A page that says something and leads back to the registration.
    fn back_page(
        &self,
        f: &Found,
        token: &str,
        status: StatusCode,
        title: &str,
        body: &str,
    ) -> Response {
        let t = texts(f.locale);
        self.message(
            status,
            self.frame(f.locale, Some(&f.tenant), Vec::new()),
            title,
            vec![body.to_string()],
            None,
            vec![Link {
                href: self.manage_path(token, f, ""),
                label: t.back_to_manage,
            }],
        )
    }

    /// The banner for what was just done (`?done=`), when it did happen.
    fn banner(&self, f: &Found, q: &ManageQuery) -> Option<Banner> {
        let t = texts(f.locale);
        let child = || {
            q.child
                .as_deref()
                .and_then(|id| f.subscriber.children.iter().find(|c| c.id == id))
        };
        match q.done.as_deref()? {
            "birth" => {
                let born = child().filter(|c| c.status == ChildStatus::Born)?;
                Some(Banner {
                    done: "birth",
                    title: t.banner_done,
                    body: t
                        .birth_done
                        .replace("{date}", &written_date(born.birth_date?, f.locale)),
                    success: true,
                })
            }
            "child" => {
                let added = child()?;
                Some(Banner {
                    done: "child",
                    title: t.banner_done,
                    body: t.child_added.replace("{child}", &label(added, t, f.locale)),
                    success: true,
                })
            }
            "invite" => {
                let to = q.to.as_deref().and_then(form::email_address)?;
                Some(Banner {
                    done: "invite",
                    title: t.banner_done,
                    body: t
                        .invite_sent
                        .replace("{address}", &to)
                        .replace("{hours}", &crate::routes::INVITE_HOURS.to_string()),
                    success: true,
                })
            }
            "language" => Some(Banner {
                done: "language",
                title: t.banner_done,
                body: t
                    .language_done
                    .replace("{locale}", language_name(f.subscriber.locale)),
                success: true,
            }),
            "stopped" => {
                let stopped = child().filter(|c| c.status == ChildStatus::Stopped)?;
                let name = label(stopped, t, f.locale);
                // A child stopped before its birth: the gentle words.
                Some(if stopped.birth_date.is_none() {
                    Banner {
                        done: "stopped",
                        title: t.banner_note,
                        body: t.stopped_expected.replace("{child}", &name),
                        success: false,
                    }
                } else {
                    Banner {
                        done: "stopped",
                        title: t.banner_done,
                        body: t.stopped_child.replace("{child}", &name),
                        success: true,
                    }
                })
            }
            _ => None,
        }
    }

    /// The page of what is registered, with `wrong` said on it.
    fn manage_view(
        &self,
        headers: &HeaderMap,
        f: &Found,
        token: &str,
        banner: Option<Banner>,
        wrong: Wrong,
    ) -> Response {
        let (locale, t) = (f.locale, texts(f.locale));
        let form_token = self.csrf.for_page(cookie_header(headers));
        let mut errors = Vec::new();
        let children = f
            .subscriber
            .children
            .iter()
            .enumerate()
            .map(|(i, child)| {
                let stopped = child.status == ChildStatus::Stopped;
                let birth = (child.status == ChildStatus::Expecting).then(|| {
                    let id = format!("birth-{}", i + 1);
                    let mut birth = BirthForm {
                        action: self.link(&format!("/m/{token}/birth/{}?lang={locale}", child.id)),
                        ..BirthForm::default()
                    };
                    if let Wrong::Birth {
                        child: wrong_child,
                        typed: [year, month, day],
                        wrong,
                    } = &wrong
                        && *wrong_child == child.id
                    {
                        errors.push(ErrorLink {
                            anchor: format!("{id}-{}", wrong.parts.first()),
                            message: wrong.message.clone(),
                        });
                        birth.year = year.clone();
                        birth.month = month.clone();
                        birth.day = day.clone();
                        birth.error = Some(wrong.message.clone());
                        birth.parts = wrong.parts;
                    }
                    birth.id = id;
                    birth
                });
                ChildView {
                    label: if stopped {
                        t.child_stopped.to_string()
                    } else {
                        label(child, t, locale)
                    },
                    stopped,
                    birth,
                    stop: (!stopped)
                        .then(|| self.link(&format!("/m/{token}/stop/{}?lang={locale}", child.id))),
                }
            })
            .collect();
        let add_child = self.add_child_form(f, token, &wrong, &mut errors);
        let invite = self.invite_view(f, token, &wrong, &mut errors);
        let (language, language_error) = match &wrong {
            Wrong::Language { typed } => {
                errors.push(ErrorLink {
                    anchor: "locale-ja".into(),
                    message: t.err_locale.into(),
                });
                (typed.clone(), Some(t.err_locale.to_string()))
            }
            _ => (f.subscriber.locale.as_str().to_string(), None),
        };
        let contact = match &f.channel {
            Some(channel) => contact_shown(&f.claims, channel),
            None => f.claims.channel.clone(),
        };
        let stop = self.links.sign(&LinkClaims {
            purpose: LinkPurpose::Unsubscribe,
            expires_at: self.now() + Duration::hours(MANAGE_HOURS),
            ..f.claims.clone()
        });
        let status = if errors.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let view = ManageView {
            frame: self.frame(
                locale,
                Some(&f.tenant),
                self.switch(locale, &format!("/m/{token}"), ""),
            ),
            contact,
            banner,
            errors,
            children,
            add_child,
            invite,
            csrf: form_token.field,
            language_action: self.link(&format!("/m/{token}/language?lang={locale}")),
            language,
            language_now: language_name(f.subscriber.locale).to_string(),
            language_error,
            stop_all: self.link(&format!("/u/{stop}?lang={locale}")),
        };
        with_cookie(
            html(status, self.pages.manage(&view)),
            form_token.set_cookie,
        )
    }

    /// A POST about one child: the link, its CSRF pair, and a child still
    /// sent about (its id), or the page to answer.
    async fn child_post(
        &self,
        token: &str,
        q: &ManageQuery,
        headers: &HeaderMap,
        pairs: &[(String, String)],
        child: &str,
    ) -> Result<(Found, String), Box<Response>> {
        let f = self
            .manage_link(token, q.lang.as_deref())
            .await
            .map_err(Box::new)?;
        if let Some(refused) = self.manage_csrf(headers, pairs, &f, token) {
            return Err(Box::new(refused));
        }
        let id = self.active_child(&f, token, child)?.id.clone();
        Ok((f, id))
    }

    /// Refuses a POST without its CSRF pair, `Some` with the page.
    fn manage_csrf(
        &self,
        headers: &HeaderMap,
        pairs: &[(String, String)],
        f: &Found,
        token: &str,
    ) -> Option<Response> {
        (!self
            .csrf
            .check(cookie_header(headers), field(pairs, csrf::FIELD)))
        .then(|| self.csrf_refused(f.locale, Some(&f.tenant), self.manage_path(token, f, "")))
    }
}

pub(crate) async fn page(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<ManageQuery>,
    headers: HeaderMap,
) -> Response {
    let f = match p.manage_link(&token, q.lang.as_deref()).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let banner = p.banner(&f, &q);
    p.manage_view(&headers, &f, &token, banner, Wrong::Nothing)
}

pub(crate) async fn birth(
    State(p): State<Shared>,
    Path((token, child)): Path<(String, String)>,
    Query(q): Query<ManageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (f, child) = match p.child_post(&token, &q, &headers, &pairs, &child).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let t = texts(f.locale);
    let typed = [
        typed(&pairs, "year"),
        typed(&pairs, "month"),
        typed(&pairs, "day"),
    ];
    let rules = DateRules::new(p.today(&f.tenant));
    let date = match form::checked_date(
        (&typed[0], &typed[1], &typed[2]),
        |date| rules.birth(date),
        t.err_date_empty_birth,
        t,
        f.locale,
    ) {
        Ok(date) => date,
        Err(wrong) => {
            let wrong = Wrong::Birth {
                child,
                typed,
                wrong,
            };
            return p.manage_view(&headers, &f, &token, None, wrong);
        }
    };
    let tenant = &f.tenant.id;
    match p
        .app
        .store
        .report_birth(tenant, &f.subscriber.id, &child, date)
        .await
    {
        Ok(_) => {
            tracing::info!(tenant = %tenant, subscriber = %f.subscriber.id, "a parent reported a birth on the web");
            p.app.scheduler.subscribers_changed(tenant);
            see_other(&p.manage_path(&token, &f, &format!("&done=birth&child={child}")))
        }
        Err(StoreError::Conflict(_)) => p.back_page(
            &f,
            &token,
            StatusCode::CONFLICT,
            t.child_already_title,
            t.child_already_body,
        ),
        Err(StoreError::NotFound(_)) => p.back_page(
            &f,
            &token,
            StatusCode::NOT_FOUND,
            t.child_unknown_title,
            t.child_unknown_body,
        ),
        Err(e) => p.failed(f.locale, Some(&f.tenant), &e),
    }
}

pub(crate) async fn language(
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
    let chosen = typed(&pairs, "locale");
    let Ok(locale) = chosen.parse::<Locale>() else {
        let wrong = Wrong::Language { typed: chosen };
        return p.manage_view(&headers, &f, &token, None, wrong);
    };
    let patch = SubscriberPatch {
        locale: Some(locale),
        contacts: None,
    };
    match p
        .app
        .store
        .update_subscriber(&f.tenant.id, &f.subscriber.id, &patch)
        .await
    {
        Ok(_) => {
            tracing::info!(tenant = %f.tenant.id, subscriber = %f.subscriber.id, locale = %locale, "a parent changed the language on the web");
            p.app.scheduler.subscribers_changed(&f.tenant.id);
            see_other(&p.manage_path(&token, &f, "&done=language"))
        }
        Err(e) => p.failed(f.locale, Some(&f.tenant), &e),
    }
}

pub(crate) async fn stop_page(
    State(p): State<Shared>,
    Path((token, child)): Path<(String, String)>,
    Query(q): Query<ManageQuery>,
    headers: HeaderMap,
) -> Response {
    let f = match p.manage_link(&token, q.lang.as_deref()).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let child = match p.active_child(&f, &token, &child) {
        Ok(child) => child,
        Err(page) => return *page,
    };
    let (locale, t) = (f.locale, texts(f.locale));
    let name = label(child, t, locale);
    let body = if child.status == ChildStatus::Expecting {
        t.stop_expected_body
    } else {
        t.stop_child_body
    };
    let path = format!("/m/{token}/stop/{}", child.id);
    let form_token = p.csrf.for_page(cookie_header(&headers));
    let view = MessageView {
        frame: p.frame(locale, Some(&f.tenant), p.switch(locale, &path, "")),
        title: t.stop_child_title.replace("{child}", &name),
        paragraphs: vec![body.replace("{child}", &name)],
        button: Some(Button {
            action: p.link(&format!("{path}?lang={locale}")),
            csrf: form_token.field,
            label: t.stop_child_button,
            warning: true,
        }),
        links: vec![Link {
            href: p.manage_path(&token, &f, ""),
            label: t.back_to_manage,
        }],
        panel: false,
    };
    with_cookie(p.page(StatusCode::OK, &view), form_token.set_cookie)
}

pub(crate) async fn stop_post(
    State(p): State<Shared>,
    Path((token, child)): Path<(String, String)>,
    Query(q): Query<ManageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let (f, child) = match p.child_post(&token, &q, &headers, &pairs, &child).await {
        Ok(found) => found,
        Err(page) => return *page,
    };
    let (tenant, sid) = (&f.tenant.id, &f.subscriber.id);
    match p
        .app
        .store
        .stop_child(tenant, sid, &child, STOP_REASON)
        .await
    {
        Ok(_) => {
            tracing::info!(tenant = %tenant, subscriber = %sid, "a parent stopped one child on the web");
            p.app.scheduler.subscribers_changed(tenant);
            tayori_api::front_door::record(
                &p.app,
                tenant,
                &f.claims.channel,
                FrontDoorKind::Stopped,
                Some(sid),
            )
            .await;
            see_other(&p.manage_path(&token, &f, &format!("&done=stopped&child={child}")))
        }
        Err(StoreError::NotFound(_)) => {
            let t = texts(f.locale);
            p.back_page(
                &f,
                &token,
                StatusCode::NOT_FOUND,
                t.child_unknown_title,
                t.child_unknown_body,
            )
        }
        Err(e) => p.failed(f.locale, Some(&f.tenant), &e),
    }
}
