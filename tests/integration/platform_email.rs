//! The bundled `email` plugin against the SendGrid fake: one request per
//! batch with a personalization per recipient, one-click unsubscribe
//! headers, the delivery key as a custom argument, and the provider's
//! refusals mapped to what the host does next (never retried in the call).

use serde_json::{Value, json};
use tayori_core::FailureKind;

use crate::support::platforms::sendgrid::{self, FakeSendGrid, MailFault};
use crate::support::platforms::{batch, bundled, ctx, failure_message, ids, kinds};

fn config(fake: &FakeSendGrid) -> Value {
    json!({
        "api_key": sendgrid::API_KEY,
        "from": "kosodate@city.sapporo.example.jp",
        "from_name": "さっぽろ子育て便り",
        "reply_to": "soudan@city.sapporo.example.jp",
        "api_base": fake.api_base(),
        "unsubscribe_url": "https://tayori.example.jp/unsubscribe?key={{key}}"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_per_batch_with_a_personalization_per_recipient() {
    let fake = FakeSendGrid::start().await;
    let (rt, email) = bundled("email").await;
    let to = [
        "mother@example.jp",
        "father@example.jp",
        "grandma@example.ne.jp",
    ];
    let b = batch(
        &to,
        Some("生後100日"),
        "100日おめでとうございます。\n\nお食い初めの準備を。",
    );
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &config(&fake).to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();

    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        attempts[0].header("authorization"),
        Some(format!("Bearer {}", sendgrid::API_KEY).as_str())
    );
    let mails = fake.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.recipients(), to);
    assert_eq!(ids(&outcomes), vec![Some(mail.message_id.clone()); 3]);
    let body = &mail.body;
    assert_eq!(body["subject"], "生後100日");
    assert_eq!(
        body["from"],
        json!({ "email": "kosodate@city.sapporo.example.jp", "name": "さっぽろ子育て便り" })
    );
    assert_eq!(
        body["reply_to"],
        json!({ "email": "soudan@city.sapporo.example.jp" })
    );
    assert_eq!(
        body["content"][0],
        json!({ "type": "text/plain", "value": "100日おめでとうございます。\n\nお食い初めの準備を。\n\n--\n配信の停止・登録内容の変更はこちら:\n%tayori_stop%\n" })
    );
    assert_eq!(body["content"][1]["type"], "text/html");
    assert!(
        body["content"][1]["value"]
            .as_str()
            .unwrap()
            .contains("<p>お食い初めの準備を。</p>")
    );
    for (p, recipient) in body["personalizations"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&b.recipients)
    {
        assert_eq!(
            p["headers"],
            json!({
                "List-Unsubscribe": format!("<https://tayori.example.jp/unsubscribe?key={}>", recipient.idempotency_key),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
            })
        );
        assert_eq!(
            p["custom_args"]["tayori_key"],
            recipient.idempotency_key.as_str()
        );
        assert_eq!(p["custom_args"]["tayori_message"], "child-day-100");
        // The text's stop link is each recipient's own.
        let link = format!(
            "https://tayori.example.jp/unsubscribe?key={}",
            recipient.idempotency_key
        );
        assert_eq!(p["substitutions"], json!({ "%tayori_stop%": link }));
        assert!(
            mail.text_for(&recipient.address)
                .ends_with(&format!("{link}\n")),
            "{}",
            mail.text_for(&recipient.address)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_of_1000_is_one_request() {
    let fake = FakeSendGrid::start().await;
    let (rt, email) = bundled("email").await;
    assert_eq!(email.record.manifest.max_batch_size, 1_000);
    let addresses: Vec<String> = (0..1_000)
        .map(|i| format!("parent{i}@example.jp"))
        .collect();
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let b = batch(&refs, None, "臨時休園のお知らせ");
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &config(&fake).to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(fake.attempts().len(), 1);
    assert_eq!(fake.mails()[0].recipients().len(), 1_000);
    assert!(kinds(&outcomes).iter().all(Option::is_none));
    assert_eq!(
        fake.mails()[0].body["subject"],
        "臨時休園のお知らせ",
        "the body's first line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_map_to_what_the_host_does_next_without_retrying() {
    let fake = FakeSendGrid::start().await;
    let (rt, email) = bundled("email").await;
    let b = batch(
        &["mother@example.jp", "father@example.jp"],
        None,
        "こんにちは",
    );
    let cases = [
        (MailFault::Status(400), FailureKind::Permanent),
        (MailFault::Status(401), FailureKind::Unauthorized),
        (MailFault::Status(403), FailureKind::Unauthorized),
        (MailFault::Status(413), FailureKind::Permanent),
        (MailFault::Status(500), FailureKind::Transient),
        (
            MailFault::RateLimited {
                retry_after: Some(30),
                reset_in: None,
            },
            FailureKind::RetryAfter(30),
        ),
        (
            MailFault::RateLimited {
                retry_after: None,
                reset_in: None,
            },
            FailureKind::Transient,
        ),
    ];
    for (fault, expected) in cases {
        fake.fail_next(1, fault.clone());
        let outcomes = rt
            .deliver(
                &email,
                &ctx("email"),
                &config(&fake).to_string(),
                std::slice::from_ref(&b),
            )
            .await
            .result
            .unwrap();
        assert_eq!(
            kinds(&outcomes),
            vec![Some(expected.clone()); 2],
            "{fault:?}"
        );
    }
    assert_eq!(fake.attempts().len(), 7, "exactly one request per call");

    // X-RateLimit-Reset, without Retry-After: wait until the reset.
    fake.fail_next(
        1,
        MailFault::RateLimited {
            retry_after: None,
            reset_in: Some(120),
        },
    );
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &config(&fake).to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    match kinds(&outcomes)[0] {
        Some(FailureKind::RetryAfter(seconds)) => {
            assert!((118..=120).contains(&seconds), "{seconds}")
        }
        ref other => panic!("{other:?}"),
    }
    assert!(fake.mails().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_provider_refuses_it_names() {
    let fake = FakeSendGrid::start().await;
    let (rt, email) = bundled("email").await;
    let b = batch(&["mother@example.jp"], None, "こんにちは");
    // A key the provider does not know, and a sender it would not take (a
    // config that skipped validation): the fake's own checks answer.
    let mut wrong_key = config(&fake);
    wrong_key["api_key"] = json!("SG.revoked");
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &wrong_key.to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Unauthorized)]);
    let mut bad_from = config(&fake);
    bad_from["from"] = json!("kosodate-at-city");
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &bad_from.to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Permanent)]);
    assert!(failure_message(&outcomes, &b.recipients[0].idempotency_key).contains("from.email"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_are_gone_without_spoiling_the_batch() {
    let fake = FakeSendGrid::start().await;
    let (rt, email) = bundled("email").await;
    let b = batch(
        &[
            "mother@example.jp",
            "not an address",
            "U4af4980629aaaaaaaaaaaaaaaaaaaaaa",
        ],
        None,
        "こんにちは",
    );
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &config(&fake).to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    let by_key = |i: usize| {
        kinds(&outcomes)[outcomes
            .iter()
            .position(|o| o.idempotency_key == b.recipients[i].idempotency_key)
            .unwrap()]
        .clone()
    };
    assert_eq!(by_key(0), None);
    assert_eq!(by_key(1), Some(FailureKind::RecipientGone));
    assert_eq!(by_key(2), Some(FailureKind::RecipientGone));
    assert_eq!(fake.mails()[0].recipients(), ["mother@example.jp"]);

    let none_valid = batch(&["nobody"], None, "こんにちは");
    rt.deliver(
        &email,
        &ctx("email"),
        &config(&fake).to_string(),
        std::slice::from_ref(&none_valid),
    )
    .await
    .result
    .unwrap();
    assert_eq!(
        fake.attempts().len(),
        1,
        "no request without a valid address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_the_schema_cannot_judge_are_refused_by_the_plugin() {
    let fake = FakeSendGrid::start().await;
    let (rt, email) = bundled("email").await;
    let good = config(&fake);
    assert_eq!(
        rt.validate_config(&email, &ctx("email"), &good.to_string())
            .await
            .result
            .unwrap(),
        Ok(())
    );
    for (field, value) in [
        (
            "unsubscribe_url",
            json!("https://tayori.example.jp/unsubscribe"),
        ),
        (
            "unsubscribe_url",
            json!("https://tayori.example.jp/u?c={{contact}}"),
        ),
        (
            "unsubscribe_url",
            json!("http://tayori.example.jp/u?k={{key}}"),
        ),
        ("api_base", json!("http://api.sendgrid.com")),
    ] {
        let mut config = good.clone();
        config[field] = value;
        let refusal = rt
            .validate_config(&email, &ctx("email"), &config.to_string())
            .await
            .result
            .unwrap()
            .unwrap_err();
        assert_eq!(refusal.field, format!("/{field}"), "{config}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_transient_and_the_host_decides_the_retry() {
    let fake = FakeSendGrid::start().await;
    let runtime = tayori_runtime::RuntimeConfig {
        request_timeout: std::time::Duration::from_millis(500),
        ..tayori_runtime::RuntimeConfig::default()
    };
    let (rt, email) = crate::support::platforms::bundled_with("email", runtime).await;
    fake.fail_next(1, MailFault::Hang);
    let b = batch(&["mother@example.jp"], None, "こんにちは");
    let outcomes = rt
        .deliver(
            &email,
            &ctx("email"),
            &config(&fake).to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Transient)]);
    // The provider took it; with no idempotency key the plugin did not try
    // again on its own: one request, and the outbox decides what follows.
    assert_eq!(fake.attempts().len(), 1);
    assert_eq!(fake.mails().len(), 1);
}
