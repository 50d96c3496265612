//! The operator's plugin pages: every plugin with its active version, its
//! canaries and the channels using it, and per version the deliveries of
//! the last 7 days by outcome (the error rate); a plugin's page activates
//! a version for every tenant or for chosen tenants (a canary), rolls back
//! with one button and ends a tenant's canary. Every change is the API's
//! own function (`tayori_api::plugins::activate` and `rollback`, which
//! `POST /v1/plugins/...` call), so the console refuses exactly what the
//! API refuses; and each is in the audit log. Operators only: staff get
//! the same 404 as a missing page.

use super::*;

use std::collections::BTreeMap;

use tayori_api::ApiError;
use tayori_api::auth::Principal;
use tayori_api::plugins::{self as api, PluginView};
use tayori_core::{OutboxStatus, PluginOutcome};

/// The days the error rate looks back over.
const WINDOW_DAYS: i64 = 7;
/// Up to this many tenants, the canary form offers a box to tick for
/// each; beyond, their ids are typed.
const MAX_TENANT_CHOICES: usize = 100;
/// A failure rate below this (per cent) reads "working"...
const SOME_FAILURES_PERCENT: f64 = 2.0;
/// ...and from this on, "many failures".
const MANY_FAILURES_PERCENT: f64 = 10.0;
/// Characters of a digest shown.
const DIGEST_SHOWN: usize = 12;

pub(super) fn op_with_lang(r: &Req, path: String) -> String {
    match r.lang {
        Lang::Ja => path,
        Lang::En => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}lang=en")
        }
    }
}

/// A query value, percent-encoded.
pub(super) fn op_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The operator, or the same 404 page as a missing page.
pub(super) fn operator_only(c: &Inner, r: &Req, s: &Signed) -> Result<(), Response> {
    if s.account.role == ConsoleRole::Operator {
        Ok(())
    } else {
        Err(c.not_found(r, Some(s)))
    }
}

/// The checks of an operator's POST, in their order: the operator (else
/// the 404 page), the session's CSRF token (else a 403 page, nothing
/// changed).
pub(super) fn operator_post(
    c: &Inner,
    r: &Req,
    s: &Signed,
    pairs: &[(String, String)],
) -> Result<(), Response> {
    operator_only(c, r, s)?;
    if !session_form_ok(s, pairs) {
        return Err(c.forbidden_form(r, Some(s)));
    }
    Ok(())
}

/// An API failure the console cannot put right: logged, a 500 page.
pub(super) fn op_api_failed(e: ApiError) -> Response {
    tracing::error!(error = %e.message, "console: an operator call failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<!doctype html><title>500</title><p>Something went wrong. Try again later.</p>".into(),
    )
}

/// Deliveries of one version: sent, and failed for good (given up on
/// included).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    sent: u64,
    failed: u64,
}

fn counts_of(outcomes: &[PluginOutcome], plugin: &str) -> BTreeMap<String, Counts> {
    let mut by: BTreeMap<String, Counts> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.plugin_id == plugin) {
        let c = by.entry(o.version.clone()).or_default();
        match o.status {
            OutboxStatus::Sent => c.sent += o.count,
            OutboxStatus::Failed | OutboxStatus::Dead => c.failed += o.count,
            // A retry waiting, or an attempt under way: no outcome yet.
            _ => {}
        }
    }
    by
}

/// The counts, the rate as a percentage and the status in words.
fn rate_view(t: &Texts, c: Counts) -> Value {
    let total = c.sent + c.failed;
    let (rate, key, health) = if total == 0 {
        ("—".to_string(), "none", t.pl_health_none)
    } else {
        #[allow(clippy::cast_precision_loss)]
        let percent = c.failed as f64 * 100.0 / total as f64;
        let (key, health) = if percent < SOME_FAILURES_PERCENT {
            ("ok", t.pl_health_ok)
        } else if percent < MANY_FAILURES_PERCENT {
            ("some", t.pl_health_some)
        } else {
            ("many", t.pl_health_many)
        };
        (format!("{percent:.1}%"), key, health)
    };
    context! {
        sent => c.sent,
        failed => c.failed,
        rate,
        health_key => key,
        health,
    }
}

/// Tenant ids with their names, for the pages' words.
async fn tenant_names(c: &Inner) -> Result<BTreeMap<String, String>, Response> {
    Ok(c.store()
        .tenants()
        .await
        .map_err(|e| c.failed(e))?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect())
}

fn named(names: &BTreeMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

/// The tenants on a canary of `version`, in words.
fn canary_tenants(
    view: &PluginView,
    version: &str,
    names: &BTreeMap<String, String>,
) -> Vec<String> {
    view.canaries
        .iter()
        .filter(|(_, v)| *v == version)
        .map(|(t, _)| named(names, t))
        .collect()
}

fn since(c: &Inner) -> DateTime<Utc> {
    c.now() - Duration::days(WINDOW_DAYS)
}

async fn channel_counts(c: &Inner) -> Result<BTreeMap<String, u64>, Response> {
    Ok(c.store()
        .plugin_channel_counts()
        .await
        .map_err(|e| c.failed(e))?
        .into_iter()
        .collect())
}

// ---------------------------------------------------------------- the list

pub(super) async fn plugins_page(
    State(c): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_only(&c, &r, &s) {
        return resp;
    }
    let t = r.t();
    let views = api::list(&c.app, &Principal::Operator);
    let outcomes = match c.store().plugin_outcomes(None, since(&c)).await {
        Ok(o) => o,
        Err(e) => return c.failed(e),
    };
    let channels = match channel_counts(&c).await {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    let names = match tenant_names(&c).await {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    let mut plugins = Vec::with_capacity(views.len());
    for view in &views {
        let counts = counts_of(&outcomes, &view.id);
        // The versions in use, and any other with deliveries in the window.
        let versions: Vec<Value> = view
            .versions
            .iter()
            .rev()
            .filter(|v| {
                view.active_version.as_deref() == Some(v.version.as_str())
                    || view.canaries.values().any(|c| *c == v.version)
                    || counts.contains_key(&v.version)
            })
            .map(|v| {
                let where_ = where_words(t, view, &v.version, &names);
                context! {
                    version => v.version.clone(),
                    where_,
                    counts => rate_view(t, counts.get(&v.version).copied().unwrap_or_default()),
                }
            })
            .collect();
        let mut canaries: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (tenant, version) in &view.canaries {
            canaries
                .entry(version.as_str())
                .or_default()
                .push(named(&names, tenant));
        }
        plugins.push(context! {
            id => view.id.clone(),
            href => op_with_lang(&r, format!("/operator/plugins/{}", view.id)),
            active => view.active_version.clone(),
            canaries => canaries
                .into_iter()
                .map(|(v, tenants)| t.pl_canary_of.replace("{v}", v).replace("{tenants}", &tenants.join(", ")))
                .collect::<Vec<_>>(),
            channels => channels.get(&view.id).copied().unwrap_or_default(),
            caption => t.pl_rates_caption.replace("{p}", &view.id),
            open => t.pl_open.replace("{p}", &view.id),
            versions,
        });
    }
    let frame = c.frame(&r, Some(&s), None, t.pl_title);
    c.render(
        &r,
        StatusCode::OK,
        "plugins.html",
        context! { list => true, plugins, ..frame },
    )
}

fn where_words(
    t: &Texts,
    view: &PluginView,
    version: &str,
    names: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut words = Vec::new();
    if view.active_version.as_deref() == Some(version) {
        words.push(t.pl_where_active.to_string());
    }
    let canaries = canary_tenants(view, version, names);
    if !canaries.is_empty() {
        words.push(t.pl_where_canary.replace("{tenants}", &canaries.join(", ")));
    }
    if words.is_empty() {
        words.push(t.pl_where_retired.to_string());
    }
    words
}

// ---------------------------------------------------------------- a plugin

/// What a plugin's page says above its facts after a change, or the
/// problem with a form.
#[derive(Default)]
struct Note {
    done: Option<String>,
    /// The field's id and the message.
    error: Option<(&'static str, String)>,
    status: Option<StatusCode>,
    /// What the canary form had.
    canary_version: String,
    canary_ids: String,
    canary_ticked: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PluginDoneQuery {
    done: Option<String>,
    version: Option<String>,
    tenants: Option<String>,
}

pub(super) async fn plugin_page(
    State(c): State<Shared>,
    Path(plugin): Path<String>,
    Query(q): Query<PluginDoneQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_only(&c, &r, &s) {
        return resp;
    }
    let t = r.t();
    let version = q.version.unwrap_or_default();
    let tenants = q.tenants.unwrap_or_default();
    let done = match q.done.as_deref() {
        Some("activated") => Some(
            t.pl_done_activated
                .replace("{p}", &plugin)
                .replace("{v}", &version),
        ),
        Some("canary") => Some(
            t.pl_done_canary
                .replace("{p}", &plugin)
                .replace("{v}", &version)
                .replace("{tenants}", &tenants),
        ),
        Some("rolled_back") => Some(
            t.pl_done_rolled_back
                .replace("{p}", &plugin)
                .replace("{v}", &version),
        ),
        Some("canary_ended") => Some(
            t.pl_done_canary_ended
                .replace("{t}", &tenants)
                .replace("{v}", &version),
        ),
        _ => None,
    };
    render_detail(
        &c,
        &r,
        &s,
        &plugin,
        Note {
            done,
            ..Note::default()
        },
    )
    .await
}

fn find(c: &Inner, plugin: &str) -> Option<PluginView> {
    api::list(&c.app, &Principal::Operator)
        .into_iter()
        .find(|p| p.id == plugin)
}

async fn render_detail(c: &Inner, r: &Req, s: &Signed, plugin: &str, note: Note) -> Response {
    let t = r.t();
    let Some(view) = find(c, plugin) else {
        return c.not_found(r, Some(s));
    };
    let outcomes = match c.store().plugin_outcomes(Some(plugin), since(c)).await {
        Ok(o) => o,
        Err(e) => return c.failed(e),
    };
    let counts = counts_of(&outcomes, plugin);
    let channels = match channel_counts(c).await {
        Ok(n) => n.get(plugin).copied().unwrap_or_default(),
        Err(resp) => return resp,
    };
    let names = match tenant_names(c).await {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    let versions: Vec<Value> = view
        .versions
        .iter()
        .rev()
        .map(|v| {
            context! {
                version => v.version.clone(),
                contract => v.contract.clone(),
                uploaded => local_time(v.published_at),
                digest => v.digest.chars().take(DIGEST_SHOWN).collect::<String>(),
                digest_full => v.digest.clone(),
                where_ => where_words(t, &view, &v.version, &names),
                counts => rate_view(t, counts.get(&v.version).copied().unwrap_or_default()),
            }
        })
        .collect();
    let base = format!("/operator/plugins/{plugin}");
    let canaries: Vec<Value> = view
        .canaries
        .iter()
        .map(|(tenant, version)| {
            let who = named(&names, tenant);
            context! {
                tenant => tenant.clone(),
                who => who.clone(),
                version => version.clone(),
                end => t.pl_end_canary.replace("{t}", &who),
            }
        })
        .collect();
    let tenant_choices: Vec<Value> = if names.len() <= MAX_TENANT_CHOICES {
        names
            .iter()
            .enumerate()
            .map(|(i, (id, name))| {
                context! {
                    i,
                    id => id.clone(),
                    name => name.clone(),
                    checked => note.canary_ticked.contains(id),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let status = note.status.unwrap_or(StatusCode::OK);
    let has_error = note.error.is_some();
    let frame = c.frame(r, Some(s), None, plugin);
    c.render(
        r,
        status,
        "plugins.html",
        context! {
            detail => true,
            plugin => plugin.to_string(),
            active => view.active_version.clone(),
            channels,
            versions,
            version_choices => view.versions.iter().rev().map(|v| v.version.clone()).collect::<Vec<_>>(),
            canaries,
            tenant_choices,
            rollback_hint => t.pl_rollback_hint.replace("{v}", view.active_version.as_deref().unwrap_or(t.pl_active_none)),
            caption => t.pl_rates_caption.replace("{p}", plugin),
            activate_action => op_with_lang(r, format!("{base}/activate")),
            canary_action => op_with_lang(r, format!("{base}/canary")),
            rollback_action => op_with_lang(r, format!("{base}/rollback")),
            back => op_with_lang(r, "/operator/plugins".into()),
            csrf => s.session.csrf_secret.clone(),
            done => note.done,
            error => note.error.as_ref().map(|(field, message)| context! {
                field => *field,
                href => format!("#{field}"),
                message => message.clone(),
            }),
            error_title => has_error,
            canary_version => note.canary_version,
            canary_ids => note.canary_ids,
            ..frame
        },
    )
}

/// A page asking to confirm a change that reaches every tenant: the same
/// form posted again with `confirmed=yes`.
#[allow(clippy::too_many_arguments)]
fn confirm(
    c: &Inner,
    r: &Req,
    s: &Signed,
    plugin: &str,
    title: String,
    body: String,
    action: String,
    button: &str,
    fields: Vec<(&str, String)>,
) -> Response {
    let frame = c.frame(r, Some(s), None, &title);
    c.render(
        r,
        StatusCode::OK,
        "plugins.html",
        context! {
            confirm => true,
            body,
            action,
            button,
            fields => fields.into_iter().map(|(name, value)| context! { name, value }).collect::<Vec<_>>(),
            csrf => s.session.csrf_secret.clone(),
            cancel => op_with_lang(r, format!("/operator/plugins/{plugin}")),
            ..frame
        },
    )
}

fn confirmed(pairs: &[(String, String)]) -> bool {
    field(pairs, "confirmed") == Some("yes")
}

/// A refusal of the API's function in the console's words where it has
/// them, else in the API's.
fn refusal(t: &Texts, e: &ApiError, tenants: &[String]) -> String {
    if let Some(i) = e
        .message
        .strip_prefix("tenants[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok())
        && let Some(tenant) = tenants.get(i)
    {
        return t.pl_tenant_unknown.replace("{t}", tenant);
    }
    if e.status == StatusCode::CONFLICT {
        return t.pl_nothing_to_roll_back.to_string();
    }
    t.pl_refused.replace("{why}", &e.message)
}

/// The status a refusal is shown with.
fn refused_status(e: &ApiError) -> StatusCode {
    if e.status.is_client_error() {
        e.status
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn done_at(r: &Req, plugin: &str, done: &str, version: &str, tenants: &str) -> Response {
    see_other(&op_with_lang(
        r,
        format!(
            "/operator/plugins/{plugin}?done={done}&version={}&tenants={}",
            op_encode(version),
            op_encode(tenants)
        ),
    ))
}

pub(super) async fn plugin_activate(
    State(c): State<Shared>,
    Path(plugin): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_post(&c, &r, &s, &pairs) {
        return resp;
    }
    let t = r.t();
    let Some(view) = find(&c, &plugin) else {
        return c.not_found(&r, Some(&s));
    };
    let version = field(&pairs, "version")
        .unwrap_or_default()
        .trim()
        .to_string();
    if version.is_empty() {
        let note = Note {
            error: Some(("activate-version", t.pl_choose_version.to_string())),
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..Note::default()
        };
        return render_detail(&c, &r, &s, &plugin, note).await;
    }
    if !confirmed(&pairs) {
        let now = view.active_version.as_deref().unwrap_or(t.pl_active_none);
        return confirm(
            &c,
            &r,
            &s,
            &plugin,
            t.pl_confirm_activate_title.replace("{v}", &version),
            t.pl_confirm_activate_body
                .replace("{p}", &plugin)
                .replace("{v}", &version)
                .replace("{now}", now),
            op_with_lang(&r, format!("/operator/plugins/{plugin}/activate")),
            t.pl_confirm_activate_button,
            vec![("version", version.clone()), ("confirmed", "yes".into())],
        );
    }
    let before = view.active_version.clone();
    match api::activate(&c.app, &Principal::Operator, &plugin, &version, &[]).await {
        Ok(_) => {}
        Err(e) if e.status.is_client_error() => {
            let note = Note {
                error: Some(("activate-version", refusal(t, &e, &[]))),
                status: Some(refused_status(&e)),
                ..Note::default()
            };
            return render_detail(&c, &r, &s, &plugin, note).await;
        }
        Err(e) => return op_api_failed(e),
    }
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            None,
            "plugin_activated",
            serde_json::json!({
                "plugin": plugin,
                "version": version,
                "tenants": [],
                "before": before,
            }),
        )
        .await
    {
        return resp;
    }
    done_at(&r, &plugin, "activated", &version, "")
}

/// The tenants a canary form names: the boxes ticked, then the ids typed
/// (separated by commas or spaces), each once.
fn canary_tenant_ids(pairs: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let ticked = pairs
        .iter()
        .filter(|(n, _)| n == "tenant")
        .map(|(_, v)| v.trim().to_string());
    let typed: Vec<String> = field(pairs, "tenant_ids")
        .unwrap_or_default()
        .split(|ch: char| ch == ',' || ch == '、' || ch.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for id in ticked.chain(typed) {
        if !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

pub(super) async fn plugin_canary(
    State(c): State<Shared>,
    Path(plugin): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_post(&c, &r, &s, &pairs) {
        return resp;
    }
    let t = r.t();
    if find(&c, &plugin).is_none() {
        return c.not_found(&r, Some(&s));
    }
    let version = field(&pairs, "version")
        .unwrap_or_default()
        .trim()
        .to_string();
    let tenants = canary_tenant_ids(&pairs);
    let refill = |error: (&'static str, String), status: StatusCode| Note {
        error: Some(error),
        status: Some(status),
        canary_version: version.clone(),
        canary_ids: field(&pairs, "tenant_ids").unwrap_or_default().to_string(),
        canary_ticked: pairs
            .iter()
            .filter(|(n, _)| n == "tenant")
            .map(|(_, v)| v.clone())
            .collect(),
        ..Note::default()
    };
    if version.is_empty() {
        let note = refill(
            ("canary-version", t.pl_choose_version.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return render_detail(&c, &r, &s, &plugin, note).await;
    }
    // No tenant would be every tenant to the API: refused here, so that a
    // canary never reaches everyone by a slip.
    if tenants.is_empty() {
        let note = refill(
            ("canary-ids", t.pl_tenants_missing.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        return render_detail(&c, &r, &s, &plugin, note).await;
    }
    match api::activate(&c.app, &Principal::Operator, &plugin, &version, &tenants).await {
        Ok(_) => {}
        Err(e) if e.status.is_client_error() => {
            let field = if e.message.starts_with("tenants[") {
                "canary-ids"
            } else {
                "canary-version"
            };
            let note = refill((field, refusal(t, &e, &tenants)), refused_status(&e));
            return render_detail(&c, &r, &s, &plugin, note).await;
        }
        Err(e) => return op_api_failed(e),
    }
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            None,
            "plugin_canary",
            serde_json::json!({
                "plugin": plugin,
                "version": version,
                "tenants": tenants,
            }),
        )
        .await
    {
        return resp;
    }
    done_at(&r, &plugin, "canary", &version, &tenants.join(", "))
}

pub(super) async fn plugin_rollback(
    State(c): State<Shared>,
    Path(plugin): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_post(&c, &r, &s, &pairs) {
        return resp;
    }
    let t = r.t();
    let Some(view) = find(&c, &plugin) else {
        return c.not_found(&r, Some(&s));
    };
    // One tenant: its canary ends. None: every tenant, once confirmed.
    let tenant = field(&pairs, "tenant")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let tenants: Vec<String> = tenant.iter().cloned().collect();
    let before = match &tenant {
        Some(id) => view.canaries.get(id).cloned(),
        None => view.active_version.clone(),
    };
    if tenant.is_none() && !confirmed(&pairs) {
        let now = view.active_version.as_deref().unwrap_or(t.pl_active_none);
        return confirm(
            &c,
            &r,
            &s,
            &plugin,
            t.pl_confirm_rollback_title.replace("{p}", &plugin),
            t.pl_confirm_rollback_body.replace("{now}", now),
            op_with_lang(&r, format!("/operator/plugins/{plugin}/rollback")),
            t.pl_confirm_rollback_button,
            vec![("confirmed", "yes".into())],
        );
    }
    match api::rollback(&c.app, &Principal::Operator, &plugin, &tenants).await {
        Ok(_) => {}
        Err(e) if e.status.is_client_error() => {
            let note = Note {
                error: Some(("rollback", refusal(t, &e, &tenants))),
                status: Some(refused_status(&e)),
                ..Note::default()
            };
            return render_detail(&c, &r, &s, &plugin, note).await;
        }
        Err(e) => return op_api_failed(e),
    }
    // What is in force now for the scope: the tenant's version (its
    // canary's, or the one for every tenant), or every tenant's.
    let now_view = find(&c, &plugin);
    let now = now_view.as_ref().and_then(|v| match &tenant {
        Some(id) => v
            .canaries
            .get(id)
            .cloned()
            .or_else(|| v.active_version.clone()),
        None => v.active_version.clone(),
    });
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            None,
            "plugin_rolled_back",
            serde_json::json!({
                "plugin": plugin,
                "version": now,
                "before": before,
                "tenants": tenants,
            }),
        )
        .await
    {
        return resp;
    }
    let now = now.unwrap_or_else(|| t.pl_active_none.to_string());
    match tenant {
        Some(id) => done_at(&r, &plugin, "canary_ended", &now, &id),
        None => done_at(&r, &plugin, "rolled_back", &now, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(plugin: &str, version: &str, status: OutboxStatus, count: u64) -> PluginOutcome {
        PluginOutcome {
            plugin_id: plugin.into(),
            version: version.into(),
            status,
            count,
        }
    }

    #[test]
    fn failure_rates_count_failed_and_dead_against_sent() {
        let outcomes = [
            outcome("echo", "1.0.0", OutboxStatus::Sent, 98),
            outcome("echo", "1.0.0", OutboxStatus::Failed, 1),
            outcome("echo", "1.0.0", OutboxStatus::Dead, 1),
            outcome("echo", "1.0.0", OutboxStatus::Pending, 50),
            outcome("echo", "2.0.0", OutboxStatus::Failed, 3),
            outcome("line", "1.0.0", OutboxStatus::Failed, 7),
        ];
        let counts = counts_of(&outcomes, "echo");
        let t = Lang::En.texts();
        let v1 = rate_view(t, counts["1.0.0"]);
        assert_eq!(v1.get_attr("sent").unwrap().as_usize(), Some(98));
        assert_eq!(
            v1.get_attr("failed").unwrap().as_usize(),
            Some(2),
            "retries waiting are not outcomes"
        );
        assert_eq!(v1.get_attr("rate").unwrap().as_str(), Some("2.0%"));
        assert_eq!(v1.get_attr("health_key").unwrap().as_str(), Some("some"));
        let v2 = rate_view(t, counts["2.0.0"]);
        assert_eq!(v2.get_attr("rate").unwrap().as_str(), Some("100.0%"));
        assert_eq!(v2.get_attr("health_key").unwrap().as_str(), Some("many"));
        let none = rate_view(t, Counts::default());
        assert_eq!(none.get_attr("health_key").unwrap().as_str(), Some("none"));
        let ok = rate_view(
            t,
            Counts {
                sent: 99,
                failed: 1,
            },
        );
        assert_eq!(ok.get_attr("health_key").unwrap().as_str(), Some("ok"));
    }

    #[test]
    fn canary_tenants_are_ticked_then_typed_each_once() {
        let pairs: Vec<(String, String)> = [
            ("tenant", "otaru"),
            ("tenant", "minato"),
            ("tenant_ids", " minato, chiyoda 、sapporo\nkobe "),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            canary_tenant_ids(&pairs),
            ["otaru", "minato", "chiyoda", "sapporo", "kobe"]
        );
        assert!(canary_tenant_ids(&[]).is_empty());
        assert_eq!(op_encode("1.0.0+build 1/x"), "1.0.0%2Bbuild%201%2Fx");
    }
}
