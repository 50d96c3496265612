//! `/v1/plugins`: upload, list, activate and roll back delivery plugins.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tayori_core::{Activation, PluginVersionRecord};
use tayori_runtime::{PluginListing, Uploader};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_plugin, list_plugins))
        .routes(routes!(activate_version))
        .routes(routes!(rollback_plugin))
}

/// A published plugin version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginVersionView {
    pub plugin: String,
    pub version: String,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// The WIT contract version it was built against.
    pub contract: String,
    pub size: u64,
    pub published_at: chrono::DateTime<chrono::Utc>,
    /// The manifest as the plugin declared it.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
}

impl From<PluginVersionRecord> for PluginVersionView {
    fn from(r: PluginVersionRecord) -> Self {
        Self {
            plugin: r.plugin_id,
            version: r.version.to_string(),
            digest: r.digest,
            contract: r.contract,
            size: r.size,
            published_at: r.published_at,
            manifest: serde_json::to_value(&r.manifest).unwrap_or_default(),
        }
    }
}

/// A plugin with its versions and where each is active.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    pub id: String,
    /// The version every tenant without a canary uses.
    pub active_version: Option<String>,
    /// Tenant → version, for tenants on a canary.
    pub canaries: std::collections::BTreeMap<String, String>,
    pub versions: Vec<PluginVersionView>,
}

impl From<PluginListing> for PluginView {
    fn from(l: PluginListing) -> Self {
        Self {
            id: l.id,
            active_version: l.active_version.map(|v| v.to_string()),
            canaries: l
                .canaries
                .into_iter()
                .map(|(t, v)| (t, v.to_string()))
                .collect(),
            versions: l.versions.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    pub plugins: Vec<PluginView>,
}

/// Upload a plugin component (`application/wasm`). It is checked, compiled
/// and published; the first version of a plugin id becomes active.
#[utoipa::path(
    post, path = "/v1/plugins", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component (`application/wasm` is taken too)"),
    responses(
        (status = 201, description = "Published", body = PluginVersionView),
        (status = 200, description = "The same version with the same bytes was already published", body = PluginVersionView),
        (status = 409, description = "The version is published with other bytes", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody),
        (status = 422, description = "Not a valid plugin component", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn upload_plugin(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<(StatusCode, Json<PluginVersionView>)> {
    // A body over the route's limit was not read: answer that first, as
    // before any other check, naming the limit.
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let limit = state.plugins.runtime().config().max_component_bytes;
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the component is over the upload limit of {limit} bytes ({:.1} MiB)",
                    limit as f64 / f64::from(1 << 20)
                ),
            )
        } else {
            ApiError::bad_request("bad_body", e.body_text())
        }
    })?;
    let uploader = match &principal {
        Principal::Operator => Uploader::Operator,
        Principal::Partner { plugins } => Uploader::Partner {
            plugins: plugins.clone(),
        },
        Principal::TenantAdmin { .. } => {
            return Err(ApiError::forbidden("tenant admins may not upload plugins"));
        }
    };
    if let Some(ct) = headers.get(http::header::CONTENT_TYPE)
        && ct != "application/wasm"
        && ct != "application/octet-stream"
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the component as `Content-Type: application/wasm`",
        ));
    }
    let (record, created) = state.plugins.upload(&body, &uploader).await?;
    tracing::info!(plugin = %record.plugin_id, version = %record.version, digest = %record.digest, created, "plugin uploaded");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(record.into())))
}

/// List plugins, their versions and activations. Partners see their own plugins.
#[utoipa::path(
    get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, body = PluginList)),
    security(("bearer" = []))
)]
async fn list_plugins(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<PluginList>> {
    Ok(Json(PluginList {
        plugins: list(&state, &principal),
    }))
}

/// The plugins `principal` sees (a partner: its own), by id, with their
/// versions and activations: what `GET /v1/plugins` answers.
pub fn list(state: &AppState, principal: &Principal) -> Vec<PluginView> {
    state
        .plugins
        .list()
        .into_iter()
        .filter(|p| match principal {
            Principal::Partner { plugins } => plugins.contains(&p.id),
            _ => true,
        })
        .map(Into::into)
        .collect()
}

/// Which tenants an activation or rollback is for.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeRequest {
    /// Tenants to switch (a canary). Empty or absent: every tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationView {
    pub plugin: String,
    pub version: String,
    /// `null` for every tenant, else the canary tenant.
    pub tenant: Option<String>,
    pub activated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Activation> for ActivationView {
    fn from(a: Activation) -> Self {
        Self {
            plugin: a.plugin_id,
            version: a.version.to_string(),
            tenant: match a.scope {
                tayori_core::ActivationScope::All => None,
                tayori_core::ActivationScope::Tenant(t) => Some(t),
            },
            activated_at: a.activated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivationList {
    pub activations: Vec<ActivationView>,
}

fn parse_version(v: &str) -> ApiResult<semver::Version> {
    semver::Version::parse(v).map_err(|e| {
        ApiError::bad_request(
            "invalid_version",
            format!("version `{v}` is not a semantic version: {e}"),
        )
    })
}

fn optional_scope(body: &Bytes) -> ApiResult<ScopeRequest> {
    // No body, or `null` (the document says the body is optional): every
    // tenant.
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        return Ok(ScopeRequest::default());
    }
    crate::input::parse_json(body)
}

/// Refuses a scope naming a tenant that does not exist, before anything
/// is activated (so a list with one unknown tenant changes nothing).
async fn require_tenants(state: &AppState, scope: &ScopeRequest) -> ApiResult<()> {
    for (i, tenant) in scope.tenants.iter().enumerate() {
        match state.store.tenant(tenant).await {
            Ok(_) => {}
            Err(tayori_core::StoreError::NotFound(_)) => {
                return Err(ApiError::invalid(
                    &format!("tenants[{i}]"),
                    format!("tenant `{tenant}` does not exist"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Activate a version for every tenant, or for chosen tenants first (a canary).
/// Calls in flight finish on the version they started with.
#[utoipa::path(
    post, path = "/v1/plugins/{plugin}/versions/{version}/activate", tag = "plugins",
    params(("plugin" = String, Path), ("version" = String, Path, pattern = "^(0|[1-9][0-9]{0,18})\\.(0|[1-9][0-9]{0,18})\\.(0|[1-9][0-9]{0,18})(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$")),
    request_body(content = Option<ScopeRequest>, content_type = "application/json"),
    responses((status = 200, body = ActivationList), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn activate_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((plugin, version)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<ActivationList>> {
    // The checks in the order the API has always made them; `activate`
    // makes them again for the console's calls.
    principal.require_operator()?;
    parse_version(&version)?;
    let scope = optional_scope(&body)?;
    let done = activate(&state, &principal, &plugin, &version, &scope.tenants).await?;
    Ok(Json(ActivationList {
        activations: done.into_iter().map(Into::into).collect(),
    }))
}

/// Activates `version` of `plugin` for every tenant (`tenants` empty) or
/// for the tenants named (a canary), after the checks of
/// `POST /v1/plugins/{plugin}/versions/{version}/activate`: an operator,
/// a semantic version, tenants that exist (one unknown changes nothing).
pub async fn activate(
    state: &AppState,
    principal: &Principal,
    plugin: &str,
    version: &str,
    tenants: &[String],
) -> ApiResult<Vec<Activation>> {
    principal.require_operator()?;
    let version = parse_version(version)?;
    let scope = ScopeRequest {
        tenants: tenants.to_vec(),
    };
    require_tenants(state, &scope).await?;
    let done = state
        .plugins
        .activate(plugin, &version, &scope.tenants)
        .await?;
    tracing::info!(%plugin, %version, tenants = ?scope.tenants, "plugin version activated");
    Ok(done)
}

/// Undo the latest activation (for every tenant, or for the chosen tenants).
#[utoipa::path(
    post, path = "/v1/plugins/{plugin}/rollback", tag = "plugins",
    params(("plugin" = String, Path)),
    request_body(content = Option<ScopeRequest>, content_type = "application/json"),
    responses((status = 200, description = "What is in force now", body = ActivationList), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn rollback_plugin(
    State(state): State<AppState>,
    principal: Principal,
    Path(plugin): Path<String>,
    body: Bytes,
) -> ApiResult<Json<ActivationList>> {
    principal.require_operator()?;
    let scope = optional_scope(&body)?;
    let now = rollback(&state, &principal, &plugin, &scope.tenants).await?;
    Ok(Json(ActivationList {
        activations: now.into_iter().map(Into::into).collect(),
    }))
}

/// Undoes the latest activation of `plugin` for every tenant (`tenants`
/// empty) or for the tenants named, as `POST /v1/plugins/{plugin}/rollback`
/// does; what is in force now for those scopes.
pub async fn rollback(
    state: &AppState,
    principal: &Principal,
    plugin: &str,
    tenants: &[String],
) -> ApiResult<Vec<Activation>> {
    principal.require_operator()?;
    let now = state.plugins.rollback(plugin, tenants).await?;
    tracing::info!(%plugin, ?tenants, "plugin rolled back");
    Ok(now.into_iter().flatten().collect())
}
