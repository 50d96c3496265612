//! `/v1/tokens`: API tokens for operators, tenant admins and partners.
//!
//! A token's text is made here, answered once, and stored only as its
//! SHA-256, so neither the list nor the database can give it back. Operators
//! manage every token; a tenant's admin may hand out and revoke admin tokens
//! of its own tenant (municipal staff change), and nothing else.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tayori_core::{ApiToken, NewApiToken, Role};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Principal, new_token, token_digest};
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `operator`, `tenant_admin` or `partner`.
    #[schema(example = "tenant_admin")]
    pub role: String,
    /// The tenant of a `tenant_admin` token.
    pub tenant: Option<String>,
    /// The plugin ids of a `partner` token.
    #[serde(default)]
    pub plugins: Vec<String>,
    /// Who or what the token is for (100 characters at most).
    #[serde(default)]
    pub label: Option<String>,
}

/// A new token. `token` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: String,
    /// The bearer token. It is stored hashed and cannot be shown again.
    pub token: String,
    pub role: String,
    pub tenant: Option<String>,
    pub plugins: Vec<String>,
    pub label: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A stored token (never its text).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub role: String,
    pub tenant: Option<String>,
    pub plugins: Vec<String>,
    pub label: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            role: t.role.to_string(),
            tenant: t.tenant_id,
            plugins: t.plugin_ids,
            label: t.label,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Tokens, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Create a token (operators; a tenant admin may create admin tokens of its
/// own tenant). The answer carries the token text once.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 403, body = ErrorBody),
        (status = 404, description = "The tenant does not exist", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    Json422(body): Json422<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(create(&state, &principal, body).await?),
    ))
}

/// Makes a token after the checks of `POST /v1/tokens`; the answer
/// carries its text, this once.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    body: CreateToken,
) -> ApiResult<CreatedToken> {
    let role: Role = body
        .role
        .parse()
        .map_err(|e| ApiError::invalid("role", e))?;
    match principal {
        Principal::Operator => {}
        Principal::TenantAdmin { tenant } => {
            if role != Role::TenantAdmin || body.tenant.as_deref() != Some(tenant.as_str()) {
                return Err(ApiError::forbidden(
                    "a tenant admin may only create tenant_admin tokens of its own tenant",
                ));
            }
        }
        Principal::Partner { .. } => {
            return Err(ApiError::forbidden("partners may not create tokens"));
        }
    }
    for (i, p) in body.plugins.iter().enumerate() {
        if !tayori_core::is_valid_plugin_id(p) {
            return Err(ApiError::invalid(
                &format!("plugins[{i}]"),
                format!("`{p}` is not a plugin id (lower-case letters, digits and `-`)"),
            ));
        }
    }
    let label = body.label.map(|l| l.trim().to_string());
    if let Some(l) = &label
        && (l.is_empty() || l.chars().count() > tayori_core::MAX_TOKEN_LABEL)
    {
        return Err(ApiError::invalid(
            "label",
            format!(
                "a label must be 1 to {} characters",
                tayori_core::MAX_TOKEN_LABEL
            ),
        ));
    }
    let token = new_token();
    let stored = state
        .store
        .insert_token(&NewApiToken {
            token_hash: token_digest(&token),
            role,
            tenant_id: body.tenant,
            plugin_ids: body.plugins,
            label,
        })
        .await?;
    tracing::info!(id = %stored.id, role = %stored.role, tenant = ?stored.tenant_id, "token created");
    Ok(CreatedToken {
        id: stored.id,
        token,
        role: stored.role.to_string(),
        tenant: stored.tenant_id,
        plugins: stored.plugin_ids,
        label: stored.label,
        created_at: stored.created_at,
    })
}

/// List tokens, revoked ones included (operators: all; a tenant admin: its
/// tenant's). The token texts are never shown.
#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList {
        tokens: list(&state, &principal).await?,
    }))
}

/// The tokens `principal` may list, revoked ones included, oldest first:
/// what `GET /v1/tokens` answers.
pub async fn list(state: &AppState, principal: &Principal) -> ApiResult<Vec<TokenView>> {
    let tokens = match principal {
        Principal::Operator => state.store.tokens(None).await?,
        Principal::TenantAdmin { tenant } => state.store.tokens(Some(tenant)).await?,
        Principal::Partner { .. } => {
            return Err(ApiError::forbidden("partners may not list tokens"));
        }
    };
    Ok(tokens.into_iter().map(Into::into).collect())
}

/// Revoke a token at once (operators; a tenant admin: its tenant's tokens).
#[utoipa::path(
    delete, path = "/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path)),
    responses((status = 200, description = "The revoked token", body = TokenView), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenView>> {
    Ok(Json(revoke(&state, &principal, &id).await?))
}

/// Revokes a token at once, after the checks of `DELETE /v1/tokens/{id}`.
pub async fn revoke(state: &AppState, principal: &Principal, id: &str) -> ApiResult<TokenView> {
    match principal {
        Principal::Operator => {}
        Principal::TenantAdmin { tenant } => {
            // Another tenant's token is as unknown as a missing one.
            let own = state.store.tokens(Some(tenant)).await?;
            if !own.iter().any(|t| t.id == id) {
                return Err(ApiError::not_found(format!("token `{id}`")));
            }
        }
        Principal::Partner { .. } => {
            return Err(ApiError::forbidden("partners may not revoke tokens"));
        }
    }
    let token = state.store.revoke_token(id).await?;
    tracing::info!(%id, "token revoked");
    Ok(token.into())
}
