//! A parent in the LINE chat with the host: signed webhooks in through the
//! LINE fake, and the host's answers (replies or pushes) as the fake
//! accepted them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::host::Host;
use super::platforms::line::{Accepted, Api, FakeLine};

/// How long an answer may take to reach the fake (the bound of a wait on
/// the fake's notification, never a sleep).
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Posts `events` as one signed webhook (the host answers LINE 200 before
/// it answers the parent), then waits for the host's answer to the first
/// event and gives it: the reply on that event's token, or else the first
/// push to its sender after the webhook.
pub async fn said(host: &Host, fake: &FakeLine, events: Vec<Value>) -> Accepted {
    let token = events[0]["replyToken"].as_str().map(str::to_owned);
    let user = events[0]["source"]["userId"]
        .as_str()
        .expect("an event of a user")
        .to_string();
    let before = fake.accepted().len();
    let status = post(host, fake, events).await;
    assert_eq!(status, StatusCode::OK);
    let answer = |fake: &FakeLine| {
        let accepted = fake.accepted();
        accepted
            .iter()
            .find(|a| a.reply_token.is_some() && a.reply_token == token)
            .or_else(|| {
                accepted[before.min(accepted.len())..]
                    .iter()
                    .find(|a| a.api == Api::Push && a.to == [user.clone()])
            })
            .cloned()
    };
    tokio::time::timeout(ANSWER_WAIT, async {
        let mut n = fake.attempts().len();
        loop {
            if let Some(found) = answer(fake) {
                return found;
            }
            n += 1;
            fake.received(n).await;
        }
    })
    .await
    .expect("the host answered the parent")
}

pub async fn post(host: &Host, fake: &FakeLine, events: Vec<Value>) -> StatusCode {
    FakeLine::post_webhook(&host.hook_url("line"), fake.callback(events))
        .await
        .status()
}

/// The quick reply actions of the answer's last message.
pub fn actions(answer: &Accepted) -> Vec<Value> {
    let last = answer.messages.last().expect("a message");
    last["quickReply"]["items"]
        .as_array()
        .map(|items| items.iter().map(|i| i["action"].clone()).collect())
        .unwrap_or_default()
}

/// The postback data of the quick reply labelled `label`.
pub fn data_of(answer: &Accepted, label: &str) -> String {
    actions(answer)
        .into_iter()
        .find(|a| a["label"] == label)
        .unwrap_or_else(|| panic!("no quick reply `{label}` in {:?}", answer.messages))["data"]
        .as_str()
        .expect("postback data")
        .to_string()
}
