//! Bearer-token authentication and the three roles.
//!
//! Tokens are random, shown once, and stored as SHA-256 digests; the
//! `TAYORI_ADMIN_TOKEN` operator token is compared by digest too.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Everything.
    Operator,
    /// One tenant's resources.
    TenantAdmin { tenant: String },
    /// Its own plugin ids.
    Partner { plugins: Vec<String> },
}

impl Principal {
    pub fn require_operator(&self) -> ApiResult<()> {
        match self {
            Principal::Operator => Ok(()),
            _ => Err(ApiError::forbidden("this needs an operator token")),
        }
    }

    /// Operators and the tenant's own admins pass; everyone else is refused
    /// without learning whether the tenant exists.
    pub fn require_tenant(&self, tenant: &str) -> ApiResult<()> {
        match self {
            Principal::Operator => Ok(()),
            Principal::TenantAdmin { tenant: t } if t == tenant => Ok(()),
            Principal::TenantAdmin { .. } => {
                Err(ApiError::forbidden("this token is for another tenant"))
            }
            Principal::Partner { .. } => Err(ApiError::forbidden("partner tokens reach no tenant")),
        }
    }
}

/// SHA-256 of a token, lower-case hex: what is stored and compared.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `tyr_` and 64 hex digits (256 bits).
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("tyr_{}", hex::encode(bytes))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing `Authorization: Bearer <token>`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let digest = token_digest(token);
        if state.admin_token_digest.as_deref() == Some(digest.as_str()) {
            return Ok(Principal::Operator);
        }
        state
            .principal_for_digest(&digest)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))
    }
}
