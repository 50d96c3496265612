//! Tayori's HTTP API (axum): operators, tenant admins and partners, one
//! error shape, bearer auth, and an OpenAPI document generated from the
//! handlers themselves (every route is registered through `utoipa-axum`, so
//! a route cannot exist without being described).

pub mod auth;
pub mod error;
mod plugins;
mod system;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tayori_runtime::Plugins;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub use auth::{Principal, new_token, token_digest};
pub use error::{ApiError, ApiResult};

/// Largest JSON body accepted (a subscriber, a channel, a broadcast).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Everything the handlers share.
pub struct Inner {
    pub store: Arc<dyn tayori_core::Store>,
    pub plugins: Arc<Plugins>,
    /// SHA-256 of `TAYORI_ADMIN_TOKEN`, when set.
    pub admin_token_digest: Option<String>,
}

/// Cheap to clone handle on [`Inner`].
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// The principal a stored token digest stands for.
    pub async fn principal_for_digest(&self, digest: &str) -> ApiResult<Option<Principal>> {
        use tayori_core::Role;
        let Some(token) = self.store.token_by_hash(digest).await? else {
            return Ok(None);
        };
        Ok(Some(match token.role {
            Role::Operator => Principal::Operator,
            Role::TenantAdmin => match token.tenant_id {
                Some(tenant) => Principal::TenantAdmin { tenant },
                None => return Ok(None),
            },
            Role::Partner => Principal::Partner {
                plugins: token.plugin_ids,
            },
        }))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tayori", description = "Timed child-rearing support messages for municipalities, through sandboxed delivery plugins."),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health, metrics and this document"),
        (name = "plugins", description = "Delivery plugins: upload, activation, rollback"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The router and its OpenAPI document.
pub fn router(state: AppState) -> Router {
    let max_upload = state.plugins.runtime().config().max_component_bytes;
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(plugins::router().layer(DefaultBodyLimit::max(max_upload + 1)))
        .merge(system::router())
        .split_for_parts();
    let openapi = Arc::new(openapi);
    router
        .route(
            "/openapi.json",
            axum::routing::get(move || system::openapi_json(openapi.clone())),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn(system::json_errors))
        .layer(axum::middleware::from_fn(system::track))
        .fallback(system::not_found)
        .with_state(state)
}

/// The OpenAPI document alone (for tools and tests).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, openapi) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(plugins::router())
        .merge(system::router())
        .split_for_parts();
    openapi
}
