//! The support desk: find a household by a contact address (exact), its
//! id or its external id; read its contacts, children, delivery history
//! and coming schedule (the API's store calls and schedule preview), and
//! stop it with one of the API's stop reasons.

use super::*;

use tayori_core::{DeliveryFilter, DeliverySource, PageRequest, Subscriber, SubscriberStatus};

/// The deliveries shown on a household's page (newest first).
const HISTORY_LIMIT: u32 = 100;
/// The days of coming schedule shown.
const SCHEDULE_DAYS: u32 = 30;
/// The longest search accepted (the domain's longest address).
const MAX_QUERY_LEN: usize = tayori_core::domain::subscriber_rules::MAX_ADDRESS_LEN;

fn support_path(r: &Req, path: String) -> String {
    match r.lang {
        Lang::Ja => path,
        Lang::En => format!("{path}?lang=en"),
    }
}

/// A UUID's shape (a subscriber id).
fn uuid_like(text: &str) -> bool {
    text.len() == 36
        && text.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The households `q` names in the tenant: a contact's exact address on
/// any of its channels, a subscriber id, or an external id.
async fn find(c: &Inner, tenant_id: &str, q: &str) -> Result<Vec<Subscriber>, StoreError> {
    let mut found: Vec<Subscriber> = Vec::new();
    let keep = |s: Subscriber, found: &mut Vec<Subscriber>| {
        if !found.iter().any(|f| f.id == s.id) {
            found.push(s);
        }
    };
    for channel in c.store().channels(tenant_id).await? {
        if let Some(s) = c
            .store()
            .subscriber_by_contact(tenant_id, &channel.name, q)
            .await?
        {
            keep(s, &mut found);
        }
    }
    if uuid_like(q) {
        match c.store().subscriber(tenant_id, &q.to_lowercase()).await {
            Ok(s) => keep(s, &mut found),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    // The store has no lookup by external id: the tenant's list, page by
    // page (the API's list call).
    let mut page = PageRequest {
        after: None,
        limit: tayori_core::MAX_PAGE_LIMIT,
    };
    loop {
        let list = c.store().subscribers(tenant_id, &page).await?;
        for s in list.items {
            if s.external_id.as_deref() == Some(q) {
                keep(s, &mut found);
            }
        }
        match list.next_cursor {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    Ok(found)
}

fn status_word(t: &Texts, status: &str) -> String {
    text::status(t, status)
}

fn child_rows(t: &Texts, s: &Subscriber) -> Vec<Value> {
    s.children
        .iter()
        .enumerate()
        .map(|(i, child)| {
            context! {
                number => i + 1,
                due_date => child.due_date.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
                birth_date => child.birth_date.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
                status => status_word(t, child.status.as_str()),
                reason => child.stopped_reason.as_deref().map(|r| text::stop_reason(t, r)),
            }
        })
        .collect()
}

fn summary(t: &Texts, s: &Subscriber, href: String) -> Value {
    context! {
        href,
        id => s.id.clone(),
        external_id => s.external_id.clone(),
        status => status_word(t, s.status.as_str()),
        contacts => s.contacts.iter().map(|c| format!("{}: {}", c.channel, c.address)).collect::<Vec<_>>().join(", "),
        created => local_time(s.created_at),
    }
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
}

pub(super) async fn support_search(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    Query(query): Query<SearchQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_get(&r, &s, &tenant_id, Permission::Dashboard)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let q = query.q.unwrap_or_default().trim().to_string();
    let searched = !q.is_empty();
    let mut error = None;
    let mut results = Vec::new();
    if q.chars().count() > MAX_QUERY_LEN {
        error = Some(t.support_query_long);
    } else if searched {
        match find(&c, &tenant.id, &q).await {
            Ok(found) => {
                results = found
                    .iter()
                    .map(|h| {
                        summary(
                            t,
                            h,
                            support_path(&r, format!("/t/{}/support/{}", tenant.id, h.id)),
                        )
                    })
                    .collect()
            }
            Err(e) => return c.failed(e),
        }
    }
    let not_found = (searched && error.is_none() && results.is_empty())
        .then(|| t.support_none.replace("{q}", &q));
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.support_title);
    c.render(
        &r,
        StatusCode::OK,
        "support.html",
        context! {
            tenant_name => tenant.name.clone(),
            search => true,
            action => format!("/t/{}/support", tenant.id),
            lang_param => (r.lang == Lang::En).then_some("en"),
            q,
            searched,
            error,
            error_title => error.is_some(),
            results,
            not_found,
            ..frame
        },
    )
}

/// What the household page shows besides the household.
struct HouseholdForm {
    error: Option<&'static str>,
    stopped: bool,
    erase_error: Option<&'static str>,
    erased: bool,
}

async fn render_household(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    household: Subscriber,
    form: HouseholdForm,
) -> Response {
    let t = r.t();
    let filter = DeliveryFilter {
        subscriber_id: Some(household.id.clone()),
        ..Default::default()
    };
    let page = PageRequest {
        after: None,
        limit: HISTORY_LIMIT,
    };
    let history = match c.store().deliveries(&tenant.id, &filter, &page).await {
        Ok(p) => p,
        Err(e) => return c.failed(e),
    };
    let more_history = history.next_cursor.is_some();
    let child_number = |id: &str| {
        household
            .children
            .iter()
            .position(|ch| ch.id == id)
            .map(|i| (i + 1).to_string())
            .unwrap_or_default()
    };
    let deliveries: Vec<Value> = history
        .items
        .iter()
        .map(|d| {
            let (what, child) = match &d.source {
                DeliverySource::Scheduled {
                    message_id,
                    child_id,
                    ..
                } => (message_id.clone(), child_number(child_id)),
                DeliverySource::Broadcast { broadcast_id } => (
                    t.support_broadcast.replace("{id}", broadcast_id),
                    String::new(),
                ),
            };
            context! {
                due => local_time(d.due_at),
                channel => d.channel.clone(),
                what,
                child,
                status => status_word(t, d.status.as_str()),
                status_key => d.status.as_str(),
                sent => d.sent_at.map(local_time).unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let today = tayori_api::front_door::today(tenant, c.now());
    let schedule: Vec<Value> = if household.status == SubscriberStatus::Active {
        match c
            .app
            .scheduler
            .preview(&tenant.id, Some(&household.id), today, SCHEDULE_DAYS)
            .await
        {
            Ok(items) => items
                .iter()
                // The preview lists a day's message until its lateness
                // window ends: leave out what the history already has.
                .filter(|i| {
                    !history.items.iter().any(|d| {
                        matches!(&d.source, DeliverySource::Scheduled {
                            child_id, message_id, occurs_on, ..
                        } if *child_id == i.child_id
                            && *message_id == i.message_id
                            && *occurs_on == i.date
                            && d.contact_id == i.contact_id)
                    })
                })
                .map(|i| {
                    context! {
                        date => i.date.to_string(),
                        due => local_time(i.due_at),
                        channel => i.channel.clone(),
                        message => i.message_id.clone(),
                        child => child_number(&i.child_id),
                        late => i.late,
                    }
                })
                .collect(),
            Err(e) => return c.failed(e),
        }
    } else {
        Vec::new()
    };
    let contacts: Vec<Value> = household
        .contacts
        .iter()
        .map(|ct| {
            context! {
                channel => ct.channel.clone(),
                address => ct.address.clone(),
                status => status_word(t, ct.status.as_str()),
                status_key => ct.status.as_str(),
            }
        })
        .collect();
    let reasons: Vec<Value> = tayori_core::domain::subscriber_rules::STOP_REASONS
        .iter()
        .map(|key| context! { value => *key, label => text::stop_reason(t, key) })
        .collect();
    let can_stop = s.account.may(&tenant.id, Permission::Channels)
        && household.status == SubscriberStatus::Active;
    let can_erase = s.account.may(&tenant.id, Permission::Channels)
        && household.status != SubscriberStatus::Erased;
    let locale = text::locale(t, household.locale.as_str());
    let frame = c.frame(r, Some(s), Some(tenant), t.household_title);
    c.render(
        r,
        StatusCode::OK,
        "support.html",
        context! {
            tenant_name => tenant.name.clone(),
            household => true,
            back => support_path(r, format!("/t/{}/support", tenant.id)),
            id => household.id.clone(),
            external_id => household.external_id.clone(),
            status => status_word(t, household.status.as_str()),
            status_key => household.status.as_str(),
            locale,
            created => local_time(household.created_at),
            contacts,
            children => child_rows(t, &household),
            deliveries,
            more_history,
            history_note => t.support_history_note.replace("{n}", &HISTORY_LIMIT.to_string()),
            schedule,
            schedule_note => t.support_schedule_note.replace("{days}", &SCHEDULE_DAYS.to_string()),
            can_stop,
            stop_action => support_path(r, format!("/t/{}/support/{}/stop", tenant.id, household.id)),
            csrf => s.session.csrf_secret.clone(),
            reasons,
            error => form.error,
            error_title => form.error.is_some() || form.erase_error.is_some(),
            stopped => form.stopped,
            can_erase,
            erase_action => support_path(r, format!("/t/{}/support/{}/erase", tenant.id, household.id)),
            erase_error => form.erase_error,
            erased => form.erased,
            ..frame
        },
    )
}

/// The household of the tenant, or the 404 page.
async fn household_of(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    id: &str,
) -> Result<Subscriber, Response> {
    match c.store().subscriber(&tenant.id, id).await {
        Ok(h) => Ok(h),
        Err(StoreError::NotFound(_) | StoreError::Invalid { .. }) => Err(c.not_found(r, Some(s))),
        Err(e) => Err(c.failed(e)),
    }
}

pub(super) async fn support_household(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_get(&r, &s, &tenant_id, Permission::Dashboard)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let household = match household_of(&c, &r, &s, &tenant, &id).await {
        Ok(h) => h,
        Err(resp) => return resp,
    };
    let form = HouseholdForm {
        error: None,
        stopped: r.query("stopped") == Some("1"),
        erase_error: None,
        erased: r.query("erased") == Some("1"),
    };
    render_household(&c, &r, &s, &tenant, household, form).await
}

pub(super) async fn support_stop(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Channels)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let household = match household_of(&c, &r, &s, &tenant, &id).await {
        Ok(h) => h,
        Err(resp) => return resp,
    };
    let t = r.t();
    let typed = field(&pairs, "reason").unwrap_or_default().trim();
    let Some(reason) = tayori_core::domain::subscriber_rules::STOP_REASONS
        .iter()
        .find(|k| **k == typed)
    else {
        let form = HouseholdForm {
            error: Some(t.support_reason_missing),
            stopped: false,
            erase_error: None,
            erased: false,
        };
        return render_household(&c, &r, &s, &tenant, household, form).await;
    };
    if household.status == SubscriberStatus::Erased {
        return c.not_found(&r, Some(&s));
    }
    // The API's stop: every child stopped, pending deliveries cancelled.
    if let Err(e) = c
        .store()
        .stop_subscriber(&tenant.id, &household.id, reason)
        .await
    {
        return match e {
            StoreError::NotFound(_) => c.not_found(&r, Some(&s)),
            e => c.failed(e),
        };
    }
    c.app.scheduler.subscribers_changed(&tenant.id);
    tracing::info!(tenant = %tenant.id, id = %household.id, "subscriber stopped from the console");
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "household_stopped",
            serde_json::json!({ "subscriber": household.id, "reason": reason }),
        )
        .await
    {
        return resp;
    }
    let to = format!("/t/{}/support/{}?stopped=1", tenant.id, household.id);
    see_other(&match r.lang {
        Lang::Ja => to,
        Lang::En => format!("{to}&lang=en"),
    })
}

/// Erases the household as `DELETE /v1/tenants/{tenant}/subscribers/{id}`
/// does: its addresses, dates, stop reasons and external id removed, every
/// pending delivery cancelled, an anonymous row kept for the counts. The
/// form asks for a ticked confirmation first: it cannot be undone.
pub(super) async fn support_erase(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Channels)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let household = match household_of(&c, &r, &s, &tenant, &id).await {
        Ok(h) => h,
        Err(resp) => return resp,
    };
    if household.status == SubscriberStatus::Erased {
        return c.not_found(&r, Some(&s));
    }
    let t = r.t();
    if field(&pairs, "confirm") != Some("yes") {
        let form = HouseholdForm {
            error: None,
            stopped: false,
            erase_error: Some(t.erase_confirm_missing),
            erased: false,
        };
        return render_household(&c, &r, &s, &tenant, household, form).await;
    }
    if let Err(e) = c.store().erase_subscriber(&tenant.id, &household.id).await {
        return match e {
            StoreError::NotFound(_) => c.not_found(&r, Some(&s)),
            e => c.failed(e),
        };
    }
    c.app.scheduler.subscribers_changed(&tenant.id);
    tracing::info!(tenant = %tenant.id, id = %household.id, "subscriber erased from the console");
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "household_erased",
            serde_json::json!({ "subscriber": household.id }),
        )
        .await
    {
        return resp;
    }
    let to = format!("/t/{}/support/{}?erased=1", tenant.id, household.id);
    see_other(&match r.lang {
        Lang::Ja => to,
        Lang::En => format!("{to}&lang=en"),
    })
}
