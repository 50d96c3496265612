//! LINE's webhooks through the running host (`POST /hooks/{tenant}/{channel}`),
//! sent by the LINE fake as LINE sends them (shaped per `webhook.yml`,
//! signed with the channel secret): only a valid signature gets events in,
//! whatever the body says; each event type does what it should (an unfollow
//! invalidates the contact and cancels what was pending for it, an
//! unblocking follow asks whether to resume and a yes brings it back, the
//! rest is listed for registration);
//! a redelivered event is handled once; and addresses that lead nowhere
//! answer without saying why.

use base64::Engine as _;
use hmac::Mac as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::chat::{data_of, said};
use crate::support::host::{Host, TENANT, approved, born_five_days_ago, jst, today};
use crate::support::platforms::line::{self, FakeLine};

fn user(i: usize) -> String {
    format!("U{:032x}", 0x0b00_0000 + i)
}

/// A host at 08:00 with a full-mode LINE channel and one household whose
/// day's message is planned (due at 09:00): (host, fake, subscriber).
async fn line_host() -> (Host, FakeLine, Value) {
    let fake = FakeLine::start().await;
    let host = Host::start_at(jst(today(), 8, 0)).await;
    host.put_line_channel(&fake).await;
    let subscriber = host
        .subscriber("ja", "line", &user(1), born_five_days_ago())
        .await;
    host.plan_and_send().await;
    assert_eq!(host.deliveries("&status=pending").await.len(), 1);
    (host, fake, subscriber)
}

/// POSTs `body` to the hook with these headers (no token: platforms have none).
async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the webhook is sent")
}

async fn contact_status(host: &Host, subscriber: &Value) -> String {
    let s = host
        .get_subscriber(subscriber["id"].as_str().unwrap())
        .await;
    s["contacts"][0]["status"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_valid_signature_gets_events_in() {
    let (host, fake, subscriber) = line_host().await;
    let url = host.hook_url("line");
    let body = fake.callback(vec![fake.unfollow(&user(1))]);
    let json_type = ("content-type", "application/json; charset=utf-8");

    // Missing, malformed, made with another secret, or over a body changed
    // after signing: 401, LINE's plugin's own answer, and nothing happens.
    let other_secret = {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"another channel's secret")
            .expect("any key");
        mac.update(&body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let signed = FakeLine::signature(&body);
    // (case, headers, body, LINE's plugin's message)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "missing",
            vec![json_type],
            body.clone(),
            "missing x-line-signature",
        ),
        (
            "not base64",
            vec![json_type, ("x-line-signature", "not base64!")],
            body.clone(),
            "invalid x-line-signature",
        ),
        (
            "another secret",
            vec![json_type, ("x-line-signature", other_secret.as_str())],
            body.clone(),
            "invalid x-line-signature",
        ),
        (
            "tampered",
            vec![json_type, ("x-line-signature", signed.as_str())],
            tampered,
            "invalid x-line-signature",
        ),
    ];
    for (case, headers, bytes, message) in cases {
        let response = post(&url, &headers, bytes).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer, json!({ "message": message }), "{case}");
    }
    assert!(host.inbound().await.is_empty());
    assert_eq!(contact_status(&host, &subscriber).await, "valid");
    assert_eq!(host.deliveries("&status=pending").await.len(), 1);

    // Signed as LINE signs it: in.
    let response = FakeLine::post_webhook(&url, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(contact_status(&host, &subscriber).await, "invalid");
    let events = host.inbound().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "contact_invalidated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_type_is_acted_on_or_listed() {
    let (host, fake, subscriber) = line_host().await;
    let url = host.hook_url("line");
    let sid = subscriber["id"].as_str().unwrap();
    let contact = subscriber["contacts"][0]["id"].as_str().unwrap();
    let sent = vec![
        fake.follow(&user(9), false),
        fake.text(&user(1), "出産しました"),
        fake.postback(&user(1), "action=report-birth&child=1"),
        fake.unfollow(&user(1)),
    ];
    let response = FakeLine::post_webhook(&url, fake.callback(sent.clone())).await;
    assert_eq!(response.status(), StatusCode::OK);

    let events = host.inbound().await;
    let got: Vec<(&str, &str, &str, Value, Value)> = events
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap(),
                e["kind"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["data"].clone(),
                e["subscriber_id"].clone(),
            )
        })
        .collect();
    let id = |i: usize| sent[i]["webhookEventId"].as_str().unwrap();
    assert_eq!(
        got,
        [
            (id(0), "follow", "recorded", Value::Null, Value::Null),
            (id(1), "text", "recorded", json!("出産しました"), json!(sid)),
            (
                id(2),
                "postback",
                "recorded",
                json!("action=report-birth&child=1"),
                json!(sid)
            ),
            (
                id(3),
                "unfollow",
                "contact_invalidated",
                Value::Null,
                json!(sid)
            ),
        ]
    );
    assert_eq!(events[0]["address"], user(9).as_str());
    assert_eq!(events[3]["contact_id"], contact);
    assert_eq!(
        events[3]["occurred_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .timestamp_millis(),
        sent[3]["timestamp"].as_i64().unwrap()
    );

    // Blocked: the day's message is cancelled and nothing goes to LINE.
    assert_eq!(contact_status(&host, &subscriber).await, "invalid");
    let cancelled = host.deliveries("&status=cancelled").await;
    assert_eq!(cancelled.len(), 1);
    host.clock.set(jst(today(), 9, 1));
    host.send().await;
    // (The chat's own answers go as replies, on the events' tokens.)
    assert!(
        fake.accepted().iter().all(|a| a.api == line::Api::Reply),
        "nothing pushed to a blocked contact"
    );

    // Unblocked: asked whether to resume, valid again only on yes, and the
    // next broadcast reaches the parent.
    let offer = said(&host, &fake, vec![fake.follow(&user(1), true)]).await;
    assert_eq!(contact_status(&host, &subscriber).await, "invalid");
    let events = host.inbound().await;
    assert_eq!(events.len(), 5);
    assert_eq!(events[4]["action"], "recorded");
    assert_eq!(events[4]["unblocked"], true);
    let yes = data_of(&offer, "再開する");
    said(&host, &fake, vec![fake.postback(&user(1), &yes)]).await;
    assert_eq!(contact_status(&host, &subscriber).await, "valid");
    let broadcast = host.broadcast(None, "おかえりなさい").await;
    assert_eq!(broadcast["deliveries"], 1);
    host.send().await;
    let accepted: Vec<_> = fake
        .accepted()
        .into_iter()
        .filter(|a| a.api != line::Api::Reply)
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].to, [user(1)]);

    // The list is the tenant's: its admins read it, others do not.
    let path = format!("/v1/tenants/{TENANT}/inbound");
    let token = host
        .call(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "tenant_admin", "tenant": TENANT})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "sapporo", "name": "札幌市"})),
    )
    .await;
    let stranger = host
        .call(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "tenant_admin", "tenant": "sapporo"})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let own = http
        .get(host.server.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let own: Value = own.json().await.unwrap();
    assert_eq!(
        own["items"].as_array().unwrap().len(),
        6,
        "with the yes to resuming"
    );
    let other = http
        .get(host.server.url(&path))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    let anonymous = http.get(host.server.url(&path)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (status, answer) = host
        .request(Method::GET, &format!("{path}?cursor=nonsense"), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_handled_once() {
    let (host, fake, subscriber) = line_host().await;
    let url = host.hook_url("line");
    let unfollow = fake.unfollow(&user(1));
    let body = fake.callback(vec![unfollow.clone()]);
    // The same request twice (LINE did not hear the first answer).
    for _ in 0..2 {
        let response = FakeLine::post_webhook(&url, body.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(host.inbound().await.len(), 1);
    assert_eq!(contact_status(&host, &subscriber).await, "invalid");

    // The parent unblocks and says yes to messages again; then LINE
    // redelivers the old unfollow (same webhookEventId, isRedelivery): it
    // is recognised, and the contact stays valid.
    let offer = said(&host, &fake, vec![fake.follow(&user(1), true)]).await;
    let yes = data_of(&offer, "再開する");
    said(&host, &fake, vec![fake.postback(&user(1), &yes)]).await;
    assert_eq!(contact_status(&host, &subscriber).await, "valid");
    let redelivered = FakeLine::redelivered(&unfollow);
    assert_eq!(redelivered["deliveryContext"]["isRedelivery"], true);
    let response = FakeLine::post_webhook(&url, fake.callback(vec![redelivered])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(contact_status(&host, &subscriber).await, "valid");
    let events = host.inbound().await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["contact_invalidated", "recorded", "recorded"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_that_lead_nowhere_say_nothing_more() {
    let (host, fake, _) = line_host().await;
    host.put_channel(
        "line-push",
        json!({
            "plugin": "line",
            "config": {
                "channel_access_token": line::ACCESS_TOKEN,
                "mode": "push_only",
                "api_base": fake.api_base(),
            },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    host.put_channel(
        "kanameto",
        json!({
            "plugin": "kanameto",
            "config": { "channel_access_token": line::ACCESS_TOKEN, "api_base": fake.api_base() },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    let body = fake.callback(vec![fake.unfollow(&user(1))]);

    // No such tenant, no such channel: one answer for both.
    let mut answers = Vec::new();
    for path in [
        "/hooks/nowhere/line".to_string(),
        format!("/hooks/{TENANT}/nowhere"),
    ] {
        let response = FakeLine::post_webhook(&host.server.url(&path), body.clone()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        answers.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0]["error"]["code"], "not_found");

    // Channels whose plugin takes no webhook here answer what it answers:
    // a bare 404 (LINE in push_only mode: someone else owns the webhook;
    // KANAMETO: its plugin has none).
    for channel in ["line-push", "kanameto"] {
        let response = FakeLine::post_webhook(&host.hook_url(channel), body.clone()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{channel}");
        assert!(response.bytes().await.unwrap().is_empty(), "{channel}");
    }
    assert!(host.inbound().await.is_empty());

    // Too large, or not a POST.
    let large = vec![b' '; tayori_api::hooks::MAX_WEBHOOK_BODY + 1];
    let response = FakeLine::post_webhook(&host.hook_url("line"), large).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "too_large");
    let response = reqwest::Client::new()
        .get(host.hook_url("line"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_is_refused_alone_and_the_rest_of_the_batch_takes_effect() {
    let (host, fake, subscriber) = line_host().await;
    let unfollow = fake.unfollow(&user(1));
    let bad_text = fake.text(&user(2), "予定日は\u{0}5月です");
    let body = fake.callback(vec![unfollow.clone(), bad_text.clone()]);
    let response = FakeLine::post_webhook(&host.hook_url("line"), body).await;
    assert_eq!(response.status(), StatusCode::OK);

    // The unfollow is applied; the text is kept as refused, with why, and
    // without its words.
    assert_eq!(contact_status(&host, &subscriber).await, "invalid");
    assert!(host.deliveries("&status=pending").await.is_empty());
    let inbound = host.inbound().await;
    assert_eq!(inbound.len(), 2, "{inbound:#?}");
    assert_eq!(inbound[0]["action"], "contact_invalidated");
    assert_eq!(inbound[0]["reason"], Value::Null);
    assert_eq!(inbound[1]["kind"], "text");
    assert_eq!(inbound[1]["action"], "refused");
    assert_eq!(inbound[1]["reason"], "the data contains a NUL character");
    assert_eq!(inbound[1]["data"], Value::Null);
    assert_eq!(inbound[1]["event_id"], bad_text["webhookEventId"]);

    // LINE redelivers the batch: 200 again, and nothing more happens.
    let again = fake.callback(vec![
        FakeLine::redelivered(&unfollow),
        FakeLine::redelivered(&bad_text),
    ]);
    let response = FakeLine::post_webhook(&host.hook_url("line"), again).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(host.inbound().await, inbound);
}
