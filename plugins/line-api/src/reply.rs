//! Answering a LINE event with its reply token (`POST /v2/bot/message/reply`).
//!
//! A reply token is usable once, within about a minute of its event, and a
//! reply carries at most five message objects. LINE answers an expired or
//! used token with `400 Invalid reply token`: that reply is `expired`, and
//! the host pushes the same messages instead. Replies take no retry key.

use serde_json::{Value, json};
use tayori_plugin_sdk::http::{Request, Response};
use tayori_plugin_sdk::{Failure, Reply, ReplyOutcome, ReplyStatus};

use crate::answer;
use crate::message;
use crate::send::Delivery;
use crate::text::MAX_MESSAGES;

/// Replies in flight at once.
const REPLY_WAVE: usize = 20;

/// Send each reply; one outcome per reply, in order.
pub fn reply(delivery: &Delivery, replies: &[Reply]) -> Vec<ReplyOutcome> {
    let mut outcomes: Vec<Option<ReplyStatus>> = vec![None; replies.len()];
    let mut ready = Vec::new();
    let mut at = Vec::new();
    for (i, r) in replies.iter().enumerate() {
        match request(delivery, r) {
            Ok(request) => {
                ready.push(request);
                at.push(i);
            }
            Err(failure) => outcomes[i] = Some(ReplyStatus::Failed(failure)),
        }
    }
    let answers = platform_common::send_in_waves(ready, REPLY_WAVE);
    for (i, answer) in at.into_iter().zip(answers) {
        outcomes[i] = Some(match answer {
            Ok(response) => status(&response),
            Err(error) => ReplyStatus::Failed(Failure::from(error)),
        });
    }
    replies
        .iter()
        .zip(outcomes)
        .map(|(r, status)| ReplyOutcome {
            token: r.token.clone(),
            status: status.unwrap_or_else(|| {
                ReplyStatus::Failed(Failure::transient("not sent (internal: no outcome)"))
            }),
        })
        .collect()
}

/// The reply's request: every content's message objects, at most five.
pub fn body(reply: &Reply) -> Result<Value, Failure> {
    let mut messages = Vec::new();
    for content in &reply.messages {
        messages.extend(message::messages(content).map_err(|e| Failure::permanent(e.to_string()))?);
    }
    if messages.is_empty() {
        return Err(Failure::permanent("a reply needs at least one message"));
    }
    if messages.len() > MAX_MESSAGES {
        return Err(Failure::permanent(format!(
            "the reply is {} LINE messages; LINE takes at most {MAX_MESSAGES} in one reply",
            messages.len()
        )));
    }
    Ok(json!({ "replyToken": reply.token, "messages": messages }))
}

fn request(delivery: &Delivery, reply: &Reply) -> Result<Request, Failure> {
    let body = body(reply)?;
    Ok(Request::post(platform_common::endpoint(
        delivery.api_base,
        "/v2/bot/message/reply",
    ))
    .json(&body)?
    .bearer_auth(delivery.access_token))
}

/// What LINE's answer means for one reply.
pub fn status(response: &Response) -> ReplyStatus {
    if response.status == 400 && answer::is_invalid_reply_token(response) {
        return ReplyStatus::Expired;
    }
    match answer::push(response) {
        Ok(id) => ReplyStatus::Sent(id),
        Err(failure) => ReplyStatus::Failed(failure),
    }
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::{Action, Button, Content};

    use super::*;

    fn reply(messages: Vec<Content>) -> Reply {
        Reply {
            token: "b60d432864f44d079f6d8efe86cf404b".into(),
            address: "U4af4980629aaaaaaaaaaaaaaaaaaaaaa".into(),
            messages,
        }
    }

    fn response(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    #[test]
    fn a_reply_carries_its_token_and_every_message() {
        let mut ask = Content::text("ご出産予定日を教えてください。", "ja");
        ask.quick_replies = vec![Button {
            label: "もう生まれた".into(),
            action: Action::Postback("born".into()),
        }];
        let b = body(&reply(vec![Content::text("ようこそ", "ja"), ask])).unwrap();
        assert_eq!(b["replyToken"], "b60d432864f44d079f6d8efe86cf404b");
        assert_eq!(b["messages"].as_array().unwrap().len(), 2);
        assert_eq!(
            b["messages"][1]["quickReply"]["items"][0]["action"]["data"],
            "born"
        );
    }

    #[test]
    fn more_than_five_messages_or_none_is_refused() {
        let six = (0..6)
            .map(|i| Content::text(format!("{i}"), "ja"))
            .collect();
        let error = body(&reply(six)).unwrap_err();
        assert!(error.message.contains("at most 5"), "{}", error.message);
        assert!(body(&reply(Vec::new())).is_err());
    }

    #[test]
    fn lines_answers_mean_sent_expired_or_failed() {
        let sent = response(200, json!({"sentMessages": [{"id": "461230966842064897"}]}));
        assert_eq!(
            status(&sent),
            ReplyStatus::Sent(Some("461230966842064897".into()))
        );
        let expired = response(400, json!({"message": "Invalid reply token"}));
        assert_eq!(status(&expired), ReplyStatus::Expired);
        let bad = response(400, json!({"message": "The request body has 1 error(s)"}));
        assert!(matches!(status(&bad), ReplyStatus::Failed(_)));
    }
}
