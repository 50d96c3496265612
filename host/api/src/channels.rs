//! `/v1/tenants/{tenant}/channels`: a tenant's bindings of delivery plugins.
//!
//! A channel put is checked the whole way before anything is stored: the
//! plugin and its version pin exist, the config satisfies the plugin's JSON
//! Schema (errors name the field by its instance path, `config/endpoint`),
//! the operator's `allowed_hosts` parse, and the plugin itself accepts the
//! config (`validate-config`, in the sandbox, for this tenant and channel).
//! Then the fields the schema marks `writeOnly` are split off and sealed
//! ([`crate::secrets`]); answers show them as `"<redacted>"` and list them in
//! `secrets_set`, and no message, answer or log line carries their values.
//!
//! A put that leaves a secret out (or sends `"<redacted>"` back) keeps the
//! stored one, so a config read with GET can be edited and put again; `null`
//! removes it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tayori_core::{Channel, ChannelSpec, Manifest, StoreError, parse_host_entry};
use tayori_runtime::{CallContext, LoadedPlugin};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};
use crate::secrets::REDACTED;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels))
        .routes(routes!(put_channel, get_channel, delete_channel))
}

/// At most this many schema errors are listed in one answer.
const MAX_SCHEMA_ERRORS: usize = 10;

/// A channel to create or replace.
///
/// No `Debug`: the config carries secrets.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutChannelBody {
    /// The plugin id, e.g. `line`.
    #[schema(example = "line")]
    pub plugin: String,
    /// A version to pin; `null` follows the active version.
    #[serde(default)]
    pub version: Option<String>,
    /// The plugin's config. Secret fields (`writeOnly` in the plugin's
    /// schema) may be left out or sent as `"<redacted>"` to keep the stored
    /// value, or sent as `null` to remove it.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub config: Value,
    /// The outbound hosts the operator approves (`host[:port]`, `host:*`),
    /// intersected with the manifest's. Absent: unchanged (none for a new
    /// channel). A tenant admin may only name hosts of the plugin's manifest.
    #[schema(example = json!(["api.line.me:443"]))]
    pub allowed_hosts: Option<Vec<String>>,
    /// Overrides the manifest's rate per second (a tenant admin may only lower it).
    pub rate_per_second: Option<u32>,
    /// Overrides the manifest's daily quota (a tenant admin may only lower it).
    pub daily_quota: Option<u32>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Why a channel is paused.
#[derive(Debug, Serialize, ToSchema)]
pub struct PauseView {
    pub reason: String,
    pub since: chrono::DateTime<chrono::Utc>,
}

/// A channel as answered: secrets redacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub tenant: String,
    pub name: String,
    pub plugin: String,
    /// The pinned version; `null` follows the active version.
    pub version: Option<String>,
    /// The version calls for this channel use now (`null`: none is loaded).
    pub resolved_version: Option<String>,
    /// The config; secret fields show `"<redacted>"`.
    #[schema(value_type = Object)]
    pub config: Value,
    /// The secret fields that are stored (encrypted).
    pub secrets_set: Vec<String>,
    /// Set when the stored secrets cannot be opened with this host's key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_error: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub rate_per_second: Option<u32>,
    pub daily_quota: Option<u32>,
    /// Set while deliveries are paused (e.g. the platform refused the credentials).
    pub paused: Option<PauseView>,
    /// What the plugin's set-up of the platform side last did (LINE: the
    /// rich menu), run each time the channel is put; `null` for a plugin
    /// that sets nothing up.
    pub setup: Option<SetupView>,
    /// The windows the channel's sends are counted in (the plugin's rate
    /// windows, the daily quota) and whether one is spent; `null` when the
    /// channel has none (or its plugin is not loaded).
    pub quota: Option<QuotaView>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What a channel's set-up did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupView {
    /// Whether the platform side is set up.
    pub ok: bool,
    /// One line for staff: what was set up, or why it could not be.
    pub summary: String,
    /// Platform ids worth keeping (`rich_menu_id`: `richmenu-…`).
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
    /// The plugin version that ran it.
    pub plugin_version: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Where a channel stands against its counting windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// While a window is spent: when sending resumes (the end of the last
    /// spent window). Deliveries wait until then, or expire if that is past
    /// their lateness window.
    pub exhausted_until: Option<chrono::DateTime<chrono::Utc>>,
    pub windows: Vec<QuotaWindowView>,
}

/// One counting window: at most `max` sends per `window_seconds`. Windows
/// start at the tenant's local midnight and every `window_seconds` after.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaWindowView {
    #[schema(example = 86400)]
    pub window_seconds: u32,
    pub max: u32,
    /// Set while this window is spent: when it ends.
    pub exhausted_until: Option<chrono::DateTime<chrono::Utc>>,
}

/// A tenant's channels, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelView>,
}

fn view(state: &AppState, channel: Channel) -> ChannelView {
    let (secrets_set, secrets_error) = match state.secrets.open(
        &channel.tenant_id,
        &channel.name,
        &channel.secrets_ciphertext,
    ) {
        Ok(secrets) => (secrets.keys().cloned().collect::<Vec<_>>(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let mut config = channel.config;
    if let Value::Object(map) = &mut config {
        for name in &secrets_set {
            map.insert(name.clone(), Value::String(REDACTED.into()));
        }
    }
    let resolved_version = state
        .plugins
        .resolve(
            &channel.plugin_id,
            Some(&channel.tenant_id),
            channel.version.as_ref(),
        )
        .map(|p| p.record.version.to_string());
    ChannelView {
        tenant: channel.tenant_id,
        name: channel.name,
        plugin: channel.plugin_id,
        version: channel.version.map(|v| v.to_string()),
        resolved_version,
        config,
        secrets_set,
        secrets_error,
        allowed_hosts: channel.allowed_hosts,
        rate_per_second: channel.rate_per_second,
        daily_quota: channel.daily_quota,
        paused: channel.paused.map(|p| PauseView {
            reason: p.reason,
            since: p.since,
        }),
        setup: channel.setup.map(|s| SetupView {
            ok: s.ok,
            summary: s.summary,
            details: s
                .details
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
            plugin_version: s.plugin_version,
            at: s.at,
        }),
        quota: None,
        created_at: channel.created_at,
        updated_at: channel.updated_at,
    }
}

/// [`view`] with the channel's quota state, counted as the dispatcher
/// counts it: the same windows, aligned on the tenant's local midnight, at
/// the scheduler's clock.
async fn view_with_quota(state: &AppState, channel: Channel) -> ApiResult<ChannelView> {
    let plugin = state.plugins.resolve(
        &channel.plugin_id,
        Some(&channel.tenant_id),
        channel.version.as_ref(),
    );
    let windows = plugin
        .map(|p| tayori_scheduler::send_windows(&p.record.manifest, &channel))
        .unwrap_or_default();
    let (tenant, name) = (channel.tenant_id.clone(), channel.name.clone());
    let mut view = view(state, channel);
    if windows.is_empty() {
        return Ok(view);
    }
    let tz = state
        .store
        .tenant(&tenant)
        .await?
        .tz()
        .unwrap_or(chrono_tz::Asia::Tokyo);
    let now = tayori_scheduler::Clock::now_ms(state.scheduler.clock().as_ref());
    let align = tayori_scheduler::dispatch::local_midnight_offset(tz, now);
    let mut out = Vec::with_capacity(windows.len());
    for window in windows {
        let until = state
            .store
            .quota_exhausted_until(&tenant, &name, &[window], align, now)
            .await?;
        out.push(QuotaWindowView {
            window_seconds: window.0,
            max: window.1,
            exhausted_until: until.map(tayori_core::from_millis),
        });
    }
    view.quota = Some(QuotaView {
        exhausted_until: out.iter().filter_map(|w| w.exhausted_until).max(),
        windows: out,
    });
    Ok(view)
}

/// The channel's full config, secrets included, to pass to its plugin:
/// what the dispatcher calls `deliver` and `handle-webhook` with.
pub async fn channel_call_config(
    state: &AppState,
    tenant: &str,
    channel: &str,
) -> ApiResult<(Channel, Value)> {
    let channel = state.store.channel(tenant, channel).await?;
    let config = state
        .secrets
        .channel_config(&channel)
        .map_err(|e| ApiError::internal(format!("channel `{tenant}/{}`: {e}", channel.name)))?;
    Ok((channel, config))
}

/// The plugin a put names, at its pinned version or the one the tenant uses.
fn plugin_for(
    state: &AppState,
    tenant: &str,
    plugin: &str,
    version: Option<&str>,
) -> ApiResult<(Option<semver::Version>, std::sync::Arc<LoadedPlugin>)> {
    let listing = state.plugins.list();
    let Some(entry) = listing.iter().find(|p| p.id == plugin) else {
        let known: Vec<&str> = listing.iter().map(|p| p.id.as_str()).collect();
        return Err(ApiError::invalid(
            "plugin",
            format!(
                "no plugin `{plugin}` is published; published: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let pin = version
        .map(|v| {
            semver::Version::parse(v).map_err(|e| {
                ApiError::invalid("version", format!("`{v}` is not a semantic version: {e}"))
            })
        })
        .transpose()?;
    let loaded = match &pin {
        Some(v) => state.plugins.version(plugin, v).ok_or_else(|| {
            let published: Vec<String> = entry
                .versions
                .iter()
                .map(|r| r.version.to_string())
                .collect();
            ApiError::invalid(
                "version",
                format!(
                    "plugin `{plugin}` has no version {v}; published: {}",
                    published.join(", ")
                ),
            )
        })?,
        None => state
            .plugins
            .resolve(plugin, Some(tenant), None)
            .ok_or_else(|| {
                ApiError::invalid(
                    "plugin",
                    format!(
                        "plugin `{plugin}` has no active version; activate one or pin `version`"
                    ),
                )
            })?,
    };
    Ok((pin, loaded))
}

/// Fills in the secrets a put leaves out, or sends as `"<redacted>"`, from
/// the stored ones; drops those sent as `null`.
fn merge_secrets(
    config: &mut Map<String, Value>,
    secret_fields: &[String],
    stored: &Map<String, Value>,
) -> ApiResult<()> {
    for field in secret_fields {
        match config.get(field) {
            None => {
                if let Some(v) = stored.get(field) {
                    config.insert(field.clone(), v.clone());
                }
            }
            Some(Value::Null) => {
                config.remove(field);
            }
            Some(Value::String(s)) if s == REDACTED => match stored.get(field) {
                Some(v) => {
                    config.insert(field.clone(), v.clone());
                }
                None => {
                    return Err(ApiError::invalid(
                        &format!("config/{field}"),
                        format!(
                            "`{REDACTED}` stands for the stored secret, but none is stored; send the value"
                        ),
                    ));
                }
            },
            Some(_) => {}
        }
    }
    Ok(())
}

/// Replaces every secret value in `message` (as text and as JSON) by
/// `<redacted>`: schema and plugin messages may quote the value they refuse.
fn redact(message: String, secrets: &Map<String, Value>) -> String {
    let mut out = message;
    for value in secrets.values() {
        let mut forms = vec![value.to_string()];
        if let Value::String(s) = value {
            forms.push(s.clone());
        }
        for form in forms {
            if !form.is_empty() && form != "\"\"" {
                out = out.replace(&form, REDACTED);
            }
        }
    }
    out
}

fn check_schema(
    manifest: &Manifest,
    config: &Value,
    secrets: &Map<String, Value>,
) -> ApiResult<()> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&manifest.config_schema)
        .map_err(|e| {
            ApiError::internal(format!(
                "plugin `{}` {}: its config schema does not compile: {e}",
                manifest.id, manifest.version
            ))
        })?;
    let errors: Vec<String> = validator
        .iter_errors(config)
        .take(MAX_SCHEMA_ERRORS)
        .map(|e| redact(format!("config{}: {e}", e.instance_path.as_str()), secrets))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            errors.join("; "),
        ))
    }
}

fn check_hosts(
    principal: &Principal,
    manifest: &Manifest,
    hosts: &[String],
) -> ApiResult<Vec<String>> {
    let manifest_hosts: Vec<(String, Option<u16>)> = manifest
        .hosts
        .iter()
        .filter_map(|h| parse_host_entry(h).ok())
        .collect();
    let mut out = Vec::with_capacity(hosts.len());
    for (i, entry) in hosts.iter().enumerate() {
        let field = format!("allowed_hosts[{i}]");
        let parsed = parse_host_entry(entry).map_err(|e| ApiError::invalid(&field, e))?;
        if *principal != Principal::Operator && !manifest_hosts.contains(&parsed) {
            return Err(ApiError::forbidden(format!(
                "{field}: `{entry}` is not in the plugin's manifest ({}); only an operator can approve other hosts",
                manifest.hosts.join(", ")
            )));
        }
        out.push(entry.trim().to_string());
    }
    Ok(out)
}

fn check_override(
    principal: &Principal,
    field: &str,
    value: Option<u32>,
    manifest_value: Option<u32>,
) -> ApiResult<Option<u32>> {
    match value {
        Some(0) => Err(ApiError::invalid(
            field,
            "must be at least 1 (delete the channel to stop it)",
        )),
        Some(v) if *principal != Principal::Operator && manifest_value.is_some_and(|m| v > m) => {
            Err(ApiError::forbidden(format!(
                "{field}: a tenant admin may lower the plugin's {} but not raise it to {v}; ask an operator",
                manifest_value.unwrap_or_default()
            )))
        }
        v => Ok(v),
    }
}

/// Create or replace a channel (operators, or the tenant's admins within the
/// plugin's manifest). Answers 201 when it is new.
#[utoipa::path(
    put, path = "/v1/tenants/{tenant}/channels/{channel}", tag = "channels",
    params(("tenant" = String, Path), ("channel" = String, Path)),
    request_body = PutChannelBody,
    responses(
        (status = 200, description = "Replaced", body = ChannelView),
        (status = 201, description = "Created", body = ChannelView),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such tenant", body = ErrorBody),
        (status = 422, description = "The plugin, version, config or hosts are invalid; the message names the field", body = ErrorBody),
        (status = 502, description = "The plugin failed while validating the config", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn put_channel(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
    Json422(body): Json422<PutChannelBody>,
) -> ApiResult<(StatusCode, Json<ChannelView>)> {
    principal.require_tenant(&tenant)?;
    state.store.tenant(&tenant).await?;
    if !tayori_core::is_valid_channel_name(&name) {
        return Err(ApiError::invalid(
            "channel",
            format!(
                "`{name}` is not a channel name: use lower-case letters, digits and `-`, at most 63"
            ),
        ));
    }
    let (pin, plugin) = plugin_for(&state, &tenant, &body.plugin, body.version.as_deref())?;
    let manifest = &plugin.record.manifest;
    let Value::Object(mut config) = body.config else {
        return Err(ApiError::invalid("config", "must be a JSON object"));
    };

    let existing = match state.store.channel(&tenant, &name).await {
        Ok(c) => Some(c),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let stored_secrets = match &existing {
        Some(c) if c.plugin_id == body.plugin => state
            .secrets
            .open(&tenant, &name, &c.secrets_ciphertext)
            .unwrap_or_else(|e| {
                tracing::warn!(%tenant, channel = %name, "stored secrets ignored: {e}");
                Map::new()
            }),
        _ => Map::new(),
    };
    let secret_fields = manifest.secret_fields();
    merge_secrets(&mut config, &secret_fields, &stored_secrets)?;
    let secrets: Map<String, Value> = secret_fields
        .iter()
        .filter_map(|f| config.get(f).map(|v| (f.clone(), v.clone())))
        .collect();
    let config = Value::Object(config);
    check_schema(manifest, &config, &secrets)?;

    let allowed_hosts = match &body.allowed_hosts {
        Some(hosts) => check_hosts(&principal, manifest, hosts)?,
        None => existing
            .as_ref()
            .map(|c| c.allowed_hosts.clone())
            .unwrap_or_default(),
    };
    let rate_per_second = check_override(
        &principal,
        "rate_per_second",
        body.rate_per_second,
        Some(manifest.rate_per_second),
    )?;
    let daily_quota = check_override(
        &principal,
        "daily_quota",
        body.daily_quota,
        manifest.daily_quota,
    )?;

    let ctx = CallContext {
        tenant: Some(tenant.clone()),
        channel: Some(name.clone()),
        approved_hosts: allowed_hosts.clone(),
        capture: false,
    };
    let called = state
        .plugins
        .runtime()
        .validate_config(&plugin, &ctx, &config.to_string())
        .await;
    match called.result {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => {
            return Err(ApiError::invalid(
                &format!("config{}", refusal.field),
                redact(refusal.message, &secrets),
            ));
        }
        Err(e) => {
            let e = redact(e.to_string(), &secrets);
            tracing::warn!(%tenant, channel = %name, "validate-config failed: {e}");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "plugin_failed",
                format!("the plugin could not validate the config: {e}"),
            ));
        }
    }

    let Value::Object(mut plain) = config.clone() else {
        unreachable!("the config was checked to be an object")
    };
    for field in &secret_fields {
        plain.remove(field);
    }
    let spec = ChannelSpec {
        name: name.clone(),
        plugin_id: body.plugin,
        version: pin,
        config: Value::Object(plain),
        secrets_ciphertext: state.secrets.seal(&tenant, &name, &secrets),
        allowed_hosts,
        rate_per_second,
        daily_quota,
    };
    let mut put = state.store.put_channel(&tenant, &spec).await?;
    // The platform side (LINE's rich menu), with the whole config.
    if let Some(outcome) = crate::channel_setup::run(&state, &plugin, &put.channel, &config).await?
    {
        put.channel.setup = Some(outcome);
    }
    state.tenant_cache.forget(&tenant);
    state.scheduler.changed(Some(&tenant));
    state.scheduler.dispatcher().wake();
    tracing::info!(%tenant, channel = %name, plugin = %spec.plugin_id, created = put.created, "channel put");
    let status = if put.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view_with_quota(&state, put.channel).await?)))
}

/// Read a channel; secrets are redacted. `quota` shows whether a counting
/// window (a daily quota, X's 200 per 15 minutes) is spent and until when.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/channels/{channel}", tag = "channels",
    params(("tenant" = String, Path), ("channel" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn get_channel(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<Json<ChannelView>> {
    principal.require_tenant(&tenant)?;
    let channel = state.store.channel(&tenant, &name).await?;
    Ok(Json(view_with_quota(&state, channel).await?))
}

/// A tenant's channels; secrets are redacted.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/channels", tag = "channels",
    params(("tenant" = String, Path)),
    responses((status = 200, body = ChannelList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_channels(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<ChannelList>> {
    principal.require_tenant(&tenant)?;
    state.store.tenant(&tenant).await?;
    let channels = state.store.channels(&tenant).await?;
    let mut views = Vec::with_capacity(channels.len());
    for c in channels {
        views.push(view_with_quota(&state, c).await?);
    }
    Ok(Json(ChannelList { channels: views }))
}

/// Delete a channel. Contacts naming it stay, and a channel put again under
/// the same name reaches them.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/channels/{channel}", tag = "channels",
    params(("tenant" = String, Path), ("channel" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn delete_channel(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    principal.require_tenant(&tenant)?;
    state.store.delete_channel(&tenant, &name).await?;
    state.tenant_cache.forget(&tenant);
    state.scheduler.changed(Some(&tenant));
    tracing::info!(%tenant, channel = %name, "channel deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_kept_replaced_or_removed() {
        let fields = vec!["token".to_string(), "secret".to_string()];
        let stored = json!({"token": "old-token", "secret": "old-secret"});
        let stored = stored.as_object().unwrap();
        let mut config = json!({"endpoint": "x", "token": "<redacted>", "secret": null});
        let map = config.as_object_mut().unwrap();
        merge_secrets(map, &fields, stored).unwrap();
        assert_eq!(
            *map,
            *json!({"endpoint": "x", "token": "old-token"})
                .as_object()
                .unwrap()
        );

        let mut config = json!({"token": "new"});
        let map = config.as_object_mut().unwrap();
        merge_secrets(map, &fields, stored).unwrap();
        assert_eq!(map["token"], "new");
        assert_eq!(map["secret"], "old-secret");

        let mut config = json!({"token": "<redacted>"});
        let err = merge_secrets(config.as_object_mut().unwrap(), &fields, &Map::new()).unwrap_err();
        assert!(err.message.starts_with("config/token:"), "{}", err.message);
    }

    #[test]
    fn messages_never_quote_a_secret() {
        let secrets = json!({"token": "hunter2\"x"});
        let secrets = secrets.as_object().unwrap();
        let msg = redact(
            r#"config/token: "hunter2\"x" is not a "uri" (hunter2"x)"#.to_string(),
            secrets,
        );
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
