//! A fake X API v2 for one-to-one direct messages:
//! `POST /2/dm_conversations/with/{participant_id}/messages`.
//!
//! It checks each request as X documents it and answers X's problem details
//! (RFC 7807: `title`, `detail`, `type`, `status`) when a check fails: the
//! user context (401): an OAuth 2.0 bearer token, or an OAuth 1.0a
//! `Authorization: OAuth ...` header whose HMAC-SHA1 signature the fake
//! recomputes (RFC 5849), with a fresh timestamp and an unused nonce;
//! `participant_id` of 1 to 19 digits (400 `invalid-request` naming the
//! parameter), a JSON body with `text` of 1 to 10,000 characters (or
//! `attachments`). It counts the sending user's DMs and enforces X's per-user windows (200 per 15 minutes, 1,000 per 24 hours;
//! [`FakeX::set_limits`] lowers them for a test) with X's headers: every
//! answer carries `x-rate-limit-limit`, `-remaining` and `-reset` (epoch
//! seconds), and a spent 24-hour limit answers 429 with
//! `x-user-limit-24hour-remaining: 0` and its reset. A user whose DMs are
//! closed to the account answers 403 "You cannot send messages to this user."
//! A created DM answers 201 with `data.dm_conversation_id` and
//! `data.dm_event_id`.

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
/// The sending account's user id.
pub const SENDER_ID: &str = "1346889436626259968";

const WINDOW_SECONDS: u64 = 900;
const DAY_SECONDS: u64 = 86_400;
const MAX_TEXT_CHARS: usize = 10_000;

/// How the next request fails.
#[derive(Debug, Clone)]
pub enum XFault {
    /// 429 with `x-rate-limit-reset` this many seconds from now.
    RateLimited { reset_in: u64 },
    /// This status with X's problem body for it (401, 403, 500, 503...).
    Status(u16),
    /// Create the DM, then never answer.
    Hang,
}

/// A DM X created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentDm {
    pub participant_id: String,
    pub text: String,
    pub dm_event_id: String,
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
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn problem(status: u16, title: &str, detail: &str, kind: &str) -> Value {
    json!({ "title": title, "detail": detail, "type": kind, "status": status })
}

fn status_problem(status: u16) -> Value {
    match status {
        401 => problem(401, "Unauthorized", "Unauthorized", "about:blank"),
        403 => json!({
            "title": "Client Forbidden",
            "detail": "This request must be made using an approved developer account that is enrolled in the requested endpoint.",
            "reason": "client-not-enrolled",
            "registration_url": "https://developer.x.com/en/portal/product",
            "type": "https://api.twitter.com/2/problems/client-forbidden"
        }),
        503 => problem(
            503,
            "Service Unavailable",
            "Service Unavailable",
            "about:blank",
        ),
        _ => problem(
            status,
            "Internal Server Error",
            "Internal Server Error",
            "about:blank",
        ),
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
    let fault = inner.faults.next();
    let (status, answer, extra) = decide(
        &inner,
        fault.as_ref(),
        &participant_id,
        uri.path(),
        &headers,
        &body,
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
    fault: Option<&XFault>,
    participant_id: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
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
    let too_many = problem(429, "Too Many Requests", "Too Many Requests", "about:blank");
    let (status, answer) = match fault {
        Some(XFault::RateLimited { reset_in }) => {
            extra.push(("x-rate-limit-remaining", "0".into()));
            extra.push(("x-rate-limit-reset", (now + reset_in).to_string()));
            (429, too_many)
        }
        Some(XFault::Status(code)) => (*code, status_problem(*code)),
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
        Some(XFault::Hang) | None => check(inner, participant_id, path, headers, body),
    };
    if status == 201 {
        sent.push(now);
    }
    (status, answer, extra)
}

/// X's checks, then the DM; `(201, body)` when created.
fn check(
    inner: &Inner,
    participant_id: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (u16, Value) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let authorised = match header("authorization") {
        bearer if bearer == format!("Bearer {ACCESS_TOKEN}") => true,
        oauth if oauth.starts_with("OAuth ") => {
            let url = format!("http://{}{path}", header("host"));
            oauth1_valid(inner, oauth, &url)
        }
        _ => false,
    };
    if !authorised {
        return (401, status_problem(401));
    }
    let valid_id = (1..=19).contains(&participant_id.len())
        && participant_id.bytes().all(|b| b.is_ascii_digit());
    if !valid_id {
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
        participant_id: participant_id.to_owned(),
        text: text.unwrap_or_default().to_owned(),
        dm_event_id: dm_event_id.clone(),
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
