//! `echo`: the smallest real JSON-over-HTTP plugin, for the host's tests.
//!
//! It POSTs each recipient's message to a fake platform on loopback and maps
//! the answer with the SDK, so a test controls the outcome through the fake's
//! response. It also proves the SDK's claim that such a plugin is short.
//!
//! The `echo-v2` crate builds this same file as version 2.0.0 (its Cargo.toml
//! points here); its platform ids start with `echo2-`, so a test can tell
//! which version produced an outcome.

use serde::Deserialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::{
    Batch, ConfigError, EventKind, Failure, InboundEvent, Manifest, Outcome, Plugin, Recipient,
    WebhookRequest, WebhookResponse, WebhookResult, export_plugin, http,
};

const V2: bool = matches!(env!("CARGO_PKG_NAME").as_bytes(), b"echo-v2");
const ID_PREFIX: &str = if V2 { "echo2-" } else { "echo-" };

#[derive(Deserialize)]
struct Config {
    endpoint: String,
    #[serde(default)]
    token: Option<String>,
    /// Answer without any HTTP (benchmarks of the host alone).
    #[serde(default)]
    skip_http: bool,
}

struct Echo;

impl Plugin for Echo {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("echo", env!("CARGO_PKG_VERSION"))
            .name("Echo")
            .vendor("Tayori test programs")
            .description("Posts each message as JSON to a configured endpoint.")
            .config_schema(json!({
                "type": "object",
                "required": ["endpoint"],
                "properties": {
                    "endpoint": { "type": "string" },
                    "token": { "type": "string", "writeOnly": true },
                    "skip_http": { "type": "boolean" }
                }
            }))
            .hosts(["127.0.0.1:*", "localhost:*"])
            .max_batch_size(100)
            .rate_per_second(1000)
            .handles_webhooks(true)
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        if config.endpoint.starts_with("http://") || config.endpoint.starts_with("https://") {
            Ok(())
        } else {
            Err(ConfigError::new("/endpoint", "must be an http(s) URL"))
        }
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        let outcome = |r: &Recipient| match config.skip_http {
            true => r.accepted(Some(format!("{ID_PREFIX}{}", r.idempotency_key))),
            false => r.outcome(post(config, &batch, r)),
        };
        batch.recipients.iter().map(outcome).collect()
    }

    fn handle_webhook(_config: &Config, request: WebhookRequest) -> WebhookResult {
        match request.json::<Value>() {
            Ok(body) => WebhookResult::ok(events(&body)),
            Err(_) => WebhookResult {
                response: WebhookResponse::status(400),
                events: Vec::new(),
            },
        }
    }
}

/// Send one recipient's message; the platform id is the answer's `"id"`.
fn post(config: &Config, batch: &Batch, recipient: &Recipient) -> Result<Option<String>, Failure> {
    let body = json!({
        "to": recipient.address,
        "key": recipient.idempotency_key,
        "message_id": batch.message_id,
        "subject": batch.content.subject,
        "body": batch.content.body,
    });
    let mut headers = vec![("x-retry-key", recipient.idempotency_key.as_str())];
    let bearer = config.token.as_ref().map(|t| format!("Bearer {t}"));
    headers.extend(bearer.as_deref().map(|b| ("authorization", b)));
    let response = http::post_json(&config.endpoint, &headers, &body)?.error_for_status()?;
    let id = response.json::<Value>().ok().and_then(|v| match &v["id"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    Ok(id.map(|id| if V2 { format!("{ID_PREFIX}{id}") } else { id }))
}

/// `{"events":[{"id","address","type":"follow"|"unfollow"|"text","text"}]}`;
/// events of other types are skipped.
fn events(body: &Value) -> Vec<InboundEvent> {
    let list = body["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    list.iter()
        .filter_map(|e| {
            let kind = match e["type"].as_str()? {
                "follow" => EventKind::Follow { unblocked: false },
                "unfollow" => EventKind::Unfollow,
                "text" => EventKind::Text(text(e, "text")),
                _ => return None,
            };
            Some(InboundEvent::new(
                text(e, "id"),
                text(e, "address"),
                e["timestamp_ms"].as_u64().unwrap_or(0),
                kind,
            ))
        })
        .collect()
}

export_plugin!(Echo);
