//! A fake SendGrid v3 mail API (`POST /v3/mail/send`), the shape the email
//! plugin speaks.
//!
//! It checks each request as SendGrid documents it and answers its error
//! body (`{"errors":[{"message","field","help"}]}`) when a check fails: the
//! bearer API key (401), a JSON body with 1 to 1,000 personalizations of at
//! most 1,000 recipients in all, each with a `to` of valid, distinct
//! addresses, header values and custom arguments that are strings (reserved
//! headers refused, custom arguments within 10,000 bytes; substitutions
//! that are strings, within 10,000 bytes per personalization), a valid
//! `from.email` (and `reply_to.email`), a subject (top level or in every
//! personalization), and a `content` list of non-empty parts with
//! `text/plain` first. An accepted request answers 202 with an empty body
//! and an `X-Message-Id` header, as SendGrid does. Faults ([`MailFault`])
//! make the next requests fail the ways SendGrid fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::{Attempt, Faults, serve};

/// The API key the fake accepts.
pub const API_KEY: &str = "SG.fake-key.Zm9vYmFyYmF6";

/// Headers SendGrid refuses in `headers` (it sets them itself).
const RESERVED_HEADERS: &[&str] = &[
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
];
const MAX_PERSONALIZATIONS: usize = 1_000;
const MAX_RECIPIENTS: usize = 1_000;
const MAX_CUSTOM_ARGS_BYTES: usize = 10_000;
/// SendGrid's limit on one personalization's substitutions.
const MAX_SUBSTITUTIONS_BYTES: usize = 10_000;

/// How the next request fails.
#[derive(Debug, Clone)]
pub enum MailFault {
    /// This status with SendGrid's body for it (400, 401, 403, 413, 500, 503...).
    Status(u16),
    /// 429, with `Retry-After` when given, and `X-RateLimit-Reset` this many
    /// seconds from now when given.
    RateLimited {
        retry_after: Option<u32>,
        reset_in: Option<u64>,
    },
    /// Accept the mail, then never answer.
    Hang,
}

/// A mail SendGrid accepted.
#[derive(Debug, Clone)]
pub struct SentMail {
    /// The `X-Message-Id` it answered.
    pub message_id: String,
    /// The request body.
    pub body: Value,
}

impl SentMail {
    /// Each personalization's first `to` address.
    pub fn recipients(&self) -> Vec<String> {
        self.body["personalizations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["to"][0]["email"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The text part as `address` receives it: with its personalization's
    /// substitutions made, as SendGrid makes them.
    pub fn text_for(&self, address: &str) -> String {
        let p = self.body["personalizations"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["to"][0]["email"] == address)
            .unwrap_or_else(|| panic!("no personalization for {address}"));
        let mut text = self.body["content"][0]["value"]
            .as_str()
            .expect("a text part")
            .to_string();
        if let Some(subs) = p["substitutions"].as_object() {
            for (tag, value) in subs {
                text = text.replace(tag.as_str(), value.as_str().unwrap_or_default());
            }
        }
        text
    }

    /// The first link in the mail's text part.
    pub fn first_link(&self) -> String {
        let body = self.body["content"][0]["value"]
            .as_str()
            .expect("a text part");
        let start = body.find("http").expect("a link in the mail");
        body[start..]
            .split_whitespace()
            .next()
            .expect("the link")
            .to_string()
    }
}

#[derive(Default)]
struct Inner {
    faults: Faults<MailFault>,
    attempts: Mutex<Vec<Attempt>>,
    mails: Mutex<Vec<SentMail>>,
    counter: AtomicU64,
    /// Told of every raw request once it is recorded.
    arrived: tokio::sync::Notify,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeSendGrid {
    pub addr: std::net::SocketAddr,
    inner: Arc<Inner>,
}

impl FakeSendGrid {
    /// Starts the fake on 127.0.0.1:0.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v3/mail/send", post(send))
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
    pub fn fail_next(&self, n: usize, fault: MailFault) {
        self.inner.faults.push(n, fault);
    }

    /// Waits until the fake has received at least `n` raw requests (the
    /// caller bounds the wait).
    pub async fn received(&self, n: usize) {
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.inner.attempts.lock().unwrap().len() >= n {
                return;
            }
            arrived.await;
        }
    }

    /// Every raw request received, whatever the answer.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.inner.attempts.lock().unwrap().clone()
    }

    /// Every mail accepted (202).
    pub fn mails(&self) -> Vec<SentMail> {
        self.inner.mails.lock().unwrap().clone()
    }
}

fn errors(status: u16, list: &[(Option<&str>, &str)]) -> (u16, Value) {
    let errors: Vec<Value> = list
        .iter()
        .map(|(field, message)| json!({ "message": message, "field": field, "help": null }))
        .collect();
    (status, json!({ "errors": errors }))
}

fn status_error(status: u16) -> (u16, Value) {
    let message = match status {
        400 => "Bad Request",
        401 => "The provided authorization grant is invalid, expired, or revoked",
        403 => {
            "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved."
        }
        413 => "Payload Too Large",
        500 => "internal error",
        503 => "service unavailable",
        _ => "error",
    };
    errors(status, &[(None, message)])
}

async fn send(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = inner.faults.next();
    let mut extra: Vec<(&str, String)> = Vec::new();
    let (status, answer) = match &fault {
        Some(MailFault::Status(code)) => status_error(*code),
        Some(MailFault::RateLimited {
            retry_after,
            reset_in,
        }) => {
            extra.push(("x-ratelimit-limit", "600".into()));
            extra.push(("x-ratelimit-remaining", "0".into()));
            if let Some(seconds) = retry_after {
                extra.push(("retry-after", seconds.to_string()));
            }
            if let Some(seconds) = reset_in {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                extra.push(("x-ratelimit-reset", (now + seconds).to_string()));
            }
            errors(429, &[(None, "too many requests")])
        }
        Some(MailFault::Hang) | None => check(&headers, &body),
    };
    if status == 202 {
        let n = inner.counter.fetch_add(1, Ordering::SeqCst);
        let message_id = format!("fakeSG{n:016}");
        extra.push(("x-message-id", message_id.clone()));
        inner.mails.lock().unwrap().push(SentMail {
            message_id,
            body: serde_json::from_slice(&body).expect("checked JSON"),
        });
    }
    inner.attempts.lock().unwrap().push(Attempt {
        method,
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    inner.arrived.notify_waiters();
    if let Some(MailFault::Hang) = fault {
        // Hold the connection until the client gives up.
        std::future::pending::<()>().await;
    }
    let mut response = if status == 202 {
        StatusCode::ACCEPTED.into_response()
    } else {
        (
            StatusCode::from_u16(status).expect("a status"),
            [("content-type", "application/json")],
            answer.to_string(),
        )
            .into_response()
    };
    for (name, value) in extra {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    response
}

/// SendGrid's checks; `(202, Null)` when the mail is accepted.
fn check(headers: &HeaderMap, body: &[u8]) -> (u16, Value) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match header("authorization") {
        None => return errors(401, &[(None, "authorization required")]),
        Some(auth) if auth != format!("Bearer {API_KEY}") => return status_error(401),
        Some(_) => {}
    }
    if !header("content-type")
        .unwrap_or("")
        .starts_with("application/json")
    {
        return errors(415, &[(None, "Content-Type should be application/json.")]);
    }
    let Ok(mail) = serde_json::from_slice::<Value>(body) else {
        return errors(400, &[(None, "Bad Request")]);
    };
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |field: String, message: &str| problems.push((field, message.to_owned()));

    let personalizations = mail["personalizations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if personalizations.is_empty() {
        problem(
            "personalizations".into(),
            "The personalizations field is required and must have at least one personalization.",
        );
    }
    if personalizations.len() > MAX_PERSONALIZATIONS {
        problem(
            "personalizations".into(),
            "The personalizations field must have 1,000 or fewer personalizations.",
        );
    }
    let mut recipients = 0;
    for (i, p) in personalizations.iter().enumerate() {
        let to = p["to"].as_array().cloned().unwrap_or_default();
        if to.is_empty() {
            problem(
                format!("personalizations.{i}.to"),
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
            );
        }
        let mut seen = Vec::new();
        for (j, address) in to.iter().enumerate() {
            recipients += 1;
            let email = address["email"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !is_address(&email) {
                problem(
                    format!("personalizations.{i}.to.{j}.email"),
                    "Does not contain a valid address.",
                );
            }
            if seen.contains(&email) {
                problem(
                    format!("personalizations.{i}"),
                    "Each email address in the personalization block should be unique between to, cc, and bcc.",
                );
            }
            seen.push(email);
        }
        if let Some(headers) = p.get("headers") {
            for (name, value) in headers.as_object().into_iter().flatten() {
                if !value.is_string() {
                    problem(
                        format!("personalizations.{i}.headers"),
                        "Invalid type. Expected: string, given: other.",
                    );
                }
                if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    problem(
                        format!("personalizations.{i}.headers"),
                        "This header is reserved and cannot be set.",
                    );
                }
            }
        }
        if let Some(subs) = p.get("substitutions") {
            let all_strings = subs
                .as_object()
                .is_some_and(|a| a.values().all(Value::is_string));
            if !all_strings {
                problem(
                    format!("personalizations.{i}.substitutions"),
                    "Invalid type. Expected: string, given: other.",
                );
            }
            if subs.to_string().len() > MAX_SUBSTITUTIONS_BYTES {
                problem(
                    format!("personalizations.{i}.substitutions"),
                    "The substitutions may not exceed 10,000 bytes per personalization.",
                );
            }
        }
        if let Some(args) = p.get("custom_args") {
            let all_strings = args
                .as_object()
                .is_some_and(|a| a.values().all(Value::is_string));
            if !all_strings {
                problem(
                    format!("personalizations.{i}.custom_args"),
                    "Invalid type. Expected: string, given: other.",
                );
            }
            if args.to_string().len() > MAX_CUSTOM_ARGS_BYTES {
                problem(
                    format!("personalizations.{i}.custom_args"),
                    "The custom_args may not exceed 10,000 bytes.",
                );
            }
        }
    }
    if recipients > MAX_RECIPIENTS {
        problem(
            "personalizations".into(),
            "The total number of recipients must be less than 1000.",
        );
    }
    if !mail["from"]["email"].as_str().is_some_and(is_address) {
        problem(
            "from.email".into(),
            "The from email does not contain a valid address.",
        );
    }
    if let Some(reply_to) = mail.get("reply_to")
        && !reply_to["email"].as_str().is_some_and(is_address)
    {
        problem(
            "reply_to.email".into(),
            "The reply_to email does not contain a valid address.",
        );
    }
    let top_subject = mail["subject"].as_str().is_some_and(|s| !s.is_empty());
    let every_subject = !personalizations.is_empty()
        && personalizations
            .iter()
            .all(|p| p["subject"].as_str().is_some_and(|s| !s.is_empty()));
    if !top_subject && !every_subject {
        problem(
            "subject".into(),
            "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
        );
    }
    let content = mail["content"].as_array().cloned().unwrap_or_default();
    if content.is_empty() {
        problem(
            "content".into(),
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.",
        );
    }
    for (i, part) in content.iter().enumerate() {
        if part["type"].as_str().is_none_or(str::is_empty) {
            problem(
                format!("content.{i}.type"),
                "The content type cannot contain ';', or CRLF characters. The content type must be at least one character.",
            );
        }
        if part["value"].as_str().is_none_or(str::is_empty) {
            problem(
                format!("content.{i}.value"),
                "The content value must be a string at least one character in length.",
            );
        }
        if i > 0 && part["type"] == "text/plain" {
            problem(
                format!("content.{i}.type"),
                "If present, text/plain must be first, followed by text/html, followed by any other content.",
            );
        }
    }
    if problems.is_empty() {
        (202, Value::Null)
    } else {
        let list: Vec<(Option<&str>, &str)> = problems
            .iter()
            .map(|(field, message)| (Some(field.as_str()), message.as_str()))
            .collect();
        errors(400, &list)
    }
}

/// SendGrid's notion of a valid address, near enough: something@domain.tld.
fn is_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.contains(char::is_whitespace)
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
        None => false,
    }
}
