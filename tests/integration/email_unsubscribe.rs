//! Every email carries Tayori's own one-click stop link (RFC 8058), served
//! by the host itself: the bundled `email` plugin, sending through the
//! running host to the SendGrid fake, puts `List-Unsubscribe:
//! <{public_url}/u/{token}>` and `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click` in each recipient's headers (never the
//! channel's own template while the host gives its link). A mail client's
//! POST of `List-Unsubscribe=One-Click` (no cookie, no page) stops that
//! contact at once, and nothing more reaches it, while the household's
//! other contact keeps its messages; a GET shows the stop page and changes
//! nothing; a link works long after its mail was sent. The same link
//! ends the text of every mail, each reader's own, and its page leads to
//! the household's self-service page.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::{LinkPurpose, LinkSigner, Locale};
use tayori_parents::text::texts;

use crate::support::host::{Host, TENANT, approved, born_five_days_ago, jst, today};
use crate::support::platforms::sendgrid::{self, FakeSendGrid, SentMail};
use crate::support::server::TestServer;

/// The channel's name (not its plugin's id: links name the channel).
const CHANNEL: &str = "kosodate-mail";
const MOTHER: &str = "mother@example.jp";
const FATHER: &str = "father@example.ne.jp";

/// The email channel `CHANNEL` in front of the fake, with a template of
/// its own (which the host's link replaces).
fn mail_channel(fake: &FakeSendGrid) -> Value {
    json!({
        "plugin": "email",
        "config": {
            "api_key": sendgrid::API_KEY,
            "from": "kosodate@city.otaru.example.jp",
            "api_base": fake.api_base(),
            "unsubscribe_url": "https://city.otaru.example.jp/unsubscribe?key={{key}}",
        },
        "allowed_hosts": approved(fake.addr),
    })
}

/// One household, both parents' email addresses, a child born five days
/// ago (today's message is the demo catalog's `child-day-005`).
fn household_body() -> Value {
    json!({
        "locale": "ja",
        "contacts": [
            {"channel": CHANNEL, "address": MOTHER},
            {"channel": CHANNEL, "address": FATHER},
        ],
        "children": [{"birth_date": born_five_days_ago().to_string()}],
    })
}

/// A host (planner and dispatcher run by hand) with the mail channel.
async fn mail_host(fake: &FakeSendGrid) -> Host {
    let host = Host::start().await;
    host.put_channel(CHANNEL, mail_channel(fake)).await;
    host
}

/// The household registered; its id.
async fn household(host: &Host) -> String {
    let created = host
        .call(
            Method::POST,
            &format!("/v1/tenants/{TENANT}/subscribers"),
            Some(household_body()),
        )
        .await;
    created["id"].as_str().expect("an id").to_string()
}

/// The personalization of `mail` to `address`.
fn personalization<'a>(mail: &'a SentMail, address: &str) -> Option<&'a Value> {
    mail.body["personalizations"]
        .as_array()
        .expect("personalizations")
        .iter()
        .find(|p| p["to"][0]["email"] == address)
}

/// The stop link `mail` gives `address`, checked to be the host's own
/// one-click link: `<{public_url}/u/{token}>` with the RFC 8058 POST header.
fn stop_link(host: &Host, mail: &SentMail, address: &str) -> String {
    served_stop_link(&host.server, mail, address)
}

/// [`stop_link`] for any running server.
fn served_stop_link(server: &TestServer, mail: &SentMail, address: &str) -> String {
    let p = personalization(mail, address).unwrap_or_else(|| panic!("no mail to {address}"));
    assert_eq!(
        p["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click",
        "{p}"
    );
    let header = p["headers"]["List-Unsubscribe"]
        .as_str()
        .unwrap_or_else(|| panic!("no List-Unsubscribe: {p}"));
    let link = header
        .strip_prefix('<')
        .and_then(|h| h.strip_suffix('>'))
        .unwrap_or_else(|| panic!("not <URL>: {header}"));
    assert!(
        link.starts_with(&server.url("/u/")),
        "Tayori's own link, not the channel's template: {link}"
    );
    link.to_string()
}

/// The id of the household's contact at `address`.
async fn contact_id(host: &Host, id: &str, address: &str) -> String {
    contact(host, id, address).await["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

/// The household's contact at `address`, as the API shows it.
async fn contact(host: &Host, id: &str, address: &str) -> Value {
    let subscriber = host.get_subscriber(id).await;
    subscriber["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("no contact {address}: {subscriber}"))
        .clone()
}

/// The contact's status (`valid`, `invalid`) as the API shows it.
async fn status(host: &Host, id: &str, address: &str) -> String {
    contact(host, id, address).await["status"]
        .as_str()
        .expect("a status")
        .to_string()
}

/// What a mail client posts for a one-click stop: that body, no cookie.
async fn one_click(link: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("a one-click POST")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_carries_tayoris_own_stop_link_and_its_one_click_post_stops_that_contact() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake).await;
    let id = household(&host).await;

    // Today's message: one mail, each parent with a link of their own.
    host.plan_and_send().await;
    let mails = fake.mails();
    assert_eq!(mails.len(), 1, "today's message, one request");
    let mine = stop_link(&host, &mails[0], MOTHER);
    let theirs = stop_link(&host, &mails[0], FATHER);
    assert_ne!(mine, theirs, "each contact has its own link");
    // The link the parents' pages accept: this tenant, channel and
    // contact, for a long while.
    let signer = LinkSigner::new(host.server.launched.state.secrets.derive("links"));
    let token = mine.rsplit('/').next().expect("a token");
    let claims = signer
        .verify(token, LinkPurpose::Unsubscribe, host.now())
        .expect("a stop link signed by the host");
    assert_eq!(
        (claims.tenant.as_str(), claims.channel.as_str()),
        (TENANT, CHANNEL)
    );
    assert_eq!(claims.address, MOTHER);
    assert!(
        claims.expires_at >= host.now() + Duration::days(365),
        "a mail is read late: {}",
        claims.expires_at
    );

    // A GET (a mail scanner, a parent's browser) shows the stop page and
    // stops nothing.
    let page = reqwest::get(&mine).await.expect("the stop page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        page.headers()
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(texts(Locale::Ja).stop_title), "{html}");
    assert!(html.contains(MOTHER), "the page names the contact: {html}");
    assert_eq!(status(&host, &id, MOTHER).await, "valid");

    // The mail client's one-click POST stops that contact at once.
    let stopped = one_click(&mine).await;
    assert_eq!(stopped.status(), StatusCode::OK);
    assert_eq!(status(&host, &id, MOTHER).await, "invalid");
    assert_eq!(
        status(&host, &id, FATHER).await,
        "valid",
        "only that contact"
    );

    // A broadcast, then tomorrow's message: nothing more for her, the
    // household's other contact still gets both.
    let broadcast = host
        .broadcast(
            Some("臨時休館のお知らせ"),
            "子育て支援センターは本日臨時休館します。",
        )
        .await;
    assert_eq!(broadcast["deliveries"], 1, "{broadcast}");
    host.send().await;
    host.clock.advance(Duration::days(1));
    host.plan_and_send().await;
    let mails = fake.mails();
    assert_eq!(mails.len(), 3, "today's, the broadcast and tomorrow's");
    for mail in &mails[1..] {
        assert_eq!(mail.recipients(), [FATHER], "{}", mail.body);
        stop_link(&host, mail, FATHER);
    }
    let to_broadcast: Vec<Value> = host
        .deliveries("")
        .await
        .into_iter()
        .filter(|d| d["broadcast_id"] == broadcast["id"])
        .collect();
    assert_eq!(to_broadcast.len(), 1, "{to_broadcast:#?}");
    assert_eq!(
        to_broadcast[0]["contact_id"],
        contact_id(&host, &id, FATHER).await.as_str()
    );

    // Posting again: nothing more to stop, still 200.
    assert_eq!(one_click(&mine).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_ends_with_its_readers_own_link_to_stop_or_change_the_registration() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake).await;
    let id = household(&host).await;
    host.plan_and_send().await;
    let mails = fake.mails();
    assert_eq!(mails.len(), 1);
    for address in [MOTHER, FATHER] {
        // As each parent reads it: the message, then their own link.
        let text = mails[0].text_for(address);
        let link = stop_link(&host, &mails[0], address);
        assert!(
            text.ends_with(&format!(
                "\n--\n配信の停止・登録内容の変更はこちら:\n{link}\n"
            )),
            "{text}"
        );
        assert!(!text.contains("%tayori_stop%"), "{text}");
    }
    let html = mails[0].body["content"][1]["value"].as_str().unwrap();
    assert!(html.contains("<a href=\"%tayori_stop%\">"), "{html}");

    // The link's page leads to what is registered, where the parent
    // changes it without stopping anything.
    let link = stop_link(&host, &mails[0], MOTHER);
    let page = reqwest::get(&link).await.unwrap().text().await.unwrap();
    let manage = page
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("/m/"))
        .unwrap_or_else(|| panic!("no link to the registration page: {page}"))
        .replace("&amp;", "&");
    let manage = if manage.starts_with("http") {
        manage
    } else {
        host.server.url(&manage)
    };
    let registration = reqwest::get(&manage).await.unwrap();
    assert_eq!(registration.status(), StatusCode::OK);
    let registration = registration.text().await.unwrap();
    assert!(
        registration.contains(texts(Locale::Ja).manage_title),
        "{registration}"
    );
    assert_eq!(status(&host, &id, MOTHER).await, "valid", "nothing stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_link_works_when_its_mail_is_read_a_year_later_but_not_forever() {
    let fake = FakeSendGrid::start().await;
    let host = mail_host(&fake).await;
    let id = household(&host).await;
    host.plan_and_send().await;
    let mails = fake.mails();
    let (his, hers) = (
        stop_link(&host, &mails[0], FATHER),
        stop_link(&host, &mails[0], MOTHER),
    );

    host.clock.advance(Duration::days(400));
    assert_eq!(one_click(&his).await.status(), StatusCode::OK);
    assert_eq!(status(&host, &id, FATHER).await, "invalid");
    assert_eq!(status(&host, &id, MOTHER).await, "valid");

    // Past its time, a link stops nothing (the parent is told so).
    host.clock.advance(Duration::days(400));
    assert_eq!(one_click(&hers).await.status(), StatusCode::GONE);
    assert_eq!(status(&host, &id, MOTHER).await, "valid");
}

/// A request with the operator token that must succeed; its JSON body.
async fn call(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = server.op(method.clone(), path);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.expect("a request to the host");
    let status = response.status();
    let text = response.text().await.expect("an answer");
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Waits (boundedly) until the fake has received `n` requests.
async fn mails_received(fake: &FakeSendGrid, n: usize) -> Vec<SentMail> {
    tokio::time::timeout(std::time::Duration::from_secs(30), fake.received(n))
        .await
        .unwrap_or_else(|_| panic!("the fake did not receive {n} requests: {:?}", fake.mails()));
    fake.mails()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_scheduler_running_a_one_click_stop_ends_that_contacts_mail_at_once() {
    // `tayori serve` as it runs (planner and dispatcher on), on a clock at
    // 09:01 of the suites' day.
    let fake = FakeSendGrid::start().await;
    let host = Host::start_running_at(jst(today(), 9, 1)).await;
    let server = &host.server;
    call(
        &server,
        Method::PUT,
        &format!("/v1/tenants/{TENANT}/channels/{CHANNEL}"),
        Some(mail_channel(&fake)),
    )
    .await;
    let created = call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(household_body()),
    )
    .await;
    let id = created["id"].as_str().expect("an id").to_string();

    // The planner plans today's message on its own, the dispatcher sends it.
    let mails = mails_received(&fake, 1).await;
    let hers = served_stop_link(&server, &mails[0], MOTHER);
    served_stop_link(&server, &mails[0], FATHER);
    assert_eq!(one_click(&hers).await.status(), StatusCode::OK);
    let subscriber = call(
        &server,
        Method::GET,
        &format!("/v1/tenants/{TENANT}/subscribers/{id}"),
        None,
    )
    .await;
    let statuses: Vec<(&str, &str)> = subscriber["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(statuses.contains(&(MOTHER, "invalid")), "{statuses:?}");
    assert!(statuses.contains(&(FATHER, "valid")), "{statuses:?}");

    let broadcast = call(
        &server,
        Method::POST,
        &format!("/v1/tenants/{TENANT}/broadcasts"),
        Some(json!({"content": {"subject": "断水", "body": "明日9時から断水します。"}, "audience": {}})),
    )
    .await;
    assert_eq!(broadcast["deliveries"], 1, "{broadcast}");
    let mails = mails_received(&fake, 2).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[1].recipients(), [FATHER], "{}", mails[1].body);
    assert_eq!(mails[1].body["subject"], "断水");
    host.server.stop().await;
}
