//! `/v1/tenants/{tenant}/subscribers`: registrations (households), their
//! contacts and children; birth reports, stops and erasure.
//!
//! Parents' data must be right before it is stored, because every message
//! date follows from it: dates are real calendar dates, a due date is within
//! the pregnancy that could be (not more than 10 months ahead, not long
//! past), a birth date is not in the future, contacts name the tenant's
//! channels. "Today" is the tenant's today, in its time zone. The CSV import
//! ([`crate::import`]) applies the very same rules through [`Rules`].

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tayori_core::{Child, Contact, NewSubscriber, Subscriber, SubscriberCounts, SubscriberPatch};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};
use crate::pagination::{PageQuery, Paged};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_subscriber, list_subscribers))
        .routes(routes!(subscriber_counts))
        .routes(routes!(get_subscriber, update_subscriber, erase_subscriber))
        .routes(routes!(stop_subscriber))
        .routes(routes!(add_child))
        .routes(routes!(report_birth))
        .routes(routes!(stop_child))
}

pub use tayori_core::domain::subscriber_rules::STOP_REASONS;
pub(crate) use tayori_core::domain::subscriber_rules::{Refusal, SubscriberRules as Rules};

/// A contact: an address on one of the tenant's channels.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// The tenant's channel name.
    #[schema(example = "line")]
    pub channel: String,
    /// The address on that platform (a LINE user id, an email address).
    #[schema(example = "U4af4980629d3b2f1c0e5a7b8c9d0e1f2")]
    pub address: String,
}

/// A child: a due date (expecting), a birth date (born), or both.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildBody {
    /// `YYYY-MM-DD`; at most 10 months ahead, at most 14 days past.
    #[schema(example = "2027-05-01")]
    pub due_date: Option<String>,
    /// `YYYY-MM-DD`; not in the future.
    pub birth_date: Option<String>,
}

/// A registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscriber {
    /// The tenant's own id for the household (unique in the tenant).
    pub external_id: Option<String>,
    /// `ja` (default), `ja-easy` (やさしい日本語) or `en`.
    #[schema(example = "ja")]
    pub locale: Option<String>,
    /// At least one.
    pub contacts: Vec<ContactBody>,
    /// At least one.
    pub children: Vec<ChildBody>,
}

/// A change: absent fields stay. `contacts` replaces the list (contacts that
/// stay keep their id and status).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscriber {
    pub locale: Option<String>,
    pub contacts: Option<Vec<ContactBody>>,
}

/// A birth report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BirthBody {
    /// `YYYY-MM-DD`, not in the future.
    #[schema(example = "2027-04-28")]
    pub birth_date: String,
}

/// A stop.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    /// `pregnancy_loss`, `child_loss`, `unsubscribed`, `moved_away`,
    /// `duplicate` or `other`.
    #[schema(
        example = "unsubscribed",
        pattern = "^(pregnancy_loss|child_loss|unsubscribed|moved_away|duplicate|other)$"
    )]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub channel: String,
    pub address: String,
    /// `valid` or `invalid` (the platform said the recipient is gone).
    pub status: String,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            id: c.id,
            channel: c.channel,
            address: c.address,
            status: c.status.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChildView {
    pub id: String,
    pub due_date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    /// `expecting`, `born` or `stopped`.
    pub status: String,
    pub stopped_reason: Option<String>,
}

impl From<Child> for ChildView {
    fn from(c: Child) -> Self {
        Self {
            id: c.id,
            due_date: c.due_date,
            birth_date: c.birth_date,
            status: c.status.to_string(),
            stopped_reason: c.stopped_reason,
        }
    }
}

/// A subscriber. Once erased, only its id, status and times remain.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberView {
    pub id: String,
    pub tenant: String,
    pub external_id: Option<String>,
    pub locale: String,
    /// `active`, `stopped` or `erased`.
    pub status: String,
    pub contacts: Vec<ContactView>,
    pub children: Vec<ChildView>,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
}

impl From<Subscriber> for SubscriberView {
    fn from(s: Subscriber) -> Self {
        Self {
            id: s.id,
            tenant: s.tenant_id,
            external_id: s.external_id,
            locale: s.locale.to_string(),
            status: s.status.to_string(),
            contacts: s.contacts.into_iter().map(Into::into).collect(),
            children: s.children.into_iter().map(Into::into).collect(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A tenant's subscribers by status; erased ones stay counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsView {
    pub active: u64,
    pub stopped: u64,
    pub erased: u64,
}

impl From<SubscriberCounts> for CountsView {
    fn from(c: SubscriberCounts) -> Self {
        Self {
            active: c.active,
            stopped: c.stopped,
            erased: c.erased,
        }
    }
}

fn invalid((field, message): Refusal) -> ApiError {
    ApiError::invalid(&field, message)
}

fn stop_reason(reason: &str) -> ApiResult<&'static str> {
    Rules::stop_reason("reason", reason).map_err(invalid)
}

/// The tenant (checked visible) and the rules for its data.
async fn tenant_rules(state: &AppState, principal: &Principal, tenant: &str) -> ApiResult<Rules> {
    principal.require_tenant(tenant)?;
    let (tenant, channels) = state.tenant_cache.get(state.store.as_ref(), tenant).await?;
    Ok(Rules::new(
        &tenant,
        state.scheduler.clock().now(),
        channels.iter().cloned(),
    ))
}

/// Register a household with its contacts and children.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/subscribers", tag = "subscribers",
    params(("tenant" = String, Path)),
    request_body = CreateSubscriber,
    responses(
        (status = 201, body = SubscriberView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The external id or a contact is already registered", body = ErrorBody),
        (status = 422, description = "A field is invalid; the message names it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Json422(body): Json422<CreateSubscriber>,
) -> ApiResult<(StatusCode, Json<SubscriberView>)> {
    let rules = tenant_rules(&state, &principal, &tenant).await?;
    let external_id = body
        .external_id
        .as_deref()
        .map(|e| Rules::external_id("external_id", e))
        .transpose()
        .map_err(invalid)?;
    let locale = Rules::locale("locale", body.locale.as_deref()).map_err(invalid)?;
    let contacts = rules
        .contacts(
            body.contacts
                .iter()
                .map(|c| (c.channel.as_str(), c.address.as_str())),
        )
        .map_err(invalid)?;
    if body.children.is_empty() {
        return Err(ApiError::invalid(
            "children",
            "at least one child (a due_date or a birth_date) is needed",
        ));
    }
    let children = body
        .children
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rules.child(
                &format!("children[{i}]."),
                c.due_date.as_deref(),
                c.birth_date.as_deref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let subscriber = state
        .store
        .create_subscriber(
            &tenant,
            &NewSubscriber {
                external_id,
                locale,
                contacts,
                children,
            },
        )
        .await?;
    tracing::debug!(%tenant, id = %subscriber.id, "subscriber created");
    state.scheduler.subscribers_changed(&tenant);
    Ok((StatusCode::CREATED, Json(subscriber.into())))
}

/// A page of the tenant's subscribers, in creation order.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/subscribers", tag = "subscribers",
    params(("tenant" = String, Path), PageQuery),
    responses((status = 200, body = Paged<SubscriberView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_subscribers(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Paged<SubscriberView>>> {
    principal.require_tenant(&tenant)?;
    let request = page.request()?;
    let page = state.store.subscribers(&tenant, &request).await?;
    Ok(Json(Paged::from_page(page, Into::into)))
}

/// The tenant's subscribers counted by status (erased ones included).
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/subscribers/counts", tag = "subscribers",
    params(("tenant" = String, Path)),
    responses((status = 200, body = CountsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn subscriber_counts(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<CountsView>> {
    principal.require_tenant(&tenant)?;
    state.store.tenant(&tenant).await?;
    Ok(Json(state.store.subscriber_counts(&tenant).await?.into()))
}

/// Read a subscriber.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/subscribers/{id}", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = SubscriberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn get_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<Json<SubscriberView>> {
    principal.require_tenant(&tenant)?;
    Ok(Json(state.store.subscriber(&tenant, &id).await?.into()))
}

/// Change a subscriber's locale or contacts.
#[utoipa::path(
    patch, path = "/v1/tenants/{tenant}/subscribers/{id}", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = UpdateSubscriber,
    responses((status = 200, body = SubscriberView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn update_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Json422(body): Json422<UpdateSubscriber>,
) -> ApiResult<Json<SubscriberView>> {
    let rules = tenant_rules(&state, &principal, &tenant).await?;
    let patch = SubscriberPatch {
        locale: body
            .locale
            .as_deref()
            .map(|l| Rules::locale("locale", Some(l)))
            .transpose()
            .map_err(invalid)?,
        contacts: body
            .contacts
            .as_deref()
            .map(|c| rules.contacts(c.iter().map(|c| (c.channel.as_str(), c.address.as_str()))))
            .transpose()
            .map_err(invalid)?,
    };
    let subscriber = state.store.update_subscriber(&tenant, &id, &patch).await?;
    state.scheduler.subscribers_changed(&tenant);
    Ok(Json(subscriber.into()))
}

/// Erase a subscriber: its addresses, dates, stop reasons and external id
/// are removed and every pending delivery is cancelled; an anonymous row
/// stays so that counts survive.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/subscribers/{id}", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn erase_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    principal.require_tenant(&tenant)?;
    state.store.erase_subscriber(&tenant, &id).await?;
    tracing::info!(%tenant, %id, "subscriber erased");
    Ok(StatusCode::NO_CONTENT)
}

/// Stop every child of a subscriber at once ("stop when asked").
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/subscribers/{id}/stop", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = StopBody,
    responses((status = 200, body = SubscriberView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn stop_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Json422(body): Json422<StopBody>,
) -> ApiResult<Json<SubscriberView>> {
    principal.require_tenant(&tenant)?;
    let reason = stop_reason(&body.reason)?;
    let subscriber = state.store.stop_subscriber(&tenant, &id, reason).await?;
    tracing::info!(%tenant, %id, "subscriber stopped");
    Ok(Json(subscriber.into()))
}

/// Add a child (a new pregnancy or a sibling); a stopped subscriber becomes
/// active again.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/subscribers/{id}/children", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = ChildBody,
    responses((status = 201, body = ChildView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn add_child(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Json422(body): Json422<ChildBody>,
) -> ApiResult<(StatusCode, Json<ChildView>)> {
    let rules = tenant_rules(&state, &principal, &tenant).await?;
    let child = rules
        .child("", body.due_date.as_deref(), body.birth_date.as_deref())
        .map_err(|(field, message)| {
            let field = if field.is_empty() {
                "body".into()
            } else {
                field
            };
            ApiError::invalid(&field, message)
        })?;
    let child = state.store.add_child(&tenant, &id, &child).await?;
    state.scheduler.subscribers_changed(&tenant);
    Ok((StatusCode::CREATED, Json(child.into())))
}

/// Report a birth: the birth date becomes the child's anchor, so pregnancy
/// messages end and child messages begin. Reporting again corrects the date.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/subscribers/{id}/children/{child}/birth", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path), ("child" = String, Path)),
    request_body = BirthBody,
    responses((status = 200, body = ChildView), (status = 404, body = ErrorBody), (status = 409, description = "The child is stopped", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn report_birth(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id, child)): Path<(String, String, String)>,
    Json422(body): Json422<BirthBody>,
) -> ApiResult<Json<ChildView>> {
    let rules = tenant_rules(&state, &principal, &tenant).await?;
    let checked = rules
        .child("", None, Some(&body.birth_date))
        .map_err(invalid)?;
    let birth = checked.birth_date.expect("a birth date was given");
    let child = state
        .store
        .report_birth(&tenant, &id, &child, birth)
        .await?;
    tracing::info!(%tenant, subscriber = %id, child = %child.id, "birth reported");
    state.scheduler.subscribers_changed(&tenant);
    Ok(Json(child.into()))
}

/// Stop a child (including pregnancy loss): every pending delivery for it is
/// cancelled at once.
#[utoipa::path(
    post, path = "/v1/tenants/{tenant}/subscribers/{id}/children/{child}/stop", tag = "subscribers",
    params(("tenant" = String, Path), ("id" = String, Path), ("child" = String, Path)),
    request_body = StopBody,
    responses((status = 200, body = ChildView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn stop_child(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id, child)): Path<(String, String, String)>,
    Json422(body): Json422<StopBody>,
) -> ApiResult<Json<ChildView>> {
    principal.require_tenant(&tenant)?;
    let reason = stop_reason(&body.reason)?;
    let child = state.store.stop_child(&tenant, &id, &child, reason).await?;
    tracing::info!(%tenant, subscriber = %id, child = %child.id, "child stopped");
    Ok(Json(child.into()))
}
