//! `x-dm`: Tayori's messages as X (Twitter) direct messages, and parents'
//! answers from X's Account Activity webhook.
//!
//! Each recipient (an X user id) gets one DM, authorised as the
//! municipality's X account: by an OAuth 2.0 user token (`Bearer`), or,
//! since those expire after two hours, signed with OAuth 1.0a ([`oauth1`])
//! when the channel has the App's consumer key and secret and the account's
//! access token secret. Plain text goes through the X API v2,
//! `POST {api_base}/2/dm_conversations/with/{participant_id}/messages` with
//! `{"text": ...}`. A message with choices (postback buttons and quick
//! replies, links) goes through the v1.1 event endpoint,
//! `POST {api_base}/1.1/direct_messages/events/new.json`, the only one with
//! quick replies and link buttons, which takes OAuth 1.0a alone; see
//! [`message`] for how content becomes a DM and what falls back to text.
//! X allows each sending user 200 DMs per 15 minutes and 1,000 per 24 hours:
//! the manifest declares both windows so that the host's limiter holds them,
//! and an X 429 says when the window resets ([`answer`]). X keeps no
//! idempotency key, so the plugin never retries within a call.
//!
//! With the consumer secret, the channel also takes X's webhooks
//! ([`webhook`]): the challenge-response check, then signed DMs, quick-reply
//! choices, follows and blocks as inbound events. X has no reply handle: the
//! manifest declares no replies, and the host answers by push. See
//! README.md.

mod answer;
mod message;
mod oauth1;
mod webhook;

use serde::Deserialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::http::Request;
use tayori_plugin_sdk::{
    Batch, ConfigError, Failure, Manifest, Outcome, Plugin, Recipient, Renders, WebhookRequest,
    WebhookResult, export_plugin,
};

use crate::answer::Endpoint;
use crate::message::Dm;

/// X's production API.
const DEFAULT_API_BASE: &str = "https://api.x.com";
/// DMs per 15 minutes per sending user.
const WINDOW_15_MIN: (u32, u32) = (200, 900);
/// DMs per 24 hours per sending user.
const WINDOW_24_H: (u32, u32) = (1_000, 86_400);
/// Recipients per call; small, since the windows above are the real limit.
const MAX_BATCH: u32 = 20;
/// Requests in flight at once.
const WAVE: usize = 5;
/// Postback and link buttons per message the host hands over: LINE's 4.
const MAX_BUTTONS: u32 = 4;
/// Quick replies per message the host hands over: the rest of X's 20
/// options, so that buttons and quick replies together always fit.
const MAX_QUICK_REPLIES: u32 = message::MAX_OPTIONS as u32 - MAX_BUTTONS;

#[derive(Deserialize)]
struct Config {
    access_token: String,
    #[serde(default)]
    access_token_secret: Option<String>,
    #[serde(default)]
    consumer_key: Option<String>,
    #[serde(default)]
    consumer_secret: Option<String>,
    #[serde(default = "default_api_base")]
    api_base: String,
}

/// How requests are authorised.
enum Auth<'a> {
    /// OAuth 2.0 user token.
    Bearer(&'a str),
    /// OAuth 1.0a signature.
    OAuth1(oauth1::Credentials<'a>),
}

impl Config {
    /// The OAuth 1.0a fields, all or none of them.
    fn auth(&self) -> Result<Auth<'_>, ConfigError> {
        fn present(value: &Option<String>) -> Option<&str> {
            value.as_deref().filter(|s| !s.trim().is_empty())
        }
        match (
            present(&self.access_token_secret),
            present(&self.consumer_key),
            present(&self.consumer_secret),
        ) {
            (None, None, None) => Ok(Auth::Bearer(&self.access_token)),
            (Some(token_secret), Some(consumer_key), Some(consumer_secret)) => {
                Ok(Auth::OAuth1(oauth1::Credentials {
                    consumer_key,
                    consumer_secret,
                    token: &self.access_token,
                    token_secret,
                }))
            }
            (token_secret, consumer_key, _) => {
                let missing = if token_secret.is_none() {
                    "/access_token_secret"
                } else if consumer_key.is_none() {
                    "/consumer_key"
                } else {
                    "/consumer_secret"
                };
                Err(ConfigError::new(
                    missing,
                    "OAuth 1.0a needs access_token_secret, consumer_key and consumer_secret together",
                ))
            }
        }
    }
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_owned()
}

struct XDm;

impl Plugin for XDm {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("x-dm", env!("CARGO_PKG_VERSION"))
            .name("X direct messages")
            .vendor("Tayori")
            .description(
                "Sends each message as an X (Twitter) direct message from the municipality's \
                 X account, with quick replies and link buttons where the message has choices \
                 (OAuth 1.0a), within X's limits of 200 DMs per 15 minutes and 1,000 per 24 \
                 hours per sending account, and turns X's Account Activity webhook (DMs, \
                 quick-reply choices, follows, blocks) into inbound events.",
            )
            .config_schema(schema())
            // api.twitter.com still serves the same API; the loopback entries
            // are for sandboxes and fakes, reachable only when the operator
            // approves that address for the channel.
            .hosts(["api.x.com", "api.twitter.com", "127.0.0.1:*", "localhost:*"])
            .max_batch_size(MAX_BATCH)
            // The windows below hold the real limit; the steady rate may not
            // be lower than one a second.
            .rate_per_second(1)
            .rate_window(WINDOW_15_MIN.0, WINDOW_15_MIN.1)
            .rate_window(WINDOW_24_H.0, WINDOW_24_H.1)
            .handles_webhooks(true)
            // No reply token on X: the host pushes its answers.
            .replies(false)
            // Postbacks as quick-reply options, links as X's CTA buttons; no
            // date picker on X, so the host sends the form's link instead.
            .renders(Renders {
                buttons: true,
                quick_replies: true,
                date_picker: false,
                link_buttons: true,
                max_buttons: MAX_BUTTONS,
                max_quick_replies: MAX_QUICK_REPLIES,
            })
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        platform_common::check_base_url("/api_base", &config.api_base)?;
        if config.access_token.trim().is_empty() {
            return Err(ConfigError::new("/access_token", "must not be empty"));
        }
        config.auth().map(drop)
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        let auth = match config.auth() {
            Ok(auth) => auth,
            Err(error) => {
                return batch.fail_all(&Failure::permanent(format!(
                    "invalid channel config: {error}"
                )));
            }
        };
        let dm = match message::render(&batch.content, matches!(auth, Auth::OAuth1(_))) {
            Ok(dm) => dm,
            Err(failure) => return batch.fail_all(&failure),
        };
        let now = platform_common::unix_now();
        let mut outcomes = Vec::with_capacity(batch.recipients.len());
        let mut sending: Vec<(&Recipient, Endpoint)> = Vec::new();
        let mut requests: Vec<Request> = Vec::new();
        for recipient in &batch.recipients {
            if !is_user_id(&recipient.address) {
                outcomes.push(
                    recipient.failed(Failure::recipient_gone("not an X user id (1 to 19 digits)")),
                );
                continue;
            }
            match request(config, &auth, recipient, &dm, now) {
                Ok((endpoint, request)) => {
                    sending.push((recipient, endpoint));
                    requests.push(request);
                }
                Err(failure) => outcomes.push(recipient.failed(failure)),
            }
        }
        let answers = platform_common::send_in_waves(requests, WAVE);
        let now = platform_common::unix_now();
        for ((recipient, endpoint), answer) in sending.into_iter().zip(answers) {
            let result = answer
                .map_err(Failure::from)
                .and_then(|response| answer::outcome(&response, endpoint, now));
            outcomes.push(recipient.outcome(result));
        }
        outcomes
    }

    fn handle_webhook(config: &Config, request: WebhookRequest) -> WebhookResult {
        // The consumer secret keys X's CRC answers and signatures; without
        // OAuth 1.0a the channel has none, and no webhook.
        match config.auth() {
            Ok(Auth::OAuth1(credentials)) => webhook::handle(credentials.consumer_secret, &request),
            _ => WebhookResult::not_found(),
        }
    }
}

/// Whether `address` is an X user id: 1 to 19 digits.
fn is_user_id(address: &str) -> bool {
    (1..=19).contains(&address.len()) && address.bytes().all(|b| b.is_ascii_digit())
}

/// The request that sends `dm` to `recipient`, and the endpoint it goes to:
/// v1.1 when the DM has choices (only rendered so with OAuth 1.0a), v2
/// otherwise.
fn request(
    config: &Config,
    auth: &Auth,
    recipient: &Recipient,
    dm: &Dm,
    now: u64,
) -> Result<(Endpoint, Request), Failure> {
    let (endpoint, url, body) = if dm.is_interactive() {
        (
            Endpoint::Events,
            platform_common::endpoint(&config.api_base, "/1.1/direct_messages/events/new.json"),
            dm.event_body(&recipient.address),
        )
    } else {
        (
            Endpoint::V2,
            platform_common::endpoint(
                &config.api_base,
                &format!("/2/dm_conversations/with/{}/messages", recipient.address),
            ),
            dm.v2_body(),
        )
    };
    let request = Request::post(&url).json(&body)?;
    let request = match auth {
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::OAuth1(credentials) => {
            // Unique per delivery and second; X refuses a reused nonce.
            let mut nonce: String = recipient
                .idempotency_key
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            nonce.push_str(&now.to_string());
            // A JSON body is not part of the signature base string.
            request.header(
                "authorization",
                oauth1::authorization(credentials, "POST", &url, now, &nonce),
            )
        }
    };
    Ok((endpoint, request))
}

fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "X direct messages channel",
        "type": "object",
        "additionalProperties": false,
        "required": ["access_token"],
        "dependentRequired": {
            "access_token_secret": ["consumer_key", "consumer_secret"],
            "consumer_key": ["access_token_secret", "consumer_secret"],
            "consumer_secret": ["access_token_secret", "consumer_key"]
        },
        "properties": {
            "access_token": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "The municipality's X account's access token: an OAuth 2.0 user token (scopes dm.write, dm.read, tweet.read, users.read; it expires after two hours), or, with the three fields below, an OAuth 1.0a access token (does not expire; App permission \"Read, write and Direct Messages\")."
            },
            "access_token_secret": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "OAuth 1.0a: the access token secret of the account. Set together with consumer_key and consumer_secret to sign requests instead of sending a bearer token."
            },
            "consumer_key": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "OAuth 1.0a: the App's API key (developer portal → the App → Keys and tokens)."
            },
            "consumer_secret": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "OAuth 1.0a: the App's API key secret. It also answers X's webhook checks (CRC) and verifies the signature of every webhook X sends to Tayori."
            },
            "api_base": {
                "type": "string",
                "format": "uri",
                "default": DEFAULT_API_BASE,
                "description": "Base URL of the X API. Change it only for a sandbox or a fake; https is required except on a loopback address, and the operator must approve its host for the channel."
            }
        }
    })
}

export_plugin!(XDm);

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::{Action, Button, Content};

    use super::*;

    fn config(v: Value) -> Config {
        serde_json::from_value(v).unwrap()
    }

    fn oauth1_config() -> Config {
        config(json!({
            "access_token": "t",
            "access_token_secret": "ts",
            "consumer_key": "ck",
            "consumer_secret": "cs",
            "api_base": "http://127.0.0.1:4010"
        }))
    }

    fn recipient() -> Recipient {
        Recipient {
            address: "42".into(),
            idempotency_key: "0b8a3c3e-6d1f".into(),
            unsubscribe_url: None,
        }
    }

    fn header<'a>(request: &'a Request, name: &str) -> &'a str {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    fn with_choices() -> Content {
        Content {
            quick_replies: vec![Button {
                label: "まだです".into(),
                action: Action::Postback("not-yet".into()),
            }],
            ..Content::text("生まれましたか", "ja")
        }
    }

    #[test]
    fn oauth1_fields_come_all_or_none() {
        assert!(matches!(oauth1_config().auth(), Ok(Auth::OAuth1(_))));
        assert!(matches!(
            config(json!({"access_token": "t"})).auth(),
            Ok(Auth::Bearer("t"))
        ));
        let partial =
            config(json!({"access_token": "t", "access_token_secret": "ts", "consumer_key": "ck"}));
        assert_eq!(
            XDm::validate_config(&partial).unwrap_err().field,
            "/consumer_secret"
        );
        let partial = config(json!({"access_token": "t", "consumer_secret": "cs"}));
        assert_eq!(
            XDm::validate_config(&partial).unwrap_err().field,
            "/access_token_secret"
        );
    }

    #[test]
    fn plain_text_goes_to_v2_signed_not_bearer() {
        let config = oauth1_config();
        let auth = config.auth().unwrap();
        let dm = message::render(&Content::text("hi", "ja"), true).unwrap();
        let (endpoint, request) =
            request(&config, &auth, &recipient(), &dm, 1_700_000_000).unwrap();
        assert_eq!(endpoint, Endpoint::V2);
        assert_eq!(
            request.url,
            "http://127.0.0.1:4010/2/dm_conversations/with/42/messages"
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&request.body).unwrap(),
            json!({"text": "hi"})
        );
        let authorization = header(&request, "authorization");
        assert!(authorization.starts_with("OAuth "), "{authorization}");
        assert!(
            authorization.contains("oauth_nonce=\"0b8a3c3e6d1f1700000000\""),
            "{authorization}"
        );
    }

    #[test]
    fn choices_go_to_the_v1_1_event_endpoint_signed_over_its_url() {
        let config = oauth1_config();
        let auth = config.auth().unwrap();
        let dm = message::render(&with_choices(), true).unwrap();
        let (endpoint, request) =
            request(&config, &auth, &recipient(), &dm, 1_700_000_000).unwrap();
        assert_eq!(endpoint, Endpoint::Events);
        let url = "http://127.0.0.1:4010/1.1/direct_messages/events/new.json";
        assert_eq!(request.url, url);
        assert_eq!(header(&request, "content-type"), "application/json");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let data = &body["event"]["message_create"]["message_data"];
        assert_eq!(
            body["event"]["message_create"]["target"]["recipient_id"],
            "42"
        );
        assert_eq!(
            data["quick_reply"]["options"],
            json!([{ "label": "まだです", "metadata": "not-yet" }])
        );
        // The signature covers the method, the URL and the oauth_*
        // parameters only: the JSON body is not in the base string.
        let authorization = header(&request, "authorization");
        let field = |name: &str| {
            let start = authorization.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            authorization[start..][..authorization[start..].find('"').unwrap()].to_owned()
        };
        let Auth::OAuth1(credentials) = auth else {
            unreachable!()
        };
        let expected = oauth1::signature(
            &credentials,
            "POST",
            url,
            &[
                ("oauth_consumer_key", "ck"),
                ("oauth_nonce", "0b8a3c3e6d1f1700000000"),
                ("oauth_signature_method", "HMAC-SHA1"),
                ("oauth_timestamp", "1700000000"),
                ("oauth_token", "t"),
                ("oauth_version", "1.0"),
            ],
        );
        let signed = field("oauth_signature")
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        assert_eq!(signed, expected);
    }

    #[test]
    fn a_bearer_token_sends_choices_as_text_through_v2() {
        let config = config(json!({"access_token": "t"}));
        let auth = config.auth().unwrap();
        let dm = message::render(&with_choices(), matches!(auth, Auth::OAuth1(_))).unwrap();
        let (endpoint, request) = request(&config, &auth, &recipient(), &dm, 0).unwrap();
        assert_eq!(endpoint, Endpoint::V2);
        assert_eq!(header(&request, "authorization"), "Bearer t");
        assert_eq!(
            serde_json::from_slice::<Value>(&request.body).unwrap(),
            json!({"text": "生まれましたか\n\n・まだです"})
        );
    }

    #[test]
    fn only_a_channel_with_the_consumer_secret_takes_webhooks() {
        let crc = WebhookRequest {
            method: "GET".into(),
            path: String::new(),
            query: "crc_token=abc".into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let answered = XDm::handle_webhook(&oauth1_config(), crc.clone());
        assert_eq!(answered.response.status, 200);
        let body: Value = serde_json::from_slice(&answered.response.body).unwrap();
        assert_eq!(body["response_token"], webhook::sign("cs", b"abc"));
        let bearer = config(json!({"access_token": "t"}));
        assert_eq!(XDm::handle_webhook(&bearer, crc).response.status, 404);
    }

    #[test]
    fn user_ids_are_digits() {
        assert!(is_user_id("2244994945"));
        for not in ["", "@tayori", "12a", "12345678901234567890"] {
            assert!(!is_user_id(not), "{not}");
        }
    }

    #[test]
    fn the_manifest_declares_xs_windows_webhooks_and_what_x_renders() {
        let m = XDm::manifest();
        assert_eq!(m.id, "x-dm");
        let windows: Vec<(u32, u32)> = m
            .rate_windows
            .iter()
            .map(|w| (w.max, w.window_seconds))
            .collect();
        assert_eq!(windows, [(200, 900), (1_000, 86_400)]);
        assert!(m.handles_webhooks);
        assert!(!m.replies, "X has no reply token");
        assert!(!m.sets_up_channels);
        let r = m.renders;
        assert!(r.buttons && r.quick_replies && r.link_buttons);
        assert!(!r.date_picker, "X has no date picker: the host falls back");
        assert_eq!(
            (r.max_buttons + r.max_quick_replies) as usize,
            message::MAX_OPTIONS,
            "whatever the host hands over fits X's 20 options"
        );
        assert_eq!(
            XDm::validate_config(&config(json!({"access_token": "t"}))),
            Ok(())
        );
        let bad = config(json!({"access_token": "t", "api_base": "http://api.x.com"}));
        assert_eq!(XDm::validate_config(&bad).unwrap_err().field, "/api_base");
        let secrets: Vec<&str> = m.config_schema["properties"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, p)| p["writeOnly"] == true)
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            secrets,
            [
                "access_token",
                "access_token_secret",
                "consumer_key",
                "consumer_secret"
            ]
        );
    }
}
