//! The X DM plugin on contract 0.2.0: choices through X's v1.1 event
//! endpoint, called through the real runtime against the fake X (which
//! checks every option, button and signature as X documents them), and X's
//! Account Activity webhooks through the running host: the CRC check, a
//! quick-reply choice kept as a postback (once, however often X sends it),
//! the account's own DMs skipped, forged signatures refused.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tayori_core::{
    Action, Batch, Button, Content, DatePicker, DeliveryStatus, FailureKind, PickerMode, Recipient,
};

use crate::support::host::{Host, approved, born_five_days_ago};
use crate::support::platforms::x::{self, FakeX, QuickReplyOption, XApi, XFault};
use crate::support::platforms::{bundled, ctx, kinds};

const PARENT_A: &str = "2244994945";
const PARENT_B: &str = "783214";

fn oauth1(fake: &FakeX) -> Value {
    json!({
        "access_token": x::OAUTH1_TOKEN,
        "access_token_secret": x::OAUTH1_TOKEN_SECRET,
        "consumer_key": x::CONSUMER_KEY,
        "consumer_secret": x::CONSUMER_SECRET,
        "api_base": fake.api_base()
    })
}

fn postback(label: &str, data: &str) -> Button {
    Button {
        label: label.into(),
        action: Action::Postback { data: data.into() },
    }
}

fn link(label: &str, url: &str) -> Button {
    Button {
        label: label.into(),
        action: Action::Link { url: url.into() },
    }
}

fn text(body: &str) -> Content {
    Content {
        body: body.into(),
        locale: "ja".into(),
        ..Content::default()
    }
}

fn batch(message_id: &str, content: Content, to: &[(&str, u32)]) -> Batch {
    Batch {
        message_id: message_id.into(),
        content,
        recipients: to
            .iter()
            .map(|(address, n)| Recipient {
                address: (*address).into(),
                idempotency_key: format!("00000000-0000-4000-8000-{n:012x}"),
                unsubscribe_url: None,
            })
            .collect(),
    }
}

/// The question the chat will ask: two choices, the form as a button, and a
/// date picker X does not have.
fn ask_birth() -> Content {
    Content {
        quick_replies: vec![
            postback("生まれました", "report-birth"),
            postback("まだです", "not-yet"),
            Button {
                label: "日付を選ぶ".into(),
                action: Action::DatePicker(DatePicker {
                    data: "birth".into(),
                    mode: PickerMode::Date,
                    initial: None,
                    min: Some("2027-03-01".into()),
                    max: Some("2027-05-20".into()),
                }),
            },
        ],
        buttons: vec![link("登録フォーム", "https://example.jp/r/otaru")],
        fallback_url: Some("https://tayori.example/f/otaru".into()),
        ..text("お子さんは生まれましたか。")
    }
}

fn option(label: &str, metadata: &str) -> QuickReplyOption {
    QuickReplyOption {
        label: label.into(),
        description: None,
        metadata: Some(metadata.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choices_go_through_the_v1_1_event_endpoint_and_plain_text_through_v2() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let renders = &xdm.record.manifest.renders;
    assert!(renders.quick_replies && renders.buttons && renders.link_buttons);
    assert!(!renders.date_picker);
    assert!(!xdm.record.manifest.replies && xdm.record.manifest.handles_webhooks);

    let batches = [
        batch("ask-birth", ask_birth(), &[(PARENT_A, 1), (PARENT_B, 2)]),
        batch("child-day-100", text("生後100日です。"), &[(PARENT_A, 3)]),
    ];
    let config = oauth1(&fake).to_string();
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &config, &batches)
        .await
        .result
        .expect("one call");
    assert_eq!(kinds(&outcomes), [None, None, None], "{outcomes:?}");

    let dms = fake.dms();
    for outcome in &outcomes {
        let DeliveryStatus::Accepted(Some(id)) = &outcome.status else {
            panic!("{outcome:?}");
        };
        assert!(dms.iter().any(|d| &d.dm_event_id == id), "{id}");
    }
    let asked: Vec<_> = dms.iter().filter(|d| d.api == XApi::Events).collect();
    assert_eq!(asked.len(), 2);
    for dm in &asked {
        assert_eq!(
            dm.options,
            [
                option("生まれました", "report-birth"),
                option("まだです", "not-yet")
            ]
        );
        assert_eq!(
            dm.ctas,
            [(
                "登録フォーム".to_owned(),
                "https://example.jp/r/otaru".to_owned()
            )]
        );
        // No date picker on X: the host sent the form's link instead.
        assert_eq!(
            dm.text,
            "お子さんは生まれましたか。\n\n\
             フォームからも手続きできます: https://tayori.example/f/otaru"
        );
    }
    let mut to: Vec<&str> = asked.iter().map(|d| d.participant_id.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, [PARENT_A, PARENT_B]);
    let plain: Vec<_> = dms.iter().filter(|d| d.api == XApi::V2).collect();
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].text, "生後100日です。");

    for attempt in fake.attempts() {
        assert_eq!(attempt.status / 100, 2, "{}", attempt.path);
        assert!(
            attempt
                .header("authorization")
                .is_some_and(|a| a.starts_with("OAuth oauth_consumer_key=")),
            "signed, not bearer"
        );
        if attempt.path == "/1.1/direct_messages/events/new.json" {
            let body = attempt.json();
            assert_eq!(body["event"]["type"], "message_create");
            assert_eq!(
                body["event"]["message_create"]["message_data"]["quick_reply"]["type"],
                "options"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_x_would_refuse_is_cut_or_falls_back_and_x_takes_the_rest() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let long_label = "とても長いラベルです".repeat(4); // 40 characters
    let mut menu = text("メニューです。");
    // Five links: the host keeps four buttons, X shows three.
    menu.buttons = (1..=5)
        .map(|i| link(&format!("リンク{i}"), &format!("https://example.jp/{i}")))
        .collect();
    // Eighteen postbacks: the host keeps sixteen quick replies.
    menu.quick_replies = (1..=18)
        .map(|i| postback(&format!("選択{i}"), &format!("pb-{i}")))
        .collect();
    menu.quick_replies[0] = postback(&long_label, "long-label");
    menu.quick_replies[1] = postback("長いデータ", &"d".repeat(1_001));
    let b = batch("menu", menu, &[(PARENT_A, 1)]);
    let outcomes = rt
        .deliver(
            &xdm,
            &ctx("x"),
            &oauth1(&fake).to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        kinds(&outcomes),
        [None],
        "{:?}",
        fake.attempts()
            .iter()
            .map(|a| String::from_utf8_lossy(&a.body).into_owned())
            .collect::<Vec<_>>()
    );
    let dm = &fake.dms()[0];
    assert_eq!(dm.api, XApi::Events);
    assert_eq!(dm.ctas.len(), 3);
    assert_eq!(dm.options.len(), 15, "16 kept by the host, one too long");
    assert_eq!(dm.options[0].label.chars().count(), 36);
    assert!(dm.options[0].label.ends_with('…'));
    assert_eq!(dm.options[0].metadata.as_deref(), Some("long-label"));
    assert!(
        dm.options
            .iter()
            .all(|o| o.metadata.as_deref() != Some("pb-17"))
    );
    // What neither the host nor X shows as a choice is in the text.
    for line in [
        "1. 選択17",
        "2. 選択18",
        "リンク5: https://example.jp/5",
        "リンク4: https://example.jp/4",
        "・長いデータ",
    ] {
        assert!(dm.text.contains(line), "{line} in {}", dm.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xs_v1_1_refusals_map_to_what_the_host_does_next() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let config = oauth1(&fake).to_string();
    fake.close_dms(PARENT_B);
    let mut n = 0;
    let mut send_to = async |address: &str| {
        n += 1;
        let b = batch("ask-birth", ask_birth(), &[(address, n)]);
        let outcomes = rt
            .deliver(&xdm, &ctx("x"), &config, std::slice::from_ref(&b))
            .await
            .result
            .unwrap();
        match &outcomes[0].status {
            DeliveryStatus::Failed(f) => (Some(f.kind.clone()), f.message.clone()),
            DeliveryStatus::Accepted(_) => (None, String::new()),
        }
    };
    let (kind, message) = send_to(PARENT_B).await;
    assert_eq!(kind, Some(FailureKind::RecipientGone));
    assert_eq!(
        message,
        "X answered 403: You cannot send messages to this user. (code 349)"
    );
    for (fault, expected) in [
        (XFault::Status(401), FailureKind::Unauthorized),
        (XFault::Status(403), FailureKind::Unauthorized),
        (XFault::Status(503), FailureKind::Transient),
    ] {
        fake.fail_next(1, fault.clone());
        let (kind, message) = send_to(PARENT_A).await;
        assert_eq!(kind, Some(expected), "{fault:?}");
        assert!(message.starts_with("X answered "), "{message}");
        for secret in [x::OAUTH1_TOKEN, x::OAUTH1_TOKEN_SECRET, x::CONSUMER_SECRET] {
            assert!(!message.contains(secret), "{message}");
        }
    }
    fake.fail_next(1, XFault::RateLimited { reset_in: 600 });
    match send_to(PARENT_A).await.0 {
        Some(FailureKind::RetryAfter(s)) => assert!((598..=600).contains(&s), "{s}"),
        other => panic!("expected a retry-after, got {other:?}"),
    }
    assert!(
        fake.attempts()
            .iter()
            .all(|a| a.path == "/1.1/direct_messages/events/new.json")
    );
    assert!(fake.dms().is_empty());

    // v1.1 takes no bearer token: the choices go as text through v2.
    let bearer = json!({ "access_token": x::ACCESS_TOKEN, "api_base": fake.api_base() });
    let b = batch("ask-birth", ask_birth(), &[(PARENT_A, 99)]);
    let outcomes = rt
        .deliver(
            &xdm,
            &ctx("x"),
            &bearer.to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [None]);
    let dm = &fake.dms()[0];
    assert_eq!(dm.api, XApi::V2);
    assert_eq!(
        dm.text,
        "お子さんは生まれましたか。\n\n\
         フォームからも手続きできます: https://tayori.example/f/otaru\n\n\
         登録フォーム: https://example.jp/r/otaru\n・生まれました\n・まだです"
    );
}

/// A host with an X channel that takes webhooks, and a household whose
/// contact is parent A: (host, fake, subscriber id).
async fn x_host() -> (Host, FakeX, String) {
    let fake = FakeX::start().await;
    let host = Host::start().await;
    host.put_channel(
        "x",
        json!({
            "plugin": "x-dm",
            "config": oauth1(&fake),
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    let subscriber = host
        .subscriber("ja", "x", PARENT_A, born_five_days_ago())
        .await;
    let id = subscriber["id"].as_str().unwrap().to_owned();
    (host, fake, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crc_check_is_answered_through_the_hosts_webhook_route() {
    let (host, fake, _) = x_host().await;
    let url = host.hook_url("x");
    let token = fake.crc_token();
    // X's token is URL-safe as it comes.
    let response = reqwest::get(format!("{url}?crc_token={token}&nonce=MTY5MDAwMDAwMA"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"))
    );
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        json!({ "response_token": FakeX::crc_response_token(&token) })
    );
    // No token, or one that is not X's (it could sign a body): refused.
    for query in ["", "?crc_token=%7B%22for_user_id%22%3A%221%22%7D"] {
        let response = reqwest::get(format!("{url}{query}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    assert!(host.inbound().await.is_empty());

    // A channel without the consumer secret takes no webhooks.
    host.put_channel(
        "x-bearer",
        json!({
            "plugin": "x-dm",
            "config": { "access_token": x::ACCESS_TOKEN, "api_base": fake.api_base() },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    let response = reqwest::get(format!("{}?crc_token={token}", host.hook_url("x-bearer")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_reply_choice_is_kept_once_as_a_postback_and_own_dms_are_skipped() {
    let (host, fake, sid) = x_host().await;
    let url = host.hook_url("x");
    let choice = fake.quick_reply_event(PARENT_A, "生まれました", "report-birth");
    let said = fake.dm_event(PARENT_A, "ありがとうございます");
    let own = fake.own_dm_event(PARENT_A, "お子さんは生まれましたか。");
    let body = FakeX::activity(vec![own, choice.clone(), said.clone()], Vec::new());

    let response = FakeX::post_webhook(&url, body.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    // X sends it again (it retries what it thinks failed): kept once.
    let response = FakeX::post_webhook(&url, body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let events = host.inbound().await;
    let got: Vec<(&str, &str, &str, Value, Value, Value)> = events
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap(),
                e["kind"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["address"].clone(),
                e["data"].clone(),
                e["subscriber_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                choice["id"].as_str().unwrap(),
                "postback",
                "recorded",
                json!(PARENT_A),
                json!("report-birth"),
                json!(sid)
            ),
            (
                said["id"].as_str().unwrap(),
                "text",
                "recorded",
                json!(PARENT_A),
                json!("ありがとうございます"),
                json!(sid)
            ),
        ]
    );
    let occurred: chrono::DateTime<chrono::Utc> =
        events[0]["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        occurred.timestamp_millis().to_string(),
        choice["created_timestamp"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_webhooks_are_refused_and_a_block_invalidates_the_contact() {
    let (host, fake, sid) = x_host().await;
    let url = host.hook_url("x");
    let body = FakeX::activity(
        vec![fake.quick_reply_event(PARENT_A, "まだです", "not-yet")],
        Vec::new(),
    );
    let other_secret = {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"another app's consumer secret").unwrap();
        mac.update(&body);
        format!(
            "sha256={}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    };
    let signed = FakeX::signature(&body);
    let mut tampered = body.clone();
    let at = body.len() - 10;
    tampered[at] = if tampered[at] == b'a' { b'b' } else { b'a' };
    let cases: Vec<(&str, Option<&str>, Vec<u8>, &str)> = vec![
        (
            "missing",
            None,
            body.clone(),
            "missing x-twitter-webhooks-signature",
        ),
        (
            "another secret",
            Some(other_secret.as_str()),
            body.clone(),
            "invalid x-twitter-webhooks-signature",
        ),
        (
            "without sha256=",
            Some(signed.trim_start_matches("sha256=")),
            body.clone(),
            "invalid x-twitter-webhooks-signature",
        ),
        (
            "tampered",
            Some(signed.as_str()),
            tampered,
            "invalid x-twitter-webhooks-signature",
        ),
    ];
    for (case, signature, bytes, message) in cases {
        let mut request = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header("x-twitter-webhooks-signature", signature);
        }
        let response = request.body(bytes).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer, json!({ "message": message }), "{case}");
    }
    assert!(host.inbound().await.is_empty());

    // The parent blocks the account: the contact is invalid at once.
    let blocked = FakeX::activity(Vec::new(), vec![fake.relationship_event("block", PARENT_A)]);
    let response = FakeX::post_webhook(&url, blocked).await;
    assert_eq!(response.status(), StatusCode::OK);
    let events = host.inbound().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "unfollow");
    assert_eq!(events[0]["action"], "contact_invalidated");
    let subscriber = host.get_subscriber(&sid).await;
    assert_eq!(subscriber["contacts"][0]["status"], "invalid");
}
