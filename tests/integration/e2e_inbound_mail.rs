//! Parents' mail through the running host: the provider's Inbound Parse
//! webhook (`POST /hooks/{tenant}/{channel}`, multipart/form-data, basic auth
//! with the channel's `inbound_secret`) reaches the bundled email plugin,
//! which turns it into one email event that the host keeps: only with the
//! password, once per mail however often the provider posts it, and never on
//! a channel without an inbound secret.

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::host::{Host, TENANT, approved};
use crate::support::platforms::sendgrid::{self, FakeSendGrid};

const INBOUND_SECRET: &str = "inbound-5b1e0c9a7d3f42e8";
const BOUNDARY: &str = "----sendgrid-inbound-7c2f";

/// A host with an email channel `email`, taking inbound mail when `secret`.
async fn mail_host(fake: &FakeSendGrid, secret: Option<&str>) -> Host {
    let host = Host::start().await;
    let mut config = json!({
        "api_key": sendgrid::API_KEY,
        "from": "touroku@otaru.example.jp",
        "api_base": fake.api_base(),
        "unsubscribe_url": "https://tayori.example.jp/unsubscribe?key={{key}}",
    });
    if let Some(secret) = secret {
        config["inbound_secret"] = json!(secret);
    }
    host.put_channel(
        "email",
        json!({ "plugin": "email", "config": config, "allowed_hosts": approved(fake.addr) }),
    )
    .await;
    host
}

/// The form the provider posts for a mail (its default, parsed fields).
fn inbound_form(message_id: &str, text: &str) -> Vec<u8> {
    let headers = format!(
        "Message-ID: <{message_id}>\r\nDate: Sun, 6 Dec 2026 21:40:00 +0900\r\nFrom: hanako@example.jp\r\nTo: touroku@otaru.example.jp\r\nSubject: =?UTF-8?B?55m76Yyy?=\r\n"
    );
    let fields: [(&str, &str); 6] = [
        ("headers", &headers),
        ("from", "山田 花子 <Hanako@example.jp>"),
        ("to", "touroku@otaru.example.jp"),
        ("subject", "登録"),
        ("text", text),
        (
            "envelope",
            r#"{"to":["touroku@otaru.example.jp"],"from":"hanako@example.jp"}"#,
        ),
    ];
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"charsets\"\r\n\r\n{}\r\n--{BOUNDARY}--\r\n",
        r#"{"to":"UTF-8","subject":"UTF-8","text":"UTF-8","from":"UTF-8"}"#
    ));
    body.into_bytes()
}

/// POSTs a form as the provider does, with `password` in basic auth.
async fn post(host: &Host, password: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(host.hook_url("email"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    if let Some(password) = password {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("inbound:{password}"));
        request = request.header("authorization", format!("Basic {basic}"));
    }
    request.send().await.expect("the provider's POST is sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parents_mail_is_kept_once_and_only_with_the_password() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake, Some(INBOUND_SECRET)).await;
    let form = inbound_form(
        "CAF=blank-1@mail.example.jp",
        "登録したいです\r\n> 前のメール",
    );

    for password in [None, Some("inbound-wrong-password")] {
        let response = post(&host, password, form.clone()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{password:?}");
    }
    assert!(
        host.inbound().await.is_empty(),
        "nothing kept without the password"
    );

    let response = post(&host, Some(INBOUND_SECRET), form.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The provider posts the same mail again (it retries after a timeout).
    let again = post(&host, Some(INBOUND_SECRET), form).await;
    assert_eq!(again.status(), StatusCode::OK);

    let events: Vec<Value> = host.inbound().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["channel"], "email");
    assert_eq!(event["event_id"], "CAF=blank-1@mail.example.jp");
    assert_eq!(event["address"], "hanako@example.jp");
    assert_eq!(event["kind"], "text");
    // The subject, then what the parent wrote, without the quoted mail.
    assert_eq!(event["data"], "登録\n\n登録したいです");
    // The mail's own Date (21:40 JST), not the time it arrived.
    assert_eq!(event["occurred_at"], "2026-12-06T12:40:00Z");
    assert_eq!(event["action"], "recorded");

    // The mail is answered once, with a signed link to the form for that
    // address, through the same channel.
    let link = link_in_answer(&fake, 1).await;
    assert!(
        link.starts_with(&host.server.url(&format!("/r/{TENANT}?t="))),
        "{link}"
    );
    assert_eq!(fake.mails().len(), 1, "one answer for a mail posted twice");
}

/// Waits for the `n`th mail the fake accepted and gives the link in it.
async fn link_in_answer(fake: &FakeSendGrid, n: usize) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(30), fake.received(n))
        .await
        .expect("the host answered the mail");
    let mails = fake.mails();
    let mail = mails.get(n - 1).expect("an accepted mail");
    assert_eq!(mail.recipients(), vec!["hanako@example.jp".to_string()]);
    mail.first_link()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_mail_gets_a_link_that_registers_that_address() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake, Some(INBOUND_SECRET)).await;
    let response = post(
        &host,
        Some(INBOUND_SECRET),
        inbound_form("blank-3@mail.example.jp", ""),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = link_in_answer(&fake, 1).await;

    // The link's form knows the address: it asks only for the date.
    let client = reqwest::Client::new();
    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("the form's cookie")
        .to_string();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("hanako@example.jp"),
        "the form names the address"
    );
    assert!(!html.contains("id=\"email\""), "and does not ask for one");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's CSRF field")
        .to_string();
    let token = link.split("t=").nth(1).expect("the token").to_string();
    let sent = client
        .post(host.server.url(&format!("/r/{TENANT}")))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("t", token.as_str()),
            ("stage", "born"),
            ("year", "2027"),
            ("month", "1"),
            ("day", "1"),
            ("locale", "ja"),
            ("consent", "yes"),
        ])
        .send()
        .await
        .unwrap();
    let status = sent.status();
    let answer = sent.text().await.unwrap();
    assert!(status.is_success(), "{status}: {answer}");
    let page = host
        .call(
            reqwest::Method::GET,
            &format!("/v1/tenants/{TENANT}/subscribers?limit=10"),
            None,
        )
        .await;
    let registered = &page["items"][0];
    assert_eq!(registered["contacts"][0]["channel"], "email");
    assert_eq!(registered["contacts"][0]["address"], "hanako@example.jp");
    assert_eq!(registered["children"][0]["birth_date"], "2027-01-01");

    // A mail from the registered address gets the way to what is
    // registered instead.
    post(
        &host,
        Some(INBOUND_SECRET),
        inbound_form("blank-4@mail.example.jp", ""),
    )
    .await;
    let manage = link_in_answer(&fake, 2).await;
    assert!(manage.starts_with(&host.server.url("/m/")), "{manage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_without_an_inbound_secret_takes_no_mail() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake, None).await;
    let response = post(
        &host,
        Some(INBOUND_SECRET),
        inbound_form("m-2@example.jp", "hi"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(host.inbound().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbound_secret_is_write_only_and_checked() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake, Some(INBOUND_SECRET)).await;
    let shown = host.channel("email").await.to_string();
    assert!(!shown.contains(INBOUND_SECRET), "{shown}");

    let short = host
        .request(
            reqwest::Method::PUT,
            &format!("/v1/tenants/{TENANT}/channels/email"),
            Some(json!({
                "plugin": "email",
                "config": {
                    "api_key": sendgrid::API_KEY,
                    "from": "touroku@otaru.example.jp",
                    "api_base": fake.api_base(),
                    "unsubscribe_url": "https://tayori.example.jp/unsubscribe?key={{key}}",
                    "inbound_secret": "short",
                },
                "allowed_hosts": approved(fake.addr),
            })),
        )
        .await;
    assert_eq!(short.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", short.1);
    assert!(
        short.1.to_string().contains("inbound_secret"),
        "{}",
        short.1
    );
}
