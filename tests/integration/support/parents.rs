//! What the suites of the parents' pages share: a host with an email and
//! a LINE channel, signed links, the subscribers as the API shows them,
//! screenshots, and a form's CSRF pair for plain HTTP.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::{LinkClaims, LinkPurpose, LinkSigner, Locale};

use super::browser::Browser;
use super::host::{Host, TENANT, approved};
use super::platforms::line::{self, FakeLine};
use super::platforms::sendgrid::{self, FakeSendGrid};

pub const LOCALES: [Locale; 3] = [Locale::Ja, Locale::JaEasy, Locale::En];
pub const FROM: &str = "touroku@otaru.example.jp";

/// A host with an email channel `email` (the fake provider behind it) and
/// a LINE channel `line`.
pub async fn parents_host(mail: &FakeSendGrid, line_fake: &FakeLine) -> Host {
    let host = Host::start().await;
    host.put_channel(
        "email",
        json!({
            "plugin": "email",
            "config": {
                "api_key": sendgrid::API_KEY,
                "from": FROM,
                "api_base": mail.api_base(),
                "unsubscribe_url": "https://tayori.example.jp/unsubscribe?key={{key}}",
            },
            "allowed_hosts": approved(mail.addr),
        }),
    )
    .await;
    host.put_channel(
        "line",
        json!({
            "plugin": "line",
            "config": {
                "channel_access_token": line::ACCESS_TOKEN,
                "channel_secret": line::CHANNEL_SECRET,
                "api_base": line_fake.api_base(),
            },
            "allowed_hosts": approved(line_fake.addr),
        }),
    )
    .await;
    host
}

/// The host's link signer (the key it derives for links).
pub fn signer(host: &Host) -> LinkSigner {
    LinkSigner::new(host.server.launched.state.secrets.derive("links"))
}

/// A signed link's token for a contact, valid for `hours` from the host's now.
pub fn token(
    host: &Host,
    purpose: LinkPurpose,
    channel: &str,
    address: &str,
    hours: i64,
) -> String {
    signer(host).sign(&LinkClaims {
        purpose,
        tenant: TENANT.into(),
        channel: channel.into(),
        address: address.into(),
        data: String::new(),
        expires_at: host.now() + Duration::hours(hours),
    })
}

/// `token` with one character of its claims changed.
pub fn alter(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

/// Every subscriber of the tenant, as the API shows them.
pub async fn subscribers(host: &Host) -> Vec<Value> {
    let page = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/subscribers?limit=100"),
            None,
        )
        .await;
    page["items"].as_array().expect("items").clone()
}

/// The subscriber with a contact at `address`, if any.
pub async fn subscriber_at(host: &Host, address: &str) -> Option<Value> {
    subscribers(host).await.into_iter().find(|s| {
        s["contacts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["address"] == address)
    })
}

/// A screenshot of a page; the Japanese one is shown in docs/parents.md.
pub async fn shot(b: &Browser, name: &str, locale: Locale) {
    if locale == Locale::Ja {
        b.screenshot_for_docs(&format!("{name}-ja")).await;
    } else {
        b.screenshot(&format!("{name}-{locale}")).await;
    }
}

/// The form's CSRF cookie and field, as a browser gets them.
pub async fn form_pair(http: &reqwest::Client, url: &str) -> (String, String) {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            v.starts_with("tayori_form=")
                .then(|| v.split(';').next().unwrap().to_string())
        })
        .expect("the form's cookie");
    let html = response.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("the csrf field") + 19;
    let field = html[at..at + html[at..].find('"').unwrap()].to_string();
    (cookie, field)
}

pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40")))
        .collect::<Vec<_>>()
        .join("&")
}
