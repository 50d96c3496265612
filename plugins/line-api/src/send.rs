//! A batch as LINE pushes or multicasts.
//!
//! Every batch is one message for many recipients. Two ways to send it:
//!
//! - **push** (`POST /v2/bot/message/push`), one request per recipient, with
//!   the delivery's own key as the retry key: exactly once per recipient
//!   however the host regroups retries, the message ids of each recipient,
//!   and an unknown user found per recipient. LINE allows about 2,000 pushes
//!   a second per channel.
//! - **multicast** (`POST /v2/bot/message/multicast`), up to 500 recipients in
//!   one request with one retry key derived from all their keys: a big batch
//!   in one request, but no message ids (the request id stands in) and
//!   exactly-once only when the host retries the same group. LINE allows 200
//!   multicasts a second per channel.
//!
//! A batch goes by multicast when it has at least the channel's
//! `multicast_min_recipients` valid, distinct recipients (a large broadcast),
//! else by push (the usual small group of a day's scheduled message).
//! Addresses that are not LINE user ids fail as gone without a request; a
//! second delivery to the same user in one batch (twins' messages) goes by
//! push, so that each delivery keeps its own key.

use serde_json::{Value, json};
use tayori_plugin_sdk::http::{Request, Response};
use tayori_plugin_sdk::{Batch, Failure, Outcome, Recipient};

use crate::answer::{self, Multicast};
use crate::{message, retry_key};

/// LINE's production API.
pub const DEFAULT_API_BASE: &str = "https://api.line.me";
/// LINE's limit on `to` in one multicast.
pub const MAX_MULTICAST_RECIPIENTS: usize = 500;
/// Pushes in flight at once.
const PUSH_WAVE: usize = 20;

/// When a batch goes by multicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MulticastPolicy {
    /// Always push.
    Never,
    /// Multicast when a batch has at least this many distinct valid recipients.
    From(usize),
}

/// Where and as whom to send.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// `https://api.line.me`, or a sandbox.
    pub api_base: &'a str,
    /// The channel access token (a secret: never logged).
    pub access_token: &'a str,
    /// When to multicast.
    pub multicast: MulticastPolicy,
}

/// Whether `address` is a LINE user id: `U` and 32 lower-case hex digits.
pub fn is_user_id(address: &str) -> bool {
    let bytes = address.as_bytes();
    bytes.len() == 33
        && bytes[0] == b'U'
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// Send `batch`; one outcome per recipient, in the batch's order.
pub fn deliver(delivery: &Delivery, batch: &Batch) -> Vec<Outcome> {
    deliver_many(delivery, std::slice::from_ref(batch))
}

/// Send several batches (one call's): one outcome per recipient of every
/// batch, in order. Multicasts go batch by batch; the pushes of all the
/// batches go together, [`PUSH_WAVE`] in flight at a time, so a call of
/// many small batches (a day's messages for one channel) keeps the
/// connection busy instead of waiting batch by batch.
pub fn deliver_many(delivery: &Delivery, batches: &[Batch]) -> Vec<Outcome> {
    let mut outcomes: Vec<Vec<Option<Outcome>>> = Vec::with_capacity(batches.len());
    let mut ready: Vec<Request> = Vec::new();
    let mut at: Vec<(usize, usize)> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        let (mut these, push, messages) = prepare(delivery, batch);
        for i in push {
            match push_request(delivery, &batch.recipients[i], &messages) {
                Ok(request) => {
                    ready.push(request);
                    at.push((b, i));
                }
                Err(failure) => these[i] = Some(batch.recipients[i].failed(failure)),
            }
        }
        outcomes.push(these);
    }
    let answers = platform_common::send_in_waves(ready, PUSH_WAVE);
    for ((b, i), answer) in at.into_iter().zip(answers) {
        let result = answer
            .map_err(Failure::from)
            .and_then(|response| answer::push(&response));
        outcomes[b][i] = Some(batches[b].recipients[i].outcome(result));
    }
    outcomes
        .into_iter()
        .zip(batches)
        .flat_map(|(these, batch)| {
            these
                .into_iter()
                .zip(&batch.recipients)
                .map(|(outcome, recipient)| {
                    outcome.unwrap_or_else(|| {
                        recipient.failed(Failure::transient("not sent (internal: no outcome)"))
                    })
                })
        })
        .collect()
}

/// One batch before its pushes: the outcomes known without a push (bad
/// addresses, multicasts, sent here), the recipients to push to in order,
/// and the message objects.
fn prepare(delivery: &Delivery, batch: &Batch) -> (Vec<Option<Outcome>>, Vec<usize>, Vec<Value>) {
    let recipients = &batch.recipients;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; recipients.len()];
    let messages: Vec<Value> = match message::messages(&batch.content) {
        Ok(messages) => messages,
        Err(error) => {
            let failure = Failure::permanent(error.to_string());
            let all = recipients.iter().map(|r| Some(r.failed(failure.clone())));
            return (all.collect(), Vec::new(), Vec::new());
        }
    };

    let mut distinct = Vec::new();
    let mut repeated = Vec::new();
    for (i, recipient) in recipients.iter().enumerate() {
        if !is_user_id(&recipient.address) {
            outcomes[i] = Some(recipient.failed(Failure::recipient_gone(
                "not a LINE user id (U followed by 32 hex digits)",
            )));
        } else if distinct
            .iter()
            .any(|&j: &usize| recipients[j].address == recipient.address)
        {
            repeated.push(i);
        } else {
            distinct.push(i);
        }
    }

    let multicast = match delivery.multicast {
        MulticastPolicy::From(min) => distinct.len() >= min.max(2),
        MulticastPolicy::Never => false,
    };
    let mut push = repeated;
    if multicast {
        for group in distinct.chunks(MAX_MULTICAST_RECIPIENTS) {
            let members: Vec<&Recipient> = group.iter().map(|&i| &recipients[i]).collect();
            match send_multicast(delivery, &members, &messages) {
                Multicast::All(result) => {
                    for &i in group {
                        outcomes[i] = Some(recipients[i].outcome(result.clone()));
                    }
                }
                Multicast::PushEach => push.extend_from_slice(group),
            }
        }
    } else {
        push.extend(distinct);
    }
    push.sort_unstable();
    (outcomes, push, messages)
}

fn push_request(
    delivery: &Delivery,
    recipient: &Recipient,
    messages: &[Value],
) -> Result<Request, Failure> {
    let body = json!({ "to": recipient.address, "messages": messages });
    let request = Request::post(platform_common::endpoint(
        delivery.api_base,
        "/v2/bot/message/push",
    ))
    .json(&body)?
    .bearer_auth(delivery.access_token)
    .header(
        "x-line-retry-key",
        retry_key::for_push(&recipient.idempotency_key),
    );
    Ok(request)
}

fn send_multicast(delivery: &Delivery, group: &[&Recipient], messages: &[Value]) -> Multicast {
    let to: Vec<&str> = group.iter().map(|r| r.address.as_str()).collect();
    let key = retry_key::for_multicast(group.iter().map(|r| r.idempotency_key.as_str()));
    let request = Request::post(platform_common::endpoint(
        delivery.api_base,
        "/v2/bot/message/multicast",
    ))
    .json(&json!({ "to": to, "messages": messages }));
    let response: Result<Response, Failure> = request.map_err(Failure::from).and_then(|request| {
        tayori_plugin_sdk::http::send(
            request
                .bearer_auth(delivery.access_token)
                .header("x-line-retry-key", key),
        )
        .map_err(Failure::from)
    });
    match response {
        Ok(response) => answer::multicast(&response),
        Err(failure) => Multicast::All(Err(failure)),
    }
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::{Content, DeliveryStatus, FailureKind};

    use super::*;

    fn batch(addresses: &[&str], body: &str) -> Batch {
        Batch {
            message_id: "m".into(),
            content: Content {
                subject: None,
                body: body.into(),
                locale: "ja".into(),
                buttons: Vec::new(),
                quick_replies: Vec::new(),
            },
            recipients: addresses
                .iter()
                .enumerate()
                .map(|(i, a)| Recipient {
                    address: (*a).into(),
                    idempotency_key: format!("00000000-0000-4000-8000-{i:012x}"),
                    unsubscribe_url: None,
                })
                .collect(),
        }
    }

    const DELIVERY: Delivery<'static> = Delivery {
        api_base: "https://api.line.me",
        access_token: "token",
        multicast: MulticastPolicy::From(2),
    };
    const USER_A: &str = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa";
    const USER_B: &str = "U4af4980629bbbbbbbbbbbbbbbbbbbbbb";

    fn kinds(outcomes: &[Outcome]) -> Vec<FailureKind> {
        outcomes
            .iter()
            .map(|o| match &o.status {
                DeliveryStatus::Failed(f) => f.kind,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn user_ids_are_u_and_32_lower_hex() {
        assert!(is_user_id(USER_A));
        for not in [
            "",
            "U4af4980629",
            "u4af4980629aaaaaaaaaaaaaaaaaaaaaa",
            "U4AF4980629AAAAAAAAAAAAAAAAAAAAAA",
            "C4af4980629aaaaaaaaaaaaaaaaaaaaaa",
            "someone@example.jp",
        ] {
            assert!(!is_user_id(not), "{not}");
        }
    }

    #[test]
    fn every_recipient_gets_one_outcome_in_order() {
        // Natively every request fails as unsupported (permanent): what
        // matters here is who was sent what and in which order.
        let b = batch(&[USER_A, "nobody", USER_B, USER_A], "hello");
        let outcomes = deliver(&DELIVERY, &b);
        let keys: Vec<&str> = outcomes
            .iter()
            .map(|o| o.idempotency_key.as_str())
            .collect();
        let expected: Vec<&str> = b
            .recipients
            .iter()
            .map(|r| r.idempotency_key.as_str())
            .collect();
        assert_eq!(keys, expected);
        assert_eq!(
            kinds(&outcomes),
            [
                FailureKind::Permanent,
                FailureKind::RecipientGone,
                FailureKind::Permanent,
                FailureKind::Permanent
            ]
        );
    }

    #[test]
    fn a_message_too_long_for_line_fails_every_recipient_permanently() {
        let b = batch(&[USER_A, USER_B], &"x".repeat(25_001));
        let outcomes = deliver(&DELIVERY, &b);
        assert_eq!(kinds(&outcomes), [FailureKind::Permanent; 2]);
        let b = batch(&[USER_A], "  ");
        assert_eq!(kinds(&deliver(&DELIVERY, &b)), [FailureKind::Permanent]);
    }

    #[test]
    fn push_requests_carry_the_delivery_key_and_token() {
        let b = batch(&[USER_A], "hello");
        let request = push_request(
            &DELIVERY,
            &b.recipients[0],
            &[json!({"type":"text","text":"hello"})],
        )
        .unwrap();
        assert_eq!(request.url, "https://api.line.me/v2/bot/message/push");
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("x-line-retry-key"),
            Some(b.recipients[0].idempotency_key.as_str())
        );
        assert_eq!(header("authorization"), Some("Bearer token"));
        assert_eq!(header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({"to": USER_A, "messages": [{"type": "text", "text": "hello"}]})
        );
    }
}
