//! Broadcasts (urgent notices): the tenant's past broadcasts with their
//! progress; a form (subject, message, stages, channels, now or at a time
//! in Japan time); a confirmation page with the households it reaches
//! (counted by the scheduler's own audience matching), a few of them with
//! their addresses partly hidden, and what parents read on each channel;
//! then the broadcast (the API's checks, `tayori_api::broadcasts`), its
//! progress by status, and the cancelling of its waiting deliveries.

use super::*;

use tayori_api::broadcasts::{self as shared, BroadcastProblem, NewBroadcast};
use tayori_core::{Broadcast, ContactStatus};

/// Broadcasts listed.
const LIST_LIMIT: u32 = 50;
/// Households shown as a sample on the confirmation page.
const SAMPLE: usize = 3;
/// The stages of the form, with the audience each one means.
const STAGES: [(&str, Option<(u32, u32)>); 4] = [
    ("pregnancy", None),
    ("0-1", Some((0, 12))),
    ("1-2", Some((12, 24))),
    ("2-3", Some((24, 36))),
];

fn lang_path(r: &Req, path: String) -> String {
    match r.lang {
        Lang::Ja => path,
        Lang::En if path.contains('?') => format!("{path}&lang=en"),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// The form as typed.
#[derive(Debug, Default, Clone)]
struct Draft {
    subject: String,
    body: String,
    stages: Vec<String>,
    channels: Vec<String>,
    later: bool,
    at: String,
}

impl Draft {
    fn of(pairs: &[(String, String)]) -> Self {
        let all = |name: &str| -> Vec<String> {
            pairs
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect()
        };
        Self {
            subject: field(pairs, "subject")
                .unwrap_or_default()
                .trim()
                .to_string(),
            body: field(pairs, "body")
                .unwrap_or_default()
                .replace("\r\n", "\n"),
            stages: all("stage"),
            channels: all("channel"),
            later: field(pairs, "when") == Some("later"),
            at: field(pairs, "at").unwrap_or_default().trim().to_string(),
        }
    }

    /// The audience object of the API.
    fn audience(&self) -> serde_json::Value {
        let mut a = serde_json::Map::new();
        if self.stages.iter().any(|s| s == "pregnancy") {
            a.insert("pregnant".into(), true.into());
        }
        let ranges: Vec<serde_json::Value> = STAGES
            .iter()
            .filter(|(key, _)| self.stages.iter().any(|s| s == key))
            .filter_map(|(_, r)| *r)
            .map(|(from, to)| serde_json::json!({ "from": from, "to": to }))
            .collect();
        if !ranges.is_empty() {
            a.insert("child_age_months".into(), ranges.into());
        }
        if !self.channels.is_empty() {
            a.insert("channels".into(), self.channels.clone().into());
        }
        serde_json::Value::Object(a)
    }

    /// The hidden fields that carry it from the confirmation page.
    fn hidden(&self) -> Vec<Value> {
        let mut out = vec![
            context! { name => "subject", value => self.subject.clone() },
            context! { name => "body", value => self.body.clone() },
            context! { name => "when", value => if self.later { "later" } else { "now" } },
            context! { name => "at", value => self.at.clone() },
        ];
        for s in &self.stages {
            out.push(context! { name => "stage", value => s.clone() });
        }
        for c in &self.channels {
            out.push(context! { name => "channel", value => c.clone() });
        }
        out
    }
}

/// A form error: the field's id and the words.
type Problem = (&'static str, &'static str);

/// A time typed in Japan time: `YYYY-MM-DD HH:MM` (or with a `T`).
fn japan_time(typed: &str) -> Option<DateTime<Utc>> {
    let typed = typed.replace('T', " ");
    let naive = chrono::NaiveDateTime::parse_from_str(&typed, "%Y-%m-%d %H:%M").ok()?;
    use chrono::TimeZone;
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Checks the form: its own fields (stages, the time), then the API's
/// checks of a broadcast.
fn check(
    c: &Inner,
    t: &Texts,
    draft: &Draft,
    channels: &[tayori_core::Channel],
) -> Result<NewBroadcast, Vec<Problem>> {
    let mut problems: Vec<Problem> = Vec::new();
    if draft
        .stages
        .iter()
        .any(|s| !STAGES.iter().any(|(k, _)| k == s))
    {
        problems.push(("stage-pregnancy", t.broadcast_stage_unknown));
    }
    let send_at = if draft.later {
        match japan_time(&draft.at) {
            None => {
                problems.push(("at", t.broadcast_at_missing));
                None
            }
            Some(at) if at <= c.now() => {
                problems.push(("at", t.broadcast_at_past));
                None
            }
            Some(at) => Some(at),
        }
    } else {
        None
    };
    let subject = (!draft.subject.is_empty()).then(|| draft.subject.clone());
    let request = shared::request(subject, draft.body.clone(), draft.audience(), send_at);
    match shared::check_broadcast(request, channels) {
        Ok(b) if problems.is_empty() => Ok(b),
        Ok(_) => Err(problems),
        Err(p) => {
            let problem = match p {
                BroadcastProblem::Nul("content.subject") => ("subject", t.broadcast_nul),
                BroadcastProblem::Nul(_) => ("body", t.broadcast_nul),
                BroadcastProblem::BodyEmpty => ("body", t.broadcast_body_missing),
                BroadcastProblem::BodyTooLong => ("body", t.broadcast_body_long),
                BroadcastProblem::UnknownChannel(_) => {
                    ("channels-first", t.broadcast_channel_unknown)
                }
                BroadcastProblem::Audience(_) | BroadcastProblem::AgeRange { .. } => {
                    ("stage-pregnancy", t.broadcast_stage_unknown)
                }
            };
            problems.insert(0, problem);
            problems.sort_by_key(|(id, _)| match *id {
                "subject" => -1,
                "body" => 0,
                "stage-pregnancy" => 1,
                "channels-first" => 2,
                _ => 3,
            });
            Err(problems)
        }
    }
}

/// An address with most of it hidden.
fn mask(address: &str) -> String {
    let hide = |part: &str, keep: usize| -> String {
        let chars: Vec<char> = part.chars().collect();
        if chars.len() <= keep {
            return "*".repeat(chars.len().max(1));
        }
        let shown: String = chars[..keep].iter().collect();
        format!("{shown}{}", "*".repeat((chars.len() - keep).min(8)))
    };
    match address.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", hide(local, 1)),
        None => {
            let chars: Vec<char> = address.chars().collect();
            if chars.len() <= 6 {
                return hide(address, 1);
            }
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[chars.len() - 2..].iter().collect();
            format!("{head}****{tail}")
        }
    }
}

fn progress_rows(t: &Texts, counts: &[(String, u64)]) -> Vec<Value> {
    counts
        .iter()
        .map(|(status, n)| {
            context! { status => text::status(t, status), status_key => status.clone(), count => n }
        })
        .collect()
}

fn excerpt(body: &str) -> String {
    let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out: String = first.chars().take(40).collect();
    if first.chars().count() > 40 || body.trim().lines().count() > 1 {
        out.push('…');
    }
    out
}

/// The audience in words.
fn audience_words(t: &Texts, audience: &serde_json::Value) -> (String, String) {
    let a: shared::Audience = serde_json::from_value(audience.clone()).unwrap_or_default();
    let mut stages: Vec<String> = Vec::new();
    if a.pregnant == Some(true) {
        stages.push(text::stage(t, "pregnancy"));
    }
    for r in &a.child_age_months {
        match STAGES
            .iter()
            .find(|(_, range)| *range == Some((r.from, r.to.unwrap_or(u32::MAX))))
        {
            Some((key, _)) => stages.push(text::stage(t, key)),
            None => stages.push(format!(
                "{}–{}",
                r.from,
                r.to.map(|x| x.to_string()).unwrap_or_default()
            )),
        }
    }
    let stages = if stages.is_empty() {
        t.broadcast_everyone.to_string()
    } else {
        stages.join("、")
    };
    let channels = if a.channels.is_empty() {
        t.broadcast_all_channels.to_string()
    } else {
        a.channels.join(", ")
    };
    (stages, channels)
}

pub(super) async fn broadcasts_list(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_get(&r, &s, &tenant_id, Permission::Broadcasts)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let list = match c.store().broadcasts(&tenant.id, LIST_LIMIT).await {
        Ok(l) => l,
        Err(e) => return c.failed(e),
    };
    let mut rows = Vec::new();
    for b in &list {
        let counts = match c.store().broadcast_progress(&tenant.id, &b.id).await {
            Ok(p) => p,
            Err(e) => return c.failed(e),
        };
        let (stages, channels) = audience_words(t, &b.audience);
        rows.push(context! {
            href => lang_path(&r, format!("/t/{}/broadcasts/{}", tenant.id, b.id)),
            excerpt => excerpt(&b.body),
            send_at => local_time(b.send_at),
            stages,
            channels,
            deliveries => b.deliveries,
            progress => counts.iter().map(|(st, n)| format!("{} {n}", text::status(t, st))).collect::<Vec<_>>().join("、"),
        });
    }
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.broadcasts_title);
    c.render(
        &r,
        StatusCode::OK,
        "broadcasts.html",
        context! {
            tenant_name => tenant.name.clone(),
            list => true,
            new_href => lang_path(&r, format!("/t/{}/broadcasts/new", tenant.id)),
            rows,
            ..frame
        },
    )
}

/// The form, empty or as typed, with its problems.
async fn render_form(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    draft: &Draft,
    problems: &[Problem],
) -> Response {
    let t = r.t();
    let channels = match c.store().channels(&tenant.id).await {
        Ok(ch) => ch,
        Err(e) => return c.failed(e),
    };
    let error_of = |id: &str| problems.iter().find(|(f, _)| *f == id).map(|(_, m)| *m);
    let stages: Vec<Value> = STAGES
        .iter()
        .map(|(key, _)| {
            context! {
                value => *key,
                label => text::stage(t, key),
                checked => draft.stages.iter().any(|s| s == key),
            }
        })
        .collect();
    let channel_choices: Vec<Value> = channels
        .iter()
        .enumerate()
        .map(|(i, ch)| {
            context! {
                id => if i == 0 { "channels-first".to_string() } else { format!("channel-{i}") },
                value => ch.name.clone(),
                checked => draft.channels.contains(&ch.name),
            }
        })
        .collect();
    let errors: Vec<Value> = problems
        .iter()
        .map(|(id, message)| context! { id => *id, message => *message })
        .collect();
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let frame = c.frame(r, Some(s), Some(tenant), t.broadcast_new_title);
    c.render(
        r,
        status,
        "broadcasts.html",
        context! {
            tenant_name => tenant.name.clone(),
            form => true,
            action => lang_path(r, format!("/t/{}/broadcasts/new", tenant.id)),
            back => lang_path(r, format!("/t/{}/broadcasts", tenant.id)),
            csrf => s.session.csrf_secret.clone(),
            subject => draft.subject.clone(),
            body => draft.body.clone(),
            stages,
            channel_choices,
            later => draft.later,
            at => draft.at.clone(),
            error_title => !problems.is_empty(),
            errors,
            subject_error => error_of("subject"),
            body_error => error_of("body"),
            stage_error => error_of("stage-pregnancy"),
            channel_error => error_of("channels-first"),
            at_error => error_of("at"),
            ..frame
        },
    )
}

pub(super) async fn broadcast_new(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_get(&r, &s, &tenant_id, Permission::Broadcasts)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    render_form(&c, &r, &s, &tenant, &Draft::default(), &[]).await
}

/// The form's POST: back to the form (to change it, or with its
/// problems), or the confirmation page. Creates nothing.
pub(super) async fn broadcast_check(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Broadcasts)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let draft = Draft::of(&pairs);
    if field(&pairs, "edit").is_some() {
        return render_form(&c, &r, &s, &tenant, &draft, &[]).await;
    }
    let channels = match c.store().channels(&tenant.id).await {
        Ok(ch) => ch,
        Err(e) => return c.failed(e),
    };
    let request = match check(&c, t, &draft, &channels) {
        Ok(b) => b,
        Err(problems) => return render_form(&c, &r, &s, &tenant, &draft, &problems).await,
    };
    let reach = match c
        .app
        .scheduler
        .reach(&tenant.id, &request.audience, request.send_at, SAMPLE)
        .await
    {
        Ok(r) => r,
        Err(e) => return c.failed(e),
    };
    let mut sample = Vec::new();
    for id in &reach.sample {
        let household = match c.store().subscriber(&tenant.id, id).await {
            Ok(h) => h,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return c.failed(e),
        };
        let contacts = household
            .contacts
            .iter()
            .filter(|ct| ct.status == ContactStatus::Valid)
            .filter(|ct| {
                request.audience.channels.is_empty()
                    || request.audience.channels.contains(&ct.channel)
            })
            .map(|ct| format!("{}: {}", ct.channel, mask(&ct.address)))
            .collect::<Vec<_>>()
            .join(", ");
        sample.push(context! {
            id => household.id.clone(),
            external_id => household.external_id.clone(),
            contacts,
        });
    }
    let previews: Vec<Value> = reach
        .by_channel
        .iter()
        .map(|(name, n)| {
            let email = channels
                .iter()
                .find(|ch| &ch.name == name)
                .is_some_and(|ch| ch.plugin_id.contains("email"));
            context! {
                heading => t.broadcast_preview_on.replace("{channel}", name).replace("{n}", &n.to_string()),
                subject => if email { request.subject.clone() } else { None },
                email,
                body => request.body.clone(),
            }
        })
        .collect();
    let (stages, channel_words) = audience_words(t, &draft.audience());
    let reach_words = if reach.contacts == 0 {
        t.broadcast_reach_none.to_string()
    } else {
        t.broadcast_reach_body
            .replace("{households}", &reach.households.to_string())
            .replace("{contacts}", &reach.contacts.to_string())
    };
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.broadcast_confirm_title);
    c.render(
        &r,
        StatusCode::OK,
        "broadcasts.html",
        context! {
            tenant_name => tenant.name.clone(),
            confirm => true,
            send_action => lang_path(&r, format!("/t/{}/broadcasts", tenant.id)),
            edit_action => lang_path(&r, format!("/t/{}/broadcasts/new", tenant.id)),
            csrf => s.session.csrf_secret.clone(),
            hidden => draft.hidden(),
            households => reach.households,
            contacts => reach.contacts,
            reach_words,
            sample,
            previews,
            stages,
            channel_words,
            send_at => request.send_at.map(local_time).unwrap_or_else(|| t.broadcast_now.to_string()),
            ..frame
        },
    )
}

/// The confirmation's POST: the broadcast, made as the API makes it.
pub(super) async fn broadcast_create(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Broadcasts)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let draft = Draft::of(&pairs);
    let channels = match c.store().channels(&tenant.id).await {
        Ok(ch) => ch,
        Err(e) => return c.failed(e),
    };
    let request = match check(&c, t, &draft, &channels) {
        Ok(b) => b,
        Err(problems) => return render_form(&c, &r, &s, &tenant, &draft, &problems).await,
    };
    let audience = request.audience_json.clone();
    let (b, _) = match c.app.scheduler.broadcast(&tenant.id, request).await {
        Ok(b) => b,
        Err(e) => return c.failed(e),
    };
    tracing::info!(tenant = %tenant.id, id = %b.id, deliveries = b.deliveries, "broadcast created from the console");
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "broadcast_created",
            serde_json::json!({
                "broadcast": b.id,
                "deliveries": b.deliveries,
                "audience": audience,
                "send_at": b.send_at,
            }),
        )
        .await
    {
        return resp;
    }
    see_other(&lang_path(
        &r,
        format!("/t/{}/broadcasts/{}?created=1", tenant.id, b.id),
    ))
}

/// The broadcast of the tenant, or the 404 page.
async fn broadcast_of(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    id: &str,
) -> Result<Broadcast, Response> {
    match c.store().broadcast(&tenant.id, id).await {
        Ok(b) => Ok(b),
        Err(StoreError::NotFound(_) | StoreError::Invalid { .. }) => Err(c.not_found(r, Some(s))),
        Err(e) => Err(c.failed(e)),
    }
}

pub(super) async fn broadcast_page(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_get(&r, &s, &tenant_id, Permission::Broadcasts)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let b = match broadcast_of(&c, &r, &s, &tenant, &id).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let t = r.t();
    let counts = match c.store().broadcast_progress(&tenant.id, &b.id).await {
        Ok(p) => p,
        Err(e) => return c.failed(e),
    };
    let waiting = counts
        .iter()
        .any(|(st, n)| *n > 0 && (st == "pending" || st == "held"));
    let (stages, channel_words) = audience_words(t, &b.audience);
    let cancelled = r
        .query("cancelled")
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| t.broadcast_cancelled_body.replace("{n}", &n.to_string()));
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.broadcast_title);
    c.render(
        &r,
        StatusCode::OK,
        "broadcasts.html",
        context! {
            tenant_name => tenant.name.clone(),
            show => true,
            back => lang_path(&r, format!("/t/{}/broadcasts", tenant.id)),
            created => r.query("created") == Some("1"),
            cancelled,
            id => b.id.clone(),
            subject => b.subject.clone(),
            body => b.body.clone(),
            stages,
            channel_words,
            send_at => local_time(b.send_at),
            created_at => local_time(b.created_at),
            deliveries => b.deliveries,
            progress => progress_rows(t, &counts),
            waiting,
            cancel_action => lang_path(&r, format!("/t/{}/broadcasts/{}/cancel", tenant.id, b.id)),
            csrf => s.session.csrf_secret.clone(),
            ..frame
        },
    )
}

pub(super) async fn broadcast_cancel(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Broadcasts)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let b = match broadcast_of(&c, &r, &s, &tenant, &id).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let cancelled = match c.store().cancel_broadcast(&tenant.id, &b.id).await {
        Ok(n) => n,
        Err(StoreError::NotFound(_)) => return c.not_found(&r, Some(&s)),
        Err(e) => return c.failed(e),
    };
    tracing::info!(tenant = %tenant.id, id = %b.id, cancelled, "broadcast cancelled from the console");
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "broadcast_cancelled",
            serde_json::json!({ "broadcast": b.id, "cancelled": cancelled }),
        )
        .await
    {
        return resp;
    }
    see_other(&lang_path(
        &r,
        format!("/t/{}/broadcasts/{}?cancelled={cancelled}", tenant.id, b.id),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_partly_hidden_and_times_are_japan_time() {
        assert_eq!(mask("hanako@example.jp"), "h*****@example.jp");
        assert_eq!(mask("U1234567890abcdef"), "U12****ef");
        assert_eq!(mask("ab"), "a*");
        assert_eq!(
            japan_time("2027-04-01 09:00").map(|t| t.to_rfc3339()),
            Some("2027-04-01T00:00:00+00:00".into())
        );
        assert_eq!(
            japan_time("2027-04-01T09:00"),
            japan_time("2027-04-01 09:00")
        );
        assert_eq!(japan_time("tomorrow"), None);
    }

    #[test]
    fn stages_make_the_api_audience() {
        let draft = Draft {
            stages: vec!["pregnancy".into(), "0-1".into(), "2-3".into()],
            channels: vec!["line".into()],
            ..Draft::default()
        };
        assert_eq!(
            draft.audience(),
            serde_json::json!({
                "pregnant": true,
                "child_age_months": [{"from": 0, "to": 12}, {"from": 24, "to": 36}],
                "channels": ["line"],
            })
        );
        assert_eq!(Draft::default().audience(), serde_json::json!({}));
    }
}
