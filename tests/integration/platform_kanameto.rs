//! The bundled `kanameto` plugin: LINE pushes on the municipality's
//! KANAMETO-run account (checked by the LINE fake against LINE's OpenAPI),
//! with retry keys, and no webhook (KANAMETO owns it).

use serde_json::json;
use tayori_core::{FailureKind, WebhookRequest};

use crate::support::platforms::line::{self, Api, FakeLine, LineFault};
use crate::support::platforms::{batch, bundled, ctx, ids, kinds};

fn user(i: usize) -> String {
    format!("U{:032x}", 0x00ca_0000 + i)
}

fn config(fake: &FakeLine) -> String {
    json!({ "channel_access_token": line::ACCESS_TOKEN, "api_base": fake.api_base() }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_by_line_push_with_retry_keys() {
    let fake = FakeLine::start().await;
    let (rt, kanameto) = bundled("kanameto").await;
    let (a, b_user) = (user(1), user(2));
    let b = batch(&[&a, &b_user], Some("生後1か月"), "1か月健診の時期です。");
    let outcomes = rt
        .deliver(
            &kanameto,
            &ctx("kanameto"),
            &config(&fake),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 2);
    assert!(accepted.iter().all(|a| a.api == Api::Push));
    for (outcome, recipient) in outcomes.iter().zip(&b.recipients) {
        let request = accepted
            .iter()
            .find(|a| a.to == [recipient.address.clone()])
            .unwrap();
        assert_eq!(
            request.retry_key.as_deref(),
            Some(recipient.idempotency_key.as_str())
        );
        assert_eq!(request.texts, ["生後1か月\n\n1か月健診の時期です。"]);
        assert_eq!(
            ids(std::slice::from_ref(outcome)),
            [Some(request.message_ids.join(","))]
        );
    }

    // The same mapping as `line`: a retried push is harmless.
    fake.fail_next(1, LineFault::Status(500));
    let mut single = batch(&[&user(3)], None, "こんにちは");
    single.recipients[0].idempotency_key = "6f1c2d3e-4a5b-4c6d-8e7f-000000000003".into();
    let failed = rt
        .deliver(
            &kanameto,
            &ctx("kanameto"),
            &config(&fake),
            std::slice::from_ref(&single),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&failed), [Some(FailureKind::Transient)]);
    let retried = rt
        .deliver(
            &kanameto,
            &ctx("kanameto"),
            &config(&fake),
            std::slice::from_ref(&single),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&retried), [None]);
    assert_eq!(fake.deliveries().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn has_no_webhook_and_needs_only_a_token() {
    let fake = FakeLine::start().await;
    let (rt, kanameto) = bundled("kanameto").await;
    assert!(!kanameto.record.manifest.handles_webhooks);
    let body = fake.callback(vec![fake.follow(&user(1), false)]);
    let request = WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: FakeLine::webhook_headers(&body),
        body,
    };
    let result = rt
        .handle_webhook(&kanameto, &ctx("kanameto"), &config(&fake), &request)
        .await
        .result
        .unwrap();
    assert_eq!((result.response.status, result.events.len()), (404, 0));

    let minimal = json!({ "channel_access_token": "t" }).to_string();
    assert_eq!(
        rt.validate_config(&kanameto, &ctx("kanameto"), &minimal)
            .await
            .result
            .unwrap(),
        Ok(())
    );
    let plain_http =
        json!({ "channel_access_token": "t", "api_base": "http://api.line.me" }).to_string();
    let refusal = rt
        .validate_config(&kanameto, &ctx("kanameto"), &plain_http)
        .await
        .result
        .unwrap()
        .unwrap_err();
    assert_eq!(refusal.field, "/api_base");
}
