//! `email`: Tayori's messages by email, through a SendGrid v3 compatible API.
//!
//! One batch is one `POST {api_base}/v3/mail/send` with a personalization
//! per recipient (see [`mail`]). The provider keeps no idempotency key, so
//! this plugin never retries within a call: the host's outbox is the guard,
//! and a retry is the host's decision after the outcome below. See README.md.
//!
//! | answer | outcome (every recipient of the request) |
//! |---|---|
//! | 2xx (202) | accepted, id = the `X-Message-Id` header |
//! | 400, 413 and other 4xx | permanent (the provider's `errors` quoted) |
//! | 401, 403 | unauthorized: the channel is paused |
//! | 429 | retry after `Retry-After`, else after `X-RateLimit-Reset`, else transient |
//! | 5xx, connection errors, timeouts | transient (`Retry-After` honoured on 503) |
//!
//! An address that is not an email address fails as gone without a request,
//! so that one bad address cannot make the provider refuse the whole batch.

mod inbound;
mod mail;
mod template;

use serde::Deserialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::http::{Request, Response};
use tayori_plugin_sdk::{
    Batch, ConfigError, Failure, FailureKind, Manifest, Outcome, Plugin, Recipient, WebhookRequest,
    WebhookResult, export_plugin, http,
};

use crate::mail::Sender;
use crate::template::Template;

/// SendGrid's production API.
const DEFAULT_API_BASE: &str = "https://api.sendgrid.com";
/// Recipients per second per channel: one full request (1,000
/// personalizations) a second. Steady, modest flows keep a municipality's
/// sending reputation with mailbox providers; raise it per channel if the
/// provider account allows more.
const RATE_PER_SECOND: u32 = 1_000;

#[derive(Deserialize)]
struct Config {
    api_key: String,
    from: String,
    #[serde(default)]
    from_name: Option<String>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default = "default_api_base")]
    api_base: String,
    unsubscribe_url: String,
    /// The basic-auth password of the Inbound Parse URL; without it the
    /// channel takes no inbound mail.
    #[serde(default)]
    inbound_secret: Option<String>,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_owned()
}

struct Email;

impl Plugin for Email {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("email", env!("CARGO_PKG_VERSION"))
            .name("Email (SendGrid v3 API)")
            .vendor("Tayori")
            .description(
                "Sends each batch as one request to a SendGrid v3 compatible mail API, with a \
                 text and an HTML part, one-click unsubscribe headers per recipient, and the \
                 delivery key as a custom argument.",
            )
            .config_schema(schema())
            // The loopback entries are for sandboxes and fakes, reachable
            // only when the operator approves that address for the channel.
            .hosts(["api.sendgrid.com", "127.0.0.1:*", "localhost:*"])
            .max_batch_size(mail::MAX_PERSONALIZATIONS as u32)
            .rate_per_second(RATE_PER_SECOND)
            .handles_webhooks(true)
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        platform_common::check_base_url("/api_base", &config.api_base)?;
        if config.api_key.trim().is_empty() {
            return Err(ConfigError::new("/api_key", "must not be empty"));
        }
        if !mail::is_address(&config.from) {
            return Err(ConfigError::new("/from", "must be an email address"));
        }
        if config
            .inbound_secret
            .as_deref()
            .is_some_and(|s| s.trim().len() < 16)
        {
            return Err(ConfigError::new(
                "/inbound_secret",
                "must be at least 16 characters (it is the inbound webhook's password)",
            ));
        }
        if let Some(reply_to) = config.reply_to.as_deref()
            && !mail::is_address(reply_to)
        {
            return Err(ConfigError::new("/reply_to", "must be an email address"));
        }
        let template = Template::parse(&config.unsubscribe_url)
            .map_err(|e| ConfigError::new("/unsubscribe_url", e.to_string()))?;
        platform_common::check_link(
            "/unsubscribe_url",
            &template.render("00000000-0000-4000-8000-000000000000", "someone@example.jp"),
        )
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        let template = match Template::parse(&config.unsubscribe_url) {
            Ok(template) => template,
            Err(error) => {
                return batch.fail_all(&Failure::permanent(format!(
                    "invalid channel config: /unsubscribe_url {error}"
                )));
            }
        };
        let (valid, invalid): (Vec<&Recipient>, Vec<&Recipient>) = batch
            .recipients
            .iter()
            .partition(|r| mail::is_address(&r.address));
        let mut outcomes: Vec<Outcome> = invalid
            .iter()
            .map(|r| r.failed(Failure::recipient_gone("not an email address")))
            .collect();
        let sender = Sender {
            from: &config.from,
            from_name: config.from_name.as_deref(),
            reply_to: config.reply_to.as_deref(),
        };
        for group in valid.chunks(mail::MAX_PERSONALIZATIONS) {
            let body = mail::body(&sender, &template, &batch, group);
            let result = send(config, &body);
            outcomes.extend(group.iter().map(|r| r.outcome(result.clone())));
        }
        outcomes
    }

    /// Parents' mail to the channel's address, posted by the provider's
    /// Inbound Parse webhook (see [`inbound`]); 404 without an
    /// `inbound_secret`.
    fn handle_webhook(config: &Config, request: WebhookRequest) -> WebhookResult {
        match config.inbound_secret.as_deref() {
            Some(secret) if !secret.is_empty() => inbound::handle(secret, &request),
            _ => WebhookResult::not_found(),
        }
    }
}

/// One `mail/send` request; the platform id is `X-Message-Id`.
fn send(config: &Config, body: &Value) -> Result<Option<String>, Failure> {
    let url = platform_common::endpoint(&config.api_base, "/v3/mail/send");
    let request = Request::post(url).json(body)?.bearer_auth(&config.api_key);
    let response = http::send(request)?;
    if response.is_success() {
        return Ok(response.header("x-message-id").map(str::to_owned));
    }
    Err(failure(&response, platform_common::unix_now()))
}

/// What a refusal means; `now` is the wall clock in Unix seconds.
fn failure(response: &Response, now: u64) -> Failure {
    let described = describe(response);
    let kind = match response.status {
        401 | 403 => FailureKind::Unauthorized,
        429 => tayori_plugin_sdk::classify(429, &response.headers)
            .filter(|kind| matches!(kind, FailureKind::RetryAfter(_)))
            .or_else(|| {
                let reset: u64 = response.header("x-ratelimit-reset")?.trim().parse().ok()?;
                let wait = reset.saturating_sub(now).max(1);
                Some(FailureKind::RetryAfter(
                    u32::try_from(wait).unwrap_or(u32::MAX),
                ))
            })
            .unwrap_or(FailureKind::Transient),
        status => {
            tayori_plugin_sdk::classify(status, &response.headers).unwrap_or(FailureKind::Permanent)
        }
    };
    Failure::new(kind, described)
}

/// `HTTP 400: <message> (<field>); ...` from the provider's `errors`.
fn describe(response: &Response) -> String {
    let errors: Vec<String> = response
        .json::<Value>()
        .ok()
        .and_then(|v| v["errors"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| match e["field"].as_str() {
            Some(field) => format!("{} ({field})", e["message"].as_str().unwrap_or("")),
            None => e["message"].as_str().unwrap_or("").to_owned(),
        })
        .collect();
    if errors.is_empty() {
        format!("the mail API answered {}", response.status)
    } else {
        format!(
            "the mail API answered {}: {}",
            response.status,
            errors.join("; ")
        )
    }
}

fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Email channel (SendGrid v3 API)",
        "type": "object",
        "additionalProperties": false,
        "required": ["api_key", "from", "unsubscribe_url"],
        "properties": {
            "api_key": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "An API key with the Mail Send permission (SendGrid: Settings → API Keys → Restricted Access → Mail Send)."
            },
            "from": {
                "type": "string",
                "format": "email",
                "description": "The sender address. It must be a verified sender or on an authenticated domain of the provider account."
            },
            "from_name": {
                "type": "string",
                "maxLength": 100,
                "description": "The sender's display name, e.g. the municipality's service name."
            },
            "reply_to": {
                "type": "string",
                "format": "email",
                "description": "Where parents' replies go (e.g. the municipality's child-rearing desk)."
            },
            "api_base": {
                "type": "string",
                "format": "uri",
                "default": DEFAULT_API_BASE,
                "description": "Base URL of the SendGrid v3 compatible API. Change it only for a sandbox, a fake or a compatible provider; https is required except on a loopback address, and the operator must approve its host for the channel."
            },
            "unsubscribe_url": {
                "type": "string",
                "minLength": 1,
                "description": "The one-click unsubscribe link of each mail (List-Unsubscribe), an https URL template with {{key}} (the delivery key) and/or {{address}} (the recipient), e.g. https://example.jp/unsub?key={{key}}. The page must accept a POST with List-Unsubscribe=One-Click (RFC 8058). When Tayori gives its own link for a recipient, that one is used."
            },
            "inbound_secret": {
                "type": "string",
                "minLength": 16,
                "writeOnly": true,
                "description": "Parents' mail to the channel's address: the password of the Inbound Parse URL's basic auth (SendGrid: Settings → Inbound Parse → the destination URL https://inbound:SECRET@your-tayori/hooks/{tenant}/{channel}). Without it the channel takes no inbound mail."
            }
        }
    })
}

export_plugin!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> Config {
        serde_json::from_value(value).expect("config deserialises")
    }

    fn good() -> Value {
        json!({
            "api_key": "SG.key",
            "from": "info@city.example.jp",
            "unsubscribe_url": "https://city.example.jp/unsub?key={{key}}"
        })
    }

    fn with(key: &str, value: Value) -> Config {
        let mut v = good();
        v[key] = value;
        config(v)
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_good_config_passes() {
        assert_eq!(Email::validate_config(&config(good())), Ok(()));
        assert_eq!(config(good()).api_base, "https://api.sendgrid.com");
    }

    #[test]
    fn odd_configs_are_refused_by_field() {
        for (key, value, field) in [
            ("from", json!("not an address"), "/from"),
            ("reply_to", json!("nobody"), "/reply_to"),
            ("api_base", json!("http://api.sendgrid.com"), "/api_base"),
            ("api_key", json!(" "), "/api_key"),
            (
                "unsubscribe_url",
                json!("https://x.jp/unsub"),
                "/unsubscribe_url",
            ),
            (
                "unsubscribe_url",
                json!("https://x.jp/unsub?k={{id}}"),
                "/unsubscribe_url",
            ),
            (
                "unsubscribe_url",
                json!("http://x.jp/unsub?k={{key}}"),
                "/unsubscribe_url",
            ),
        ] {
            let error = Email::validate_config(&with(key, value)).expect_err(key);
            assert_eq!(error.field, field, "{key}");
        }
    }

    #[test]
    fn refusals_map_to_what_the_host_does_next() {
        let bad = answer(
            400,
            &[],
            r#"{"errors":[{"message":"The from email does not contain a valid address.","field":"from.email","help":"http://sendgrid.com/docs"}]}"#,
        );
        let failure = failure(&bad, 0);
        assert_eq!(failure.kind, FailureKind::Permanent);
        assert_eq!(
            failure.message,
            "the mail API answered 400: The from email does not contain a valid address. (from.email)"
        );
        assert_eq!(failure_kind(401, &[]), FailureKind::Unauthorized);
        assert_eq!(failure_kind(403, &[]), FailureKind::Unauthorized);
        assert_eq!(failure_kind(413, &[]), FailureKind::Permanent);
        assert_eq!(failure_kind(500, &[]), FailureKind::Transient);
        assert_eq!(
            failure_kind(503, &[("retry-after", "7")]),
            FailureKind::RetryAfter(7)
        );
    }

    #[test]
    fn rate_limits_wait_as_long_as_the_provider_says() {
        assert_eq!(
            failure_kind(429, &[("retry-after", "30")]),
            FailureKind::RetryAfter(30)
        );
        assert_eq!(
            failure(
                &answer(429, &[("x-ratelimit-reset", "1000060")], ""),
                1_000_000
            )
            .kind,
            FailureKind::RetryAfter(60)
        );
        assert_eq!(
            failure(&answer(429, &[("x-ratelimit-reset", "5")], ""), 1_000_000).kind,
            FailureKind::RetryAfter(1)
        );
        assert_eq!(failure_kind(429, &[]), FailureKind::Transient);
    }

    fn failure_kind(status: u16, headers: &[(&str, &str)]) -> FailureKind {
        failure(&answer(status, headers, ""), 0).kind
    }

    #[test]
    fn bad_addresses_fail_without_a_request() {
        let batch = Batch {
            message_id: "m".into(),
            content: tayori_plugin_sdk::Content {
                subject: None,
                body: "hello".into(),
                locale: "ja".into(),
                buttons: Vec::new(),
                quick_replies: Vec::new(),
            },
            recipients: vec![Recipient {
                address: "not-an-address".into(),
                idempotency_key: "k1".into(),
                unsubscribe_url: None,
            }],
        };
        let outcomes = Email::deliver(&config(good()), batch);
        assert_eq!(
            outcomes,
            [Outcome::failed(
                "k1",
                Failure::recipient_gone("not an email address")
            )]
        );
    }

    #[test]
    fn the_manifest_declares_the_providers_limits() {
        let m = Email::manifest();
        assert_eq!(
            (m.id.as_str(), m.max_batch_size, m.rate_per_second),
            ("email", 1_000, 1_000)
        );
        assert_eq!(m.hosts[0], "api.sendgrid.com");
        assert_eq!(m.config_schema["properties"]["api_key"]["writeOnly"], true);
    }
}
