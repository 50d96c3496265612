//! Platforms' webhooks (`POST /hooks/{tenant}/{channel}`) and the inbound
//! events their plugins read from them (`GET /v1/tenants/{tenant}/inbound`).
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
//! answer as it is, status, headers and body, whatever it is: 401 for a bad
//! signature, 404 where the plugin takes no webhooks (LINE's `push_only`
//! mode, plugins without webhooks).
//!
//! A tenant or a channel that does not exist is the same plain 404, so the
//! route tells a stranger nothing about which tenants exist.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tayori_core::{
    InboundAction, InboundEvent, InboundRecord, MAX_INBOUND_ADDRESS_BYTES,
    MAX_INBOUND_DATA_BYTES, MAX_INBOUND_ID_BYTES, StoreError, WebhookRequest, WebhookResponse,
};
use tayori_runtime::CallContext;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::pagination::{PageQuery, Paged};
use crate::system::AsIs;

/// The largest webhook body taken. LINE's callbacks are a few KiB (a batch
/// of events, each under 5,000 characters of text); 1 MiB leaves room for
/// any platform's without letting a stranger make the plugin's sandbox copy
/// more.
pub const MAX_WEBHOOK_BODY: usize = 1 << 20;
/// The largest answer body a plugin may give its platform (platforms read
/// little more than the status).
pub const MAX_WEBHOOK_ANSWER: usize = 64 * 1024;
/// The most events one webhook may yield. More is a plugin fault: nothing
/// is recorded, and the platform hears 502 and sends again.
pub const MAX_WEBHOOK_EVENTS: usize = 1_000;

/// The webhook route, with its own body limit.
pub(crate) fn webhook_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook))
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

/// Headers the host sets itself on an answer.
const HOST_HEADERS: &[&str] = &["content-length", "transfer-encoding", "connection"];

/// Whether the host can keep an event as the plugin gave it (see the
/// limits of `InboundStore::record_inbound`).
fn keepable(event: &InboundEvent) -> bool {
    let fits = |s: &str, max: usize| !s.trim().is_empty() && s.len() <= max;
    fits(&event.id, MAX_INBOUND_ID_BYTES)
        && fits(&event.address, MAX_INBOUND_ADDRESS_BYTES)
        && event
            .kind
            .stored_data()
            .is_none_or(|d| d.len() <= MAX_INBOUND_DATA_BYTES)
        && i64::try_from(event.timestamp_ms).is_ok()
}

/// The plugin's answer as an HTTP response, or `None` when it cannot be
/// one (a status below 200, a body over [`MAX_WEBHOOK_ANSWER`]).
fn answer(plugin_answer: WebhookResponse) -> Option<Response> {
    let status = StatusCode::from_u16(plugin_answer.status)
        .ok()
        .filter(|s| s.as_u16() >= 200)?;
    if plugin_answer.body.len() > MAX_WEBHOOK_ANSWER {
        return None;
    }
    let mut response = Response::new(Body::from(plugin_answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in plugin_answer.headers {
        if HOST_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response.extensions_mut().insert(AsIs);
    Some(response)
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
/// checks the platform's signature. The answer is the plugin's, as it is
/// (e.g. LINE: 200, or 401 for a missing or wrong `x-line-signature`; 404
/// where the plugin takes no webhooks). The events it read are recorded
/// (a redelivered event once) and acted on before the answer: an unfollow
/// invalidates the contact, a follow makes it valid again, the rest are
/// listed at `GET /v1/tenants/{tenant}/inbound`.
#[utoipa::path(
    post, path = "/hooks/{tenant}/{channel}", tag = "inbound",
    params(
        ("tenant" = String, Path, description = "The tenant's id"),
        ("channel" = String, Path, description = "The channel's name"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The platform's request as it sent it, at most 1 MiB (LINE: JSON with `x-line-signature`)"),
    responses(
        (status = 200, description = "The plugin's answer to the platform: its status, headers and body, whatever they are"),
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
        tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, dropped = unkeepable.len(), "events without an id or address, or over the size limits, were dropped");
    }
    let Some(response) = answer(result.response) else {
        tracing::warn!(%tenant, channel = %name, plugin = %channel.plugin_id, %version, "webhook failed: the plugin's answer is not a final HTTP status or is over {MAX_WEBHOOK_ANSWER} bytes");
        return Err(plugin_failed());
    };
    if !events.is_empty() {
        let now = state.scheduler.clock().now();
        let recorded = state
            .store
            .record_inbound(&tenant, &name, &events, now)
            .await?;
        let mut changed = false;
        for r in &recorded {
            let action = if r.duplicate {
                "duplicate"
            } else {
                r.record.action.as_str()
            };
            changed |= !r.duplicate && r.record.action != InboundAction::Recorded;
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
    /// recorded (nothing to change), contact_invalidated, contact_restored,
    /// or superseded (a later follow or unfollow was already applied).
    pub action: String,
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
    use super::*;
    use tayori_core::EventKind;

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
    fn events_the_store_cannot_keep_are_told_apart() {
        assert!(keepable(&event("e", "U1", EventKind::Unfollow)));
        assert!(!keepable(&event("", "U1", EventKind::Unfollow)));
        assert!(!keepable(&event("e", " ", EventKind::Unfollow)));
        assert!(!keepable(&event(
            &"e".repeat(MAX_INBOUND_ID_BYTES + 1),
            "U1",
            EventKind::Unfollow
        )));
        assert!(!keepable(&event(
            "e",
            "U1",
            EventKind::Text("x".repeat(MAX_INBOUND_DATA_BYTES + 1))
        )));
        let mut late = event("e", "U1", EventKind::Unfollow);
        late.timestamp_ms = u64::MAX;
        assert!(!keepable(&late));
    }

    #[test]
    fn a_plugins_answer_goes_out_as_it_is_or_not_at_all() {
        let ok = answer(WebhookResponse {
            status: 401,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("Content-Length".into(), "999".into()),
                ("bad header".into(), "x".into()),
            ],
            body: br#"{"message":"invalid x-line-signature"}"#.to_vec(),
        })
        .expect("a 401 is an answer");
        assert_eq!(ok.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ok.headers()["content-type"], "application/json");
        assert!(ok.headers().get("content-length").is_none());
        assert_eq!(ok.headers().len(), 1);
        assert!(ok.extensions().get::<AsIs>().is_some());
        for (status, size) in [(100, 0), (99, 0), (1000, 0), (200, MAX_WEBHOOK_ANSWER + 1)] {
            let refused = answer(WebhookResponse {
                status,
                headers: Vec::new(),
                body: vec![b'x'; size],
            });
            assert!(refused.is_none(), "{status} with {size} bytes");
        }
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
