//! A fake LINE Messaging API: push and multicast, checked against LINE's own
//! OpenAPI, with retry keys, and LINE's webhooks, shaped per `webhook.yml`
//! and signed with the channel secret.
//!
//! What it checks on every request, answering as LINE does when a check
//! fails: the bearer token (401), the `X-Line-Retry-Key` header against the
//! OpenAPI parameter (a UUID; 400), the JSON body against the OpenAPI request
//! schema of the path (`PushMessageRequest`, `MulticastRequest`: required
//! fields, 1..5 messages, 1..500 `to`) and each message against the schema
//! its `type` maps to (`TextMessage`), then LINE's documented rules the YAML
//! does not state: a user id is `U` and 32 hex digits, a text is 1..5,000
//! characters as LINE counts them (UTF-16 units). A retry key is accepted
//! once: a later request with it gets 409 with LINE's body (and, for a push,
//! the first request's `sentMessages`) and the `x-line-accepted-request-id`
//! header. Every answer carries `x-line-request-id`.
//!
//! Like LINE, a user who blocked the account is answered 200 and gets
//! nothing; an unknown user id gets 400 `Failed to send messages` (also for a
//! multicast that names one). Faults ([`LineFault`]) make the next requests
//! fail the ways LINE fails.
//!
//! Rich menus (`/v2/bot/richmenu...`, and the upload that LINE serves from
//! `api-data.line.me`, here on the same address) are a separate record
//! ([`FakeLine::rich_menus`], [`FakeLine::rich_menu_calls`]) with faults of
//! their own ([`FakeLine::fail_rich_menu_next`]), so message tests count
//! only messages. A new menu is checked against `RichMenuRequest` and each
//! area's action against the schema its `type` maps to, then against LINE's
//! documented rules the YAML leaves out: every field given, a size of 800 to
//! 2500 by at least 250 pixels and at least 1.45 times as wide as high, at
//! most 20 areas, each inside the picture, labels of at most 20 characters,
//! `displayText` of at most 300. Its picture must be a PNG or JPEG whose
//! `Content-Type` says so, at most 1 MB, whole (a PNG's chunks and CRCs are
//! read to `IEND`) and of the menu's exact pixel size, uploaded once, to a
//! menu that exists; only a menu with its picture can be the default.
//! Refusals carry LINE's `{"message", "details"}` body.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::openapi::{OpenApi, Violation};
use super::{Attempt, Faults, serve};

/// The channel access token the fake accepts.
pub const ACCESS_TOKEN: &str = "fake-line-channel-access-token-7Qm2";
/// The channel secret the fake signs webhooks with.
pub const CHANNEL_SECRET: &str = "3b8f0c5e2a9d4f7c1e6b8a0d2c4f6e8a";
/// The bot's user id (`destination` of webhooks).
pub const BOT_USER_ID: &str = "U0123456789abcdef0123456789abcdef";

/// LINE's text limit, in UTF-16 code units (LINE's documented count).
const MAX_TEXT_UNITS: usize = 5_000;

const PUSH: &str = "/v2/bot/message/push";
const MULTICAST: &str = "/v2/bot/message/multicast";
const REPLY: &str = "/v2/bot/message/reply";
const RICH_MENU: &str = "/v2/bot/richmenu";
const RICH_MENU_LIST: &str = "/v2/bot/richmenu/list";
const DEFAULT_RICH_MENU: &str = "/v2/bot/user/all/richmenu";
/// LINE's largest rich menu picture: 1 MB.
const MAX_RICH_MENU_IMAGE: usize = 1 << 20;
/// LINE's most areas on a rich menu.
const MAX_RICH_MENU_AREAS: usize = 20;

fn messaging_api() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        OpenApi::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/line-openapi/messaging-api.yml"
        )))
    })
}

fn webhook_api() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        OpenApi::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference/line-openapi/webhook.yml"
        )))
    })
}

/// How the next request fails.
#[derive(Debug, Clone)]
pub enum LineFault {
    /// 429: the per-second rate limit (LINE sends no `Retry-After`).
    RateLimited,
    /// 429: the month's message quota is spent.
    MonthlyLimit,
    /// This status with LINE's body for it (401, 403, 500, 502, 503...).
    Status(u16),
    /// Accept the request (deliver, take the retry key), then never answer: a client that gives up first has lost the answer of
    /// a request that went through.
    Hang,
    /// 400 with LINE's body for an invalid request: `The request body has
    /// 1 error(s)` and one detail naming `property`.
    Invalid { property: String, message: String },
}

/// Which API a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Push,
    Multicast,
    Reply,
}

/// A request LINE accepted (200).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub api: Api,
    pub request_id: String,
    pub retry_key: Option<String>,
    pub to: Vec<String>,
    pub texts: Vec<String>,
    /// The message objects as sent.
    pub messages: Vec<Value>,
    /// The `sentMessages` ids (push only; a multicast answers `{}`).
    pub message_ids: Vec<String>,
    /// A reply's `replyToken`.
    pub reply_token: Option<String>,
}

/// One message delivered to one user's LINE app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub user: String,
    pub texts: Vec<String>,
    pub request_id: String,
}

#[derive(Default)]
struct Inner {
    faults: Faults<LineFault>,
    attempts: Mutex<Vec<Attempt>>,
    accepted: Mutex<Vec<Accepted>>,
    /// Retry key → (request id, message ids) of the request that took it.
    keys: Mutex<HashMap<String, (String, Vec<String>)>>,
    unknown: Mutex<HashSet<String>>,
    blocked: Mutex<HashSet<String>>,
    /// Reply tokens handed out in events, each with its user, until used.
    reply_tokens: Mutex<HashMap<String, String>>,
    counter: AtomicU64,
    /// Told of every raw request once it is recorded.
    arrived: tokio::sync::Notify,
    rich_menus: Mutex<RichMenus>,
    rich_menu_faults: Faults<LineFault>,
}

/// A rich menu on the account.
#[derive(Debug, Clone)]
pub struct RichMenu {
    pub id: String,
    /// The `RichMenuRequest` it was made with.
    pub request: Value,
    /// Its picture: content type and bytes.
    pub image: Option<(String, Vec<u8>)>,
}

impl RichMenu {
    pub fn name(&self) -> &str {
        self.request["name"].as_str().unwrap_or_default()
    }

    /// The `size` it was made with.
    pub fn size(&self) -> (u64, u64) {
        let size = &self.request["size"];
        (
            size["width"].as_u64().unwrap_or(0),
            size["height"].as_u64().unwrap_or(0),
        )
    }
}

#[derive(Default)]
struct RichMenus {
    menus: Vec<RichMenu>,
    default: Option<String>,
    deleted: Vec<String>,
    calls: Vec<Attempt>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeLine {
    pub addr: std::net::SocketAddr,
    inner: Arc<Inner>,
}

impl FakeLine {
    /// Starts the fake on 127.0.0.1:0.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route(PUSH, post(message))
            .route(MULTICAST, post(message))
            .route(REPLY, post(message))
            .route(RICH_MENU, any(rich_menu))
            .route(RICH_MENU_LIST, any(rich_menu))
            .route("/v2/bot/richmenu/{id}", any(rich_menu))
            .route("/v2/bot/richmenu/{id}/content", any(rich_menu))
            .route("/v2/bot/user/all/richmenu/{id}", any(rich_menu))
            .route(DEFAULT_RICH_MENU, any(rich_menu))
            // LINE's pictures may be up to 1 MB: room to refuse larger ones
            // as LINE does rather than at the framework's limit.
            .layer(axum::extract::DefaultBodyLimit::max(
                4 * MAX_RICH_MENU_IMAGE,
            ))
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
    pub fn fail_next(&self, n: usize, fault: LineFault) {
        self.inner.faults.push(n, fault);
    }

    /// LINE does not know this user id (another provider's, or deleted).
    pub fn unknown_user(&self, user: &str) {
        self.inner.unknown.lock().unwrap().insert(user.to_owned());
    }

    /// This user blocked the account: accepted, never delivered.
    pub fn block(&self, user: &str) {
        self.inner.blocked.lock().unwrap().insert(user.to_owned());
    }

    /// Every raw request received, whatever the answer.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.inner.attempts.lock().unwrap().clone()
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

    /// Fail the next `n` rich menu requests with `fault`.
    pub fn fail_rich_menu_next(&self, n: usize, fault: LineFault) {
        self.inner.rich_menu_faults.push(n, fault);
    }

    /// The account's rich menus, oldest first.
    pub fn rich_menus(&self) -> Vec<RichMenu> {
        self.inner.rich_menus.lock().unwrap().menus.clone()
    }

    /// The id of the default rich menu.
    pub fn default_rich_menu(&self) -> Option<String> {
        self.inner.rich_menus.lock().unwrap().default.clone()
    }

    /// The ids of the rich menus deleted, in order.
    pub fn deleted_rich_menus(&self) -> Vec<String> {
        self.inner.rich_menus.lock().unwrap().deleted.clone()
    }

    /// Every raw rich menu request, whatever the answer.
    pub fn rich_menu_calls(&self) -> Vec<Attempt> {
        self.inner.rich_menus.lock().unwrap().calls.clone()
    }

    /// A menu someone else made on the account (in LINE Official Account
    /// Manager, another tool), with a picture; its id.
    pub fn add_rich_menu(&self, name: &str) -> String {
        let mut menus = self.inner.rich_menus.lock().unwrap();
        let id = rich_menu_id(&self.inner);
        menus.menus.push(RichMenu {
            id: id.clone(),
            request: json!({
                "size": { "width": 2500, "height": 843 },
                "selected": false,
                "name": name,
                "chatBarText": "Tap",
                "areas": [{
                    "bounds": { "x": 0, "y": 0, "width": 2500, "height": 843 },
                    "action": { "type": "message", "label": "Hi", "text": "Hi" }
                }]
            }),
            image: Some(("image/png".into(), Vec::new())),
        });
        id
    }

    /// Every request LINE accepted.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.inner.accepted.lock().unwrap().clone()
    }

    /// Every message that reached a user, in order.
    pub fn deliveries(&self) -> Vec<Delivered> {
        let blocked = self.inner.blocked.lock().unwrap().clone();
        self.accepted()
            .into_iter()
            .flat_map(|a| {
                a.to.iter()
                    .filter(|u| !blocked.contains(*u))
                    .map(|u| Delivered {
                        user: u.clone(),
                        texts: a.texts.clone(),
                        request_id: a.request_id.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    // ---- webhooks -------------------------------------------------------

    /// A `follow` event (`unblocked`: the user unblocked the account).
    pub fn follow(&self, user: &str, unblocked: bool) -> Value {
        self.event(
            "follow",
            user,
            json!({
                "replyToken": self.reply_token(user),
                "follow": { "isUnblocked": unblocked }
            }),
        )
    }

    /// An `unfollow` event (the user blocked the account).
    pub fn unfollow(&self, user: &str) -> Value {
        self.event("unfollow", user, json!({}))
    }

    /// A text `message` event.
    pub fn text(&self, user: &str, text: &str) -> Value {
        let id = self.next_number().to_string();
        self.event("message", user, json!({
            "replyToken": self.reply_token(user),
            "message": { "type": "text", "id": id, "quoteToken": format!("q{id}"), "text": text }
        }))
    }

    /// A `postback` event.
    pub fn postback(&self, user: &str, data: &str) -> Value {
        self.event(
            "postback",
            user,
            json!({
                "replyToken": self.reply_token(user),
                "postback": { "data": data }
            }),
        )
    }

    /// A `postback` event of a date picker: its data and the date chosen
    /// (`postback.params.date`).
    pub fn picked(&self, user: &str, data: &str, date: &str) -> Value {
        self.event(
            "postback",
            user,
            json!({
                "replyToken": self.reply_token(user),
                "postback": { "data": data, "params": { "date": date } }
            }),
        )
    }

    /// The same event as LINE redelivers it: same `webhookEventId`,
    /// `deliveryContext.isRedelivery` true.
    pub fn redelivered(event: &Value) -> Value {
        let mut event = event.clone();
        event["deliveryContext"]["isRedelivery"] = Value::Bool(true);
        event
    }

    /// A webhook body with these events, checked against `webhook.yml`'s
    /// `CallbackRequest` (the fake never sends what LINE would not).
    pub fn callback(&self, events: Vec<Value>) -> Vec<u8> {
        let body = json!({ "destination": BOT_USER_ID, "events": events });
        let violations = webhook_api().check("CallbackRequest", &body);
        assert!(
            violations.is_empty(),
            "the fake built a webhook LINE would not send: {violations:?}"
        );
        serde_json::to_vec(&body).expect("JSON")
    }

    /// `x-line-signature` for `body`: base64 of HMAC-SHA256 keyed by the
    /// channel secret.
    pub fn signature(body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(CHANNEL_SECRET.as_bytes()).expect("any key");
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// The headers LINE sends a webhook with (signed).
    pub fn webhook_headers(body: &[u8]) -> Vec<(String, String)> {
        vec![
            (
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("user-agent".into(), "LineBotWebhook/2.0".into()),
            ("x-line-signature".into(), Self::signature(body)),
        ]
    }

    /// POSTs a signed webhook to `url` (the host's `/hooks/{tenant}/{channel}`).
    pub async fn post_webhook(url: &str, body: Vec<u8>) -> reqwest::Response {
        let mut request = reqwest::Client::new().post(url);
        for (name, value) in Self::webhook_headers(&body) {
            request = request.header(name, value);
        }
        request
            .body(body)
            .send()
            .await
            .expect("the webhook is sent")
    }

    fn event(&self, kind: &str, user: &str, extra: Value) -> Value {
        let mut event = json!({
            "type": kind,
            "mode": "active",
            "timestamp": now_ms(),
            "source": { "type": "user", "userId": user },
            "webhookEventId": self.ulid(),
            "deliveryContext": { "isRedelivery": false }
        });
        event
            .as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        event
    }

    fn next_number(&self) -> u64 {
        500_000_000_000_000_000 + self.inner.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// A reply token for an event of `user`, usable once.
    pub fn reply_token(&self, user: &str) -> String {
        let token = format!("{:032x}", u128::from(self.next_number()) * 7_919);
        self.inner
            .reply_tokens
            .lock()
            .unwrap()
            .insert(token.clone(), user.to_owned());
        token
    }

    /// A reply token's window has passed (LINE: about a minute).
    pub fn expire_reply_token(&self, token: &str) {
        self.inner.reply_tokens.lock().unwrap().remove(token);
    }

    /// A ULID: 48 bits of milliseconds, 80 bits of (here counted) randomness,
    /// in Crockford's base32.
    fn ulid(&self) -> String {
        let value = (u128::from(now_ms()) << 80) | u128::from(self.next_number());
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        (0..26)
            .rev()
            .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
            .collect()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn message(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = inner.faults.next();
    let api = match uri.path() {
        PUSH => Api::Push,
        REPLY => Api::Reply,
        _ => Api::Multicast,
    };
    let (status, extra, answer) = match &fault {
        Some(LineFault::RateLimited) => error(
            429,
            "The API rate limit has been exceeded. Try again later.",
        ),
        Some(LineFault::MonthlyLimit) => error(429, "You have reached your monthly limit."),
        Some(LineFault::Status(code)) => error(*code, status_message(*code)),
        Some(LineFault::Invalid { property, message }) => invalid(property, message),
        Some(LineFault::Hang) | None => answer(&inner, api, uri.path(), &headers, &body),
    };
    let request_id = format!(
        "{:032x}",
        u128::from(inner.counter.fetch_add(1, Ordering::SeqCst)) + 0xa1
    );
    inner.attempts.lock().unwrap().push(Attempt {
        method,
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    inner.arrived.notify_waiters();
    if let Some(LineFault::Hang) = fault {
        // Hold the connection until the client gives up.
        std::future::pending::<()>().await;
    }
    let mut response = (
        StatusCode::from_u16(status).expect("a status"),
        [("content-type", "application/json")],
        answer.to_string(),
    )
        .into_response();
    let response_headers = response.headers_mut();
    // Every answer has a request id; an accepted request's is the one it
    // was recorded under (in `extra`, which overrides this one).
    response_headers.insert(
        "x-line-request-id",
        HeaderValue::from_str(&request_id).expect("hex"),
    );
    for (name, value) in extra {
        response_headers.insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    response
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

fn error(status: u16, message: &str) -> Answer {
    (status, Vec::new(), json!({ "message": message }))
}

fn invalid(property: &str, message: &str) -> Answer {
    (
        400,
        Vec::new(),
        json!({
            "message": "The request body has 1 error(s)",
            "details": [{ "message": message, "property": property }]
        }),
    )
}

/// LINE's 400 for `violations`, or `None` when there are none.
fn refusal(violations: &[Violation]) -> Option<Answer> {
    if violations.is_empty() {
        return None;
    }
    let details: Vec<Value> = violations
        .iter()
        .map(|v| json!({ "message": v.message, "property": v.property }))
        .collect();
    Some((
        400,
        Vec::new(),
        json!({ "message": format!("The request body has {} error(s)", violations.len()), "details": details }),
    ))
}

fn status_message(status: u16) -> &'static str {
    match status {
        401 => {
            "Authentication failed. Confirm that the access token in the authorization header is valid."
        }
        403 => "Access to this API is not available for your account",
        500 => "Internal server error",
        _ => "An error occurred",
    }
}

fn is_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_user_id(text: &str) -> bool {
    text.len() == 33
        && text.starts_with('U')
        && text[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Everything LINE checks, then acceptance.
fn answer(inner: &Inner, api: Api, path: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("authorization") != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return error(401, status_message(401));
    }
    let content_type = header("content-type").unwrap_or("");
    if !content_type.starts_with("application/json") {
        return error(
            415,
            &format!("The content type, '{content_type}', is not supported"),
        );
    }
    let openapi = messaging_api();
    let retry_key = header("x-line-retry-key").map(str::to_owned);
    // One request at a time decides about a retry key: of two that carry
    // the same key at once, one is accepted and the other gets 409.
    let mut keys = inner.keys.lock().unwrap();
    if let Some(key) = &retry_key {
        let schema = openapi.header_schema(path, "X-Line-Retry-Key");
        assert_eq!(
            schema["format"], "uuid",
            "LINE's OpenAPI says the retry key is a UUID"
        );
        if !is_uuid(key) {
            return error(
                400,
                "The value for the 'X-Line-Retry-Key' header is invalid",
            );
        }
        if let Some((request_id, ids)) = keys.get(key) {
            let mut body = json!({ "message": "The retry key is already accepted" });
            if api == Api::Push {
                body["sentMessages"] = ids.iter().map(|id| json!({ "id": id })).collect();
            }
            return (
                409,
                vec![("x-line-accepted-request-id", request_id.clone())],
                body,
            );
        }
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            "The request body could not be parsed as JSON (line: 1, column: 1)",
        );
    };
    let mut violations = openapi.check(&openapi.request_schema_name(path), &request);
    violations.extend(documented_rules(api, &request));
    if let Some(refused) = refusal(&violations) {
        return refused;
    }
    let replied = if api == Api::Reply {
        let token = request["replyToken"].as_str().unwrap_or_default();
        // A token is used once, and only within its window.
        match inner.reply_tokens.lock().unwrap().remove(token) {
            Some(user) => Some(user),
            None => return error(400, "Invalid reply token"),
        }
    } else {
        None
    };
    let to: Vec<String> = match &request["to"] {
        _ if replied.is_some() => replied.into_iter().collect(),
        Value::String(user) => vec![user.clone()],
        Value::Array(users) => users
            .iter()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let unknown = inner.unknown.lock().unwrap().clone();
    if to.iter().any(|u| unknown.contains(u)) {
        return error(400, "Failed to send messages");
    }
    let messages: Vec<Value> = request["messages"].as_array().cloned().unwrap_or_default();
    let texts: Vec<String> = messages
        .iter()
        .map(|m| {
            m["text"]
                .as_str()
                .or_else(|| m["template"]["text"].as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    let request_id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n,
        n & 0xffff,
        n & 0xfff,
        n & 0xfff,
        n
    );
    let message_ids: Vec<String> = match api {
        Api::Push | Api::Reply => texts
            .iter()
            .map(|_| {
                (500_000_000_000_000_000 + inner.counter.fetch_add(1, Ordering::SeqCst)).to_string()
            })
            .collect(),
        Api::Multicast => Vec::new(),
    };
    if let Some(key) = &retry_key {
        keys.insert(key.clone(), (request_id.clone(), message_ids.clone()));
    }
    drop(keys);
    inner.accepted.lock().unwrap().push(Accepted {
        api,
        request_id: request_id.clone(),
        retry_key,
        to,
        texts,
        messages,
        message_ids: message_ids.clone(),
        reply_token: request["replyToken"].as_str().map(str::to_owned),
    });
    let body = match api {
        Api::Push | Api::Reply => json!({
            "sentMessages": message_ids.iter().map(|id| json!({ "id": id, "quoteToken": format!("qt-{id}") })).collect::<Vec<_>>()
        }),
        Api::Multicast => json!({}),
    };
    (200, vec![("x-line-request-id", request_id)], body)
}

/// A length rule: `text` (none counts as empty) is `min..=max` UTF-16 units.
fn limit(
    violations: &mut Vec<Violation>,
    property: String,
    text: Option<&str>,
    min: usize,
    max: usize,
) {
    let units = text.map_or(0, |t| t.encode_utf16().count());
    if units < min || units > max {
        violations.push(Violation {
            property,
            message: format!("Length must be between {min} and {max}"),
        });
    }
}

/// LINE's documented rules that `messaging-api.yml` does not spell out.
fn documented_rules(api: Api, request: &Value) -> Vec<Violation> {
    let mut violations = Vec::new();
    let bad_user = |property: String| Violation {
        property,
        message: "Invalid user ID (U followed by 32 hex digits)".into(),
    };
    match (api, &request["to"]) {
        (Api::Push, Value::String(user)) if !is_user_id(user) => {
            violations.push(bad_user("to".into()))
        }
        (Api::Multicast, Value::Array(users)) => {
            for (i, user) in users.iter().enumerate() {
                if !user.as_str().is_some_and(is_user_id) {
                    violations.push(bad_user(format!("to[{i}]")));
                }
            }
        }
        _ => {}
    }
    for (i, message) in request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(text) = message["text"].as_str() {
            let units = text.encode_utf16().count();
            if units == 0 || units > MAX_TEXT_UNITS {
                violations.push(Violation {
                    property: format!("messages[{i}].text"),
                    message: format!("Length must be between 1 and {MAX_TEXT_UNITS}"),
                });
            }
        }
        let mut actions: Vec<(String, &Value)> = Vec::new();
        if message["type"] == "template" {
            limit(
                &mut violations,
                format!("messages[{i}].altText"),
                message["altText"].as_str(),
                1,
                400,
            );
            let template = &message["template"];
            if template["type"] != "buttons" {
                violations.push(Violation {
                    property: format!("messages[{i}].template.type"),
                    message: "the fake knows only buttons templates".into(),
                });
            }
            limit(
                &mut violations,
                format!("messages[{i}].template.text"),
                template["text"].as_str(),
                1,
                160,
            );
            let list = template["actions"].as_array().cloned().unwrap_or_default();
            if list.is_empty() || list.len() > 4 {
                violations.push(Violation {
                    property: format!("messages[{i}].template.actions"),
                    message: "Size must be between 1 and 4".into(),
                });
            }
            for (j, a) in template["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                actions.push((format!("messages[{i}].template.actions[{j}]"), a));
            }
        }
        if let Some(items) = message["quickReply"]["items"].as_array() {
            if items.is_empty() || items.len() > 13 {
                violations.push(Violation {
                    property: format!("messages[{i}].quickReply.items"),
                    message: "Size must be between 1 and 13".into(),
                });
            }
            for (j, item) in items.iter().enumerate() {
                let action = &item["action"];
                // Quick replies open no links on LINE.
                if !matches!(
                    action["type"].as_str(),
                    Some(
                        "postback"
                            | "datetimepicker"
                            | "message"
                            | "camera"
                            | "cameraRoll"
                            | "location"
                    )
                ) {
                    violations.push(Violation {
                        property: format!("messages[{i}].quickReply.items[{j}].action.type"),
                        message: "not an action a quick reply takes".into(),
                    });
                }
                actions.push((
                    format!("messages[{i}].quickReply.items[{j}].action"),
                    action,
                ));
            }
        }
        for (property, action) in actions {
            limit(
                &mut violations,
                format!("{property}.label"),
                action["label"].as_str(),
                1,
                20,
            );
            match action["type"].as_str() {
                Some("postback") => limit(
                    &mut violations,
                    format!("{property}.data"),
                    action["data"].as_str(),
                    1,
                    300,
                ),
                Some("datetimepicker") => {
                    limit(
                        &mut violations,
                        format!("{property}.data"),
                        action["data"].as_str(),
                        1,
                        300,
                    );
                    if !matches!(action["mode"].as_str(), Some("date" | "time" | "datetime")) {
                        violations.push(Violation {
                            property: format!("{property}.mode"),
                            message: "must be date, time or datetime".into(),
                        });
                    }
                }
                Some("uri") => limit(
                    &mut violations,
                    format!("{property}.uri"),
                    action["uri"].as_str(),
                    1,
                    1000,
                ),
                _ => {}
            }
        }
    }
    violations
}

// ---- rich menus -----------------------------------------------------------

fn rich_menu_id(inner: &Inner) -> String {
    let n = inner.counter.fetch_add(1, Ordering::SeqCst);
    format!("richmenu-{:032x}", u128::from(n) * 0x9e37_79b9 + 0x5eed)
}

async fn rich_menu(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = inner.rich_menu_faults.next();
    let (status, _, answer) = match &fault {
        Some(LineFault::RateLimited) => error(
            429,
            "The API rate limit has been exceeded. Try again later.",
        ),
        Some(LineFault::MonthlyLimit) => error(429, "You have reached your monthly limit."),
        Some(LineFault::Status(code)) => error(*code, status_message(*code)),
        Some(LineFault::Invalid { property, message }) => invalid(property, message),
        Some(LineFault::Hang) | None => {
            rich_menu_answer(&inner, &method, uri.path(), &headers, &body)
        }
    };
    inner.rich_menus.lock().unwrap().calls.push(Attempt {
        method,
        path: uri.path().to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    if let Some(LineFault::Hang) = fault {
        std::future::pending::<()>().await;
    }
    let request_id = format!(
        "{:032x}",
        u128::from(inner.counter.fetch_add(1, Ordering::SeqCst)) + 0xb2
    );
    let mut response = (
        StatusCode::from_u16(status).expect("a status"),
        [("content-type", "application/json")],
        answer.to_string(),
    )
        .into_response();
    response.headers_mut().insert(
        "x-line-request-id",
        HeaderValue::from_str(&request_id).expect("hex"),
    );
    response
}

/// LINE's checks of a rich menu request, then what it does.
fn rich_menu_answer(
    inner: &Inner,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("authorization") != Some(&format!("Bearer {ACCESS_TOKEN}")) {
        return error(401, status_message(401));
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut menus = inner.rich_menus.lock().unwrap();
    let not_found = || error(404, "Not found");
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["v2", "bot", "richmenu"]) => {
            let content_type = header("content-type").unwrap_or("");
            if !content_type.starts_with("application/json") {
                return error(
                    415,
                    &format!("The content type, '{content_type}', is not supported"),
                );
            }
            let Ok(request) = serde_json::from_slice::<Value>(body) else {
                return error(
                    400,
                    "The request body could not be parsed as JSON (line: 1, column: 1)",
                );
            };
            let openapi = messaging_api();
            assert_eq!(
                openapi.request_schema_name(RICH_MENU),
                "RichMenuRequest",
                "LINE's OpenAPI names the rich menu's schema"
            );
            let mut violations = openapi.check("RichMenuRequest", &request);
            violations.extend(rich_menu_rules(&request));
            if let Some(refused) = refusal(&violations) {
                return refused;
            }
            let id = rich_menu_id(inner);
            menus.menus.push(RichMenu {
                id: id.clone(),
                request,
                image: None,
            });
            (200, Vec::new(), json!({ "richMenuId": id }))
        }
        ("GET", ["v2", "bot", "richmenu", "list"]) => {
            let list: Vec<Value> = menus
                .menus
                .iter()
                .map(|m| {
                    let mut shown = m.request.clone();
                    shown["richMenuId"] = json!(m.id);
                    shown
                })
                .collect();
            (200, Vec::new(), json!({ "richmenus": list }))
        }
        ("DELETE", ["v2", "bot", "richmenu", id]) => {
            let Some(at) = menus.menus.iter().position(|m| m.id == *id) else {
                return not_found();
            };
            menus.menus.remove(at);
            if menus.default.as_deref() == Some(id) {
                menus.default = None;
            }
            menus.deleted.push((*id).to_owned());
            (200, Vec::new(), json!({}))
        }
        ("POST", ["v2", "bot", "richmenu", id, "content"]) => {
            let Some(menu) = menus.menus.iter_mut().find(|m| m.id == *id) else {
                return not_found();
            };
            if menu.image.is_some() {
                return error(400, "An image has already been uploaded to the richmenu");
            }
            let content_type = header("content-type").unwrap_or("").to_owned();
            let kind = match content_type.split(';').next().unwrap_or("").trim() {
                "image/png" => Picture::Png,
                "image/jpeg" => Picture::Jpeg,
                _ => {
                    return error(
                        415,
                        &format!("The content type, '{content_type}', is not supported"),
                    );
                }
            };
            if body.len() > MAX_RICH_MENU_IMAGE {
                return error(413, "The image exceeds the maximum size of 1 MB");
            }
            let (width, height) = match picture_size(kind, body) {
                Ok(size) => size,
                Err(e) => return error(400, &format!("The image is invalid: {e}")),
            };
            if (u64::from(width), u64::from(height)) != menu.size() {
                let (w, h) = menu.size();
                return error(
                    400,
                    &format!(
                        "The image size ({width}x{height}) does not match the rich menu's size ({w}x{h})"
                    ),
                );
            }
            menu.image = Some((content_type, body.to_vec()));
            (200, Vec::new(), json!({}))
        }
        ("POST", ["v2", "bot", "user", "all", "richmenu", id]) => {
            let Some(menu) = menus.menus.iter().find(|m| m.id == *id) else {
                return not_found();
            };
            if menu.image.is_none() {
                return error(400, "must upload richmenu image before applying it to user");
            }
            menus.default = Some((*id).to_owned());
            (200, Vec::new(), json!({}))
        }
        ("GET", ["v2", "bot", "user", "all", "richmenu"]) => match &menus.default {
            Some(id) => (200, Vec::new(), json!({ "richMenuId": id })),
            None => error(404, "no default richmenu"),
        },
        _ => error(405, "Method Not Allowed"),
    }
}

/// LINE's documented rules for a rich menu that `RichMenuRequest` in the
/// YAML does not state.
fn rich_menu_rules(request: &Value) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut violation = |property: String, message: &str| {
        violations.push(Violation {
            property,
            message: message.to_owned(),
        })
    };
    for field in ["size", "selected", "name", "chatBarText", "areas"] {
        if request.get(field).is_none() {
            violation(field.into(), "must be specified");
        }
    }
    let (width, height) = (
        request["size"]["width"].as_u64().unwrap_or(0),
        request["size"]["height"].as_u64().unwrap_or(0),
    );
    if !(800..=2500).contains(&width) {
        violation("size.width".into(), "must be between 800 and 2500");
    }
    if height < 250 {
        violation("size.height".into(), "must be at least 250");
    }
    if width * 100 < height * 145 {
        violation("size".into(), "width / height must be at least 1.45");
    }
    let areas = request["areas"].as_array().cloned().unwrap_or_default();
    if areas.len() > MAX_RICH_MENU_AREAS {
        violation("areas".into(), "Size must be between 0 and 20");
    }
    for (i, area) in areas.iter().enumerate() {
        let bounds = &area["bounds"];
        let field = |name: &str| bounds[name].as_u64();
        match (field("x"), field("y"), field("width"), field("height")) {
            (Some(x), Some(y), Some(w), Some(h)) if w > 0 && h > 0 => {
                if x + w > width || y + h > height {
                    violation(
                        format!("areas[{i}].bounds"),
                        "must be inside the rich menu's size",
                    );
                }
            }
            _ => violation(
                format!("areas[{i}].bounds"),
                "must have x, y, width and height",
            ),
        }
        let action = &area["action"];
        let schema = match action["type"].as_str() {
            Some("postback") => "PostbackAction",
            Some("message") => "MessageAction",
            Some("uri") => "URIAction",
            Some("datetimepicker") => "DatetimePickerAction",
            Some("richmenuswitch") => "RichMenuSwitchAction",
            _ => {
                violation(
                    format!("areas[{i}].action.type"),
                    "not an action a rich menu takes",
                );
                continue;
            }
        };
        for v in messaging_api().check(schema, action) {
            violation(
                format!("areas[{i}].action.{}", v.property)
                    .trim_end_matches('.')
                    .to_owned(),
                &v.message,
            );
        }
        let units = |name: &str| action[name].as_str().map(|t| t.chars().count());
        if units("label").is_some_and(|n| n > 20) {
            violation(
                format!("areas[{i}].action.label"),
                "Length must be between 0 and 20",
            );
        }
        if units("displayText").is_some_and(|n| n == 0 || n > 300) {
            violation(
                format!("areas[{i}].action.displayText"),
                "Length must be between 1 and 300",
            );
        }
        if action["type"] == "postback"
            && action["data"]
                .as_str()
                .is_none_or(|d| d.chars().count() > 300)
        {
            violation(
                format!("areas[{i}].action.data"),
                "Length must be between 0 and 300",
            );
        }
    }
    violations
}

/// The kinds of picture LINE takes for a rich menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Picture {
    Png,
    Jpeg,
}

/// The pixel size of a whole PNG (every chunk's CRC checked, through
/// `IEND`) or of a JPEG (from its frame header).
fn picture_size(kind: Picture, bytes: &[u8]) -> Result<(u32, u32), String> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    match kind {
        Picture::Png => {
            if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                return Err("not a PNG".into());
            }
            let mut at = 8;
            let mut size = None;
            loop {
                let head = bytes.get(at..at + 8).ok_or("the PNG is cut short")?;
                let length = be32(&head[..4]) as usize;
                let kind = &head[4..8];
                let data = bytes
                    .get(at + 8..at + 8 + length)
                    .ok_or("the PNG is cut short")?;
                let crc = bytes
                    .get(at + 8 + length..at + 12 + length)
                    .ok_or("the PNG is cut short")?;
                if crc32(&bytes[at + 4..at + 8 + length]) != be32(crc) {
                    return Err(format!(
                        "the PNG's {} chunk is damaged",
                        String::from_utf8_lossy(kind)
                    ));
                }
                match (kind, size) {
                    (b"IHDR", None) if length == 13 => {
                        size = Some((be32(&data[..4]), be32(&data[4..8])))
                    }
                    (_, None) => return Err("the PNG does not start with IHDR".into()),
                    (b"IEND", Some(size)) => return Ok(size),
                    _ => {}
                }
                at += 12 + length;
            }
        }
        Picture::Jpeg => {
            if !bytes.starts_with(&[0xFF, 0xD8]) {
                return Err("not a JPEG".into());
            }
            let mut at = 2;
            loop {
                let marker = bytes
                    .get(at..at + 4)
                    .ok_or("the JPEG has no frame header")?;
                if marker[0] != 0xFF {
                    return Err("the JPEG is damaged".into());
                }
                let length = usize::from(u16::from_be_bytes([marker[2], marker[3]]));
                if (0xC0..=0xCF).contains(&marker[1]) && ![0xC4, 0xC8, 0xCC].contains(&marker[1]) {
                    let frame = bytes.get(at + 5..at + 9).ok_or("the JPEG is cut short")?;
                    let height = u16::from_be_bytes([frame[0], frame[1]]);
                    let width = u16::from_be_bytes([frame[2], frame[3]]);
                    return Ok((u32::from(width), u32::from(height)));
                }
                at += 2 + length;
            }
        }
    }
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (n, entry) in table.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *entry = c;
        }
        table
    });
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// The pixel size of a rich menu picture as the fake reads it (PNG only),
/// for tests that look at what was uploaded.
pub fn png_size(bytes: &[u8]) -> Result<(u32, u32), String> {
    picture_size(Picture::Png, bytes)
}
