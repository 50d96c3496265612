//! The bundled `x-dm` plugin against the X fake: one DM per recipient with
//! the user-context token, X's per-user windows declared in the manifest and
//! honoured on a 429, and X's refusals mapped to what the host does next.

use serde_json::json;
use tayori_core::FailureKind;

use crate::support::platforms::x::{self, FakeX, XFault};
use crate::support::platforms::{batch, bundled, ctx, failure_message, ids, kinds};

fn config(fake: &FakeX) -> String {
    json!({ "access_token": x::ACCESS_TOKEN, "api_base": fake.api_base() }).to_string()
}

fn retry_seconds(kind: &Option<FailureKind>) -> u32 {
    match kind {
        Some(FailureKind::RetryAfter(seconds)) => *seconds,
        other => panic!("expected a retry-after, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_one_dm_per_recipient_and_keeps_the_event_ids() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let to = ["2244994945", "783214", "1582838213288706049"];
    let b = batch(&to, Some("妊娠20週"), "胎動を感じ始める頃です。");
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &config(&fake), std::slice::from_ref(&b))
        .await
        .result
        .unwrap();
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 3);
    for attempt in &attempts {
        assert_eq!(attempt.status, 201);
        assert_eq!(
            attempt.header("authorization"),
            Some(format!("Bearer {}", x::ACCESS_TOKEN).as_str())
        );
        assert_eq!(
            attempt.json(),
            json!({ "text": "妊娠20週\n\n胎動を感じ始める頃です。" })
        );
    }
    let dms = fake.dms();
    for (outcome, address) in ids(&outcomes).into_iter().zip(to) {
        let dm = dms.iter().find(|d| d.participant_id == address).unwrap();
        assert_eq!(outcome, Some(dm.dm_event_id.clone()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_declares_xs_windows_and_a_429_waits_for_the_reset() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let windows: Vec<(u32, u32)> = xdm
        .record
        .manifest
        .rate_windows
        .iter()
        .map(|w| (w.max, w.window_seconds))
        .collect();
    assert_eq!(windows, [(200, 900), (1_000, 86_400)]);

    fake.fail_next(1, XFault::RateLimited { reset_in: 300 });
    let one = batch(&["2244994945"], None, "こんにちは");
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &config(&fake), std::slice::from_ref(&one))
        .await
        .result
        .unwrap();
    assert!((298..=300).contains(&retry_seconds(&kinds(&outcomes)[0])));

    // The fake's own count: a window of 2, then the third waits ~15 minutes.
    fake.set_limits(2, 1_000);
    let three = batch(&["1", "2", "3"], None, "こんにちは");
    let outcomes = rt
        .deliver(
            &xdm,
            &ctx("x"),
            &config(&fake),
            std::slice::from_ref(&three),
        )
        .await
        .result
        .unwrap();
    let kinds = kinds(&outcomes);
    assert_eq!(kinds.iter().filter(|k| k.is_none()).count(), 2);
    let waits: Vec<u32> = kinds
        .iter()
        .filter(|k| k.is_some())
        .map(retry_seconds)
        .collect();
    assert_eq!(waits.len(), 1);
    assert!((890..=900).contains(&waits[0]), "{waits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_limit_waits_for_the_24_hour_reset() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    fake.set_limits(200, 1);
    let first = batch(&["10"], None, "こんにちは");
    assert_eq!(
        kinds(
            &rt.deliver(
                &xdm,
                &ctx("x"),
                &config(&fake),
                std::slice::from_ref(&first)
            )
            .await
            .result
            .unwrap()
        ),
        [None]
    );
    let second = batch(&["11"], None, "こんにちは");
    let outcomes = rt
        .deliver(
            &xdm,
            &ctx("x"),
            &config(&fake),
            std::slice::from_ref(&second),
        )
        .await
        .result
        .unwrap();
    let wait = retry_seconds(&kinds(&outcomes)[0]);
    assert!((86_390..=86_400).contains(&wait), "{wait}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xs_refusals_map_to_what_the_host_does_next() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    fake.close_dms("42");
    let b = batch(&["42", "@someone", "43"], None, "こんにちは");
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &config(&fake), std::slice::from_ref(&b))
        .await
        .result
        .unwrap();
    let kind_of = |key: &str| {
        kinds(&outcomes)[outcomes
            .iter()
            .position(|o| o.idempotency_key == key)
            .unwrap()]
        .clone()
    };
    assert_eq!(
        kind_of(&b.recipients[0].idempotency_key),
        Some(FailureKind::RecipientGone)
    );
    assert!(
        failure_message(&outcomes, &b.recipients[0].idempotency_key)
            .contains("cannot send messages to this user")
    );
    assert_eq!(
        kind_of(&b.recipients[1].idempotency_key),
        Some(FailureKind::RecipientGone)
    );
    assert_eq!(kind_of(&b.recipients[2].idempotency_key), None);
    assert_eq!(
        fake.attempts().len(),
        2,
        "no request for an address that is not a user id"
    );

    let one = batch(&["2244994945"], None, "こんにちは");
    for (fault, expected) in [
        (XFault::Status(401), FailureKind::Unauthorized),
        (XFault::Status(403), FailureKind::Unauthorized),
        (XFault::Status(500), FailureKind::Transient),
        (XFault::Status(503), FailureKind::Transient),
    ] {
        fake.fail_next(1, fault.clone());
        let outcomes = rt
            .deliver(&xdm, &ctx("x"), &config(&fake), std::slice::from_ref(&one))
            .await
            .result
            .unwrap();
        assert_eq!(kinds(&outcomes), [Some(expected)], "{fault:?}");
    }
    let wrong = json!({ "access_token": "expired", "api_base": fake.api_base() }).to_string();
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &wrong, std::slice::from_ref(&one))
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Unauthorized)]);
    assert_eq!(
        fake.attempts().len(),
        7,
        "one request per recipient per call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_over_xs_limit_is_refused_before_sending() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let b = batch(&["2244994945"], None, &"あ".repeat(10_001));
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &config(&fake), std::slice::from_ref(&b))
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Permanent)]);
    assert!(fake.attempts().is_empty());
    let plain = json!({ "access_token": "t", "api_base": "http://api.x.com" }).to_string();
    let refusal = rt
        .validate_config(&xdm, &ctx("x"), &plain)
        .await
        .result
        .unwrap()
        .unwrap_err();
    assert_eq!(refusal.field, "/api_base");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_transient_and_not_retried_within_the_call() {
    let fake = FakeX::start().await;
    let runtime = tayori_runtime::RuntimeConfig {
        request_timeout: std::time::Duration::from_millis(500),
        ..tayori_runtime::RuntimeConfig::default()
    };
    let (rt, xdm) = crate::support::platforms::bundled_with("x-dm", runtime).await;
    fake.fail_next(1, XFault::Hang);
    let b = batch(&["2244994945"], None, "こんにちは");
    let outcomes = rt
        .deliver(&xdm, &ctx("x"), &config(&fake), std::slice::from_ref(&b))
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), [Some(FailureKind::Transient)]);
    assert_eq!(fake.attempts().len(), 1);
    assert_eq!(
        fake.dms().len(),
        1,
        "X created it; only the answer was lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth1_credentials_sign_each_request_instead_of_a_bearer_token() {
    let fake = FakeX::start().await;
    let (rt, xdm) = bundled("x-dm").await;
    let signed = json!({
        "access_token": x::OAUTH1_TOKEN,
        "access_token_secret": x::OAUTH1_TOKEN_SECRET,
        "consumer_key": x::CONSUMER_KEY,
        "consumer_secret": x::CONSUMER_SECRET,
        "api_base": fake.api_base()
    });
    assert_eq!(
        rt.validate_config(&xdm, &ctx("x"), &signed.to_string())
            .await
            .result
            .unwrap(),
        Ok(())
    );
    let b = batch(&["2244994945", "783214"], None, "こんにちは");
    let outcomes = rt
        .deliver(
            &xdm,
            &ctx("x"),
            &signed.to_string(),
            std::slice::from_ref(&b),
        )
        .await
        .result
        .unwrap();
    assert_eq!(
        kinds(&outcomes),
        [None, None],
        "the fake recomputed and accepted both signatures"
    );
    for attempt in fake.attempts() {
        assert!(
            attempt
                .header("authorization")
                .unwrap()
                .starts_with("OAuth oauth_consumer_key=")
        );
    }

    let mut wrong = signed.clone();
    wrong["consumer_secret"] = json!("not the app's secret");
    // Other deliveries, so that only the signature can be at fault.
    let mut others = b.clone();
    for r in &mut others.recipients {
        r.idempotency_key = r.idempotency_key.replace("0b8a", "7c9d");
    }
    let outcomes = rt
        .deliver(
            &xdm,
            &ctx("x"),
            &wrong.to_string(),
            std::slice::from_ref(&others),
        )
        .await
        .result
        .unwrap();
    assert_eq!(kinds(&outcomes), vec![Some(FailureKind::Unauthorized); 2]);
    assert_eq!(fake.dms().len(), 2);
}
