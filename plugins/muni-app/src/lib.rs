//! `muni-app`: Tayori's messages to a municipality's own app.
//!
//! The app's backend receives each delivery as a Standard Webhooks message
//! (see [`signature`]): a JSON `POST` to the configured endpoint, signed with
//! the secret the municipality and Tayori share, so the app vendor verifies
//! it with any Standard Webhooks library and drops a redelivery by its
//! `webhook-id` (the delivery key). One request per recipient; the plugin
//! never retries within a call. See README.md for the payload.
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx | accepted, id = the answer's `"id"` if it is JSON with one |
//! | 410 | recipient gone: the app no longer knows this user |
//! | 429, 503 | retry after `Retry-After`, else transient |
//! | 401, 403 | unauthorized: the app refuses the signature; the channel is paused |
//! | 5xx, 408, connection errors, timeouts | transient |
//! | other 4xx | permanent |

mod payload;
mod signature;

use serde::Deserialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::http::{Request, Response};
use tayori_plugin_sdk::{
    Batch, ConfigError, Failure, FailureKind, Manifest, Outcome, Plugin, Recipient, export_plugin,
};

/// Recipients per second per channel: a municipality's app backend is
/// usually a modest server; raise it per channel when the vendor says so.
const RATE_PER_SECOND: u32 = 100;
/// Recipients per call.
const MAX_BATCH: u32 = 100;
/// Requests in flight at once.
const WAVE: usize = 10;

#[derive(Deserialize)]
struct Config {
    endpoint: String,
    secret: String,
}

struct MuniApp;

impl Plugin for MuniApp {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("muni-app", env!("CARGO_PKG_VERSION"))
            .name("Municipal app (Standard Webhooks)")
            .vendor("Tayori")
            .description(
                "Posts each delivery as JSON to the municipality's own app backend, signed per \
                 the Standard Webhooks specification (webhook-id = the delivery key), so the \
                 app vendor verifies it with an existing library.",
            )
            .config_schema(schema())
            // A municipality's backend has its own host name, which a manifest
            // cannot list in advance (see README.md, "Hosts"); the loopback
            // entries serve sandboxes and fakes, reachable only when the
            // operator approves that address for the channel.
            .hosts(["127.0.0.1:*", "localhost:*"])
            .max_batch_size(MAX_BATCH)
            .rate_per_second(RATE_PER_SECOND)
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        platform_common::check_link("/endpoint", &config.endpoint)?;
        signature::key(&config.secret)
            .map(drop)
            .map_err(|e| ConfigError::new("/secret", e.to_string()))
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        let key = match signature::key(&config.secret) {
            Ok(key) => key,
            Err(error) => {
                return batch.fail_all(&Failure::permanent(format!(
                    "invalid channel config: /secret {error}"
                )));
            }
        };
        let now = platform_common::unix_now();
        let mut outcomes = Vec::with_capacity(batch.recipients.len());
        let mut sending: Vec<(&Recipient, Request)> = Vec::new();
        for recipient in &batch.recipients {
            if recipient.address.trim().is_empty() {
                outcomes.push(recipient.failed(Failure::recipient_gone("empty app user id")));
                continue;
            }
            match request(config, &key, &batch, recipient, now) {
                Ok(request) => sending.push((recipient, request)),
                Err(failure) => outcomes.push(recipient.failed(failure)),
            }
        }
        let (recipients, requests): (Vec<&Recipient>, Vec<Request>) = sending.into_iter().unzip();
        let answers = platform_common::send_in_waves(requests, WAVE);
        for (recipient, answer) in recipients.into_iter().zip(answers) {
            let result = answer
                .map_err(Failure::from)
                .and_then(|response| outcome(&response));
            outcomes.push(recipient.outcome(result));
        }
        outcomes
    }
}

/// One signed message for one recipient.
fn request(
    config: &Config,
    key: &[u8],
    batch: &Batch,
    recipient: &Recipient,
    now: u64,
) -> Result<Request, Failure> {
    let body = serde_json::to_vec(&payload::message(batch, recipient, now))
        .map_err(|e| Failure::permanent(format!("the payload does not serialise: {e}")))?;
    let id = &recipient.idempotency_key;
    Ok(Request::post(&config.endpoint)
        .header("content-type", "application/json")
        .header("webhook-id", id.as_str())
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature::sign(key, id, now, &body))
        .body(body))
}

/// The outcome of one answer.
fn outcome(response: &Response) -> Result<Option<String>, Failure> {
    if response.is_success() {
        let id = response
            .json::<Value>()
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned));
        return Ok(id);
    }
    let mut excerpt: String = response.text().trim().chars().take(200).collect();
    if !excerpt.is_empty() {
        excerpt.insert_str(0, ": ");
    }
    let described = format!("the app answered {}{excerpt}", response.status);
    let kind = match response.status {
        410 => FailureKind::RecipientGone,
        status => {
            tayori_plugin_sdk::classify(status, &response.headers).unwrap_or(FailureKind::Permanent)
        }
    };
    Err(Failure::new(kind, described))
}

fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Municipal app channel (Standard Webhooks)",
        "type": "object",
        "additionalProperties": false,
        "required": ["endpoint", "secret"],
        "properties": {
            "endpoint": {
                "type": "string",
                "format": "uri",
                "description": "The app backend's URL that receives deliveries, e.g. https://app.city.example.jp/tayori/deliveries. https is required except on a loopback address, and the operator must approve its host for the channel."
            },
            "secret": {
                "type": "string",
                "pattern": "^whsec_[A-Za-z0-9+/]+={0,2}$",
                "writeOnly": true,
                "description": "The Standard Webhooks signing secret shared with the app vendor: whsec_ followed by the base64 of 24 to 64 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)."
            }
        }
    })
}

export_plugin!(MuniApp);

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::Content;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn config(endpoint: &str, secret: &str) -> Config {
        Config {
            endpoint: endpoint.into(),
            secret: secret.into(),
        }
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

    fn kind(response: Response) -> FailureKind {
        outcome(&response).expect_err("a failure").kind
    }

    #[test]
    fn configs_are_checked() {
        assert_eq!(
            MuniApp::validate_config(&config("https://app.city.example.jp/hook?v=1", SECRET)),
            Ok(())
        );
        assert_eq!(
            MuniApp::validate_config(&config("http://app.city.example.jp/hook", SECRET))
                .unwrap_err()
                .field,
            "/endpoint"
        );
        let error = MuniApp::validate_config(&config("http://127.0.0.1:9/hook", "whsec_c2hvcnQ="))
            .unwrap_err();
        assert_eq!(error.field, "/secret");
        assert!(error.message.contains("24 to 64"), "{error}");
    }

    #[test]
    fn requests_carry_the_standard_webhooks_headers() {
        let batch = Batch {
            message_id: "m".into(),
            content: Content {
                subject: None,
                body: "hello".into(),
                locale: "ja".into(),
                buttons: Vec::new(),
                quick_replies: Vec::new(),
            },
            recipients: vec![Recipient {
                address: "app-user-1".into(),
                idempotency_key: "00000000-0000-4000-8000-000000000001".into(),
                unsubscribe_url: None,
            }],
        };
        let key = signature::key(SECRET).unwrap();
        let c = config("https://app.city.example.jp/hook", SECRET);
        let request = request(&c, &key, &batch, &batch.recipients[0], 1_700_000_000).unwrap();
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header("webhook-id"), "00000000-0000-4000-8000-000000000001");
        assert_eq!(header("webhook-timestamp"), "1700000000");
        assert_eq!(
            header("webhook-signature"),
            signature::sign(
                &key,
                "00000000-0000-4000-8000-000000000001",
                1_700_000_000,
                &request.body
            )
        );
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(request.url, "https://app.city.example.jp/hook");
    }

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(
            outcome(&answer(200, &[], r#"{"id":"n-1"}"#)),
            Ok(Some("n-1".into()))
        );
        assert_eq!(outcome(&answer(204, &[], "")), Ok(None));
        assert_eq!(
            kind(answer(410, &[], "user deleted")),
            FailureKind::RecipientGone
        );
        assert_eq!(
            kind(answer(429, &[("retry-after", "12")], "")),
            FailureKind::RetryAfter(12)
        );
        assert_eq!(kind(answer(429, &[], "")), FailureKind::Transient);
        assert_eq!(kind(answer(500, &[], "")), FailureKind::Transient);
        assert_eq!(kind(answer(401, &[], "")), FailureKind::Unauthorized);
        assert_eq!(kind(answer(400, &[], "")), FailureKind::Permanent);
        let failure = outcome(&answer(410, &[], "user deleted")).unwrap_err();
        assert_eq!(failure.message, "the app answered 410: user deleted");
    }
}
