//! `x-dm`: Tayori's messages as X (Twitter) direct messages.
//!
//! Each recipient (an X user id) gets one `POST {api_base}/2/dm_conversations
//! /with/{participant_id}/messages` with `{"text": ...}`, authorised as the
//! municipality's X account: by an OAuth 2.0 user token (`Bearer`), or, since
//! those expire after two hours, signed with OAuth 1.0a ([`oauth1`]) when the
//! channel has the App's consumer key and secret and the account's access
//! token secret. X allows each sending
//! user 200 DMs per 15 minutes and 1,000 per 24 hours: the manifest declares
//! both windows so that the host's limiter holds them, and an X 429 says when
//! the window resets. X keeps no idempotency key, so the plugin never retries
//! within a call. See README.md.
//!
//! | answer | outcome |
//! |---|---|
//! | 201 | accepted, id = `data.dm_event_id` |
//! | 429 | retry after the `x-rate-limit-reset` (or, when the 24-hour user limit is spent, `x-user-limit-24hour-reset`) epoch second |
//! | 401 | unauthorized: the channel is paused |
//! | 403 whose problem says the user cannot be messaged | recipient gone |
//! | 403 otherwise (app not enrolled, token lacks `dm.write`) | unauthorized |
//! | 400 about `participant_id`, 404 | recipient gone |
//! | 400 otherwise | permanent |
//! | 5xx, connection errors, timeouts | transient |

mod oauth1;

use serde::Deserialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::http::{Request, Response};
use tayori_plugin_sdk::{
    Batch, ConfigError, Failure, FailureKind, Manifest, Outcome, Plugin, Recipient, export_plugin,
};

/// X's production API.
const DEFAULT_API_BASE: &str = "https://api.x.com";
/// X's limit on a DM's text, in characters.
const MAX_TEXT_CHARS: usize = 10_000;
/// DMs per 15 minutes per sending user.
const WINDOW_15_MIN: (u32, u32) = (200, 900);
/// DMs per 24 hours per sending user.
const WINDOW_24_H: (u32, u32) = (1_000, 86_400);
/// Recipients per call; small, since the windows above are the real limit.
const MAX_BATCH: u32 = 20;
/// Requests in flight at once.
const WAVE: usize = 5;

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
                 X account through the X API v2, within X's limits of 200 DMs per 15 minutes \
                 and 1,000 per 24 hours per sending account.",
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
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        platform_common::check_base_url("/api_base", &config.api_base)?;
        if config.access_token.trim().is_empty() {
            return Err(ConfigError::new("/access_token", "must not be empty"));
        }
        config.auth().map(drop)
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        let text = match text(&batch) {
            Ok(text) => text,
            Err(failure) => return batch.fail_all(&failure),
        };
        let auth = match config.auth() {
            Ok(auth) => auth,
            Err(error) => {
                return batch.fail_all(&Failure::permanent(format!(
                    "invalid channel config: {error}"
                )));
            }
        };
        let now = platform_common::unix_now();
        let mut outcomes = Vec::with_capacity(batch.recipients.len());
        let mut sending: Vec<(&Recipient, Request)> = Vec::new();
        for recipient in &batch.recipients {
            if !is_user_id(&recipient.address) {
                outcomes.push(
                    recipient.failed(Failure::recipient_gone("not an X user id (1 to 19 digits)")),
                );
                continue;
            }
            match request(config, &auth, recipient, &text, now) {
                Ok(request) => sending.push((recipient, request)),
                Err(failure) => outcomes.push(recipient.failed(failure)),
            }
        }
        let (recipients, requests): (Vec<&Recipient>, Vec<Request>) = sending.into_iter().unzip();
        let answers = platform_common::send_in_waves(requests, WAVE);
        let now = platform_common::unix_now();
        for (recipient, answer) in recipients.into_iter().zip(answers) {
            let result = answer
                .map_err(Failure::from)
                .and_then(|response| outcome(&response, now));
            outcomes.push(recipient.outcome(result));
        }
        outcomes
    }
}

/// Whether `address` is an X user id: 1 to 19 digits.
fn is_user_id(address: &str) -> bool {
    (1..=19).contains(&address.len()) && address.bytes().all(|b| b.is_ascii_digit())
}

/// The DM's text: the subject as the first paragraph, then the body.
fn text(batch: &Batch) -> Result<String, Failure> {
    let body = batch.content.body.replace("\r\n", "\n");
    let text = match batch.content.subject.as_deref().map(str::trim) {
        Some(subject) if !subject.is_empty() => format!("{subject}\n\n{}", body.trim()),
        _ => body.trim().to_owned(),
    };
    let chars = text.chars().count();
    if text.is_empty() {
        Err(Failure::permanent("the message is empty"))
    } else if chars > MAX_TEXT_CHARS {
        Err(Failure::permanent(format!(
            "the message is {chars} characters; an X direct message takes at most {MAX_TEXT_CHARS}"
        )))
    } else {
        Ok(text)
    }
}

fn request(
    config: &Config,
    auth: &Auth,
    recipient: &Recipient,
    text: &str,
    now: u64,
) -> Result<Request, Failure> {
    let url = platform_common::endpoint(
        &config.api_base,
        &format!("/2/dm_conversations/with/{}/messages", recipient.address),
    );
    let request = Request::post(&url).json(&json!({ "text": text }))?;
    Ok(match auth {
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::OAuth1(credentials) => {
            // Unique per delivery and second; X refuses a reused nonce.
            let mut nonce: String = recipient
                .idempotency_key
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect();
            nonce.push_str(&now.to_string());
            request.header(
                "authorization",
                oauth1::authorization(credentials, "POST", &url, now, &nonce),
            )
        }
    })
}

/// X's problem details (RFC 7807), with the `errors` of invalid requests.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    errors: Vec<Value>,
}

/// The outcome of one answer; `now` is the wall clock in Unix seconds.
fn outcome(response: &Response, now: u64) -> Result<Option<String>, Failure> {
    if response.is_success() {
        let body: Value = response.json().unwrap_or_default();
        return Ok(body["data"]["dm_event_id"].as_str().map(str::to_owned));
    }
    let problem: Problem = response.json().unwrap_or_default();
    let described = format!(
        "X answered {}: {}{}",
        response.status,
        if problem.detail.is_empty() {
            &problem.title
        } else {
            &problem.detail
        },
        if problem.kind.is_empty() {
            String::new()
        } else {
            format!(" ({})", problem.kind)
        }
    );
    let kind = match response.status {
        429 => retry_after(response, now).unwrap_or(FailureKind::Transient),
        401 => FailureKind::Unauthorized,
        403 if cannot_message(&problem) => FailureKind::RecipientGone,
        403 => FailureKind::Unauthorized,
        404 => FailureKind::RecipientGone,
        400 if names_participant(&problem) => FailureKind::RecipientGone,
        status => {
            tayori_plugin_sdk::classify(status, &response.headers).unwrap_or(FailureKind::Permanent)
        }
    };
    Err(Failure::new(kind, described))
}

/// Whether a 403 says this user cannot be messaged (DMs closed to the
/// account, the user blocked it), rather than that the token may not send.
fn cannot_message(problem: &Problem) -> bool {
    let detail = problem.detail.to_ascii_lowercase();
    detail.contains("send messages to this user")
        || detail.contains("send messages to users who")
        || detail.contains("not permitted to send messages")
}

fn names_participant(problem: &Problem) -> bool {
    problem
        .errors
        .iter()
        .any(|e| e["parameters"].get("participant_id").is_some())
}

/// When to try again after a 429: the later of the window's reset and, when
/// the 24-hour user limit is spent, that limit's reset.
fn retry_after(response: &Response, now: u64) -> Option<FailureKind> {
    let epoch = |name: &str| -> Option<u64> { response.header(name)?.trim().parse().ok() };
    let mut reset = epoch("x-rate-limit-reset");
    if response
        .header("x-user-limit-24hour-remaining")
        .map(str::trim)
        == Some("0")
        && let Some(day) = epoch("x-user-limit-24hour-reset")
    {
        reset = Some(reset.map_or(day, |r| r.max(day)));
    }
    match reset {
        Some(reset) => {
            let wait = reset.saturating_sub(now).max(1);
            Some(FailureKind::RetryAfter(
                u32::try_from(wait).unwrap_or(u32::MAX),
            ))
        }
        None => tayori_plugin_sdk::classify(429, &response.headers),
    }
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
                "description": "OAuth 1.0a: the App's API key secret."
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
    use tayori_plugin_sdk::Content;

    use super::*;

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
        outcome(&response, 1_000_000).expect_err("a failure").kind
    }

    fn batch(subject: Option<&str>, body: &str) -> Batch {
        Batch {
            message_id: "m".into(),
            content: Content {
                subject: subject.map(str::to_owned),
                body: body.into(),
                locale: "ja".into(),
                buttons: Vec::new(),
                quick_replies: Vec::new(),
            },
            recipients: Vec::new(),
        }
    }

    #[test]
    fn a_created_dm_gives_its_event_id() {
        let created = answer(
            201,
            &[],
            r#"{"data":{"dm_conversation_id":"1346889436626259968-1581988185434120192","dm_event_id":"1582838213288706049"}}"#,
        );
        assert_eq!(outcome(&created, 0), Ok(Some("1582838213288706049".into())));
    }

    #[test]
    fn rate_limits_wait_for_the_reset() {
        let limited = answer(
            429,
            &[("x-rate-limit-reset", "1000300")],
            r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
        );
        assert_eq!(kind(limited), FailureKind::RetryAfter(300));
        let daily = answer(
            429,
            &[
                ("x-rate-limit-reset", "1000300"),
                ("x-user-limit-24hour-remaining", "0"),
                ("x-user-limit-24hour-reset", "1050000"),
            ],
            "",
        );
        assert_eq!(kind(daily), FailureKind::RetryAfter(50_000));
        assert_eq!(
            kind(answer(429, &[("x-rate-limit-reset", "5")], "")),
            FailureKind::RetryAfter(1)
        );
        assert_eq!(kind(answer(429, &[], "")), FailureKind::Transient);
    }

    #[test]
    fn a_user_who_cannot_be_messaged_is_gone_and_a_bad_token_is_unauthorized() {
        let closed = answer(
            403,
            &[],
            r#"{"detail":"You cannot send messages to this user.","type":"about:blank","title":"Forbidden","status":403}"#,
        );
        assert_eq!(kind(closed), FailureKind::RecipientGone);
        let not_enrolled = answer(
            403,
            &[],
            r#"{"title":"Client Forbidden","detail":"This request must be made using an approved developer account that is enrolled in the requested endpoint.","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}"#,
        );
        let failure = outcome(&not_enrolled, 0).unwrap_err();
        assert_eq!(failure.kind, FailureKind::Unauthorized);
        assert!(failure.message.contains("client-forbidden"), "{failure}");
        assert_eq!(
            kind(answer(
                401,
                &[],
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#
            )),
            FailureKind::Unauthorized
        );
    }

    #[test]
    fn bad_participants_are_gone_and_other_bad_requests_permanent() {
        let bad_id = answer(
            400,
            &[],
            r#"{"errors":[{"parameters":{"participant_id":["12a"]},"message":"The `participant_id` query parameter value [12a] is not valid"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
        );
        assert_eq!(kind(bad_id), FailureKind::RecipientGone);
        assert_eq!(kind(answer(404, &[], "")), FailureKind::RecipientGone);
        let bad_text = answer(
            400,
            &[],
            r#"{"errors":[{"parameters":{"text":[""]},"message":"text is invalid"}],"title":"Invalid Request","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
        );
        assert_eq!(kind(bad_text), FailureKind::Permanent);
        assert_eq!(kind(answer(503, &[], "")), FailureKind::Transient);
    }

    #[test]
    fn text_is_subject_then_body_within_xs_limit() {
        assert_eq!(
            text(&batch(Some("お知らせ"), "本文\r\n二行目")).unwrap(),
            "お知らせ\n\n本文\n二行目"
        );
        assert_eq!(
            text(&batch(None, &"あ".repeat(10_000)))
                .unwrap()
                .chars()
                .count(),
            10_000
        );
        assert_eq!(
            text(&batch(None, &"あ".repeat(10_001))).unwrap_err().kind,
            FailureKind::Permanent
        );
        assert_eq!(
            text(&batch(None, " ")).unwrap_err().kind,
            FailureKind::Permanent
        );
    }

    #[test]
    fn oauth1_fields_come_all_or_none() {
        let config = |v: Value| -> Config { serde_json::from_value(v).unwrap() };
        let full = config(
            json!({"access_token": "t", "access_token_secret": "ts", "consumer_key": "ck", "consumer_secret": "cs"}),
        );
        assert!(matches!(full.auth(), Ok(Auth::OAuth1(_))));
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
    fn oauth1_requests_are_signed_not_bearer() {
        let config: Config = serde_json::from_value(json!({"access_token": "t", "access_token_secret": "ts", "consumer_key": "ck", "consumer_secret": "cs"})).unwrap();
        let auth = config.auth().unwrap();
        let recipient = Recipient {
            address: "42".into(),
            idempotency_key: "0b8a3c3e-6d1f".into(),
            unsubscribe_url: None,
        };
        let request = request(&config, &auth, &recipient, "hi", 1_700_000_000).unwrap();
        let (_, header) = request
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap();
        assert!(header.starts_with("OAuth "), "{header}");
        assert!(
            header.contains("oauth_nonce=\"0b8a3c3e6d1f1700000000\""),
            "{header}"
        );
    }

    #[test]
    fn user_ids_are_digits() {
        assert!(is_user_id("2244994945"));
        for not in ["", "@tayori", "12a", "12345678901234567890"] {
            assert!(!is_user_id(not), "{not}");
        }
    }

    #[test]
    fn the_manifest_declares_xs_windows() {
        let m = XDm::manifest();
        assert_eq!(m.id, "x-dm");
        let windows: Vec<(u32, u32)> = m
            .rate_windows
            .iter()
            .map(|w| (w.max, w.window_seconds))
            .collect();
        assert_eq!(windows, [(200, 900), (1_000, 86_400)]);
        let config: Config = serde_json::from_value(json!({"access_token": "t"})).unwrap();
        assert_eq!(XDm::validate_config(&config), Ok(()));
        let bad: Config =
            serde_json::from_value(json!({"access_token": "t", "api_base": "http://api.x.com"}))
                .unwrap();
        assert_eq!(XDm::validate_config(&bad).unwrap_err().field, "/api_base");
    }
}
