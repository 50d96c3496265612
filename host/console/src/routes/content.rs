//! Local content: the tenant's inserts per message or stage and its own
//! messages, each with a preview of exactly what a parent reads, per
//! locale and channel. The checks and the store calls are the API's
//! (`tayori_api::catalog::{checked_insert, checked_tenant_message}`), the
//! messages listed are the planner's (`plan::tenant_messages`), and the
//! preview is the dispatcher's render (`Renderer::message`) for an example
//! household on the day the message is sent.

use super::*;

use std::collections::BTreeMap;

use tayori_api::catalog::{
    ContentFile, TEMPLATE_VARIABLES, checked_insert, checked_tenant_message,
};
use tayori_core::domain::catalog::file::Problem;
use tayori_core::{Anchor, InsertTarget, LocalInsert, Locale, MessageContent, ScheduleRule};
use tayori_scheduler::plan::{PlannedMessage, tenant_messages};
use tayori_scheduler::render::{ChildOnDay, Renderer};

/// The rule kinds the own-message form offers, as the API writes them.
const RULE_KINDS: [&str; 5] = [
    "pregnancy_day",
    "child_day",
    "child_month",
    "child_year",
    "school_entry",
];
/// The example expecting household is this many days before its due date
/// today (12 weeks pregnant).
const EXPECTING_DAYS_TO_DUE: i64 = 196;
/// The example born household's child was born this many days ago.
const BORN_DAYS_AGO: i64 = 100;

fn lang_path(r: &Req, path: String) -> String {
    match r.lang {
        Lang::Ja => path,
        Lang::En => format!("{path}?lang=en"),
    }
}

/// What the tenant sends: the planner's list (its programs' catalog
/// messages, then its own), the inserts and the channels.
struct Sent {
    messages: Vec<std::sync::Arc<PlannedMessage>>,
    inserts: Vec<LocalInsert>,
    channels: Vec<tayori_core::Channel>,
}

async fn sent(c: &Inner, tenant: &Tenant) -> Result<Sent, StoreError> {
    let catalog = c.store().catalog_messages(None).await?;
    let own = c.store().tenant_messages(&tenant.id).await?;
    Ok(Sent {
        messages: tenant_messages(tenant, &catalog, &own),
        inserts: c.store().local_inserts(&tenant.id).await?,
        channels: c.store().channels(&tenant.id).await?,
    })
}

fn rule_words(rule: &ScheduleRule) -> String {
    serde_json::to_value(rule)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .and_then(|o| {
            o.into_iter().next().map(|(k, v)| match v {
                serde_json::Value::Object(inner) => format!(
                    "{k}: {}",
                    inner
                        .get("offset_days")
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ),
                v => format!("{k}: {v}"),
            })
        })
        .unwrap_or_default()
}

/// The example household that gets a message with `rule`, on the day it
/// is sent: an expecting one for the pregnancy track, else a born one.
fn example_child(rule: &ScheduleRule, today: NaiveDate) -> (bool, NaiveDate, ChildOnDay) {
    if matches!(rule, ScheduleRule::PregnancyDay(_)) {
        let due = today + Duration::days(EXPECTING_DAYS_TO_DUE);
        let day = rule.date_for(Anchor::Due(due)).unwrap_or(today);
        (
            true,
            due,
            ChildOnDay {
                anchor: Anchor::Due(due),
                due_date: Some(due),
                birth_date: None,
                day,
            },
        )
    } else {
        let birth = today - Duration::days(BORN_DAYS_AGO);
        let day = rule.date_for(Anchor::Birth(birth)).unwrap_or(today);
        (
            false,
            birth,
            ChildOnDay {
                anchor: Anchor::Birth(birth),
                due_date: Some(birth),
                birth_date: Some(birth),
                day,
            },
        )
    }
}

/// The preview of `message` with `inserts`: per locale the message has
/// (Japanese first), what each of the tenant's channels is handed, as the
/// dispatcher renders it.
fn previews(
    c: &Inner,
    t: &Texts,
    tenant: &Tenant,
    today: NaiveDate,
    message: &PlannedMessage,
    inserts: &[LocalInsert],
    channels: &[tayori_core::Channel],
) -> Vec<Value> {
    let renderer = Renderer::default();
    let (expecting, date, child) = example_child(&message.rule, today);
    let household = if expecting {
        t.preview_expecting.replace("{date}", &date.to_string())
    } else {
        t.preview_born.replace("{date}", &date.to_string())
    };
    let mut locales = vec![Locale::Ja];
    if message.content.contains_key(&Locale::En) {
        locales.push(Locale::En);
    }
    locales
        .into_iter()
        .map(|locale| {
            let rendered = renderer.message(
                &message.content,
                &message.id,
                message.stage.as_deref(),
                inserts,
                locale,
                &tenant.name,
                Some(&child),
            );
            let (subject, body, error) = match rendered {
                Ok((subject, body, _)) => (subject, body, None),
                Err(e) => (None, String::new(), Some(e)),
            };
            let channels: Vec<Value> = channels
                .iter()
                .map(|ch| {
                    context! {
                        name => ch.name.clone(),
                        plugin => ch.plugin_id.clone(),
                        // The dispatcher's own test of whether the
                        // channel's recipients get a stop link.
                        stop_link => c.app.scheduler.dispatcher().stop_links()
                            .is_some_and(|links| links.applies_to(ch)),
                    }
                })
                .collect();
            context! {
                locale => locale.as_str(),
                heading => text::locale(t, locale.as_str()),
                household => household.clone(),
                sent_on => t.preview_sent_on.replace("{date}", &child.day.to_string()),
                subject,
                body,
                error,
                channels,
            }
        })
        .collect()
}

/// The stages of the tenant's messages, in catalog order.
fn stages(messages: &[std::sync::Arc<PlannedMessage>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in messages {
        if let Some(s) = &m.stage
            && !out.contains(s)
        {
            out.push(s.clone());
        }
    }
    out
}

fn has_insert(inserts: &[LocalInsert], target: &InsertTarget) -> bool {
    inserts.iter().any(|i| &i.target == target)
}

pub(super) async fn content_list(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let sent = match sent(&c, &tenant).await {
        Ok(x) => x,
        Err(e) => return c.failed(e),
    };
    let own = match c.store().tenant_messages(&tenant.id).await {
        Ok(x) => x,
        Err(e) => return c.failed(e),
    };
    let insert_href = |kind: &str, key: &str| {
        lang_path(&r, format!("/t/{}/content/inserts/{kind}/{key}", tenant.id))
    };
    let stage_rows: Vec<Value> = stages(&sent.messages)
        .iter()
        .map(|stage| {
            let target = InsertTarget::Stage(stage.clone());
            context! {
                stage => stage.clone(),
                count => sent.messages.iter().filter(|m| m.stage.as_ref() == Some(stage)).count(),
                insert => has_insert(&sent.inserts, &target),
                href => insert_href("stage", stage),
            }
        })
        .collect();
    let own_ids: Vec<&str> = own.iter().map(|m| m.id.as_str()).collect();
    let message_rows: Vec<Value> = sent
        .messages
        .iter()
        .filter(|m| !own_ids.contains(&m.id.as_str()))
        .map(|m| {
            let target = InsertTarget::Message(m.id.clone());
            context! {
                id => m.id.clone(),
                stage => m.stage.clone(),
                rule => rule_words(&m.rule),
                subject => m.content.get(&Locale::Ja).map(|c| c.subject.clone()),
                insert => has_insert(&sent.inserts, &target),
                href => insert_href("message", &m.id),
            }
        })
        .collect();
    let own_rows: Vec<Value> = own
        .iter()
        .map(|m| {
            context! {
                id => m.id.clone(),
                stage => m.stage.clone(),
                rule => rule_words(&m.rule),
                subject => m.content.get(&Locale::Ja).map(|c| c.subject.clone()),
                href => lang_path(&r, format!("/t/{}/content/messages/{}", tenant.id, m.id)),
            }
        })
        .collect();
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.content_title);
    c.render(
        &r,
        StatusCode::OK,
        "content.html",
        context! {
            list => true,
            tenant_name => tenant.name.clone(),
            stages => stage_rows,
            messages => message_rows,
            own => own_rows,
            new_href => lang_path(&r, format!("/t/{}/content/new-message", tenant.id)),
            done => r.query("done").map(str::to_string),
            ..frame
        },
    )
}

// ---------------------------------------------------------------- inserts

/// An insert's editor: the texts as typed, what is wrong, the preview.
struct InsertForm {
    ja: String,
    en: String,
    problem: Option<Problem>,
    preview: bool,
}

fn insert_field_id(problem: &Problem) -> &'static str {
    if problem.field.ends_with(".en") {
        "text-en"
    } else {
        "text-ja"
    }
}

async fn render_insert(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    target: &InsertTarget,
    form: InsertForm,
) -> Response {
    let t = r.t();
    let sent = match sent(c, tenant).await {
        Ok(x) => x,
        Err(e) => return c.failed(e),
    };
    // The message previewed: the message itself, or a stage's first.
    let shown = match target {
        InsertTarget::Message(id) => sent.messages.iter().find(|m| &m.id == id).cloned(),
        InsertTarget::Stage(stage) => sent
            .messages
            .iter()
            .find(|m| m.stage.as_ref() == Some(stage))
            .cloned(),
    };
    let existing = has_insert(&sent.inserts, target);
    let previews = match (&shown, form.preview && form.problem.is_none()) {
        (Some(m), true) => {
            // The tenant's inserts with this one as typed.
            let mut inserts: Vec<LocalInsert> = sent
                .inserts
                .iter()
                .filter(|i| &i.target != target)
                .cloned()
                .collect();
            let mut content = BTreeMap::new();
            for (locale, text) in [(Locale::Ja, &form.ja), (Locale::En, &form.en)] {
                if !text.trim().is_empty() {
                    content.insert(locale, text.clone());
                }
            }
            inserts.push(LocalInsert {
                target: target.clone(),
                content,
            });
            previews(c, t, tenant, c.today(tenant), m, &inserts, &sent.channels)
        }
        _ => Vec::new(),
    };
    let (kind, key) = (target.kind(), target.key());
    let title = match target {
        InsertTarget::Message(_) => t.insert_message_title,
        InsertTarget::Stage(_) => t.insert_stage_title,
    };
    let status = if form.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let frame = c.frame(r, Some(s), Some(tenant), title);
    let base = format!("/t/{}/content/inserts/{kind}/{key}", tenant.id);
    c.render(
        r,
        status,
        "content.html",
        context! {
            insert => true,
            tenant_name => tenant.name.clone(),
            back => lang_path(r, format!("/t/{}/content", tenant.id)),
            kind,
            key,
            shown => shown.as_ref().map(|m| m.id.clone()),
            shown_subject => shown.as_ref().and_then(|m| m.content.get(&Locale::Ja)).map(|c| c.subject.clone()),
            action => lang_path(r, base.clone()),
            delete_href => existing.then(|| lang_path(r, format!("{base}/delete"))),
            csrf => s.session.csrf_secret.clone(),
            ja => form.ja,
            en => form.en,
            error => form.problem.as_ref().map(|p| p.message.clone()),
            error_field => form.problem.as_ref().map(insert_field_id),
            error_title => form.problem.is_some(),
            previews,
            previewed => form.preview && form.problem.is_none(),
            variables => variable_names(),
            ..frame
        },
    )
}

/// The insert's target, or the 404 page: a kind that is not one, or a key
/// that names nothing the tenant sends.
async fn insert_target_of(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    kind: &str,
    key: &str,
) -> Result<InsertTarget, Response> {
    let Some(target) = tayori_api::catalog::insert_target(kind, key) else {
        return Err(c.not_found(r, Some(s)));
    };
    let known = match sent(c, tenant).await {
        Ok(sent) => {
            has_insert(&sent.inserts, &target)
                || sent.messages.iter().any(|m| match &target {
                    InsertTarget::Message(id) => &m.id == id,
                    InsertTarget::Stage(stage) => m.stage.as_ref() == Some(stage),
                })
        }
        Err(e) => return Err(c.failed(e)),
    };
    if known {
        Ok(target)
    } else {
        Err(c.not_found(r, Some(s)))
    }
}

pub(super) async fn insert_page(
    State(c): State<Shared>,
    Path((tenant_id, kind, key)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let target = match insert_target_of(&c, &r, &s, &tenant, &kind, &key).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let inserts = match c.store().local_inserts(&tenant.id).await {
        Ok(x) => x,
        Err(e) => return c.failed(e),
    };
    let stored = inserts.iter().find(|i| i.target == target);
    let text_of = |l: Locale| {
        stored
            .and_then(|i| i.content.get(&l).cloned())
            .unwrap_or_default()
    };
    let form = InsertForm {
        ja: text_of(Locale::Ja),
        en: text_of(Locale::En),
        problem: None,
        // An insert that exists is shown in place at once.
        preview: stored.is_some(),
    };
    render_insert(&c, &r, &s, &tenant, &target, form).await
}

/// The texts posted, per locale (a blank one left out).
fn posted_texts(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (locale, name) in [("ja", "text_ja"), ("en", "text_en")] {
        let text = field(pairs, name).unwrap_or_default();
        if !text.trim().is_empty() {
            out.insert(locale.to_string(), text.replace("\r\n", "\n"));
        }
    }
    out
}

pub(super) async fn insert_post(
    State(c): State<Shared>,
    Path((tenant_id, kind, key)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Content)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let target = match insert_target_of(&c, &r, &s, &tenant, &kind, &key).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let written = posted_texts(&pairs);
    let checked = match checked_insert(c.store(), &tenant.id, target.clone(), &written).await {
        Ok(x) => x,
        Err(e) => return c.failed(e),
    };
    let saving = field(&pairs, "action") == Some("save");
    let mut form = InsertForm {
        ja: written.get("ja").cloned().unwrap_or_default(),
        en: written.get("en").cloned().unwrap_or_default(),
        problem: None,
        preview: true,
    };
    let insert = match checked {
        Ok(insert) => insert,
        Err(problem) => {
            form.problem = Some(problem);
            return render_insert(&c, &r, &s, &tenant, &target, form).await;
        }
    };
    if !saving {
        return render_insert(&c, &r, &s, &tenant, &target, form).await;
    }
    if let Err(e) = c.store().put_local_insert(&tenant.id, &insert).await {
        return c.failed(e);
    }
    c.app.scheduler.changed(Some(&tenant.id));
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "content_insert_saved",
            serde_json::json!({ "kind": target.kind(), "key": target.key() }),
        )
        .await
    {
        return resp;
    }
    see_other(&done_path(&r, &tenant, "saved"))
}

fn done_path(r: &Req, tenant: &Tenant, done: &str) -> String {
    let to = format!("/t/{}/content?done={done}", tenant.id);
    match r.lang {
        Lang::Ja => to,
        Lang::En => format!("{to}&lang=en"),
    }
}

/// The confirmation before a delete.
fn render_delete(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    what: String,
    action: String,
    back: String,
) -> Response {
    let t = r.t();
    let frame = c.frame(r, Some(s), Some(tenant), t.delete_title);
    c.render(
        r,
        StatusCode::OK,
        "content.html",
        context! {
            delete => true,
            tenant_name => tenant.name.clone(),
            what,
            action,
            back,
            csrf => s.session.csrf_secret.clone(),
            ..frame
        },
    )
}

pub(super) async fn insert_delete_page(
    State(c): State<Shared>,
    Path((tenant_id, kind, key)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let target = match insert_target_of(&c, &r, &s, &tenant, &kind, &key).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let base = format!(
        "/t/{}/content/inserts/{}/{}",
        tenant.id,
        target.kind(),
        target.key()
    );
    render_delete(
        &c,
        &r,
        &s,
        &tenant,
        r.t().delete_insert.replace("{key}", target.key()),
        lang_path(&r, format!("{base}/delete")),
        lang_path(&r, base),
    )
}

pub(super) async fn insert_delete(
    State(c): State<Shared>,
    Path((tenant_id, kind, key)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Content)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let Some(target) = tayori_api::catalog::insert_target(&kind, &key) else {
        return c.not_found(&r, Some(&s));
    };
    match c.store().delete_local_insert(&tenant.id, &target).await {
        Ok(()) | Err(StoreError::NotFound(_)) => {}
        Err(e) => return c.failed(e),
    }
    c.app.scheduler.changed(Some(&tenant.id));
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "content_insert_deleted",
            serde_json::json!({ "kind": target.kind(), "key": target.key() }),
        )
        .await
    {
        return resp;
    }
    see_other(&done_path(&r, &tenant, "deleted"))
}

// ---------------------------------------------------------------- own messages

/// An own message's editor, as typed.
#[derive(Default)]
struct OwnForm {
    id: String,
    stage: String,
    rule_kind: String,
    rule_number: String,
    ja_subject: String,
    ja_body: String,
    en_subject: String,
    en_body: String,
    problem: Option<Problem>,
    preview: bool,
}

impl OwnForm {
    fn of(m: &tayori_core::TenantMessage) -> Self {
        let value = serde_json::to_value(m.rule).unwrap_or_default();
        let (rule_kind, rule_number) = value
            .as_object()
            .and_then(|o| o.iter().next())
            .map(|(k, v)| {
                let n = v.get("offset_days").unwrap_or(v);
                (k.clone(), n.to_string())
            })
            .unwrap_or_default();
        let text = |l: Locale| {
            m.content.get(&l).cloned().unwrap_or(MessageContent {
                subject: String::new(),
                body: String::new(),
            })
        };
        Self {
            id: m.id.clone(),
            stage: m.stage.clone().unwrap_or_default(),
            rule_kind,
            rule_number,
            ja_subject: text(Locale::Ja).subject,
            ja_body: text(Locale::Ja).body,
            en_subject: text(Locale::En).subject,
            en_body: text(Locale::En).body,
            problem: None,
            preview: true,
        }
    }

    fn posted(pairs: &[(String, String)], id: Option<&str>) -> Self {
        let f = |name: &str| field(pairs, name).unwrap_or_default().replace("\r\n", "\n");
        Self {
            id: id
                .map(str::to_string)
                .unwrap_or_else(|| f("id").trim().to_string()),
            stage: f("stage").trim().to_string(),
            rule_kind: f("rule_kind"),
            rule_number: f("rule_number").trim().to_string(),
            ja_subject: f("ja_subject"),
            ja_body: f("ja_body"),
            en_subject: f("en_subject"),
            en_body: f("en_body"),
            problem: None,
            preview: true,
        }
    }

    /// The rule as the API takes it (`{"child_month": 4}`); what is not a
    /// number goes as typed, for the domain's check to name.
    fn rule(&self) -> serde_json::Value {
        let n: serde_json::Value = self
            .rule_number
            .parse::<i64>()
            .map(Into::into)
            .unwrap_or_else(|_| self.rule_number.clone().into());
        let kind = if self.rule_kind.is_empty() {
            "rule"
        } else {
            self.rule_kind.as_str()
        };
        if kind == "school_entry" {
            serde_json::json!({ kind: { "offset_days": n } })
        } else {
            serde_json::json!({ kind: n })
        }
    }

    /// The content as the API takes it: Japanese always, English when
    /// its text is given.
    fn content(&self) -> BTreeMap<String, ContentFile> {
        let mut out = BTreeMap::new();
        out.insert(
            "ja".to_string(),
            ContentFile {
                subject: self.ja_subject.clone(),
                body: self.ja_body.clone(),
            },
        );
        if !self.en_subject.trim().is_empty() || !self.en_body.trim().is_empty() {
            out.insert(
                "en".to_string(),
                ContentFile {
                    subject: self.en_subject.clone(),
                    body: self.en_body.clone(),
                },
            );
        }
        out
    }
}

fn own_field_id(problem: &Problem) -> &'static str {
    let f = problem.field.as_str();
    match f {
        "id" => "id",
        "stage" => "stage",
        "rule" => "rule-number",
        _ if f.contains(" en subject") => "en-subject",
        _ if f.contains(" en ") => "en-body",
        _ if f.contains(" ja subject") => "ja-subject",
        _ => "ja-body",
    }
}

async fn render_own(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    editing: bool,
    form: OwnForm,
) -> Response {
    let t = r.t();
    let sent = match sent(c, tenant).await {
        Ok(x) => x,
        Err(e) => return c.failed(e),
    };
    let previews = if form.preview && form.problem.is_none() {
        match checked_tenant_message(
            &form.id,
            (!form.stage.is_empty()).then_some(form.stage.as_str()),
            &form.rule(),
            &form.content(),
        ) {
            Ok(m) => previews(
                c,
                t,
                tenant,
                c.today(tenant),
                &PlannedMessage::from(&m),
                &sent.inserts,
                &sent.channels,
            ),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let title = if editing {
        t.own_edit_title
    } else {
        t.own_new_title
    };
    let status = if form.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let path = if editing {
        format!("/t/{}/content/messages/{}", tenant.id, form.id)
    } else {
        format!("/t/{}/content/new-message", tenant.id)
    };
    let kinds: Vec<Value> = RULE_KINDS
        .iter()
        .map(|k| {
            context! {
                value => *k,
                label => rule_kind_words(t, k),
                checked => form.rule_kind == *k,
            }
        })
        .collect();
    let frame = c.frame(r, Some(s), Some(tenant), title);
    c.render(
        r,
        status,
        "content.html",
        context! {
            own_form => true,
            editing,
            tenant_name => tenant.name.clone(),
            back => lang_path(r, format!("/t/{}/content", tenant.id)),
            action => lang_path(r, path.clone()),
            delete_href => editing.then(|| lang_path(r, format!("{path}/delete"))),
            csrf => s.session.csrf_secret.clone(),
            id => form.id.clone(),
            stage => form.stage.clone(),
            kinds,
            rule_number => form.rule_number.clone(),
            ja_subject => form.ja_subject.clone(),
            ja_body => form.ja_body.clone(),
            en_subject => form.en_subject.clone(),
            en_body => form.en_body.clone(),
            error => form.problem.as_ref().map(|p| p.message.clone()),
            error_field => form.problem.as_ref().map(own_field_id),
            error_title => form.problem.is_some(),
            previews,
            previewed => form.preview && form.problem.is_none(),
            variables => variable_names(),
            ..frame
        },
    )
}

fn rule_kind_words(t: &Texts, kind: &str) -> &'static str {
    match kind {
        "pregnancy_day" => t.rule_pregnancy_day,
        "child_day" => t.rule_child_day,
        "child_month" => t.rule_child_month,
        "child_year" => t.rule_child_year,
        _ => t.rule_school_entry,
    }
}

/// The tenant's own message `id`, or the 404 page.
async fn own_of(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    id: &str,
) -> Result<tayori_core::TenantMessage, Response> {
    match c.store().tenant_messages(&tenant.id).await {
        Ok(list) => list
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| c.not_found(r, Some(s))),
        Err(e) => Err(c.failed(e)),
    }
}

pub(super) async fn own_new_page(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let form = OwnForm {
        rule_kind: "child_month".into(),
        ..OwnForm::default()
    };
    render_own(&c, &r, &s, &tenant, false, form).await
}

pub(super) async fn own_page(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let message = match own_of(&c, &r, &s, &tenant, &id).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    render_own(&c, &r, &s, &tenant, true, OwnForm::of(&message)).await
}

async fn own_save(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    editing: bool,
    pairs: &[(String, String)],
    mut form: OwnForm,
) -> Response {
    let stage = (!form.stage.is_empty()).then(|| form.stage.clone());
    let message =
        match checked_tenant_message(&form.id, stage.as_deref(), &form.rule(), &form.content()) {
            Ok(m) => m,
            Err(problem) => {
                form.problem = Some(problem);
                return render_own(c, r, s, tenant, editing, form).await;
            }
        };
    if field(pairs, "action") != Some("save") {
        return render_own(c, r, s, tenant, editing, form).await;
    }
    if !editing {
        // A new message does not replace one of the tenant's.
        match c.store().tenant_messages(&tenant.id).await {
            Ok(list) if list.iter().any(|m| m.id == form.id) => {
                form.problem = Some(Problem::new("id", r.t().own_id_taken));
                return render_own(c, r, s, tenant, editing, form).await;
            }
            Ok(_) => {}
            Err(e) => return c.failed(e),
        }
    }
    match c.store().put_tenant_message(&tenant.id, &message).await {
        Ok(()) => {}
        Err(StoreError::Conflict(why)) => {
            form.problem = Some(Problem::new("id", why));
            return render_own(c, r, s, tenant, editing, form).await;
        }
        Err(StoreError::Invalid { field, message }) => {
            form.problem = Some(Problem::new(field, message));
            return render_own(c, r, s, tenant, editing, form).await;
        }
        Err(e) => return c.failed(e),
    }
    c.app.scheduler.changed(Some(&tenant.id));
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "content_message_saved",
            serde_json::json!({ "id": message.id }),
        )
        .await
    {
        return resp;
    }
    see_other(&done_path(r, tenant, "saved"))
}

pub(super) async fn own_new_post(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Content)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let form = OwnForm::posted(&pairs, None);
    own_save(&c, &r, &s, &tenant, false, &pairs, form).await
}

pub(super) async fn own_post(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Content)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if let Err(resp) = own_of(&c, &r, &s, &tenant, &id).await {
        return resp;
    }
    let form = OwnForm::posted(&pairs, Some(&id));
    own_save(&c, &r, &s, &tenant, true, &pairs, form).await
}

pub(super) async fn own_delete_page(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Content).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let message = match own_of(&c, &r, &s, &tenant, &id).await {
        Ok(m) => m,
        Err(resp) => return resp,
    };
    let base = format!("/t/{}/content/messages/{}", tenant.id, message.id);
    render_delete(
        &c,
        &r,
        &s,
        &tenant,
        r.t().delete_message.replace("{id}", &message.id),
        lang_path(&r, format!("{base}/delete")),
        lang_path(&r, base),
    )
}

pub(super) async fn own_delete(
    State(c): State<Shared>,
    Path((tenant_id, id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Content)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match c.store().delete_tenant_message(&tenant.id, &id).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return c.not_found(&r, Some(&s)),
        Err(e) => return c.failed(e),
    }
    c.app.scheduler.changed(Some(&tenant.id));
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "content_message_deleted",
            serde_json::json!({ "id": id }),
        )
        .await
    {
        return resp;
    }
    see_other(&done_path(&r, &tenant, "deleted"))
}

impl Inner {
    /// The tenant's day today (the API's).
    fn today(&self, tenant: &Tenant) -> NaiveDate {
        tayori_api::front_door::today(tenant, self.now())
    }
}

/// The template variables as a template writes them: `{{ tenant_name }}`.
fn variable_names() -> Vec<String> {
    TEMPLATE_VARIABLES
        .iter()
        .map(|(n, _)| format!("{{{{ {n} }}}}"))
        .collect()
}
