//! How the running host reacts to each platform's failures, through the
//! bundled plugins and the platforms' fakes (LINE's are in `pipeline.rs`):
//! email's 401 pauses the channel, 400 fails for good, 429 waits for
//! `Retry-After`; X's 429 waits for the window's reset, its spent 24-hour
//! limit expires what cannot wait that long, and the host's own count of a
//! channel's quota defers the rest to the next window and shows on the
//! channel; the municipal app's 410 invalidates the contact, its 5xx are
//! retried with backoff.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::json;

use crate::support::host::{Host, TENANT, approved, jst, time, today};
use crate::support::platforms::muni_app::{self, AppFault, FakeMuniApp};
use crate::support::platforms::sendgrid::{self, FakeSendGrid, MailFault};
use crate::support::platforms::x::{self, FakeX, XFault};

/// A host at 10:00 (the day's catalog messages are not the point here).
async fn host() -> Host {
    Host::start_at(jst(today(), 10, 0)).await
}

/// A birth date far from any catalog message today.
fn birth() -> chrono::NaiveDate {
    today() - Duration::days(200)
}

async fn email_channel(host: &Host, fake: &FakeSendGrid) {
    host.put_channel(
        "email",
        json!({
            "plugin": "email",
            "config": {
                "api_key": sendgrid::API_KEY,
                "from": "kosodate@city.otaru.example.jp",
                "api_base": fake.api_base(),
                "unsubscribe_url": "https://tayori.example.jp/unsubscribe?key={{key}}",
            },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
}

async fn email_host() -> (Host, FakeSendGrid) {
    let fake = FakeSendGrid::start().await;
    let host = host().await;
    email_channel(&host, &fake).await;
    for who in ["mother@example.jp", "father@example.jp"] {
        host.subscriber("ja", "email", who, birth()).await;
    }
    (host, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_401_pauses_the_channel_until_it_is_put_again() {
    let (host, fake) = email_host().await;
    fake.fail_next(1, MailFault::Status(401));
    host.broadcast(Some("休館"), "本日は休館します。").await;
    host.send().await;

    let channel = host.channel("email").await;
    let reason = channel["paused"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("401"), "{channel}");
    let held = host.deliveries("&status=held").await;
    assert_eq!(held.len(), 2, "the channel's deliveries wait");
    assert!(held.iter().all(|d| d["attempts"] == 0), "{held:#?}");
    // Nothing is tried while paused.
    host.clock.advance(Duration::minutes(10));
    host.send().await;
    assert_eq!(fake.attempts().len(), 1);

    // The operator fixed the key at the provider and puts the channel again
    // (the stored key is kept): what was held goes out.
    email_channel(&host, &fake).await;
    assert!(host.channel("email").await["paused"].is_null());
    host.send().await;
    let sent = host.deliveries("&status=sent").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(fake.mails().len(), 1);
    assert!(
        sent.iter()
            .all(|d| d["receipt"] == fake.mails()[0].message_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_400_fails_for_good_and_429_waits_for_retry_after() {
    let (host, fake) = email_host().await;

    fake.fail_next(1, MailFault::Status(400));
    let refused = host.broadcast(None, "お知らせ").await;
    host.send().await;
    let failed = host.deliveries("&status=failed").await;
    assert_eq!(failed.len(), 2, "{failed:#?}");
    for d in &failed {
        assert_eq!(d["broadcast_id"], refused["id"]);
        assert_eq!(d["attempts"], 1);
        let error = d["last_error"].as_str().unwrap();
        assert!(
            error.contains("400") && error.contains("Bad Request"),
            "{error}"
        );
    }
    host.clock.advance(Duration::hours(1));
    host.send().await;
    assert_eq!(
        fake.attempts().len(),
        1,
        "a permanent failure is not retried"
    );

    fake.fail_next(
        1,
        MailFault::RateLimited {
            retry_after: Some(120),
            reset_in: None,
        },
    );
    let broadcast = host.broadcast(None, "再送のお知らせ").await;
    let asked_at = host.now();
    host.send().await;
    let waiting = host
        .deliveries(&format!("&broadcast={}", broadcast["id"].as_str().unwrap()))
        .await;
    assert_eq!(waiting.len(), 2);
    for d in &waiting {
        assert_eq!(d["status"], "pending", "{d}");
        assert!(d["last_error"].as_str().unwrap().contains("429"), "{d}");
        assert_eq!(
            time(d, "next_attempt_at"),
            asked_at + Duration::seconds(120),
            "Retry-After is honoured to the second"
        );
    }
    host.clock.advance(Duration::seconds(119));
    host.send().await;
    assert_eq!(fake.attempts().len(), 2, "not before its time");
    host.clock.advance(Duration::seconds(1));
    host.send().await;
    let sent = host
        .deliveries(&format!(
            "&broadcast={}&status=sent",
            broadcast["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sent.len(), 2);
    assert_eq!(fake.mails().len(), 1);
}

async fn x_channel(host: &Host, fake: &FakeX, daily_quota: Option<u32>) {
    host.put_channel(
        "x",
        json!({
            "plugin": "x-dm",
            "config": { "access_token": x::ACCESS_TOKEN, "api_base": fake.api_base() },
            "allowed_hosts": approved(fake.addr),
            // See e2e_platforms.rs: the windows hold X's limits.
            "rate_per_second": 50,
            "daily_quota": daily_quota,
        }),
    )
    .await;
}

fn x_user(i: u64) -> String {
    (1_470_000_000_000_000_000 + i).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_defers_to_the_next_day_and_shows_on_the_channel() {
    let fake = FakeX::start().await;
    let host = host().await;
    // A broadcast may go out until the same time tomorrow.
    host.call(
        Method::PATCH,
        &format!("/v1/tenants/{TENANT}"),
        Some(json!({"lateness_window_minutes": 1440})),
    )
    .await;
    x_channel(&host, &fake, Some(2)).await;
    for i in 1..=3 {
        host.subscriber("ja", "x", &x_user(i), birth()).await;
    }
    host.broadcast(None, "除雪車が通ります。").await;
    host.send().await;

    assert_eq!(fake.dms().len(), 2, "the quota held");
    let midnight = jst(today() + Duration::days(1), 0, 0);
    let waiting = host.deliveries("&status=pending").await;
    assert_eq!(waiting.len(), 1);
    let d = &waiting[0];
    assert_eq!(time(d, "next_attempt_at"), midnight, "{d}");
    assert_eq!(d["attempts"], 0, "a deferral is not an attempt");
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("quota ran out until 2027-01-04T15:00:00"),
        "{d}"
    );

    // The municipality sees it on the channel: which window, until when.
    let quota = host.channel("x").await["quota"].clone();
    let until: DateTime<Utc> = quota["exhausted_until"]
        .as_str()
        .unwrap_or_else(|| panic!("{quota}"))
        .parse()
        .unwrap();
    assert_eq!(until, midnight);
    // X's 15 minutes, and its day within the channel's smaller quota.
    assert_eq!(
        quota["windows"],
        json!([
            {"window_seconds": 900, "max": 200, "exhausted_until": null},
            {"window_seconds": 86_400, "max": 2, "exhausted_until": quota["exhausted_until"]},
        ])
    );
    // The list shows the same.
    let list = host
        .call(Method::GET, &format!("/v1/tenants/{TENANT}/channels"), None)
        .await;
    assert_eq!(
        list["channels"][0]["quota"]["exhausted_until"],
        quota["exhausted_until"]
    );

    // Not before the window ends; then it goes.
    host.clock.set(midnight - Duration::seconds(1));
    host.send().await;
    assert_eq!(fake.dms().len(), 2);
    host.clock.set(midnight);
    host.send().await;
    assert_eq!(fake.dms().len(), 3);
    assert_eq!(host.deliveries("&status=sent").await.len(), 3);
    let quota = &host.channel("x").await["quota"];
    assert!(quota["exhausted_until"].is_null(), "a new day: {quota}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_429_waits_for_the_reset_and_a_spent_day_expires_what_cannot_wait() {
    let fake = FakeX::start().await;
    let host = host().await;
    x_channel(&host, &fake, None).await;
    host.subscriber("ja", "x", &x_user(1), birth()).await;

    // The 15-minute window is spent: X says when it resets.
    fake.fail_next(1, XFault::RateLimited { reset_in: 600 });
    host.broadcast(None, "道路の通行止め").await;
    let asked_at = host.now();
    host.send().await;
    let d = &host.deliveries("").await[0];
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(d["attempts"], 1);
    assert!(d["last_error"].as_str().unwrap().contains("429"), "{d}");
    // X's reset is an epoch second; a second may pass on the wall clock
    // between the fake's answer and the plugin's reading of it.
    let wait = time(d, "next_attempt_at") - asked_at;
    assert!(
        wait >= Duration::seconds(598) && wait <= Duration::seconds(600),
        "{wait}"
    );
    host.clock.advance(wait);
    host.send().await;
    let d = &host.deliveries("").await[0];
    assert_eq!(d["status"], "sent", "{d}");
    assert_eq!(d["receipt"], fake.dms()[0].dm_event_id.as_str());

    // The sending account's 1,000 DMs a day are spent (here: one): X's
    // reset is a day away, beyond the broadcast's lateness window, so the
    // host expires it instead of hammering X.
    fake.set_limits(200, 1);
    let late = host.broadcast(None, "給水のお知らせ").await;
    host.send().await;
    let d = &host
        .deliveries(&format!("&broadcast={}", late["id"].as_str().unwrap()))
        .await[0];
    assert_eq!(d["status"], "expired", "{d}");
    let error = d["last_error"].as_str().unwrap();
    assert!(
        error.contains("429") && error.contains("lateness window"),
        "{error}"
    );
    let refused = fake.attempts().last().unwrap().clone();
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.path,
        format!("/2/dm_conversations/with/{}/messages", x_user(1))
    );
    assert_eq!(fake.dms().len(), 1);
}

async fn app_host() -> (Host, FakeMuniApp) {
    let fake = FakeMuniApp::start().await;
    let host = host().await;
    host.put_channel(
        "app",
        json!({
            "plugin": "muni-app",
            "config": { "endpoint": fake.endpoint(), "secret": muni_app::SECRET },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    (host, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_410_invalidates_the_contact() {
    let (host, fake) = app_host().await;
    let gone = host.subscriber("ja", "app", "app-user-1", birth()).await;
    host.subscriber("ja", "app", "app-user-2", birth()).await;
    fake.gone("app-user-1");
    host.broadcast(None, "健診のお知らせ").await;
    host.send().await;

    let failed = host.deliveries("&status=failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["subscriber_id"], gone["id"]);
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("410"),
        "{}",
        failed[0]
    );
    let s = host.get_subscriber(gone["id"].as_str().unwrap()).await;
    assert_eq!(s["contacts"][0]["status"], "invalid", "{s}");
    // The next broadcast does not address it.
    let next = host.broadcast(None, "相談会のお知らせ").await;
    assert_eq!(next["deliveries"], 1);
    host.send().await;
    let notifications = fake.notifications();
    assert_eq!(notifications.len(), 2);
    assert!(
        notifications
            .iter()
            .all(|n| n.payload["data"]["recipient"] == "app-user-2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_server_errors_are_retried_with_backoff_under_the_same_webhook_id() {
    let (host, fake) = app_host().await;
    host.subscriber("ja", "app", "app-user-1", birth()).await;
    fake.fail_next(1, AppFault::Status(503));
    fake.fail_next(1, AppFault::Status(500));
    host.broadcast(None, "停電のお知らせ").await;
    host.send().await;

    // 30 s base, doubling, jittered over the upper half of each step.
    let mut waits = Vec::new();
    for attempt in 1..=2 {
        let d = &host.deliveries("").await[0];
        assert_eq!(d["status"], "pending", "{d}");
        assert_eq!(d["attempts"], attempt);
        let error = d["last_error"].as_str().unwrap();
        assert!(error.contains(["503", "500"][attempt - 1]), "{error}");
        let wait = time(d, "next_attempt_at") - host.now();
        waits.push(wait);
        host.clock.advance(wait);
        host.send().await;
    }
    assert!(
        waits[0] >= Duration::seconds(15) && waits[0] <= Duration::seconds(30),
        "{waits:?}"
    );
    assert!(
        waits[1] >= Duration::seconds(30) && waits[1] <= Duration::seconds(60),
        "{waits:?}"
    );
    let d = &host.deliveries("").await[0];
    assert_eq!(d["status"], "sent", "{d}");
    assert_eq!(d["attempts"], 3);
    let notifications = fake.notifications();
    assert_eq!(notifications.len(), 1);
    assert_eq!(d["receipt"], notifications[0].id.as_str());
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a.header("webhook-id") == d["key"].as_str()),
        "every attempt carries the delivery's key as its webhook-id"
    );
}
