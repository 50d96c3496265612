//! X's Account Activity webhooks: the challenge-response check, the
//! signature, then the events.
//!
//! X checks the webhook URL with a `GET ?crc_token=...` (when it is
//! registered, then about hourly): the answer is `200`
//! `{"response_token":"sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>"}`.
//! X signs every `POST` the same way over the raw body, in
//! `x-twitter-webhooks-signature: sha256=<base64>`. A POST without a valid
//! signature is answered 401 and yields no event, whatever its body says;
//! the comparison runs in constant time.
//!
//! Both use one key and one construction, so a CRC answer is a signature
//! of whatever the caller put in `crc_token`. Only tokens made of letters,
//! digits and `-_=+/.~` (and spaces, a decoded `+`), at most 512 bytes, are
//! answered: such a token is never a JSON object, so no CRC answer can sign
//! a body this plugin would read events from.
//!
//! Of a signed body (`for_user_id`, the municipality's account, and arrays
//! of events), these become inbound events:
//!
//! | X event | inbound event | id |
//! |---|---|---|
//! | `direct_message_events` `message_create` with `quick_reply_response` | postback, with its `metadata` | the DM event's `id` |
//! | `direct_message_events` `message_create` otherwise | text | the DM event's `id` |
//! | `follow_events` `follow` of the account | follow | `follow:{user}:{created_timestamp}` |
//! | `follow_events` `unfollow` of the account | unfollow | `unfollow:{user}:{created_timestamp}` |
//! | `block_events` `block` of the account | unfollow (the user blocked it) | `block:{user}:{created_timestamp}` |
//! | `block_events` `unblock` of the account | follow, unblocked | `unblock:{user}:{created_timestamp}` |
//!
//! Follow and block events carry no id of their own: theirs are made from
//! what X sends, so a redelivery has the same one and the host keeps it
//! once. Whatever the account did itself (the DMs it sent, which X reports
//! too, its own follows and blocks), events about other accounts, DMs
//! without text, and every other activity (posts, likes, typing, read
//! receipts) are skipped. X gives no reply handle: the host answers by push.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tayori_plugin_sdk::{
    EventKind, InboundEvent, Postback, WebhookRequest, WebhookResponse, WebhookResult, log,
};

/// The header X signs POSTs with.
pub const SIGNATURE_HEADER: &str = "x-twitter-webhooks-signature";
/// The longest `crc_token` answered.
const MAX_CRC_TOKEN: usize = 512;

/// Why a webhook POST was refused before its events were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `x-twitter-webhooks-signature` header.
    Missing,
    /// Not `sha256=` and base64 of 32 bytes, or not the body's.
    Invalid,
}

fn mac(secret: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length")
}

/// `sha256=` and the base64 HMAC-SHA256 of `message` keyed by `secret`:
/// X's CRC answer and its signature.
pub fn sign(secret: &str, message: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(message);
    format!("sha256={}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Check `signature` (the header's value) against `body` and `secret`.
pub fn verify(secret: &str, body: &[u8], signature: Option<&str>) -> Result<(), Refusal> {
    let signature = signature.ok_or(Refusal::Missing)?;
    let encoded = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Refusal::Invalid)?;
    let expected = STANDARD.decode(encoded).map_err(|_| Refusal::Invalid)?;
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| Refusal::Invalid)
}

/// Answer one webhook request with the App's consumer secret.
pub fn handle(consumer_secret: &str, request: &WebhookRequest) -> WebhookResult {
    if request.method.eq_ignore_ascii_case("GET") {
        return crc(consumer_secret, &request.query);
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return refuse(405, "X sends webhooks as POST, and its CRC check as GET");
    }
    if let Err(refusal) = verify(
        consumer_secret,
        &request.body,
        request.header(SIGNATURE_HEADER),
    ) {
        log::warn(format!("webhook refused: {refusal:?} signature"));
        return refuse(
            401,
            match refusal {
                Refusal::Missing => "missing x-twitter-webhooks-signature",
                Refusal::Invalid => "invalid x-twitter-webhooks-signature",
            },
        );
    }
    let payload: Value = match request.json() {
        Ok(payload @ Value::Object(_)) => payload,
        Ok(_) | Err(_) => {
            log::warn("signed webhook body is not an Account Activity JSON object");
            return refuse(400, "the body is not an X Account Activity event");
        }
    };
    let Some(account) = user_id(&payload["for_user_id"]) else {
        log::warn("signed webhook body without for_user_id");
        return refuse(400, "the body has no for_user_id");
    };
    let events = events(&payload, &account);
    log::debug(format!("webhook: {} events kept", events.len()));
    WebhookResult::ok(events)
}

/// The CRC answer for the `crc_token` of `query`.
fn crc(secret: &str, query: &str) -> WebhookResult {
    let Some(token) = query_param(query, "crc_token") else {
        return refuse(400, "a GET must carry crc_token");
    };
    let answerable = !token.is_empty()
        && token.len() <= MAX_CRC_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=+/.~ ".contains(&b));
    if !answerable {
        log::warn("CRC refused: the token is not one X sends");
        return refuse(400, "crc_token is not a token X sends");
    }
    WebhookResult {
        response: WebhookResponse::json(
            200,
            &json!({ "response_token": sign(secret, token.as_bytes()) }),
        ),
        events: Vec::new(),
    }
}

fn refuse(status: u16, message: &str) -> WebhookResult {
    WebhookResult {
        response: WebhookResponse::json(status, &json!({ "message": message })),
        events: Vec::new(),
    }
}

/// The first value of `name` in a query string, form-decoded (`+` is a
/// space, `%XX` a byte); `None` when absent or not UTF-8.
fn query_param(query: &str, name: &str) -> Option<String> {
    let raw = query
        .split(['&', ';'])
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// An X user id as X writes it: a string of digits (or, in older user
/// objects, a number beside `id_str`).
fn user_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// A user object's id.
fn user_object_id(user: &Value) -> Option<String> {
    user_id(&user["id_str"]).or_else(|| user_id(&user["id"]))
}

/// Epoch milliseconds, which X writes as a string.
fn timestamp_ms(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.trim().parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// The events of a signed payload for `account`, in X's order, kind by kind.
fn events(payload: &Value, account: &str) -> Vec<InboundEvent> {
    let list = |key: &str| payload[key].as_array().cloned().unwrap_or_default();
    let mut out: Vec<InboundEvent> = list("direct_message_events")
        .iter()
        .filter_map(|e| direct_message(e, account))
        .collect();
    for key in [
        "follow_events",
        "unfollow_events",
        "block_events",
        "unblock_events",
    ] {
        out.extend(list(key).iter().filter_map(|e| relationship(e, account)));
    }
    out
}

/// A DM a parent sent the account, or `None` to skip it.
fn direct_message(event: &Value, account: &str) -> Option<InboundEvent> {
    if event["type"] != "message_create" {
        return None;
    }
    let id = user_id(&event["id"])?;
    let create = &event["message_create"];
    let sender = user_id(&create["sender_id"])?;
    let recipient = user_id(&create["target"]["recipient_id"]);
    // X reports the DMs the account sends, the plugin's own among them.
    if sender == account || recipient.as_deref() != Some(account) {
        return None;
    }
    let data = &create["message_data"];
    let answer = &data["quick_reply_response"];
    let kind = match answer["metadata"].as_str() {
        Some(metadata) if answer["type"] == "options" => {
            EventKind::Postback(Postback::data(metadata))
        }
        _ => {
            let text = data["text"].as_str().filter(|t| !t.trim().is_empty())?;
            EventKind::Text(text.to_owned())
        }
    };
    Some(InboundEvent::new(
        id,
        sender,
        timestamp_ms(&event["created_timestamp"]),
        kind,
    ))
}

/// A follow, unfollow, block or unblock of the account by a parent.
fn relationship(event: &Value, account: &str) -> Option<InboundEvent> {
    let kind_name = event["type"].as_str()?;
    let kind = match kind_name {
        "follow" => EventKind::Follow { unblocked: false },
        "unfollow" | "block" => EventKind::Unfollow,
        "unblock" => EventKind::Follow { unblocked: true },
        _ => return None,
    };
    let source = user_object_id(&event["source"])?;
    let target = user_object_id(&event["target"])?;
    if target != account || source == account {
        return None;
    }
    let stamp = &event["created_timestamp"];
    let timestamp = timestamp_ms(stamp);
    let stamp = match stamp {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(InboundEvent::new(
        format!("{kind_name}:{source}:{stamp}"),
        source,
        timestamp,
        kind,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "fakeXconsumerSecret0123456789abcdef";
    const ACCOUNT: &str = "1346889436626259968";
    const PARENT: &str = "2244994945";

    fn request(method: &str, query: &str, body: &[u8], signature: Option<&str>) -> WebhookRequest {
        WebhookRequest {
            method: method.into(),
            path: String::new(),
            query: query.into(),
            headers: signature
                .map(|s| vec![(SIGNATURE_HEADER.to_owned(), s.to_owned())])
                .unwrap_or_default(),
            body: body.to_vec(),
        }
    }

    fn signed(payload: &Value) -> WebhookRequest {
        let body = serde_json::to_vec(payload).unwrap();
        let signature = sign(SECRET, &body);
        request("POST", "", &body, Some(&signature))
    }

    fn dm(id: &str, from: &str, to: &str, data: Value) -> Value {
        json!({
            "type": "message_create",
            "id": id,
            "created_timestamp": "1700000000123",
            "message_create": {
                "target": { "recipient_id": to },
                "sender_id": from,
                "source_app_id": "268278",
                "message_data": data
            }
        })
    }

    fn user(id: &str) -> Value {
        json!({ "id": id, "created_timestamp": "1422556069340", "name": "someone", "screen_name": "someone" })
    }

    fn relation(kind: &str, source: &str, target: &str) -> Value {
        json!({
            "type": kind,
            "created_timestamp": "1517588749178",
            "target": user(target),
            "source": user(source)
        })
    }

    #[test]
    fn the_crc_answer_is_xs_documented_hmac() {
        // HMAC-SHA256("secret", "challenge"), base64, computed independently
        // (Python's hmac and base64).
        assert_eq!(
            sign("secret", b"challenge"),
            "sha256=oeUF6Wxqoezggrue+wbIDxKRPSF6esKwizR2MHh9HaA="
        );
        let result = handle(
            SECRET,
            &request("GET", "crc_token=ab%2Bcd%3D%3D&nonce=1", b"", None),
        );
        assert_eq!(result.response.status, 200);
        let body: Value = serde_json::from_slice(&result.response.body).unwrap();
        assert_eq!(body, json!({ "response_token": sign(SECRET, b"ab+cd==") }));
        assert!(result.events.is_empty());
        assert_eq!(
            result.response.headers,
            [("content-type".to_owned(), "application/json".to_owned())]
        );
    }

    #[test]
    fn only_tokens_x_sends_are_answered() {
        // A token that is a JSON body would make the CRC answer its signature.
        let forged = r#"{"for_user_id":"1","direct_message_events":[]}"#;
        let query = format!(
            "crc_token={}",
            forged
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        );
        for query in [
            query.as_str(),
            "",
            "nonce=1",
            "crc_token=",
            "crc_token=%zz",
            "crc_token=%FF",
        ] {
            let result = handle(SECRET, &request("GET", query, b"", None));
            assert_eq!(result.response.status, 400, "{query}");
        }
        let long = format!("crc_token={}", "a".repeat(513));
        assert_eq!(
            handle(SECRET, &request("GET", &long, b"", None))
                .response
                .status,
            400
        );
        assert_eq!(
            handle(SECRET, &request("PUT", "", b"", None))
                .response
                .status,
            405
        );
    }

    #[test]
    fn missing_invalid_and_tampered_signatures_are_refused() {
        let payload = json!({
            "for_user_id": ACCOUNT,
            "direct_message_events": [dm("1", PARENT, ACCOUNT, json!({"text": "こんにちは"}))]
        });
        let body = serde_json::to_vec(&payload).unwrap();
        let good = sign(SECRET, &body);
        assert_eq!(verify(SECRET, &body, Some(&good)), Ok(()));
        assert_eq!(verify(SECRET, &body, None), Err(Refusal::Missing));
        let bare = good.trim_start_matches("sha256=").to_owned();
        let other = sign("another app's secret", &body);
        let mut tampered = body.clone();
        tampered[12] ^= 1;
        for (bytes, signature) in [
            (&body, Some(bare.as_str())),
            (&body, Some("sha256=not base64!")),
            (&body, Some(other.as_str())),
            (&tampered, Some(good.as_str())),
            (&body, None),
        ] {
            let result = handle(SECRET, &request("POST", "", bytes, signature));
            assert_eq!(result.response.status, 401, "{signature:?}");
            assert!(result.events.is_empty());
        }
        let result = handle(SECRET, &request("POST", "", &body, Some(&good)));
        assert_eq!((result.response.status, result.events.len()), (200, 1));
    }

    #[test]
    fn dms_become_texts_and_quick_reply_choices_postbacks() {
        let result = handle(
            SECRET,
            &signed(&json!({
                "for_user_id": ACCOUNT,
                "direct_message_events": [
                    dm("1582838213288706049", PARENT, ACCOUNT, json!({"text": "出産しました", "entities": {}})),
                    dm("1582838213288706050", PARENT, ACCOUNT, json!({
                        "text": "生まれました",
                        "quick_reply_response": { "type": "options", "metadata": "report-birth" }
                    })),
                ],
                "users": {},
                "apps": {}
            })),
        );
        assert_eq!(result.response.status, 200);
        assert_eq!(
            result.events,
            [
                InboundEvent::new(
                    "1582838213288706049",
                    PARENT,
                    1_700_000_000_123,
                    EventKind::Text("出産しました".into())
                ),
                InboundEvent::new(
                    "1582838213288706050",
                    PARENT,
                    1_700_000_000_123,
                    EventKind::Postback(Postback::data("report-birth"))
                ),
            ]
        );
        assert!(
            result
                .events
                .iter()
                .all(|e| e.reply.is_none() && !e.redelivery)
        );
    }

    #[test]
    fn the_accounts_own_messages_and_actions_are_skipped() {
        let result = handle(
            SECRET,
            &signed(&json!({
                "for_user_id": ACCOUNT,
                "direct_message_events": [
                    // The DM the plugin sent, as X reports it back.
                    dm("10", ACCOUNT, PARENT, json!({"text": "妊娠20週です"})),
                    // No text (an image alone): nothing to read.
                    dm("11", PARENT, ACCOUNT, json!({"text": "  "})),
                    { "type": "message_delete", "id": "12" },
                ],
                "follow_events": [relation("follow", ACCOUNT, PARENT)],
                "block_events": [relation("block", ACCOUNT, PARENT)],
                "direct_message_indicate_typing_events": [{ "created_timestamp": "1", "sender_id": PARENT, "target": { "recipient_id": ACCOUNT } }],
                "favorite_events": [{ "id": "a" }]
            })),
        );
        assert_eq!(result.response.status, 200);
        assert!(result.events.is_empty(), "{:?}", result.events);
    }

    #[test]
    fn follows_and_blocks_of_the_account_keep_a_stable_id() {
        let payload = json!({
            "for_user_id": ACCOUNT,
            "follow_events": [
                relation("follow", PARENT, ACCOUNT),
                relation("unfollow", "783214", ACCOUNT)
            ],
            "block_events": [relation("block", "99", ACCOUNT)],
            "unblock_events": [relation("unblock", "98", ACCOUNT)]
        });
        let result = handle(SECRET, &signed(&payload));
        let got: Vec<(&str, &str, EventKind)> = result
            .events
            .iter()
            .map(|e| (e.id.as_str(), e.address.as_str(), e.kind.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "follow:2244994945:1517588749178",
                    PARENT,
                    EventKind::Follow { unblocked: false }
                ),
                (
                    "unfollow:783214:1517588749178",
                    "783214",
                    EventKind::Unfollow
                ),
                ("block:99:1517588749178", "99", EventKind::Unfollow),
                (
                    "unblock:98:1517588749178",
                    "98",
                    EventKind::Follow { unblocked: true }
                ),
            ]
        );
        assert_eq!(result.events[0].timestamp_ms, 1_517_588_749_178);
        // X sending it again gives the same ids: the host keeps it once.
        assert_eq!(handle(SECRET, &signed(&payload)).events, result.events);
    }

    #[test]
    fn signed_bodies_that_are_not_account_activity_are_bad_requests() {
        for payload in [json!([1, 2]), json!({ "direct_message_events": [] })] {
            assert_eq!(handle(SECRET, &signed(&payload)).response.status, 400);
        }
        let junk = b"not json";
        let result = handle(
            SECRET,
            &request("POST", "", junk, Some(&sign(SECRET, junk))),
        );
        assert_eq!(result.response.status, 400);
        // A payload of other activity: fine, nothing to keep.
        let posts = json!({ "for_user_id": ACCOUNT, "tweet_create_events": [{}] });
        let result = handle(SECRET, &signed(&posts));
        assert_eq!((result.response.status, result.events.len()), (200, 0));
    }
}
