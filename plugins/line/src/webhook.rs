//! LINE webhooks: check the signature, then read the events.
//!
//! LINE signs every webhook request: `x-line-signature` is the base64 of the
//! HMAC-SHA256 of the raw body, keyed by the channel secret. A request without
//! a valid signature is answered 401 and yields no event, whatever its body
//! says; the comparison runs in constant time.
//!
//! Of the events in a signed body, these become inbound events, keyed by
//! LINE's `webhookEventId` (the host drops redeliveries by it):
//!
//! | LINE event | inbound event |
//! |---|---|
//! | `follow` | follow, with `follow.isUnblocked` |
//! | `unfollow` | unfollow (the user blocked the account) |
//! | `message` with a `text` message | text |
//! | `postback` | postback, with `postback.data` |
//!
//! Every other event, and any event whose source is not a user (a group or a
//! room), is skipped. An empty `events` list (LINE's "Verify" button) is
//! answered 200.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use tayori_plugin_sdk::{
    EventKind, InboundEvent, Postback, ReplyHandle, WebhookRequest, WebhookResponse, WebhookResult,
    log,
};

/// The header LINE signs with.
pub const SIGNATURE_HEADER: &str = "x-line-signature";

/// Why a webhook request was refused before its events were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `x-line-signature` header.
    Missing,
    /// The header is not base64 of 32 bytes, or does not match the body.
    Invalid,
}

/// Check `signature` (the header's value) against `body` and `secret`.
pub fn verify(secret: &str, body: &[u8], signature: Option<&str>) -> Result<(), Refusal> {
    let signature = signature.ok_or(Refusal::Missing)?;
    let expected = STANDARD
        .decode(signature.trim())
        .map_err(|_| Refusal::Invalid)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| Refusal::Invalid)?;
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| Refusal::Invalid)
}

/// The signature LINE would send for `body` (the tests sign with it).
#[cfg(test)]
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Answer one webhook request of a `full`-mode channel.
pub fn handle(secret: &str, request: &WebhookRequest) -> WebhookResult {
    if !request.method.eq_ignore_ascii_case("POST") {
        return refuse(405, "LINE webhooks are POST requests");
    }
    if let Err(refusal) = verify(secret, &request.body, request.header(SIGNATURE_HEADER)) {
        log::warn(format!("webhook refused: {refusal:?} signature"));
        return refuse(
            401,
            match refusal {
                Refusal::Missing => "missing x-line-signature",
                Refusal::Invalid => "invalid x-line-signature",
            },
        );
    }
    let callback: Callback = match request.json() {
        Ok(callback) => callback,
        Err(error) => {
            log::warn(format!(
                "signed webhook body is not LINE's callback: {error}"
            ));
            return refuse(400, "the body is not a LINE webhook callback");
        }
    };
    let events: Vec<InboundEvent> = callback.events.iter().filter_map(inbound).collect();
    log::debug(format!(
        "webhook: {} events, {} kept",
        callback.events.len(),
        events.len()
    ));
    WebhookResult::ok(events)
}

fn refuse(status: u16, message: &str) -> WebhookResult {
    WebhookResult {
        response: WebhookResponse::json(status, &serde_json::json!({ "message": message })),
        events: Vec::new(),
    }
}

/// LINE's `CallbackRequest`, as far as it is read.
#[derive(Debug, Deserialize)]
struct Callback {
    events: Vec<Value>,
}

/// One LINE event as an inbound event, or `None` to skip it.
fn inbound(event: &Value) -> Option<InboundEvent> {
    let id = event["webhookEventId"].as_str()?;
    if event["source"]["type"] != "user" {
        return None;
    }
    let address = event["source"]["userId"].as_str()?;
    let kind = match event["type"].as_str()? {
        "follow" => EventKind::Follow {
            unblocked: event["follow"]["isUnblocked"].as_bool().unwrap_or(false),
        },
        "unfollow" => EventKind::Unfollow,
        "message" if event["message"]["type"] == "text" => {
            EventKind::Text(event["message"]["text"].as_str()?.to_owned())
        }
        "postback" => {
            let params = &event["postback"]["params"];
            // A date picker's choice: `date`, `time` or `datetime`.
            let chosen = ["date", "time", "datetime"]
                .iter()
                .find_map(|k| params[k].as_str())
                .map(str::to_owned);
            EventKind::Postback(Postback {
                data: event["postback"]["data"].as_str()?.to_owned(),
                chosen,
            })
        }
        _ => return None,
    };
    let timestamp_ms = event["timestamp"].as_u64().unwrap_or(0);
    // A reply token is usable once, within about a minute of the event.
    let reply = event["replyToken"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(|token| ReplyHandle {
            token: token.to_owned(),
            expires_at_ms: timestamp_ms.saturating_add(REPLY_WINDOW_MS),
        });
    Some(InboundEvent {
        id: id.to_owned(),
        address: address.to_owned(),
        timestamp_ms,
        kind,
        reply,
        redelivery: event["deliveryContext"]["isRedelivery"]
            .as_bool()
            .unwrap_or(false),
    })
}

/// How long after its event a LINE reply token is used: LINE says "about a
/// minute"; the host pushes instead once this has passed.
pub const REPLY_WINDOW_MS: u64 = 50_000;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "8a0d8d6b1c2e4f3a9b7c5d1e2f3a4b5c";
    const USER: &str = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa";

    fn request(body: &[u8], signature: Option<&str>) -> WebhookRequest {
        WebhookRequest {
            method: "POST".into(),
            path: String::new(),
            query: String::new(),
            headers: signature
                .map(|s| vec![(SIGNATURE_HEADER.to_owned(), s.to_owned())])
                .unwrap_or_default(),
            body: body.to_vec(),
        }
    }

    fn event(kind: &str, extra: Value) -> Value {
        let mut event = json!({
            "type": kind,
            "mode": "active",
            "timestamp": 1_700_000_000_123u64,
            "source": { "type": "user", "userId": USER },
            "webhookEventId": format!("01HZ{kind:0>22}").to_uppercase(),
            "deliveryContext": { "isRedelivery": false }
        });
        event
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        event
    }

    fn body(events: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "destination": "Uffffffffffffffffffffffffffffffff",
            "events": events
        }))
        .unwrap()
    }

    #[test]
    fn a_known_signature_verifies() {
        // HMAC-SHA256("secret", "{}"), base64, computed independently.
        assert_eq!(
            sign("secret", b"{}"),
            "dzJZAsrKgS3CWXM6rNBGtzgXNyx3e42VtAJkdHRRbhM="
        );
        assert_eq!(
            verify(
                "secret",
                b"{}",
                Some("dzJZAsrKgS3CWXM6rNBGtzgXNyx3e42VtAJkdHRRbhM=")
            ),
            Ok(())
        );
    }

    #[test]
    fn missing_invalid_and_tampered_signatures_are_refused() {
        let b = body(vec![event("unfollow", json!({}))]);
        let good = sign(SECRET, &b);
        assert_eq!(verify(SECRET, &b, None), Err(Refusal::Missing));
        assert_eq!(
            verify(SECRET, &b, Some("not base64!")),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify(SECRET, &b, Some(&sign("other secret", &b))),
            Err(Refusal::Invalid)
        );
        let mut tampered = b.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify(SECRET, &tampered, Some(&good)),
            Err(Refusal::Invalid)
        );
        for (bytes, signature) in [
            (&b, None),
            (&b, Some("AAAA")),
            (&tampered, Some(good.as_str())),
        ] {
            let result = handle(SECRET, &request(bytes, signature));
            assert_eq!(result.response.status, 401);
            assert!(result.events.is_empty());
        }
    }

    #[test]
    fn each_event_type_becomes_an_inbound_event() {
        let b = body(vec![
            event(
                "follow",
                json!({"replyToken": "r", "follow": {"isUnblocked": true}}),
            ),
            event("unfollow", json!({})),
            event(
                "message",
                json!({"replyToken": "r", "message": {"type": "text", "id": "1", "quoteToken": "q", "text": "出産しました"}}),
            ),
            event(
                "postback",
                json!({"replyToken": "r", "postback": {"data": "action=stop"}}),
            ),
            event(
                "message",
                json!({"message": {"type": "sticker", "id": "2"}}),
            ),
            event("beacon", json!({})),
        ]);
        let result = handle(SECRET, &request(&b, Some(&sign(SECRET, &b))));
        assert_eq!(result.response.status, 200);
        let kinds: Vec<EventKind> = result.events.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Follow { unblocked: true },
                EventKind::Unfollow,
                EventKind::Text("出産しました".into()),
                EventKind::Postback(Postback::data("action=stop")),
            ]
        );
        let first = &result.events[0];
        assert_eq!(first.address, USER);
        assert_eq!(first.timestamp_ms, 1_700_000_000_123);
        assert_eq!(first.id, "01HZ0000000000000000FOLLOW");
    }

    #[test]
    fn a_date_choice_its_reply_token_and_a_redelivery_come_through() {
        let mut picked = event(
            "postback",
            json!({
                "replyToken": "b60d432864f44d079f6d8efe86cf404b",
                "postback": {"data": "birth", "params": {"date": "2027-05-16"}}
            }),
        );
        picked["deliveryContext"]["isRedelivery"] = json!(true);
        let b = body(vec![picked]);
        let result = handle(SECRET, &request(&b, Some(&sign(SECRET, &b))));
        let e = &result.events[0];
        assert_eq!(
            e.kind,
            EventKind::Postback(Postback {
                data: "birth".into(),
                chosen: Some("2027-05-16".into()),
            })
        );
        assert_eq!(
            e.reply,
            Some(ReplyHandle {
                token: "b60d432864f44d079f6d8efe86cf404b".into(),
                expires_at_ms: 1_700_000_000_123 + REPLY_WINDOW_MS,
            })
        );
        assert!(e.redelivery);
        // An unfollow carries no reply token, and is not a redelivery here.
        let b = body(vec![event("unfollow", json!({}))]);
        let result = handle(SECRET, &request(&b, Some(&sign(SECRET, &b))));
        assert_eq!(result.events[0].reply, None);
        assert!(!result.events[0].redelivery);
    }

    #[test]
    fn group_events_and_events_without_ids_are_skipped() {
        let mut group = event(
            "message",
            json!({"message": {"type": "text", "id": "1", "text": "hi"}}),
        );
        group["source"] = json!({"type": "group", "groupId": "Cabc", "userId": USER});
        let mut no_id = event("unfollow", json!({}));
        no_id.as_object_mut().unwrap().remove("webhookEventId");
        let b = body(vec![group, no_id]);
        let result = handle(SECRET, &request(&b, Some(&sign(SECRET, &b))));
        assert_eq!(result.response.status, 200);
        assert!(result.events.is_empty());
    }

    #[test]
    fn the_verify_button_and_bad_bodies() {
        let b = body(Vec::new());
        let result = handle(SECRET, &request(&b, Some(&sign(SECRET, &b))));
        assert_eq!((result.response.status, result.events.len()), (200, 0));
        let junk = b"not json";
        let result = handle(SECRET, &request(junk, Some(&sign(SECRET, junk))));
        assert_eq!(result.response.status, 400);
        let mut get = request(&b, Some(&sign(SECRET, &b)));
        get.method = "GET".into();
        assert_eq!(handle(SECRET, &get).response.status, 405);
    }
}
