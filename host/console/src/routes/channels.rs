//! Channels: the tenant's platforms, each with the plugin and version it
//! uses, whether it is paused and what its set-up did; a config form made
//! from the plugin's JSON Schema ([`crate::schema_form`]) whose secrets
//! are write-only; pause and resume; a test send to a staff address. A
//! save is the API's own put (`tayori_api::channels::change::put`), so the
//! console refuses exactly what the API refuses. Needs "manage channels
//! and settings".

use super::*;

use tayori_api::ApiError;
use tayori_api::auth::Principal;
use tayori_api::channels::change::{self, MAX_PAUSE_REASON};
use tayori_api::channels::{ChannelView, PutChannelBody, view_with_quota};
use tayori_core::Content;

use crate::schema_form::{self, Field, Kind, Misread};

// The longest test address accepted: the domain's longest address.
use tayori_core::domain::subscriber_rules::MAX_ADDRESS_LEN;

fn with_lang(r: &Req, path: String) -> String {
    match r.lang {
        Lang::Ja => path,
        Lang::En => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}lang=en")
        }
    }
}

/// Who the API's checks see: the operator, or the tenant's admin.
fn principal(s: &Signed, tenant: &str) -> Principal {
    match s.account.role {
        ConsoleRole::Operator => Principal::Operator,
        ConsoleRole::Staff => Principal::TenantAdmin {
            tenant: tenant.to_string(),
        },
    }
}

fn version_of(t: &Texts, v: &ChannelView) -> String {
    match (&v.version, &v.resolved_version) {
        (Some(pin), _) => t.ch_version_pinned.replace("{v}", pin),
        (None, Some(active)) => t.ch_version_active.replace("{v}", active),
        (None, None) => t.ch_version_none.to_string(),
    }
}

// ---------------------------------------------------------------- the list

pub(super) async fn channels_page(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Channels).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    render_list(&c, &r, &s, &tenant, ListNote::from_query(&r)).await
}

/// What the list says above the channels after an action.
#[derive(Default)]
struct ListNote {
    done: Option<String>,
    /// The channel and the error of its pause or test form.
    error: Option<(String, &'static str, String)>,
    /// A test send's failure: the channel and the platform's words.
    test_failed: Option<(String, String)>,
}

impl ListNote {
    fn from_query(r: &Req) -> Self {
        let t = r.t();
        let channel = r.query("channel").unwrap_or_default().to_string();
        let done = match r.query("done") {
            Some("saved") => Some(t.ch_saved.replace("{c}", &channel)),
            Some("paused") => Some(t.ch_paused_done.replace("{c}", &channel)),
            Some("resumed") => Some(t.ch_resumed_done.replace("{c}", &channel)),
            Some("tested") => Some(t.ch_tested_done.replace("{c}", &channel)),
            _ => None,
        };
        Self {
            done,
            ..Self::default()
        }
    }
}

async fn render_list(c: &Inner, r: &Req, s: &Signed, tenant: &Tenant, note: ListNote) -> Response {
    let t = r.t();
    let channels = match c.store().channels(&tenant.id).await {
        Ok(list) => list,
        Err(e) => return c.failed(e),
    };
    let mut rows = Vec::with_capacity(channels.len());
    for channel in channels {
        let view = match view_with_quota(&c.app, channel).await {
            Ok(v) => v,
            Err(e) => return api_failed(e),
        };
        let error = note
            .error
            .as_ref()
            .filter(|(ch, _, _)| *ch == view.name)
            .map(|(_, field, message)| context! { field => *field, message => message.clone() });
        let test_failed = note
            .test_failed
            .as_ref()
            .filter(|(ch, _)| *ch == view.name)
            .map(|(_, why)| why.clone());
        let base = format!("/t/{}/channels/{}", tenant.id, view.name);
        rows.push(context! {
            name => view.name.clone(),
            plugin => view.plugin.clone(),
            version => version_of(t, &view),
            paused => view.paused.as_ref().map(|p| context! {
                reason => p.reason.clone(),
                since => local_time(p.since),
            }),
            setup => view.setup.as_ref().map(|s| context! { ok => s.ok, summary => s.summary.clone() }),
            exhausted_until => view.quota.as_ref().and_then(|q| q.exhausted_until).map(local_time),
            secrets_error => view.secrets_error.is_some(),
            edit => with_lang(r, base.clone()),
            pause_action => with_lang(r, format!("{base}/pause")),
            resume_action => with_lang(r, format!("{base}/resume")),
            test_action => with_lang(r, format!("{base}/test")),
            address_hint => if view.plugin == "email" { t.ch_test_hint_email } else { t.ch_test_hint },
            error,
            test_failed,
        });
    }
    let plugins: Vec<String> = c.app.plugins.list().into_iter().map(|p| p.id).collect();
    let has_error = note.error.is_some();
    let frame = c.frame(r, Some(s), Some(tenant), t.ch_title);
    c.render(
        r,
        if has_error {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        "channels.html",
        context! {
            tenant_name => tenant.name.clone(),
            list => true,
            channels => rows,
            plugins,
            new_action => format!("/t/{}/channels/new", tenant.id),
            lang_param => (r.lang == Lang::En).then_some("en"),
            csrf => s.session.csrf_secret.clone(),
            done => note.done,
            error => note.error.as_ref().map(|(ch, field, message)| context! {
                href => if ch.is_empty() { format!("#{field}") } else { format!("#{field}-{ch}") },
                message => message.clone(),
            }),
            error_title => has_error,
            max_reason => MAX_PAUSE_REASON,
            ..frame
        },
    )
}

/// An API failure the console cannot put right: logged, a 500 page.
fn api_failed(e: ApiError) -> Response {
    tracing::error!(error = %e.message, "console: a channel call failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<!doctype html><title>500</title><p>Something went wrong. Try again later.</p>".into(),
    )
}

// ---------------------------------------------------------------- the form

/// What the config form shows.
struct ConfigForm {
    name: String,
    plugin: String,
    /// Creating: the channel does not exist yet.
    new: bool,
    fields: Vec<Field>,
    allowed_hosts: Vec<String>,
    /// The errors, in the form's order: the field id and the message.
    errors: Vec<(String, String)>,
    /// An operator may approve hosts.
    hosts_editable: bool,
    version: Option<String>,
    manifest_hosts: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct NewQuery {
    plugin: Option<String>,
    name: Option<String>,
}

pub(super) async fn channel_new(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    Query(query): Query<NewQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Channels).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let plugin = query.plugin.unwrap_or_default();
    let name = query.name.unwrap_or_default().trim().to_lowercase();
    let plugin_known = c.app.plugins.list().iter().any(|p| p.id == plugin);
    let name_error = if !tayori_core::is_valid_channel_name(&name) {
        Some(t.ch_name_invalid)
    } else {
        match c.store().channel(&tenant.id, &name).await {
            Ok(_) => Some(t.ch_name_taken),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return c.failed(e),
        }
    };
    if !plugin_known || name_error.is_some() {
        let mut note = ListNote::default();
        note.error = Some((
            String::new(),
            if plugin_known {
                "new-name"
            } else {
                "new-plugin"
            },
            if plugin_known {
                name_error.unwrap_or_default().to_string()
            } else {
                t.ch_plugin_missing.to_string()
            },
        ));
        return render_list(&c, &r, &s, &tenant, note).await;
    }
    let Some(loaded) = c.app.plugins.resolve(&plugin, Some(&tenant.id), None) else {
        let mut note = ListNote::default();
        note.error = Some((
            String::new(),
            "new-plugin",
            t.ch_plugin_inactive.to_string(),
        ));
        return render_list(&c, &r, &s, &tenant, note).await;
    };
    let manifest = &loaded.record.manifest;
    let form = ConfigForm {
        name,
        plugin,
        new: true,
        fields: schema_form::fields(&manifest.config_schema, &serde_json::Value::Null, &[]),
        allowed_hosts: tayori_core::platform_hosts(&manifest.hosts),
        errors: Vec::new(),
        hosts_editable: s.account.role == ConsoleRole::Operator,
        version: Some(manifest.version.to_string()),
        manifest_hosts: manifest.hosts.clone(),
    };
    render_form(&c, &r, &s, &tenant, form, StatusCode::OK)
}

pub(super) async fn channel_page(
    State(c): State<Shared>,
    Path((tenant_id, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Channels).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let form = match existing_form(&c, &r, &s, &tenant, &name).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    render_form(&c, &r, &s, &tenant, form, StatusCode::OK)
}

/// The form of a stored channel, filled with its config.
async fn existing_form(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    name: &str,
) -> Result<ConfigForm, Response> {
    let channel = match c.store().channel(&tenant.id, name).await {
        Ok(ch) => ch,
        Err(StoreError::NotFound(_)) => return Err(c.not_found(r, Some(s))),
        Err(e) => return Err(c.failed(e)),
    };
    let loaded = c.app.plugins.resolve(
        &channel.plugin_id,
        Some(&tenant.id),
        channel.version.as_ref(),
    );
    let view = view_with_quota(&c.app, channel).await.map_err(api_failed)?;
    let (schema, manifest_hosts) = loaded
        .as_ref()
        .map(|p| {
            (
                p.record.manifest.config_schema.clone(),
                p.record.manifest.hosts.clone(),
            )
        })
        .unwrap_or((serde_json::Value::Null, Vec::new()));
    Ok(ConfigForm {
        name: view.name.clone(),
        plugin: view.plugin.clone(),
        new: false,
        fields: schema_form::fields(&schema, &view.config, &view.secrets_set),
        allowed_hosts: view.allowed_hosts.clone(),
        errors: Vec::new(),
        hosts_editable: s.account.role == ConsoleRole::Operator,
        version: view.resolved_version.clone(),
        manifest_hosts,
    })
}

fn render_form(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    form: ConfigForm,
    status: StatusCode,
) -> Response {
    let t = r.t();
    let title = if form.new {
        t.ch_new_title.replace("{c}", &form.name)
    } else {
        t.ch_edit_title.replace("{c}", &form.name)
    };
    let errors: Vec<Value> = form
        .errors
        .iter()
        .map(|(id, message)| context! { href => format!("#{id}"), message => message.clone() })
        .collect();
    let has_errors = !errors.is_empty();
    let action = with_lang(r, format!("/t/{}/channels/{}", tenant.id, form.name));
    let frame = c.frame(r, Some(s), Some(tenant), &title);
    c.render(
        r,
        status,
        "channels.html",
        context! {
            tenant_name => tenant.name.clone(),
            form => true,
            name => form.name,
            plugin => form.plugin,
            new => form.new,
            fields => form.fields,
            hosts => form.allowed_hosts.join("\n"),
            hosts_list => form.allowed_hosts,
            hosts_editable => form.hosts_editable,
            manifest_hosts => form.manifest_hosts.join(", "),
            version => form.version,
            action,
            back => with_lang(r, format!("/t/{}/channels", tenant.id)),
            csrf => s.session.csrf_secret.clone(),
            errors,
            error_title => has_errors,
            ..frame
        },
    )
}

pub(super) async fn channel_save(
    State(c): State<Shared>,
    Path((tenant_id, name)): Path<(String, String)>,
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
    let t = r.t();
    let posted_plugin = field(&pairs, "plugin").unwrap_or_default().to_string();
    // The form as it was shown: the stored channel's, or a new one's.
    let mut form = match c.store().channel(&tenant.id, &name).await {
        Ok(_) => match existing_form(&c, &r, &s, &tenant, &name).await {
            Ok(f) => f,
            Err(resp) => return resp,
        },
        Err(StoreError::NotFound(_)) => {
            if !tayori_core::is_valid_channel_name(&name) {
                return c.not_found(&r, Some(&s));
            }
            let Some(loaded) = c
                .app
                .plugins
                .resolve(&posted_plugin, Some(&tenant.id), None)
            else {
                return c.not_found(&r, Some(&s));
            };
            let manifest = &loaded.record.manifest;
            ConfigForm {
                name: name.clone(),
                plugin: posted_plugin.clone(),
                new: true,
                fields: schema_form::fields(&manifest.config_schema, &serde_json::Value::Null, &[]),
                allowed_hosts: tayori_core::platform_hosts(&manifest.hosts),
                errors: Vec::new(),
                hosts_editable: s.account.role == ConsoleRole::Operator,
                version: Some(manifest.version.to_string()),
                manifest_hosts: manifest.hosts.clone(),
            }
        }
        Err(e) => return c.failed(e),
    };
    schema_form::refill(&mut form.fields, &pairs);
    let hosts: Option<Vec<String>> = if form.hosts_editable {
        let typed = field(&pairs, "allowed_hosts").unwrap_or_default();
        form.allowed_hosts = typed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Some(form.allowed_hosts.clone())
    } else if form.new {
        // A new channel may reach the platform's own hosts of its plugin's
        // manifest (what a tenant's admin may approve); a sandbox, a fake
        // or any other host is the operator's to add.
        Some(form.allowed_hosts.clone())
    } else {
        None
    };
    let config = match schema_form::read(&form.fields, &pairs) {
        Ok(config) => config,
        Err(misread) => {
            for (name, why) in misread {
                let message = match why {
                    Misread::NotANumber => t.ch_not_a_number,
                    Misread::NotAChoice => t.ch_not_a_choice,
                    Misread::NotJson => t.ch_not_json,
                };
                set_error(&mut form, &name, message.to_string());
            }
            return render_form(&c, &r, &s, &tenant, form, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let body = PutChannelBody {
        plugin: form.plugin.clone(),
        // A pin stays as the API keeps it: a pinned channel is put with its pin.
        version: match c.store().channel(&tenant.id, &name).await {
            Ok(ch) => ch.version.map(|v| v.to_string()),
            Err(_) => None,
        },
        config: serde_json::Value::Object(config),
        allowed_hosts: hosts,
        rate_per_second: None,
        daily_quota: None,
    };
    let put = match change::put(&c.app, &principal(&s, &tenant.id), &tenant.id, &name, body).await {
        Ok(put) => put,
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY
                || e.status == StatusCode::FORBIDDEN =>
        {
            for part in e.message.split("; ") {
                match schema_form::field_of(part) {
                    Some(field) if form.fields.iter().any(|f| f.name == field) => {
                        let label = form
                            .fields
                            .iter()
                            .find(|f| f.name == field)
                            .map(|f| f.label.clone())
                            .unwrap_or_default();
                        let message = if part.contains("is a required property") {
                            t.ch_required.replace("{f}", &label)
                        } else {
                            part.to_string()
                        };
                        set_error(&mut form, &field, message);
                    }
                    _ if part.starts_with("allowed_hosts") => {
                        form.errors.push(("allowed-hosts".into(), part.to_string()));
                    }
                    _ => {
                        let first = form
                            .fields
                            .first()
                            .map(|f| f.input.clone())
                            .unwrap_or_default();
                        form.errors.push((first, part.to_string()));
                    }
                }
            }
            return render_form(&c, &r, &s, &tenant, form, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e) if e.status == StatusCode::BAD_GATEWAY => {
            let first = form
                .fields
                .first()
                .map(|f| f.input.clone())
                .unwrap_or_default();
            form.errors
                .push((first, t.ch_plugin_failed.replace("{why}", &e.message)));
            return render_form(&c, &r, &s, &tenant, form, StatusCode::BAD_GATEWAY);
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => return c.not_found(&r, Some(&s)),
        Err(e) => return api_failed(e),
    };
    let secrets_changed: Vec<&str> = form
        .fields
        .iter()
        .filter(|f| f.kind == Kind::Secret)
        .filter(|f| {
            field(&pairs, &f.input).is_some_and(|v| !v.is_empty())
                || field(&pairs, &format!("{}{}", schema_form::REMOVE_PREFIX, f.name)).is_some()
        })
        .map(|f| f.name.as_str())
        .collect();
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "channel_saved",
            serde_json::json!({
                "channel": name,
                "plugin": put.channel.plugin_id,
                "created": put.created,
                "secrets_changed": secrets_changed,
            }),
        )
        .await
    {
        return resp;
    }
    see_other(&with_lang(
        &r,
        format!("/t/{}/channels?done=saved&channel={name}", tenant.id),
    ))
}

fn set_error(form: &mut ConfigForm, name: &str, message: String) {
    if let Some(f) = form.fields.iter_mut().find(|f| f.name == name) {
        if f.error.is_none() {
            f.error = Some(message.clone());
            form.errors.push((f.input.clone(), message));
        }
    }
}

// ---------------------------------------------------------------- actions

/// The stored channel named by a POST, or the 404 page.
async fn channel_of(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    name: &str,
) -> Result<tayori_core::Channel, Response> {
    match c.store().channel(&tenant.id, name).await {
        Ok(ch) => Ok(ch),
        Err(StoreError::NotFound(_)) => Err(c.not_found(r, Some(s))),
        Err(e) => Err(c.failed(e)),
    }
}

pub(super) async fn channel_pause(
    State(c): State<Shared>,
    Path((tenant_id, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    pause_or_resume(c, tenant_id, name, uri, headers, pairs, true).await
}

pub(super) async fn channel_resume(
    State(c): State<Shared>,
    Path((tenant_id, name)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    pause_or_resume(c, tenant_id, name, uri, headers, pairs, false).await
}

async fn pause_or_resume(
    c: Shared,
    tenant_id: String,
    name: String,
    uri: Uri,
    headers: HeaderMap,
    pairs: Vec<(String, String)>,
    pause: bool,
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
    if let Err(resp) = channel_of(&c, &r, &s, &tenant, &name).await {
        return resp;
    }
    let t = r.t();
    let reason = field(&pairs, "reason")
        .unwrap_or_default()
        .trim()
        .to_string();
    if pause {
        let problem = if reason.is_empty() {
            Some(t.ch_reason_missing)
        } else if reason.chars().count() > MAX_PAUSE_REASON {
            Some(t.ch_reason_long)
        } else {
            None
        };
        if let Some(problem) = problem {
            let note = ListNote {
                error: Some((name.clone(), "reason", problem.to_string())),
                ..ListNote::default()
            };
            return render_list(&c, &r, &s, &tenant, note).await;
        }
    }
    let principal = principal(&s, &tenant.id);
    let result = change::set_pause(
        &c.app,
        &principal,
        &tenant.id,
        &name,
        pause.then_some(reason.as_str()),
    )
    .await;
    match result {
        Ok(_) => {}
        Err(e) if e.status == StatusCode::NOT_FOUND => return c.not_found(&r, Some(&s)),
        Err(e) => return api_failed(e),
    }
    let (action, detail) = if pause {
        (
            "channel_paused",
            serde_json::json!({ "channel": name, "reason": reason }),
        )
    } else {
        ("channel_resumed", serde_json::json!({ "channel": name }))
    };
    if let Err(resp) = c
        .audit(Some(&s.account.id), Some(&tenant.id), action, detail)
        .await
    {
        return resp;
    }
    let done = if pause { "paused" } else { "resumed" };
    see_other(&with_lang(
        &r,
        format!("/t/{}/channels?done={done}&channel={name}", tenant.id),
    ))
}

/// The test message: plain words that say what it is.
fn test_content(t: &Texts, tenant: &Tenant, channel: &str) -> Content {
    Content {
        subject: Some(t.ch_test_subject.replace("{tenant}", &tenant.name)),
        body: t
            .ch_test_body
            .replace("{tenant}", &tenant.name)
            .replace("{channel}", channel),
        locale: t.html_lang.to_string(),
        ..Content::default()
    }
}

pub(super) async fn channel_test(
    State(c): State<Shared>,
    Path((tenant_id, name)): Path<(String, String)>,
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
    let channel = match channel_of(&c, &r, &s, &tenant, &name).await {
        Ok(ch) => ch,
        Err(resp) => return resp,
    };
    let t = r.t();
    let address = field(&pairs, "address")
        .unwrap_or_default()
        .trim()
        .to_string();
    let problem = if address.is_empty() {
        Some(t.ch_address_missing)
    } else if address.chars().count() > MAX_ADDRESS_LEN || address.contains(char::is_whitespace) {
        Some(t.ch_address_invalid)
    } else {
        None
    };
    if let Some(problem) = problem {
        let note = ListNote {
            error: Some((name.clone(), "address", problem.to_string())),
            ..ListNote::default()
        };
        return render_list(&c, &r, &s, &tenant, note).await;
    }
    // One message now, through the channel's plugin, as the chat's answers
    // go; a fresh id each time, so that a second test is sent too.
    let message_id = format!("console-test:{}", auth::new_token());
    let sent = c
        .app
        .messenger
        .send_now(
            &tenant.id,
            &channel.name,
            &address,
            &message_id,
            test_content(t, &tenant, &channel.name),
        )
        .await;
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "channel_test_sent",
            serde_json::json!({ "channel": name, "ok": sent.is_ok() }),
        )
        .await
    {
        return resp;
    }
    match sent {
        Ok(()) => see_other(&with_lang(
            &r,
            format!("/t/{}/channels?done=tested&channel={name}", tenant.id),
        )),
        Err(why) => {
            tracing::info!(tenant = %tenant.id, channel = %name, "console test send failed: {why}");
            let note = ListNote {
                test_failed: Some((name.clone(), why)),
                ..ListNote::default()
            };
            render_list(&c, &r, &s, &tenant, note).await
        }
    }
}
