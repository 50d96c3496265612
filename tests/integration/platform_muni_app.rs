//! The bundled `muni-app` plugin against a municipal app backend that
//! verifies Standard Webhooks with the reference library: signatures that an
//! independent implementation (here, HMAC computed in the test) agrees with,
//! redeliveries dropped by `webhook-id`, and the app's answers mapped.

use base64::Engine as _;
use hmac::Mac as _;
use serde_json::json;
use tayori_core::FailureKind;

use crate::support::platforms::muni_app::{self, AppFault, FakeMuniApp};
use crate::support::platforms::{batch, bundled, ctx, ids, kinds};

fn config(fake: &FakeMuniApp, secret: &str) -> String {
    json!({ "endpoint": fake.endpoint(), "secret": secret }).to_string()
}

/// `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), computed
/// here from the specification, not with the plugin's code.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_standard_webhooks_that_verify_independently() {
    let fake = FakeMuniApp::start().await;
    let (rt, app) = bundled("muni-app").await;
    let b = batch(
        &["app-user-1", "app-user-2"],
        Some("生後6か月"),
        "離乳食を始める頃です。",
    );
    let outcomes = rt
        .deliver(
            &app,
            &ctx("app"),
            &config(&fake, muni_app::SECRET),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();

    assert_eq!(
        fake.refused_signatures(),
        0,
        "the reference library verified every request"
    );
    let notifications = fake.notifications();
    assert_eq!(notifications.len(), 2);
    for (outcome, recipient) in outcomes.iter().zip(&b.recipients) {
        let n = notifications
            .iter()
            .find(|n| n.webhook_id == recipient.idempotency_key)
            .unwrap();
        assert_eq!(ids(std::slice::from_ref(outcome)), [Some(n.id.clone())]);
        assert_eq!(
            n.signature,
            expected_signature(muni_app::SECRET, &n.webhook_id, &n.timestamp, &n.raw)
        );
        assert_eq!(n.payload["type"], "tayori.message");
        assert_eq!(
            n.payload["data"],
            json!({
                "delivery_key": recipient.idempotency_key,
                "recipient": recipient.address,
                "message_id": "child-day-100",
                "subject": "生後6か月",
                "body": "離乳食を始める頃です。",
                "locale": "ja"
            })
        );
        let timestamp: i64 = n.timestamp.parse().unwrap();
        let iso = n.payload["timestamp"].as_str().unwrap();
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(iso)
                .unwrap()
                .timestamp(),
            timestamp,
            "the payload's timestamp is the header's"
        );
    }
    for attempt in fake.attempts() {
        assert_eq!(attempt.header("content-type"), Some("application/json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_keeps_its_webhook_id_and_the_app_drops_it() {
    let fake = FakeMuniApp::start().await;
    let (rt, app) = bundled("muni-app").await;
    let b = batch(&["app-user-1"], None, "こんにちは");
    for _ in 0..2 {
        let outcomes = rt
            .deliver(
                &app,
                &ctx("app"),
                &config(&fake, muni_app::SECRET),
                std::slice::from_ref(&b),
            )
            .await
            .result
            .unwrap();
        assert_eq!(kinds(&outcomes), [None]);
    }
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[0].header("webhook-id"),
        attempts[1].header("webhook-id")
    );
    assert_eq!(fake.notifications().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_answers_map_to_what_the_host_does_next() {
    let fake = FakeMuniApp::start().await;
    let (rt, app) = bundled("muni-app").await;
    fake.gone("app-user-9");
    let b = batch(&["app-user-9"], None, "こんにちは");
    let outcomes = rt
        .deliver(
            &app,
            &ctx("app"),
            &config(&fake, muni_app::SECRET),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::RecipientGone)]);

    let one = batch(&["app-user-1"], None, "こんにちは");
    for (fault, expected) in [
        (
            AppFault::RateLimited {
                retry_after: Some(20),
            },
            FailureKind::RetryAfter(20),
        ),
        (
            AppFault::RateLimited { retry_after: None },
            FailureKind::Transient,
        ),
        (AppFault::Status(500), FailureKind::Transient),
        (AppFault::Status(502), FailureKind::Transient),
        (AppFault::Status(400), FailureKind::Permanent),
    ] {
        fake.fail_next(1, fault.clone());
        let outcomes = rt
            .deliver(
                &app,
                &ctx("app"),
                &config(&fake, muni_app::SECRET),
                std::slice::from_ref(&one),
            )
            .await
            .result
            .unwrap();
        assert_eq!(kinds(&outcomes), [Some(expected)], "{fault:?}");
    }
    assert_eq!(
        fake.attempts().len(),
        6,
        "one request per recipient per call"
    );
    assert!(fake.notifications().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_the_app_does_not_share_is_refused_and_pauses_the_channel() {
    let fake = FakeMuniApp::start_with_secret(muni_app::OTHER_SECRET).await;
    let (rt, app) = bundled("muni-app").await;
    let b = batch(&["app-user-1", "app-user-2"], None, "こんにちは");
    let outcomes = rt
        .deliver(
            &app,
            &ctx("app"),
            &config(&fake, muni_app::SECRET),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), vec![Some(FailureKind::Unauthorized); 2]);
    assert_eq!(fake.refused_signatures(), 2);
    assert!(fake.notifications().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_endpoints_are_checked_when_the_channel_is_saved() {
    let fake = FakeMuniApp::start().await;
    let (rt, app) = bundled("muni-app").await;
    let good = config(&fake, muni_app::SECRET);
    assert_eq!(
        rt.validate_config(&app, &ctx("app"), &good)
            .await
            .result
            .unwrap(),
        Ok(())
    );
    for (config, field) in [
        (
            json!({ "endpoint": "http://app.city.example.jp/hook", "secret": muni_app::SECRET }),
            "/endpoint",
        ),
        (
            json!({ "endpoint": fake.endpoint(), "secret": "whsec_c2hvcnQ=" }),
            "/secret",
        ),
    ] {
        let refusal = rt
            .validate_config(&app, &ctx("app"), &config.to_string())
            .await
            .result
            .unwrap()
            .unwrap_err();
        assert_eq!(refusal.field, field, "{config}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_retried_and_the_app_drops_the_redelivery() {
    let fake = FakeMuniApp::start().await;
    let runtime = tayori_runtime::RuntimeConfig {
        request_timeout: std::time::Duration::from_millis(500),
        ..tayori_runtime::RuntimeConfig::default()
    };
    let (rt, app) = crate::support::platforms::bundled_with("muni-app", runtime).await;
    fake.fail_next(1, AppFault::Hang);
    let b = batch(&["app-user-1"], None, "こんにちは");
    let first = rt
        .deliver(
            &app,
            &ctx("app"),
            &config(&fake, muni_app::SECRET),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&first), [Some(FailureKind::Transient)]);
    let retry = rt
        .deliver(
            &app,
            &ctx("app"),
            &config(&fake, muni_app::SECRET),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&retry), [None]);
    assert_eq!(fake.attempts().len(), 2);
    assert_eq!(
        fake.notifications().len(),
        1,
        "the same webhook-id, shown once"
    );
}
