//! The LINE plugin on contract 0.2.0, called through the real runtime
//! against the fake LINE (every request checked against LINE's OpenAPI and
//! its documented limits): several messages in one call, quick replies with
//! a date picker, buttons as a buttons template, and replies with a reply
//! token, an expired one answered `expired` so the host pushes instead.

use std::sync::Arc;

use serde_json::json;
use tayori_core::{
    Action, Batch, Button, Content, DatePicker, DeliveryStatus, PickerMode, Recipient, Reply,
    ReplyStatus,
};
use tayori_runtime::{CallContext, LoadedPlugin, Runtime, RuntimeConfig};

use crate::support::platforms::line::{ACCESS_TOKEN, Api, CHANNEL_SECRET, FakeLine};

const USER_A: &str = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa";
const USER_B: &str = "U4af4980629bbbbbbbbbbbbbbbbbbbbbb";

async fn line(rt: &Arc<Runtime>) -> Arc<LoadedPlugin> {
    let (_, bytes) = tayori_plugin_artifacts::BUNDLED
        .iter()
        .find(|(name, _)| *name == "line")
        .expect("the bundled LINE plugin");
    rt.prepare(bytes).await.expect("LINE loads").plugin
}

fn ctx(fake: &FakeLine) -> CallContext {
    CallContext {
        tenant: Some("otaru".into()),
        channel: Some("line".into()),
        approved_hosts: vec![format!("127.0.0.1:{}", fake.addr.port())],
        capture: true,
    }
}

fn config(fake: &FakeLine) -> String {
    json!({
        "channel_access_token": ACCESS_TOKEN,
        "channel_secret": CHANNEL_SECRET,
        "api_base": fake.api_base(),
    })
    .to_string()
}

fn text(body: &str) -> Content {
    Content {
        body: body.into(),
        locale: "ja".into(),
        ..Content::default()
    }
}

fn button(label: &str, action: Action) -> Button {
    Button {
        label: label.into(),
        action,
    }
}

fn recipient(address: &str, n: u32) -> Recipient {
    Recipient {
        address: address.into(),
        idempotency_key: format!("00000000-0000-4000-8000-{n:012x}"),
        unsubscribe_url: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_messages_with_quick_replies_and_buttons_go_in_one_call() {
    let fake = FakeLine::start().await;
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = line(&rt).await;
    assert!(plugin.record.manifest.max_batches_per_call > 1);
    assert!(plugin.record.manifest.replies);

    let mut ask = text("お子さんは生まれましたか。");
    ask.quick_replies = vec![
        button(
            "生まれた日を選ぶ",
            Action::DatePicker(DatePicker {
                data: "birth".into(),
                mode: PickerMode::Date,
                initial: Some("2027-05-01".into()),
                min: Some("2027-03-01".into()),
                max: Some("2027-05-20".into()),
            }),
        ),
        button(
            "まだです",
            Action::Postback {
                data: "not-yet".into(),
            },
        ),
    ];
    let mut menu = text("登録の内容を変えるときは、下から選んでください。");
    menu.buttons = vec![
        button(
            "出生の報告",
            Action::Postback {
                data: "report-birth".into(),
            },
        ),
        button(
            "登録フォーム",
            Action::Link {
                url: "https://example.jp/r/otaru".into(),
            },
        ),
    ];
    let batches = [
        Batch {
            message_id: "ask-birth".into(),
            content: ask,
            recipients: vec![recipient(USER_A, 1), recipient(USER_B, 2)],
        },
        Batch {
            message_id: "menu".into(),
            content: menu,
            recipients: vec![recipient(USER_A, 3)],
        },
    ];
    let called = rt
        .deliver(&plugin, &ctx(&fake), &config(&fake), &batches)
        .await;
    let outcomes = called.result.expect("one call");
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.status, DeliveryStatus::Accepted(Some(_)))),
        "{outcomes:?} {:?}",
        fake.attempts()
            .iter()
            .map(|a| String::from_utf8_lossy(&a.body).into_owned())
            .collect::<Vec<_>>()
    );
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 3, "three pushes");
    assert!(accepted.iter().all(|a| a.api == Api::Push));
    let to_b = accepted
        .iter()
        .find(|a| a.to == [USER_B])
        .expect("B's push");
    let items = to_b.messages[0]["quickReply"]["items"].as_array().unwrap();
    assert_eq!(items[0]["action"]["type"], "datetimepicker");
    assert_eq!(items[0]["action"]["max"], "2027-05-20");
    assert_eq!(items[1]["action"]["data"], "not-yet");
    let template = accepted
        .iter()
        .find_map(|a| a.messages.iter().find(|m| m["type"] == "template"))
        .expect("the menu as a buttons template");
    assert_eq!(template["template"]["actions"][1]["type"], "uri");
    assert_eq!(
        template["altText"],
        "登録の内容を変えるときは、下から選んでください。"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_use_the_token_and_an_expired_token_says_so() {
    let fake = FakeLine::start().await;
    let rt = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let plugin = line(&rt).await;
    let fresh = fake.reply_token(USER_A);
    let stale = fake.reply_token(USER_B);
    fake.expire_reply_token(&stale);
    let mut ask = text("出産予定日か、生まれた日を選んでください。");
    ask.quick_replies = vec![button(
        "日付を選ぶ",
        Action::DatePicker(DatePicker {
            data: "date".into(),
            mode: PickerMode::Date,
            initial: None,
            min: None,
            max: None,
        }),
    )];
    let replies = [
        Reply {
            token: fresh.clone(),
            address: USER_A.into(),
            messages: vec![text("友だち追加ありがとうございます。"), ask.clone()],
        },
        Reply {
            token: stale.clone(),
            address: USER_B.into(),
            messages: vec![ask],
        },
    ];
    let called = rt
        .reply(&plugin, &ctx(&fake), &config(&fake), &replies)
        .await;
    let outcomes = called.result.expect("one call");
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].token, fresh);
    assert!(
        matches!(&outcomes[0].status, ReplyStatus::Sent(Some(_))),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1].token, stale);
    assert_eq!(outcomes[1].status, ReplyStatus::Expired, "{outcomes:?}");
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].api, Api::Reply);
    assert_eq!(accepted[0].to, [USER_A]);
    assert_eq!(accepted[0].messages.len(), 2);
    // A token is used once: the same reply again is expired.
    let again = rt
        .reply(&plugin, &ctx(&fake), &config(&fake), &replies[..1])
        .await;
    assert_eq!(
        again.result.expect("a call")[0].status,
        ReplyStatus::Expired
    );
}
