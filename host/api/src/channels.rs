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
use tayori_core::Channel;
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
        .routes(routes!(pause_channel))
        .routes(routes!(resume_channel))
}

pub mod change;

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

/// Why a channel is paused by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// Shown to staff beside the channel, e.g. "the token is being renewed".
    #[schema(example = "トークンの更新中")]
    pub reason: String,
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
pub async fn view_with_quota(state: &AppState, channel: Channel) -> ApiResult<ChannelView> {
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
    let put = change::put(&state, &principal, &tenant, &name, body).await?;
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

/// Pause a channel: its deliveries wait, held (neither sent nor expired by
/// the pause), until it is resumed or put again.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/channels/{channel}/pause", tag = "channels",
    params(("tenant" = String, Path), ("channel" = String, Path)),
    request_body = PauseBody,
    responses(
        (status = 200, description = "Paused", body = ChannelView),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such tenant or channel", body = ErrorBody),
        (status = 422, description = "The reason is empty or too long", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn pause_channel(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
    Json422(body): Json422<PauseBody>,
) -> ApiResult<Json<ChannelView>> {
    let channel = change::set_pause(&state, &principal, &tenant, &name, Some(&body.reason)).await?;
    Ok(Json(view_with_quota(&state, channel).await?))
}

/// Resume a paused channel: what it held is sent.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/channels/{channel}/resume", tag = "channels",
    params(("tenant" = String, Path), ("channel" = String, Path)),
    responses(
        (status = 200, description = "Resumed (or was not paused)", body = ChannelView),
        (status = 403, body = ErrorBody),
        (status = 404, description = "No such tenant or channel", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn resume_channel(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<Json<ChannelView>> {
    let channel = change::set_pause(&state, &principal, &tenant, &name, None).await?;
    Ok(Json(view_with_quota(&state, channel).await?))
}
