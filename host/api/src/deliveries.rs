//! The delivery pipeline through the API: broadcasts, the outbox's
//! deliveries (a tenant's, a subscriber's history), and schedule previews.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tayori_core::{Delivery, DeliveryFilter, DeliverySource, OutboxStatus};
use tayori_scheduler::preview::PreviewItem;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};
use crate::pagination::{PageQuery, Paged};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_broadcast))
        .routes(routes!(get_broadcast))
        .routes(routes!(list_deliveries))
        .routes(routes!(subscriber_deliveries))
        .routes(routes!(schedule_preview))
}

/// A broadcast's text (plain text: not a template).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastContent {
    /// Used by platforms with subjects (email); optional.
    pub subject: Option<String>,
    /// The text; not blank.
    #[schema(pattern = "\\S")]
    pub body: String,
}

/// A message to an audience, now or later.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBroadcast {
    pub content: BroadcastContent,
    /// `{}`: every active subscriber. `{"pregnant": true}`,
    /// `{"child_age_months": [{"from": 0, "to": 12}]}` (from inclusive, to
    /// exclusive; either stage matching when both are given),
    /// `{"channels": ["line"]}`.
    #[schema(value_type = Object)]
    pub audience: serde_json::Value,
    /// When to send; `null` or absent: now.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
}

/// A broadcast.
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastView {
    pub id: String,
    pub tenant: String,
    pub subject: Option<String>,
    pub body: String,
    #[schema(value_type = Object)]
    pub audience: serde_json::Value,
    pub send_at: DateTime<Utc>,
    /// Deliveries made: one per contact in the audience.
    pub deliveries: u64,
    pub created_at: DateTime<Utc>,
}

impl From<tayori_core::Broadcast> for BroadcastView {
    fn from(b: tayori_core::Broadcast) -> Self {
        Self {
            id: b.id,
            tenant: b.tenant_id,
            subject: b.subject,
            body: b.body,
            audience: b.audience,
            send_at: b.send_at,
            deliveries: b.deliveries,
            created_at: b.created_at,
        }
    }
}

/// The most characters of a broadcast's body.
pub const MAX_BROADCAST_BODY: usize = 10_000;

/// Send a message to an audience of the tenant's subscribers.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/broadcasts", tag = "deliveries",
    params(("tenant" = String, Path)),
    request_body = CreateBroadcast,
    responses((status = 201, body = BroadcastView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn create_broadcast(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Json422(body): Json422<CreateBroadcast>,
) -> ApiResult<(StatusCode, Json<BroadcastView>)> {
    principal.require_tenant(&tenant)?;
    let channels = state.store.channels(&tenant).await?;
    let request = crate::broadcasts::check_broadcast(body, &channels)
        .map_err(|p| ApiError::invalid(p.field(), p.message(&tenant)))?;
    let (broadcast, _) = state.scheduler.broadcast(&tenant, request).await?;
    tracing::info!(%tenant, id = %broadcast.id, deliveries = broadcast.deliveries, "broadcast created");
    Ok((StatusCode::CREATED, Json(broadcast.into())))
}

/// Read a broadcast.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/broadcasts/{broadcast}", tag = "deliveries",
    params(("tenant" = String, Path), ("broadcast" = String, Path)),
    responses((status = 200, body = BroadcastView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn get_broadcast(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<BroadcastView>> {
    principal.require_tenant(&tenant)?;
    Ok(Json(state.store.broadcast(&tenant, &id).await?.into()))
}

/// A delivery in the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The idempotency key handed to the plugin (a UUID).
    pub key: String,
    pub subscriber_id: String,
    pub contact_id: String,
    pub channel: String,
    /// `scheduled` or `broadcast`.
    pub kind: String,
    pub child_id: Option<String>,
    pub message_id: Option<String>,
    /// The day (tenant's zone) a scheduled message is for.
    pub date: Option<NaiveDate>,
    pub broadcast_id: Option<String>,
    /// pending, held, in_flight, sent, failed, expired, cancelled, dead.
    pub status: String,
    pub due_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The platform's id for the sent message.
    pub receipt: Option<String>,
    pub plugin_version: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let (kind, child_id, message_id, date, broadcast_id) = match d.source {
            DeliverySource::Scheduled {
                child_id,
                message_id,
                occurs_on,
                ..
            } => (
                "scheduled",
                Some(child_id),
                Some(message_id),
                Some(occurs_on),
                None,
            ),
            DeliverySource::Broadcast { broadcast_id } => {
                ("broadcast", None, None, None, Some(broadcast_id))
            }
        };
        Self {
            id: d.id,
            key: d.key,
            subscriber_id: d.subscriber_id,
            contact_id: d.contact_id,
            channel: d.channel,
            kind: kind.into(),
            child_id,
            message_id,
            date,
            broadcast_id,
            status: d.status.to_string(),
            due_at: d.due_at,
            expires_at: d.expires_at,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            receipt: d.receipt,
            plugin_version: d.plugin_version,
            sent_at: d.sent_at,
            updated_at: d.updated_at,
        }
    }
}

/// Filters of the deliveries list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// pending, held, in_flight, sent, failed, expired, cancelled or dead.
    #[param(pattern = "^(pending|held|in_flight|sent|failed|expired|cancelled|dead)$")]
    pub status: Option<String>,
    pub channel: Option<String>,
    pub broadcast: Option<String>,
    /// Due at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Due before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

impl DeliveryQuery {
    fn filter(&self) -> ApiResult<DeliveryFilter> {
        let status = match &self.status {
            None => None,
            Some(s) => Some(
                s.parse::<OutboxStatus>()
                    .map_err(|e| ApiError::invalid("status", e))?,
            ),
        };
        Ok(DeliveryFilter {
            status,
            channel: self.channel.clone(),
            subscriber_id: None,
            broadcast_id: self.broadcast.clone(),
            since: self.since,
            until: self.until,
        })
    }

    fn page(&self) -> PageQuery {
        PageQuery {
            cursor: self.cursor.clone(),
            limit: self.limit,
        }
    }
}

/// The tenant's deliveries, newest first.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/deliveries", tag = "deliveries",
    params(("tenant" = String, Path), DeliveryQuery),
    responses((status = 200, body = Paged<DeliveryView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Paged<DeliveryView>>> {
    principal.require_tenant(&tenant)?;
    let filter = q.filter()?;
    let request = q.page().request()?;
    state.store.tenant(&tenant).await?;
    let page = state.store.deliveries(&tenant, &filter, &request).await?;
    Ok(Json(Paged::from_page(page, Into::into)))
}

/// A subscriber's delivery history, newest first.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/subscribers/{subscriber}/deliveries", tag = "deliveries",
    params(("tenant" = String, Path), ("subscriber" = String, Path), DeliveryQuery),
    responses((status = 200, body = Paged<DeliveryView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn subscriber_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, subscriber)): Path<(String, String)>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Paged<DeliveryView>>> {
    principal.require_tenant(&tenant)?;
    let mut filter = q.filter()?;
    let request = q.page().request()?;
    state.store.subscriber(&tenant, &subscriber).await?;
    filter.subscriber_id = Some(subscriber);
    let page = state.store.deliveries(&tenant, &filter, &request).await?;
    Ok(Json(Paged::from_page(page, Into::into)))
}

/// The range of a preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The first day (tenant's zone), `YYYY-MM-DD`.
    pub from: NaiveDate,
    /// How many days, 1 to 1100.
    #[param(minimum = 1, maximum = 1100)]
    pub days: u32,
    /// Only this subscriber.
    pub subscriber: Option<String>,
}

/// A schedule preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<PreviewItem>,
}

/// What the schedule would send: for each day, each contact, child and
/// message, at what time and on which channel. Nothing is written.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/schedule/preview", tag = "deliveries",
    params(("tenant" = String, Path), PreviewQuery),
    responses((status = 200, body = PreviewView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn schedule_preview(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Json<PreviewView>> {
    principal.require_tenant(&tenant)?;
    let items = state
        .scheduler
        .preview(&tenant, q.subscriber.as_deref(), q.from, q.days)
        .await?;
    Ok(Json(PreviewView { items }))
}
