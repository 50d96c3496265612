//! Platforms' webhooks (`POST /hooks/{tenant}/{channel}`, and the `GET` with
//! which a platform checks the URL, such as X's challenge-response check) and
//! the inbound events their plugins read from them
//! (`GET /v1/tenants/{tenant}/inbound`).
//!
//! A platform cannot send Tayori's bearer token, so the webhook route has
//! none: the channel's plugin is the gate. It gets the request as the
//! platform sent it (method, path, query, headers, raw body, at most
//! [`MAX_WEBHOOK_BODY`]) with the channel's decrypted config, checks the
//! platform's signature (LINE's `x-line-signature`), and says what to answer
//! and which events it read. The host records those events and does what
//! they ask (see `tayori_core::domain::inbound`) in one transaction *before*
//! it answers: a platform that hears 2xx has nothing to send again, and one
//! that hears nothing (or 5xx) sends again harmlessly, since an event is
//! kept once per platform event id. The platform then hears the plugin's
//! answer, its status, body and the few headers a platform reads (see
//! [`answer`]: never a cookie on the host's origin): 401 for a bad
//! signature, 404 where the plugin takes no webhooks (LINE's `push_only`
//! mode, plugins without webhooks).
//!
//! A tenant or a channel that does not exist is the same plain 404, so the
//! route tells a stranger nothing about which tenants exist.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tayori_core::{InboundAction, InboundEvent, InboundRecord, StoreError, WebhookRequest};
use tayori_runtime::CallContext;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::pagination::{PageQuery, Paged};

mod answer;
mod converse;
mod in_turn;
pub use answer::{ANSWER_HEADERS, MAX_WEBHOOK_ANSWER, answer, answerable};
pub use converse::{MAX_REPLY_MESSAGES, REGISTER_LINK_HOURS};

/// The largest webhook body taken. LINE's callbacks are a few KiB (a batch
/// of events, each under 5,000 characters of text); 1 MiB leaves room for
/// any platform's without letting a stranger make the plugin's sandbox copy
/// more.
pub const MAX_WEBHOOK_BODY: usize = 1 << 20;
/// The most events one webhook may yield. More is a plugin fault: nothing
/// is recorded, and the platform hears 502 and sends again.
pub const MAX_WEBHOOK_EVENTS: usize = 1_000;

/// The webhook route, with its own body limit.
pub(crate) fn webhook_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook, webhook_check))
}

/// The inbound list.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_inbound))
}

/// The answer to a webhook whose tenant or channel does not exist: the
/// same for both.
fn no_webhook() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no webhook at this address",
    )
}

fn plugin_failed() -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "plugin_failed",
        "the channel's plugin could not handle this request",
    )
}

/// Whether the host can keep an event at all: only its id must be usable
/// (the key a redelivery is recognised by). An event wrong in any other
/// way is kept as refused, with the reason, by the store (see
/// `tayori_core::inbound_refusal`), and the others go on.
fn keepable(event: &InboundEvent) -> bool {
    tayori_core::id_problem(&event.id).is_none()
}

/// `message` with every secret value of `config` masked.
fn redacted(message: String, secret_fields: &[String], config: &serde_json::Value) -> String {
    let mut out = message;
    for field in secret_fields {
        if let Some(serde_json::Value::String(secret)) = config.get(field)
            && !secret.is_empty()
        {
            out = out.replace(secret.as_str(), crate::secrets::REDACTED);
        }
    }
    out
}

/// A platform's webhook for a channel. No token: the channel's plugin
/// checks the platform's signature. The answer is the plugin's status and
/// body, with only `content-type`, `content-language`, `retry-after` and
/// `www-authenticate` of its headers (never a cookie) (e.g. LINE: 200, or 401 for a missing or wrong `x-line-signature`; 404
/// where the plugin takes no webhooks). The events it read are recorded
/// (a redelivered event once) and acted on before the answer: an unfollow
/// invalidates the contact at once. After the answer, each new event is
/// answered in the chat: the registration conversation (a follow is
/// greeted, an unblocking one asked whether to resume), or a mail's
/// signed link to the form. All are listed at
/// `GET /v1/tenants/{tenant}/inbound`.
#[utoipa::path(
    post, path = "/hooks/{tenant}/{channel}", tag = "inbound",
    params(
        ("tenant" = String, Path, description = "The tenant's id"),
        ("channel" = String, Path, description = "The channel's name"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The platform's request as it sent it, at most 1 MiB (LINE: JSON with `x-line-signature`)"),
    responses(
        (status = 200, description = "The plugin's answer to the platform: its status (2xx, 4xx or 5xx), its body (at most 64 KiB) and only its `content-type`, `content-language`, `retry-after` and `www-authenticate` headers"),
        (status = 404, description = "No such tenant or channel (one answer for both)", body = ErrorBody),
        (status = 413, description = "Over 1 MiB", body = ErrorBody),
        (status = 500, description = "The events could not be recorded; the platform should send again", body = ErrorBody),
        (status = 502, description = "The plugin failed (trap, timeout, an answer that is not HTTP)", body = ErrorBody),
        (status = 503, description = "The channel's plugin version is not loaded", body = ErrorBody),
    )
)]
async fn webhook(
    State(state): State<AppState>,
    Path((tenant, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    handle(state, tenant, name, method, uri, headers, body).await
}

/// A platform's check of a channel's webhook URL (X: `GET ?crc_token=...`,
/// answered with the plugin's HMAC of the token). No token, as for the
/// `POST`: the request goes to the channel's plugin with an empty body, and
/// the platform hears the plugin's answer (404 where the plugin takes no
/// webhooks).
#[utoipa::path(
    get, path = "/hooks/{tenant}/{channel}", tag = "inbound",
    params(
        ("tenant" = String, Path, description = "The tenant's id"),
        ("channel" = String, Path, description = "The channel's name"),
        ("crc_token" = Option<String>, Query, description = "X's challenge; the whole query goes to the plugin as it came"),
    ),
    responses(
        (status = 200, description = "The plugin's answer to the platform (X: `{\"response_token\":\"sha256=...\"}`): its status (2xx, 4xx or 5xx), its body (at most 64 KiB) and only its `content-type`, `content-language`, `retry-after` and `www-authenticate` headers"),
        (status = 404, description = "No such tenant or channel (one answer for both)", body = ErrorBody),
        (status = 500, description = "The events could not be recorded; the platform should send again", body = ErrorBody),
        (status = 502, description = "The plugin failed (trap, timeout, an answer that is not HTTP)", body = ErrorBody),
        (status = 503, description = "The channel's plugin version is not loaded", body = ErrorBody),
    )
)]
async fn webhook_check(
    State(state): State<AppState>,
    Path((tenant, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    handle(state, tenant, name, method, uri, headers, Bytes::new()).await
}

/// One webhook request, whatever its method: to the channel's plugin, its
/// events recorded, its answer passed on.
async fn handle(
    state: AppState,
    tenant: String,
    name: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let channel = match state.store.channel(&tenant, &name).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Err(no_webhook()),
        Err(e) => return Err(e.into()),
    };
    let Some(plugin) =
        state
            .plugins
            .resolve(&channel.plugin_id, Some(&tenant), channel.version.as_ref())
    else {
        tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, "webhook refused: the channel's plugin is not loaded");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "plugin_unavailable",
            "the channel's plugin is not loaded; send again later",
        ));
    };
    let config = state
        .secrets
        .channel_config(&channel)
        .map_err(|e| ApiError::internal(format!("webhook of channel `{tenant}/{name}`: {e}")))?;
    let request = WebhookRequest {
        method: method.to_string(),
        // The contract's path is what follows `/hooks/{tenant}/{channel}`:
        // nothing, since only that path is routed.
        path: uri
            .path()
            .strip_prefix(&format!("/hooks/{tenant}/{name}"))
            .unwrap_or_default()
            .to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let ctx = CallContext {
        tenant: Some(tenant.clone()),
        channel: Some(name.clone()),
        approved_hosts: channel.allowed_hosts.clone(),
        capture: false,
    };
    let version = plugin.record.version.to_string();
    let called = state
        .plugins
        .runtime()
        .handle_webhook(&plugin, &ctx, &config.to_string(), &request)
        .await;
    let result = match called.result {
        Ok(r) => r,
        Err(e) => {
            let why = redacted(
                e.to_string(),
                &plugin.record.manifest.secret_fields(),
                &config,
            );
            tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, "webhook failed: {why}");
            return Err(plugin_failed());
        }
    };
    if result.events.len() > MAX_WEBHOOK_EVENTS {
        tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, events = result.events.len(), "webhook refused: the plugin gave more than {MAX_WEBHOOK_EVENTS} events");
        return Err(plugin_failed());
    }
    let (events, unkeepable): (Vec<InboundEvent>, Vec<InboundEvent>) =
        result.events.into_iter().partition(keepable);
    if !unkeepable.is_empty() {
        tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, dropped = unkeepable.len(), "events without a usable id (empty, too long, or with a NUL) were dropped");
    }
    let Some(response) = answer(result.response) else {
        tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, "webhook failed: the plugin's answer is not a final HTTP status or is over {MAX_WEBHOOK_ANSWER} bytes");
        return Err(plugin_failed());
    };
    if !events.is_empty() {
        // Its answers come after those of this contact's earlier webhooks.
        let mut place = converse::in_turn(
            events
                .iter()
                .map(|e| (tenant.clone(), name.clone(), e.address.clone()))
                .collect(),
        );
        let now = state.scheduler.clock().now();
        let recorded = state
            .store
            .record_inbound(&tenant, &name, &events, now)
            .await?;
        // The new events are answered after the platform has its answer.
        let heard: Vec<converse::Heard> = events
            .iter()
            .zip(&recorded)
            .filter(|(_, r)| !r.duplicate && r.record.action != InboundAction::Refused)
            .map(|(event, r)| converse::Heard {
                event: event.clone(),
                record: r.record.clone(),
            })
            .collect();
        if !heard.is_empty() {
            match state.store.tenant(&tenant).await {
                Ok(tenant_row) => {
                    let answering = converse::Answering {
                        state: state.clone(),
                        tenant: tenant_row,
                        channel: channel.clone(),
                        plugin: plugin.clone(),
                        ctx: ctx.clone(),
                        config: config.to_string().into(),
                    };
                    tokio::spawn(async move {
                        place.wait().await;
                        answering.answer_all(heard).await;
                        drop(place);
                    });
                }
                Err(e) => tracing::warn!(%tenant, error = %e, "cannot answer inbound events"),
            }
        }
        let mut changed = false;
        for r in &recorded {
            let action = if r.duplicate {
                "duplicate"
            } else {
                r.record.action.as_str()
            };
            changed |= !r.duplicate
                && !matches!(
                    r.record.action,
                    InboundAction::Recorded | InboundAction::Refused
                );
            if !r.duplicate && r.record.action == InboundAction::Refused {
                tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, event = %r.record.event_id, reason = r.record.reason.as_deref().unwrap_or_default(), "inbound event refused");
            }
            metrics::counter!("tayori_inbound_events_total", "tenant" => tenant.clone(), "channel" => name.clone(), "kind" => r.record.kind.as_str(), "action" => action).increment(1);
        }
        if changed {
            // A contact came back or went: plan and send accordingly.
            state.scheduler.changed(Some(&tenant));
        }
        let duplicates = recorded.iter().filter(|r| r.duplicate).count();
        tracing::info!(%tenant, channel = %name, events = recorded.len(), duplicates, status = response.status().as_u16(), "webhook");
    }
    Ok(response)
}

/// An inbound event: what a channel's plugin read from its platform's
/// webhook, and what the host did with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundView {
    /// Its place in the order of arrival.
    pub id: i64,
    pub channel: String,
    /// The platform's id of the event (LINE's `webhookEventId`).
    pub event_id: String,
    /// The sender on the platform (a LINE user id); `null` once the
    /// subscriber it belonged to was erased.
    pub address: Option<String>,
    /// follow, unfollow, text or postback.
    pub kind: String,
    /// A follow that unblocked the account.
    pub unblocked: bool,
    /// A text's words, a postback's data; `null` once erased.
    pub data: Option<String>,
    /// When it happened (the platform's clock).
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// recorded (nothing to change), contact_invalidated, contact_restored
    /// (only on events kept before resuming became the parent's choice),
    /// superseded (a later follow or unfollow was already applied), or
    /// refused (it could not be taken as it came: see `reason`).
    pub action: String,
    /// Why a refused event was refused; `null` otherwise.
    pub reason: Option<String>,
    /// The subscriber and contact the address belonged to when it arrived.
    pub subscriber_id: Option<String>,
    pub contact_id: Option<String>,
}

impl From<InboundRecord> for InboundView {
    fn from(r: InboundRecord) -> Self {
        Self {
            id: r.id,
            channel: r.channel,
            event_id: r.event_id,
            address: r.address,
            kind: r.kind.to_string(),
            unblocked: r.unblocked,
            data: r.data,
            occurred_at: r.occurred_at,
            received_at: r.received_at,
            action: r.action.to_string(),
            reason: r.reason,
            subscriber_id: r.subscriber_id,
            contact_id: r.contact_id,
        }
    }
}

/// The tenant's inbound events, in order of arrival: follows of strangers,
/// texts and postbacks are registration steps to take up; unfollows and
/// follows of known contacts show what the host did. The cursor is the `id`
/// of the last event read, so a reader can keep its place and ask again.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/inbound", tag = "inbound",
    params(("tenant" = String, Path), PageQuery),
    responses((status = 200, body = Paged<InboundView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_inbound(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Paged<InboundView>>> {
    principal.require_tenant(&tenant)?;
    let request = q.request()?;
    let page = state.store.inbound_events(&tenant, &request).await?;
    Ok(Json(Paged::from_page(page, Into::into)))
}

#[cfg(test)]
mod tests {
    use tayori_core::EventKind;

    use super::*;

    fn event(id: &str, address: &str, kind: EventKind) -> InboundEvent {
        InboundEvent {
            id: id.into(),
            address: address.into(),
            timestamp_ms: 1,
            kind,
            reply: None,
            redelivery: false,
        }
    }

    #[test]
    fn only_an_event_without_a_usable_id_is_dropped() {
        assert!(keepable(&event("e", "U1", EventKind::Unfollow)));
        assert!(!keepable(&event("", "U1", EventKind::Unfollow)));
        assert!(!keepable(&event(" ", "U1", EventKind::Unfollow)));
        assert!(!keepable(&event("e\0", "U1", EventKind::Unfollow)));
        assert!(!keepable(&event(
            &"e".repeat(tayori_core::MAX_INBOUND_ID_BYTES + 1),
            "U1",
            EventKind::Unfollow
        )));
        // The store keeps these as refused.
        assert!(keepable(&event("e", " ", EventKind::Unfollow)));
        assert!(keepable(&event("e", "U1", EventKind::Text("a\0b".into()))));
        let mut late = event("e", "U1", EventKind::Unfollow);
        late.timestamp_ms = u64::MAX;
        assert!(keepable(&late));
    }

    #[test]
    fn secrets_are_masked_in_failures() {
        let config = serde_json::json!({"channel_secret": "s3cret", "mode": "full"});
        let text = redacted(
            "trap: panicked at 's3cret'".into(),
            &["channel_secret".into(), "channel_access_token".into()],
            &config,
        );
        assert_eq!(text, "trap: panicked at '<redacted>'");
    }
}
