//! Tayori's HTTP API (axum): operators, tenant admins and partners, one
//! error shape, bearer auth, and an OpenAPI document generated from the
//! handlers themselves (every route is registered through `utoipa-axum`, so
//! a route cannot exist without being described).

pub mod auth;
pub mod birth_question;
pub mod broadcasts;
pub mod catalog;
mod channel_setup;
pub mod channels;
mod deliveries;
mod document;
pub mod error;
pub mod front_door;
pub mod hooks;
mod import;
pub mod input;
pub mod pagination;
pub mod plugins;
pub mod reports;
pub mod secrets;
mod subscribers;
mod system;
pub mod tenant_cache;
mod tenants;
mod texts;
pub mod tokens;

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tayori_runtime::Plugins;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub use auth::{Principal, new_token, token_digest};
pub use catalog::{CatalogFile, TEMPLATE_VARIABLES, check_file as check_catalog_file};
pub use channels::channel_call_config;
pub use error::{ApiError, ApiResult};
pub use secrets::SecretKey;
pub use subscribers::STOP_REASONS;
pub use system::prometheus;
pub use tenant_cache::TenantCache;

/// Largest JSON body accepted (a subscriber, a channel, a broadcast).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Everything the handlers share.
pub struct Inner {
    pub store: Arc<dyn tayori_core::Store>,
    pub plugins: Arc<Plugins>,
    /// SHA-256 of `TAYORI_ADMIN_TOKEN`, when set.
    pub admin_token_digest: Option<String>,
    /// Seals and opens channel secrets.
    pub secrets: SecretKey,
    /// The delivery pipeline of this node (broadcasts, previews, cache
    /// invalidation when settings change).
    pub scheduler: Arc<tayori_scheduler::Scheduler>,
    /// Tenants' settings and channel names, for checking subscribers' data.
    pub tenant_cache: TenantCache,
    /// Where parents and platforms reach this service (`https://tayori.example.jp`),
    /// for the webhook and form URLs a channel's set-up gives its platform.
    pub public_url: String,
    /// Sends one message now: answers in the chat, confirmation mails,
    /// the link a blank email asks for.
    pub messenger: Arc<dyn tayori_core::Messenger>,
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
        (name = "tenants", description = "Municipalities and their delivery settings"),
        (name = "channels", description = "A tenant's delivery channels: plugin, config (secrets encrypted), approved hosts"),
        (name = "subscribers", description = "Households, contacts and children; birth reports, stops, erasure, CSV import"),
        (name = "catalog", description = "The message catalog, and tenants' local inserts and extra messages"),
        (name = "deliveries", description = "Broadcasts, the delivery outbox, subscribers' histories and schedule previews"),
        (name = "tokens", description = "API tokens"),
        (name = "inbound", description = "Platforms' webhooks (no token: the channel's plugin checks the platform's signature) and the inbound events read from them"),
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

/// Every documented route, each group with its body limit.
fn routes(max_upload: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(plugins::router().layer(DefaultBodyLimit::max(max_upload + 1)))
        .merge(system::router())
        .routes(utoipa_axum::routes!(openapi_document))
        .merge(tenants::router())
        .merge(texts::router())
        .merge(reports::router())
        .merge(channels::router())
        .merge(subscribers::router())
        .merge(import::router().layer(DefaultBodyLimit::max(import::MAX_CSV_BODY)))
        .merge(catalog::router())
        .merge(catalog::import_router().layer(DefaultBodyLimit::max(catalog::MAX_CATALOG_BODY)))
        .merge(tokens::router())
        .merge(deliveries::router())
        .merge(hooks::webhook_router().layer(DefaultBodyLimit::max(hooks::MAX_WEBHOOK_BODY)))
        .merge(hooks::router())
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document of this API", content_type = "application/json", body = Object))
)]
async fn openapi_document(
    axum::Extension(doc): axum::Extension<Arc<utoipa::openapi::OpenApi>>,
) -> impl axum::response::IntoResponse {
    system::openapi_json(doc).await
}

/// The router. Bodies are limited to [`MAX_JSON_BODY`] except where a
/// route group says otherwise (plugin uploads, CSV imports, catalog files).
pub fn router(state: AppState) -> Router {
    let max_upload = state.plugins.runtime().config().max_component_bytes;
    let (router, mut openapi) = routes(max_upload).split_for_parts();
    document::complete(&mut openapi);
    router
        .route_layer(axum::middleware::from_fn(input::reject_nul))
        .layer(axum::Extension(Arc::new(openapi)))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn(system::json_errors))
        .layer(axum::middleware::from_fn(system::track))
        .fallback(system::not_found)
        .with_state(state)
}

/// The OpenAPI document alone (for tools and tests).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut openapi) = routes(0).split_for_parts();
    document::complete(&mut openapi);
    openapi
}
