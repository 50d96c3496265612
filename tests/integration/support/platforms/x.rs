//! A fake X API for one-to-one direct messages, both endpoints that send
//! one, and X's Account Activity webhooks as X sends them.
//!
//! - X API v2, `POST /2/dm_conversations/with/{participant_id}/messages`:
//!   the user context (401): an OAuth 2.0 bearer token, or an OAuth 1.0a
//!   `Authorization: OAuth ...` header whose HMAC-SHA1 signature the fake
//!   recomputes (RFC 5849), with a fresh timestamp and an unused nonce;
//!   `participant_id` of 1 to 19 digits (400 `invalid-request` naming the
//!   parameter), a JSON body with `text` of 1 to 10,000 characters (or
//!   `attachments`). A created DM answers 201 with `data.dm_conversation_id`
//!   and `data.dm_event_id`. Errors are X's problem details (RFC 7807:
//!   `title`, `detail`, `type`, `status`).
//! - v1.1, `POST /1.1/direct_messages/events/new.json` (the only endpoint
//!   with quick replies and buttons): OAuth 1.0a only, checked as above over
//!   the URL alone (a JSON body is not in the base string), else 401 code 32;
//!   `content-type: application/json`; a `message_create` event whose
//!   `target.recipient_id` is 1 to 19 digits and whose `message_data` has
//!   `text` of 1 to 10,000 characters (over it: 403 code 354), optionally a
//!   `quick_reply` of type `options` with 1 to 20 options (a `label` of 1 to
//!   36 characters without a URL, a `description` of at most 72 on all
//!   options or none, `metadata` of at most 1,000) and `ctas`, 1 to 3
//!   `web_url` buttons (a label of 1 to 36 characters, an http(s) `url`),
//!   and nothing else. A refusal is 400 with v1.1's
//!   `{"errors":[{"code":214,"message":"<field>: <why>"}]}`; a created DM
//!   answers 200 with the `event` (its `id`, `created_timestamp`, sender and
//!   message data).
//!
//! Both count the sending user's DMs together and enforce X's per-user
//! windows (200 per 15 minutes, 1,000 per 24 hours; [`FakeX::set_limits`]
//! lowers them for a test) with X's headers: every answer carries
//! `x-rate-limit-limit`, `-remaining` and `-reset` (epoch seconds), and a
//! spent 24-hour limit answers 429 with `x-user-limit-24hour-remaining: 0`
//! and its reset. A user whose DMs are closed to the account answers 403
//! "You cannot send messages to this user." (v1.1: code 349).
//!
//! Webhooks: [`FakeX::dm_event`], [`FakeX::quick_reply_event`] and
//! [`FakeX::relationship_event`] make events shaped as the Account Activity
//! API's, [`FakeX::activity`] wraps them for the account ([`SENDER_ID`] as
//! `for_user_id`), [`FakeX::signature`] signs a body as X does
//! (`sha256=` and the base64 HMAC-SHA256 with the consumer secret), and
//! [`FakeX::crc_response_token`] is the answer X expects to its CRC.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::{Attempt, Faults, serve};

/// The OAuth 2.0 user-context token the fake accepts.
pub const ACCESS_TOKEN: &str = "fake-x-user-token-dm-write";
/// The App's OAuth 1.0a consumer key and secret the fake accepts.
pub const CONSUMER_KEY: &str = "fakeXconsumerKey0123";
pub const CONSUMER_SECRET: &str = "fakeXconsumerSecret0123456789abcdef";
/// The account's OAuth 1.0a access token and secret the fake accepts.
pub const OAUTH1_TOKEN: &str = "1346889436626259968-FakeOAuth1AccessToken";
pub const OAUTH1_TOKEN_SECRET: &str = "fakeXaccessTokenSecret9876543210";
/// The sending account's user id (the webhooks' `for_user_id`).
pub const SENDER_ID: &str = "1346889436626259968";

const WINDOW_SECONDS: u64 = 900;
const DAY_SECONDS: u64 = 86_400;
const MAX_TEXT_CHARS: usize = 10_000;
const MAX_OPTIONS: usize = 20;
const MAX_LABEL_CHARS: usize = 36;
const MAX_DESCRIPTION_CHARS: usize = 72;
const MAX_METADATA_CHARS: usize = 1_000;
const MAX_CTAS: usize = 3;

/// How the next request fails.
#[derive(Debug, Clone)]
pub enum XFault {
    /// 429 with `x-rate-limit-reset` this many seconds from now.
    RateLimited { reset_in: u64 },
    /// This status with X's error body for it (401, 403, 500, 503...).
    Status(u16),
    /// Create the DM, then never answer.
    Hang,
}

/// Which endpoint created a DM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XApi {
    /// `POST /2/dm_conversations/with/{participant_id}/messages`.
    V2,
    /// `POST /1.1/direct_messages/events/new.json`.
    Events,
}

/// A quick-reply option as X took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReplyOption {
    pub label: String,
    pub description: Option<String>,
    pub metadata: Option<String>,
}

/// A DM X created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentDm {
    pub api: XApi,
    pub participant_id: String,
    pub text: String,
    pub dm_event_id: String,
    /// The quick-reply options (v1.1 only).
    pub options: Vec<QuickReplyOption>,
    /// The buttons, as (label, url) (v1.1 only).
    pub ctas: Vec<(String, String)>,
}

struct Inner {
    faults: Faults<XFault>,
    attempts: Mutex<Vec<Attempt>>,
    dms: Mutex<Vec<SentDm>>,
    /// Send times (epoch seconds) of every created DM.
    sent_at: Mutex<Vec<u64>>,
    closed: Mutex<HashSet<String>>,
    nonces: Mutex<HashSet<String>>,
    limits: Mutex<(usize, usize)>,
    counter: AtomicU64,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeX {
    pub addr: std::net::SocketAddr,
    inner: Arc<Inner>,
}

impl FakeX {
    /// Starts the fake on 127.0.0.1:0 with X's limits.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            faults: Faults::new(),
            attempts: Mutex::new(Vec::new()),
            dms: Mutex::new(Vec::new()),
            sent_at: Mutex::new(Vec::new()),
            closed: Mutex::new(HashSet::new()),
            nonces: Mutex::new(HashSet::new()),
            limits: Mutex::new((200, 1_000)),
            counter: AtomicU64::new(0),
        });
        let app = Router::new()
            .route(
                "/2/dm_conversations/with/{participant_id}/messages",
                post(send),
            )
            .route("/1.1/direct_messages/events/new.json", post(send_event))
            .with_state(inner.clone());
        Self {
            addr: serve(app).await,
            inner,
        }
    }

    /// The channel's `api_base`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Fail the next `n` requests with `fault`.
    pub fn fail_next(&self, n: usize, fault: XFault) {
        self.inner.faults.push(n, fault);
    }

    /// DMs per 15 minutes and per 24 hours (X: 200 and 1,000).
    pub fn set_limits(&self, per_window: usize, per_day: usize) {
        *self.inner.limits.lock().unwrap() = (per_window, per_day);
    }

    /// This user does not accept DMs from the account.
    pub fn close_dms(&self, user_id: &str) {
        self.inner.closed.lock().unwrap().insert(user_id.to_owned());
    }

    /// Every raw request received, whatever the answer.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.inner.attempts.lock().unwrap().clone()
    }

    /// Every DM created.
    pub fn dms(&self) -> Vec<SentDm> {
        self.inner.dms.lock().unwrap().clone()
    }

    fn next_id(&self) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::SeqCst);
        (1_790_000_000_000_000_000u64 + n).to_string()
    }

    /// A DM `from` a parent to the account, as the Account Activity API
    /// delivers it (`direct_message_events`).
    pub fn dm_event(&self, from: &str, text: &str) -> Value {
        self.message_create(from, SENDER_ID, json!({ "text": text, "entities": {} }))
    }

    /// A parent's tap on a quick-reply option: X sends the label as the
    /// text and the option's metadata in `quick_reply_response`.
    pub fn quick_reply_event(&self, from: &str, label: &str, metadata: &str) -> Value {
        self.message_create(
            from,
            SENDER_ID,
            json!({
                "text": label,
                "entities": {},
                "quick_reply_response": { "type": "options", "metadata": metadata }
            }),
        )
    }

    /// A DM the account itself sent `to` a parent, which X reports too.
    pub fn own_dm_event(&self, to: &str, text: &str) -> Value {
        self.message_create(SENDER_ID, to, json!({ "text": text, "entities": {} }))
    }

    fn message_create(&self, from: &str, to: &str, message_data: Value) -> Value {
        json!({
            "type": "message_create",
            "id": self.next_id(),
            "created_timestamp": now_ms().to_string(),
            "message_create": {
                "target": { "recipient_id": to },
                "sender_id": from,
                "source_app_id": "268278",
                "message_data": message_data
            }
        })
    }

    /// `kind` (`follow`, `unfollow`, `block`, `unblock`) of the account by
    /// `user`: its array key and event, as the Account Activity API sends
    /// them.
    pub fn relationship_event(&self, kind: &str, user: &str) -> (&'static str, Value) {
        let key = match kind {
            "follow" | "unfollow" => "follow_events",
            _ => "block_events",
        };
        let person = |id: &str| {
            json!({
                "id": id,
                "created_timestamp": "1422556069340",
                "name": "Tayori test",
                "screen_name": format!("user{id}"),
                "protected": false,
                "verified": false,
                "followers_count": 1,
                "friends_count": 1,
                "statuses_count": 1
            })
        };
        (
            key,
            json!({
                "type": kind,
                "created_timestamp": now_ms().to_string(),
                "target": person(SENDER_ID),
                "source": person(user)
            }),
        )
    }

    /// An Account Activity payload for the account: DMs, and other events
    /// under their keys.
    pub fn activity(dms: Vec<Value>, others: Vec<(&str, Value)>) -> Vec<u8> {
        let mut payload = json!({ "for_user_id": SENDER_ID });
        if !dms.is_empty() {
            payload["direct_message_events"] = Value::Array(dms);
            payload["users"] = json!({});
        }
        for (key, event) in others {
            let list = payload[key].as_array().cloned().unwrap_or_default();
            let mut list = list;
            list.push(event);
            payload[key] = Value::Array(list);
        }
        serde_json::to_vec(&payload).unwrap()
    }

    /// `x-twitter-webhooks-signature` for `body`, as X computes it.
    pub fn signature(body: &[u8]) -> String {
        format!("sha256={}", hmac_sha256_base64(CONSUMER_SECRET, body))
    }

    /// A challenge like X's `crc_token`.
    pub fn crc_token(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "crc-{}-{}",
            self.next_id(),
            now_ms()
        ))
    }

    /// The `response_token` X expects for `crc_token`.
    pub fn crc_response_token(crc_token: &str) -> String {
        format!(
            "sha256={}",
            hmac_sha256_base64(CONSUMER_SECRET, crc_token.as_bytes())
        )
    }

    /// POSTs `body` to a webhook URL as X does: JSON, signed.
    pub async fn post_webhook(url: &str, body: Vec<u8>) -> reqwest::Response {
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("x-twitter-webhooks-signature", Self::signature(&body))
            .body(body)
            .send()
            .await
            .expect("the webhook is sent")
    }
}

fn hmac_sha256_base64(key: &str, message: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn problem(status: u16, title: &str, detail: &str, kind: &str) -> Value {
    json!({ "title": title, "detail": detail, "type": kind, "status": status })
}

/// v1.1's error body.
fn errors(code: u16, message: &str) -> Value {
    json!({ "errors": [{ "code": code, "message": message }] })
}

/// v1.1's answer to a malformed request: 400, code 214, naming the field.
fn bad_request(field: &str, why: &str) -> (u16, Value) {
    (400, errors(214, &format!("{field}: {why}")))
}

fn status_body(api: XApi, status: u16) -> Value {
    match (api, status) {
        (XApi::V2, 401) => problem(401, "Unauthorized", "Unauthorized", "about:blank"),
        (XApi::V2, 403) => json!({
            "title": "Client Forbidden",
            "detail": "This request must be made using an approved developer account that is enrolled in the requested endpoint.",
            "reason": "client-not-enrolled",
            "registration_url": "https://developer.x.com/en/portal/product",
            "type": "https://api.twitter.com/2/problems/client-forbidden"
        }),
        (XApi::V2, 503) => problem(
            503,
            "Service Unavailable",
            "Service Unavailable",
            "about:blank",
        ),
        (XApi::V2, _) => problem(
            status,
            "Internal Server Error",
            "Internal Server Error",
            "about:blank",
        ),
        (XApi::Events, 401) => errors(32, "Could not authenticate you."),
        (XApi::Events, 403) => errors(
            93,
            "This application is not allowed to access or delete your direct messages.",
        ),
        (XApi::Events, 429) => errors(88, "Rate limit exceeded"),
        (XApi::Events, 503) => errors(130, "Over capacity"),
        (XApi::Events, _) => errors(131, "Internal error"),
    }
}

async fn send(
    State(inner): State<Arc<Inner>>,
    Path(participant_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(
        &inner,
        XApi::V2,
        method,
        uri,
        headers,
        body,
        |inner, path, headers, body| check(inner, &participant_id, path, headers, body),
    )
    .await
}

async fn send_event(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(
        &inner,
        XApi::Events,
        method,
        uri,
        headers,
        body,
        check_event,
    )
    .await
}

/// Decides, records the attempt and answers (or hangs).
async fn answer(
    inner: &Arc<Inner>,
    api: XApi,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    check: impl FnOnce(&Inner, &str, &HeaderMap, &[u8]) -> (u16, Value) + Send,
) -> Response {
    let fault = inner.faults.next();
    let (status, answer, extra) = decide(
        inner,
        api,
        fault.as_ref(),
        uri.path(),
        &headers,
        &body,
        check,
    );
    inner.attempts.lock().unwrap().push(Attempt {
        method,
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    if let Some(XFault::Hang) = fault {
        // Hold the connection until the client gives up.
        std::future::pending::<()>().await;
    }
    let mut response = (
        StatusCode::from_u16(status).expect("a status"),
        [("content-type", "application/json")],
        answer.to_string(),
    )
        .into_response();
    for (name, value) in extra {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    response
}

type Decision = (u16, Value, Vec<(&'static str, String)>);

/// Count, decide and record under one lock (concurrent requests are counted
/// as X counts them); returns the status, body and extra headers.
fn decide(
    inner: &Inner,
    api: XApi,
    fault: Option<&XFault>,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    check: impl FnOnce(&Inner, &str, &HeaderMap, &[u8]) -> (u16, Value),
) -> Decision {
    let now = now();
    let (per_window, per_day) = *inner.limits.lock().unwrap();
    let mut sent = inner.sent_at.lock().unwrap();
    let in_window = sent.iter().filter(|t| now - **t < WINDOW_SECONDS).count();
    let in_day = sent.iter().filter(|t| now - **t < DAY_SECONDS).count();
    let window_reset = sent
        .iter()
        .find(|t| now - **t < WINDOW_SECONDS)
        .map_or(now + WINDOW_SECONDS, |t| t + WINDOW_SECONDS);
    let day_reset = sent
        .iter()
        .find(|t| now - **t < DAY_SECONDS)
        .map_or(now + DAY_SECONDS, |t| t + DAY_SECONDS);
    let mut extra: Vec<(&str, String)> = vec![
        ("x-rate-limit-limit", per_window.to_string()),
        (
            "x-rate-limit-remaining",
            per_window.saturating_sub(in_window).to_string(),
        ),
        ("x-rate-limit-reset", window_reset.to_string()),
    ];
    let too_many = match api {
        XApi::V2 => problem(429, "Too Many Requests", "Too Many Requests", "about:blank"),
        XApi::Events => status_body(api, 429),
    };
    let (status, answer) = match fault {
        Some(XFault::RateLimited { reset_in }) => {
            extra.push(("x-rate-limit-remaining", "0".into()));
            extra.push(("x-rate-limit-reset", (now + reset_in).to_string()));
            (429, too_many)
        }
        Some(XFault::Status(code)) => (*code, status_body(api, *code)),
        Some(XFault::Hang) | None if in_day >= per_day => {
            extra.push(("x-user-limit-24hour-limit", per_day.to_string()));
            extra.push(("x-user-limit-24hour-remaining", "0".into()));
            extra.push(("x-user-limit-24hour-reset", day_reset.to_string()));
            (429, too_many)
        }
        Some(XFault::Hang) | None if in_window >= per_window => {
            extra.push(("x-rate-limit-remaining", "0".into()));
            (429, too_many)
        }
        Some(XFault::Hang) | None => check(inner, path, headers, body),
    };
    if (200..300).contains(&status) {
        sent.push(now);
    }
    (status, answer, extra)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn is_user_id(id: &str) -> bool {
    (1..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// X's checks of a v2 request, then the DM; `(201, body)` when created.
fn check(
    inner: &Inner,
    participant_id: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (u16, Value) {
    let authorised = match header(headers, "authorization") {
        bearer if bearer == format!("Bearer {ACCESS_TOKEN}") => true,
        oauth if oauth.starts_with("OAuth ") => {
            let url = format!("http://{}{path}", header(headers, "host"));
            oauth1_valid(inner, oauth, &url)
        }
        _ => false,
    };
    if !authorised {
        return (401, status_body(XApi::V2, 401));
    }
    if !is_user_id(participant_id) {
        return (
            400,
            json!({
                "errors": [{
                    "parameters": { "participant_id": [participant_id] },
                    "message": format!("The `participant_id` query parameter value [{participant_id}] is not valid")
                }],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request"
            }),
        );
    }
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let text = request["text"].as_str();
    let has_attachments = request["attachments"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    let text_ok = text.is_some_and(|t| !t.is_empty() && t.chars().count() <= MAX_TEXT_CHARS);
    if !(text_ok || (text.is_none() && has_attachments)) {
        return (
            400,
            json!({
                "errors": [{
                    "parameters": { "text": [text.unwrap_or_default().chars().take(20).collect::<String>()] },
                    "message": "text must be 1 to 10000 characters, or attachments must be given"
                }],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request"
            }),
        );
    }
    if inner.closed.lock().unwrap().contains(participant_id) {
        return (
            403,
            problem(
                403,
                "Forbidden",
                "You cannot send messages to this user.",
                "about:blank",
            ),
        );
    }
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    let dm_event_id = (1_582_838_213_288_706_049u64 + n).to_string();
    inner.dms.lock().unwrap().push(SentDm {
        api: XApi::V2,
        participant_id: participant_id.to_owned(),
        text: text.unwrap_or_default().to_owned(),
        dm_event_id: dm_event_id.clone(),
        options: Vec::new(),
        ctas: Vec::new(),
    });
    (
        201,
        json!({
            "data": {
                "dm_conversation_id": format!("{SENDER_ID}-{participant_id}"),
                "dm_event_id": dm_event_id
            }
        }),
    )
}

/// Whether X reads a URL in a label (which it refuses there).
fn has_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("://") || lower.contains("www.")
}

/// `value` as a string of 1 to `max` characters, or why not.
fn bounded(value: &Value, min: usize, max: usize) -> Result<&str, String> {
    let text = value.as_str().ok_or("must be a string")?;
    let chars = text.chars().count();
    if chars < min || chars > max {
        return Err(format!("length must be between {min} and {max}"));
    }
    Ok(text)
}

/// Keys of `object` outside `allowed`, or why it is not an object.
fn unknown_keys(object: &Value, allowed: &[&str]) -> Result<(), String> {
    let map = object.as_object().ok_or("must be an object")?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!("unknown field `{key}`")),
        None => Ok(()),
    }
}

/// The quick reply of a v1.1 request, checked as X documents it.
fn quick_reply(value: &Value) -> Result<Vec<QuickReplyOption>, (String, String)> {
    let at = "event.message_create.message_data.quick_reply";
    unknown_keys(value, &["type", "options"]).map_err(|e| (at.to_owned(), e))?;
    if value["type"] != "options" {
        return Err((format!("{at}.type"), "must be options".into()));
    }
    let options = value["options"]
        .as_array()
        .filter(|o| (1..=MAX_OPTIONS).contains(&o.len()))
        .ok_or_else(|| {
            (
                format!("{at}.options"),
                format!("must be an array of 1 to {MAX_OPTIONS} options"),
            )
        })?;
    let described = options
        .iter()
        .filter(|o| o.get("description").is_some())
        .count();
    if described != 0 && described != options.len() {
        return Err((
            format!("{at}.options"),
            "description must be set on every option or on none".into(),
        ));
    }
    let mut out = Vec::new();
    for (i, option) in options.iter().enumerate() {
        let field = |name: &str| format!("{at}.options[{i}].{name}");
        unknown_keys(option, &["label", "description", "metadata"])
            .map_err(|e| (format!("{at}.options[{i}]"), e))?;
        let label =
            bounded(&option["label"], 1, MAX_LABEL_CHARS).map_err(|e| (field("label"), e))?;
        if has_url(label) {
            return Err((field("label"), "must not contain a URL".into()));
        }
        let description = match option.get("description") {
            Some(d) => Some(
                bounded(d, 0, MAX_DESCRIPTION_CHARS)
                    .map_err(|e| (field("description"), e))?
                    .to_owned(),
            ),
            None => None,
        };
        let metadata = match option.get("metadata") {
            Some(m) => Some(
                bounded(m, 0, MAX_METADATA_CHARS)
                    .map_err(|e| (field("metadata"), e))?
                    .to_owned(),
            ),
            None => None,
        };
        out.push(QuickReplyOption {
            label: label.to_owned(),
            description,
            metadata,
        });
    }
    Ok(out)
}

/// The buttons of a v1.1 request, checked as X documents them.
fn ctas(value: &Value) -> Result<Vec<(String, String)>, (String, String)> {
    let at = "event.message_create.message_data.ctas";
    let ctas = value
        .as_array()
        .filter(|c| (1..=MAX_CTAS).contains(&c.len()))
        .ok_or_else(|| {
            (
                at.to_owned(),
                format!("must be an array of 1 to {MAX_CTAS} buttons"),
            )
        })?;
    let mut out = Vec::new();
    for (i, cta) in ctas.iter().enumerate() {
        let field = |name: &str| format!("{at}[{i}].{name}");
        unknown_keys(cta, &["type", "label", "url"]).map_err(|e| (format!("{at}[{i}]"), e))?;
        if cta["type"] != "web_url" {
            return Err((field("type"), "must be web_url".into()));
        }
        let label = bounded(&cta["label"], 1, MAX_LABEL_CHARS).map_err(|e| (field("label"), e))?;
        let url = cta["url"]
            .as_str()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| (field("url"), "must be an http or https URL".to_owned()))?;
        out.push((label.to_owned(), url.to_owned()));
    }
    Ok(out)
}

/// X's checks of a v1.1 event request, then the DM; `(200, body)` when
/// created.
fn check_event(inner: &Inner, path: &str, headers: &HeaderMap, body: &[u8]) -> (u16, Value) {
    let authorization = header(headers, "authorization");
    let url = format!("http://{}{path}", header(headers, "host"));
    if !(authorization.starts_with("OAuth ") && oauth1_valid(inner, authorization, &url)) {
        return (401, status_body(XApi::Events, 401));
    }
    if !header(headers, "content-type").starts_with("application/json") {
        return bad_request("content-type", "must be application/json");
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body", "must be JSON");
    };
    if let Err(why) = unknown_keys(&request, &["event"]) {
        return bad_request("body", &why);
    }
    let event = &request["event"];
    if event["type"] != "message_create" {
        return bad_request("event.type", "must be message_create");
    }
    let create = &event["message_create"];
    let recipient = create["target"]["recipient_id"]
        .as_str()
        .unwrap_or_default();
    if !is_user_id(recipient) {
        return bad_request(
            "event.message_create.target.recipient_id",
            &format!("'{recipient}' is not a valid Long"),
        );
    }
    let data = &create["message_data"];
    if let Err(why) = unknown_keys(data, &["text", "quick_reply", "ctas", "attachment"]) {
        return bad_request("event.message_create.message_data", &why);
    }
    let text = data["text"].as_str().unwrap_or_default();
    if text.is_empty() {
        return bad_request(
            "event.message_create.message_data.text",
            "must not be empty",
        );
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return (
            403,
            errors(
                354,
                "The text of your direct message is over the max character limit.",
            ),
        );
    }
    let options = match data.get("quick_reply").map(quick_reply).transpose() {
        Ok(options) => options.unwrap_or_default(),
        Err((field, why)) => return bad_request(&field, &why),
    };
    let ctas = match data.get("ctas").map(ctas).transpose() {
        Ok(ctas) => ctas.unwrap_or_default(),
        Err((field, why)) => return bad_request(&field, &why),
    };
    if inner.closed.lock().unwrap().contains(recipient) {
        return (403, errors(349, "You cannot send messages to this user."));
    }
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    let id = (1_582_838_213_288_706_049u64 + n).to_string();
    inner.dms.lock().unwrap().push(SentDm {
        api: XApi::Events,
        participant_id: recipient.to_owned(),
        text: text.to_owned(),
        dm_event_id: id.clone(),
        options,
        ctas,
    });
    (
        200,
        json!({
            "event": {
                "type": "message_create",
                "id": id,
                "created_timestamp": now_ms().to_string(),
                "message_create": {
                    "target": { "recipient_id": recipient },
                    "sender_id": SENDER_ID,
                    "message_data": data
                }
            }
        }),
    )
}

/// Checks an OAuth 1.0a header (RFC 5849, HMAC-SHA1) for `POST url`.
fn oauth1_valid(inner: &Inner, header: &str, url: &str) -> bool {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut params: Vec<(String, String)> = header
        .trim_start_matches("OAuth ")
        .split(',')
        .filter_map(|field| {
            let (name, value) = field.trim().split_once('=')?;
            Some((name.to_owned(), percent_decode(value.trim_matches('"'))))
        })
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (signature, nonce, timestamp) = (
        get("oauth_signature"),
        get("oauth_nonce"),
        get("oauth_timestamp"),
    );
    let fresh = timestamp
        .parse::<u64>()
        .is_ok_and(|t| t.abs_diff(now()) <= 300);
    if get("oauth_consumer_key") != CONSUMER_KEY
        || get("oauth_token") != OAUTH1_TOKEN
        || get("oauth_signature_method") != "HMAC-SHA1"
        || get("oauth_version") != "1.0"
        || nonce.is_empty()
        || !fresh
    {
        return false;
    }
    params.retain(|(name, _)| name != "oauth_signature");
    let mut encoded: Vec<String> = params
        .iter()
        .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
        .collect();
    encoded.sort();
    let base = format!(
        "POST&{}&{}",
        percent_encode(url),
        percent_encode(&encoded.join("&"))
    );
    let key = format!(
        "{}&{}",
        percent_encode(CONSUMER_SECRET),
        percent_encode(OAUTH1_TOKEN_SECRET)
    );
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()) == signature
        // A signed request is not accepted twice (replay).
        && inner
            .nonces
            .lock()
            .unwrap()
            .insert(format!("{timestamp}:{nonce}"))
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
