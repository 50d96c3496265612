//! The bundled `line` plugin in the real sandbox against the LINE fake:
//! pushes and multicasts as LINE's OpenAPI describes them, retry keys that
//! make a retried request harmless, every failure LINE answers mapped to
//! what the host does next, and signed webhooks.

use std::time::Duration;

use serde_json::{Value, json};
use tayori_core::{EventKind, FailureKind, WebhookRequest};
use tayori_runtime::RuntimeConfig;

use crate::support::platforms::line::{self, Api, FakeLine, LineFault};
use crate::support::platforms::{batch, bundled, bundled_with, ctx, failure_message, ids, kinds};

fn user(i: usize) -> String {
    format!("U{:032x}", 0x5eed_0000 + i)
}

fn users(n: usize) -> Vec<String> {
    (0..n).map(user).collect()
}

fn config(fake: &FakeLine) -> String {
    json!({
        "channel_access_token": line::ACCESS_TOKEN,
        "channel_secret": line::CHANNEL_SECRET,
        "api_base": fake.api_base()
    })
    .to_string()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_each_recipient_with_its_own_retry_key_and_gets_message_ids() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let to = users(3);
    let b = batch(
        &refs(&to),
        Some("妊娠14週"),
        "赤ちゃんは約8cmになりました。",
    );
    let outcomes = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .expect("deliver");

    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 3);
    for attempt in &attempts {
        // Sent concurrently, so in any order.
        let recipient = b
            .recipients
            .iter()
            .find(|r| attempt.json()["to"] == r.address.as_str())
            .unwrap();
        assert_eq!(attempt.method, axum::http::Method::POST);
        assert_eq!(
            (attempt.path.as_str(), attempt.status),
            ("/v2/bot/message/push", 200)
        );
        assert_eq!(
            attempt.header("x-line-retry-key"),
            Some(recipient.idempotency_key.as_str())
        );
        assert_eq!(
            attempt.json(),
            json!({
                "to": recipient.address,
                "messages": [{ "type": "text", "text": "妊娠14週\n\n赤ちゃんは約8cmになりました。" }]
            })
        );
    }
    // Match outcomes to what LINE accepted, by address.
    let accepted = fake.accepted();
    for (outcome, recipient) in outcomes.iter().zip(&b.recipients) {
        let request = accepted
            .iter()
            .find(|a| a.to == [recipient.address.clone()])
            .unwrap();
        assert_eq!(request.api, Api::Push);
        assert_eq!(outcome.idempotency_key, recipient.idempotency_key);
        assert_eq!(
            ids(std::slice::from_ref(outcome)),
            [Some(request.message_ids.join(","))]
        );
    }
    assert_eq!(fake.deliveries().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_one_multicast_whose_retry_is_not_delivered_twice() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let to = users(60);
    let b = batch(&refs(&to), None, "【緊急】避難所が開設されました。");

    let first = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 1, "one multicast for 60 recipients");
    assert_eq!(
        (attempts[0].path.as_str(), attempts[0].status),
        ("/v2/bot/message/multicast", 200)
    );
    assert_eq!(attempts[0].json()["to"].as_array().unwrap().len(), 60);
    let key = attempts[0]
        .header("x-line-retry-key")
        .expect("a retry key")
        .to_owned();
    assert!(
        b.recipients.iter().all(|r| r.idempotency_key != key),
        "derived from all keys"
    );
    let request_id = fake.accepted()[0].request_id.clone();
    assert_eq!(ids(&first), vec![Some(request_id.clone()); 60]);

    // The host retries the same group (its answer was lost, say): the same
    // key, LINE answers 409, and the retry counts as delivered, once.
    let mut reordered = b.clone();
    reordered.recipients.reverse();
    let second = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&reordered),
        )
        .await
        .result
        .unwrap();
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].status, 409);
    assert_eq!(attempts[1].header("x-line-retry-key"), Some(key.as_str()));
    assert_eq!(ids(&second), vec![Some(request_id); 60]);
    assert_eq!(fake.deliveries().len(), 60, "nobody got it twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_text_is_split_into_text_objects_within_lines_limit() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let paragraph = "赤ちゃんの発達には個人差があります。焦らず見守りましょう。".repeat(40); // 1,160 chars
    let body = vec![paragraph; 10].join("\n\n"); // 11,618 chars
    let b = batch(&[&user(1)], None, &body);
    let outcomes = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    let texts = &accepted[0].texts;
    assert_eq!(
        texts.len(),
        3,
        "{:?}",
        texts.iter().map(|t| t.chars().count()).collect::<Vec<_>>()
    );
    assert!(texts.iter().all(|t| t.encode_utf16().count() <= 5_000));
    assert_eq!(
        texts.join("\n\n"),
        body,
        "split at paragraphs, nothing lost"
    );
    assert_eq!(ids(&outcomes), [Some(accepted[0].message_ids.join(","))]);
    assert_eq!(accepted[0].message_ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_answer_was_lost_is_not_delivered_twice() {
    let fake = FakeLine::start().await;
    let runtime = RuntimeConfig {
        request_timeout: Duration::from_millis(500),
        ..RuntimeConfig::default()
    };
    let (rt, line) = bundled_with("line", runtime).await;
    // LINE takes the message, but its answer comes too late.
    fake.fail_next(1, LineFault::Hang);
    let b = batch(&[&user(7)], None, "4か月健診のお知らせ");
    let first = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&first), [Some(FailureKind::Transient)]);

    let retry = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    let attempts = fake.attempts();
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [200, 409]
    );
    assert_eq!(
        attempts[0].header("x-line-retry-key"),
        attempts[1].header("x-line-retry-key")
    );
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        ids(&retry),
        [Some(accepted[0].message_ids.join(","))],
        "the first request's ids"
    );
    assert_eq!(fake.deliveries().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_failures_map_to_what_the_host_does_next() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let b = batch(&[&user(1)], None, "こんにちは");
    let cases = [
        (LineFault::RateLimited, FailureKind::Transient),
        (LineFault::MonthlyLimit, FailureKind::RetryAfter(3_600)),
        (LineFault::Status(401), FailureKind::Unauthorized),
        (LineFault::Status(403), FailureKind::Unauthorized),
        (LineFault::Status(500), FailureKind::Transient),
        (LineFault::Status(503), FailureKind::Transient),
    ];
    for (fault, expected) in cases {
        fake.fail_next(1, fault.clone());
        let outcomes = rt
            .deliver(
                &line,
                &ctx("line"),
                &config(&fake),
                std::slice::from_ref(&b),
            )
            .await
            .result
            .unwrap();
        assert_eq!(kinds(&outcomes), [Some(expected)], "{fault:?}");
    }
    assert_eq!(
        fake.attempts().len(),
        6,
        "one request per call, never retried within it"
    );
    assert!(fake.deliveries().is_empty());

    // A token LINE does not know.
    let wrong = json!({"channel_access_token": "revoked", "channel_secret": "s", "api_base": fake.api_base()});
    let outcomes = rt
        .deliver(
            &line,
            &ctx("line"),
            &wrong.to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Unauthorized)]);
    assert!(
        failure_message(&outcomes, &b.recipients[0].idempotency_key)
            .contains("Authentication failed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_twice_then_success_delivers_once() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    fake.fail_next(2, LineFault::Status(502));
    let b = batch(&[&user(3)], None, "こんにちは");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let outcomes = rt
            .deliver(
                &line,
                &ctx("line"),
                &config(&fake),
                std::slice::from_ref(&b),
            )
            .await
            .result
            .unwrap();
        seen.push(kinds(&outcomes)[0].clone());
    }
    assert_eq!(
        seen,
        [
            Some(FailureKind::Transient),
            Some(FailureKind::Transient),
            None
        ]
    );
    let keys: Vec<_> = fake
        .attempts()
        .iter()
        .map(|a| a.header("x-line-retry-key").map(str::to_owned))
        .collect();
    assert!(
        keys.iter()
            .all(|k| k.as_deref() == Some(b.recipients[0].idempotency_key.as_str()))
    );
    assert_eq!(fake.deliveries().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_recipients_are_gone_and_blocked_ones_are_not_errors() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    fake.unknown_user(&user(2));
    fake.block(&user(3));
    let b = batch(
        &[&user(1), &user(2), &user(3), "taro@example.jp"],
        None,
        "こんにちは",
    );
    let outcomes = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        kinds(&outcomes),
        [
            None,
            Some(FailureKind::RecipientGone),
            None,
            Some(FailureKind::RecipientGone)
        ]
    );
    assert!(
        failure_message(&outcomes, &b.recipients[1].idempotency_key)
            .contains("Failed to send messages")
    );
    assert_eq!(
        fake.attempts().len(),
        3,
        "no request for an address that is not a LINE user id"
    );
    let delivered: Vec<String> = fake.deliveries().into_iter().map(|d| d.user).collect();
    assert_eq!(
        delivered,
        [user(1)],
        "LINE accepts a blocked user's push and delivers nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_in_a_multicast_falls_back_to_pushes() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let to = users(55);
    fake.unknown_user(&to[10]);
    let b = batch(&refs(&to), None, "台風接近のお知らせ");
    let outcomes = rt
        .deliver(
            &line,
            &ctx("line"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    let attempts = fake.attempts();
    assert_eq!(
        (attempts[0].path.as_str(), attempts[0].status),
        ("/v2/bot/message/multicast", 400)
    );
    assert_eq!(attempts.len(), 56, "then one push each");
    let gone: Vec<usize> = kinds(&outcomes)
        .iter()
        .enumerate()
        .filter(|(_, k)| k.is_some())
        .map(|(i, k)| {
            assert_eq!(*k, Some(FailureKind::RecipientGone));
            i
        })
        .collect();
    assert_eq!(gone, [10]);
    assert_eq!(fake.deliveries().len(), 54);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_fake_refuses_what_line_refuses() {
    let fake = FakeLine::start().await;
    let http = reqwest::Client::new();
    let send = |body: Value, key: &str| {
        http.post(format!("{}/v2/bot/message/push", fake.api_base()))
            .bearer_auth(line::ACCESS_TOKEN)
            .header("x-line-retry-key", key)
            .json(&body)
            .send()
    };
    let key = "123e4567-e89b-12d3-a456-426614174000";
    let text = |t: &str| json!({ "type": "text", "text": t });
    let too_many: Vec<Value> = (0..6).map(|_| text("x")).collect();
    for (body, retry_key, property) in [
        (
            json!({ "to": user(1), "messages": too_many }),
            key,
            "messages",
        ),
        (json!({ "to": user(1), "messages": [] }), key, "messages"),
        (json!({ "messages": [text("x")] }), key, ""),
        (json!({ "to": "U123", "messages": [text("x")] }), key, "to"),
        (
            json!({ "to": user(1), "messages": [text(&"x".repeat(5_001))] }),
            key,
            "messages[0].text",
        ),
        (
            json!({ "to": user(1), "messages": [{ "type": "text" }] }),
            key,
            "messages[0]",
        ),
        (
            json!({ "to": user(1), "messages": [{ "type": "nonsense" }] }),
            key,
            "messages[0].type",
        ),
    ] {
        let response = send(body.clone(), retry_key).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        let properties: Vec<&str> = answer["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["property"].as_str().unwrap())
            .collect();
        assert!(properties.contains(&property), "{body}: {answer}");
    }
    let response = send(
        json!({ "to": user(1), "messages": [text("x")] }),
        "not-a-uuid",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 400);
    let ok = send(json!({ "to": user(1), "messages": [text("x")] }), key)
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("x-line-request-id"));
    let again = send(json!({ "to": user(1), "messages": [text("x")] }), key)
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let accepted_id = again.headers()["x-line-accepted-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer: Value = again.json().await.unwrap();
    assert_eq!(answer["message"], "The retry key is already accepted");
    assert_eq!(accepted_id, fake.accepted()[0].request_id);
    assert_eq!(fake.attempts().len(), 10);
    assert_eq!(fake.deliveries().len(), 1);
}

// ---- webhooks ----------------------------------------------------------

fn webhook(body: Vec<u8>, headers: Vec<(String, String)>) -> WebhookRequest {
    WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers,
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_become_inbound_events() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let events = vec![
        fake.follow(&user(1), false),
        fake.follow(&user(2), true),
        fake.unfollow(&user(3)),
        fake.text(&user(1), "予定日は2027年5月1日です"),
        fake.postback(&user(1), "action=birth&child=1"),
    ];
    let body = fake.callback(events.clone());
    let request = webhook(body.clone(), FakeLine::webhook_headers(&body));
    let result = rt
        .handle_webhook(&line, &ctx("line"), &config(&fake), &request)
        .await
        .result
        .unwrap();
    assert_eq!(result.response.status, 200);
    let kinds: Vec<EventKind> = result.events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Follow { unblocked: false },
            EventKind::Follow { unblocked: true },
            EventKind::Unfollow,
            EventKind::Text("予定日は2027年5月1日です".into()),
            EventKind::Postback("action=birth&child=1".into()),
        ]
    );
    for (event, sent) in result.events.iter().zip(&events) {
        assert_eq!(event.id, sent["webhookEventId"].as_str().unwrap());
        assert_eq!(event.address, sent["source"]["userId"].as_str().unwrap());
        assert_eq!(event.timestamp_ms, sent["timestamp"].as_u64().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_badly_signed_and_tampered_webhooks_are_refused_without_events() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let body = fake.callback(vec![fake.unfollow(&user(1))]);
    let signed = FakeLine::webhook_headers(&body);
    let without = |name: &str| -> Vec<(String, String)> {
        signed.iter().filter(|(n, _)| n != name).cloned().collect()
    };
    let with_signature = |signature: &str| -> Vec<(String, String)> {
        let mut headers = without("x-line-signature");
        headers.push(("x-line-signature".into(), signature.into()));
        headers
    };
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'a' { b'b' } else { b'a' };
    let other_secret = {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(b"another channel's secret").unwrap();
        mac.update(&body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    for (name, request) in [
        (
            "missing",
            webhook(body.clone(), without("x-line-signature")),
        ),
        (
            "not base64",
            webhook(body.clone(), with_signature("!!not-a-signature!!")),
        ),
        (
            "another secret",
            webhook(body.clone(), with_signature(&other_secret)),
        ),
        ("tampered body", webhook(tampered, signed.clone())),
    ] {
        let result = rt
            .handle_webhook(&line, &ctx("line"), &config(&fake), &request)
            .await
            .result
            .unwrap();
        assert_eq!(result.response.status, 401, "{name}");
        assert!(result.events.is_empty(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_keeps_its_id_so_the_host_handles_it_once() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let follow = fake.follow(&user(4), false);
    let mut ids = Vec::new();
    for event in [follow.clone(), FakeLine::redelivered(&follow)] {
        let body = fake.callback(vec![event]);
        let request = webhook(body.clone(), FakeLine::webhook_headers(&body));
        let result = rt
            .handle_webhook(&line, &ctx("line"), &config(&fake), &request)
            .await
            .result
            .unwrap();
        assert_eq!(result.response.status, 200);
        ids.push(result.events[0].id.clone());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], follow["webhookEventId"].as_str().unwrap());
    assert_eq!(ids[0].len(), 26, "a ULID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_button_is_answered_and_push_only_channels_have_no_webhook() {
    let fake = FakeLine::start().await;
    let (rt, line) = bundled("line").await;
    let body = fake.callback(Vec::new());
    let request = webhook(body.clone(), FakeLine::webhook_headers(&body));
    let result = rt
        .handle_webhook(&line, &ctx("line"), &config(&fake), &request)
        .await
        .result
        .unwrap();
    assert_eq!((result.response.status, result.events.len()), (200, 0));

    let push_only = json!({
        "channel_access_token": line::ACCESS_TOKEN,
        "mode": "push_only",
        "api_base": fake.api_base()
    })
    .to_string();
    let body = fake.callback(vec![fake.follow(&user(1), false)]);
    let request = webhook(body.clone(), FakeLine::webhook_headers(&body));
    let result = rt
        .handle_webhook(&line, &ctx("line"), &push_only, &request)
        .await
        .result
        .unwrap();
    assert_eq!((result.response.status, result.events.len()), (404, 0));
    // push_only still sends.
    let b = batch(&[&user(1)], None, "こんにちは");
    let outcomes = rt
        .deliver(&line, &ctx("line"), &push_only, std::slice::from_ref(&b))
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_the_schema_cannot_judge_are_refused_by_the_plugin() {
    let (rt, line) = bundled("line").await;
    let cases = [
        (
            json!({"channel_access_token": "t", "channel_secret": "s", "api_base": "http://api.line.me"}),
            "/api_base",
        ),
        (json!({"channel_access_token": "t"}), "/channel_secret"),
        (
            json!({"channel_access_token": "t", "channel_secret": "s", "multicast_min_recipients": 5}),
            "/multicast_min_recipients",
        ),
    ];
    for (config, field) in cases {
        let refusal = rt
            .validate_config(&line, &ctx("line"), &config.to_string())
            .await
            .result
            .expect("the call completes")
            .expect_err("refused");
        assert_eq!(refusal.field, field, "{config}");
    }
    let good = json!({"channel_access_token": "t", "channel_secret": "s"}).to_string();
    assert_eq!(
        rt.validate_config(&line, &ctx("line"), &good)
            .await
            .result
            .unwrap(),
        Ok(())
    );
    let manifest = &line.record.manifest;
    assert_eq!(
        (manifest.max_batch_size, manifest.rate_per_second),
        (500, 2_000)
    );
    assert_eq!(
        manifest.hosts,
        [
            "api.line.me",
            "api-data.line.me",
            "127.0.0.1:*",
            "localhost:*"
        ]
    );
}
