//! Each bundled plugin end to end through the running host: the channel is
//! configured through the API against the platform's fake, households
//! register through the API (KANAMETO's by CSV import, as they arrive from
//! KANAMETO's export), the day's catalog message (the demo catalog's
//! `child-day-005`, for children born five days ago) and a broadcast go
//! out, the fake checks every request against the platform's published
//! API, and every delivery ends `sent` with the platform's id as its
//! receipt and the plugin version that sent it.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::host::{Host, TENANT, TENANT_NAME, approved, born_five_days_ago};
use crate::support::platforms::line::{self, Api, FakeLine};
use crate::support::platforms::muni_app::{self, FakeMuniApp};
use crate::support::platforms::sendgrid::{self, FakeSendGrid};
use crate::support::platforms::x::{self, FakeX};

/// The text of the day's catalog message in Japanese, as the demo catalog
/// has it: subject, then the body signed with the tenant's name.
const SUBJECT: &str = "生後5日";
const BODY_START: &str = "生後5日です。生まれたばかりの赤ちゃんは一日の多くを眠って過ごします。";

/// A delivery with the address it went to.
struct Sent {
    delivery: Value,
    address: String,
}

impl Sent {
    fn key(&self) -> &str {
        self.delivery["key"].as_str().expect("a key")
    }

    fn receipt(&self) -> &str {
        self.delivery["receipt"]
            .as_str()
            .unwrap_or_else(|| panic!("no receipt: {}", self.delivery))
    }

    fn scheduled(&self) -> bool {
        self.delivery["kind"] == "scheduled"
    }
}

/// Plans and sends today (each household's child gets `child-day-005`),
/// then broadcasts and sends. Every delivery must end sent, with a receipt
/// and the channel's plugin version; answers them with their addresses.
async fn a_day(host: &Host, channel: &str, subject: Option<&str>, body: &str) -> Vec<Sent> {
    host.plan_and_send().await;
    let broadcast = host.broadcast(subject, body).await;
    host.send().await;

    let resolved = host.channel(channel).await["resolved_version"].clone();
    assert!(resolved.is_string(), "the plugin is loaded: {resolved}");
    let page = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/subscribers?limit=500"),
            None,
        )
        .await;
    let addresses: HashMap<String, String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["contacts"].as_array().unwrap().clone())
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let all = host.deliveries("").await;
    assert_eq!(
        all.len(),
        2 * addresses.len(),
        "a catalog message and a broadcast for each contact: {all:#?}"
    );
    assert_eq!(broadcast["deliveries"], addresses.len());
    all.into_iter()
        .map(|d| {
            assert_eq!(d["status"], "sent", "{d}");
            assert_eq!(d["channel"], channel);
            assert_eq!(d["plugin_version"], resolved, "{d}");
            assert_eq!(d["attempts"], 1, "{d}");
            if d["kind"] == "scheduled" {
                assert_eq!(d["message_id"], "child-day-005");
            } else {
                assert_eq!(d["broadcast_id"], broadcast["id"]);
            }
            let address = addresses[d["contact_id"].as_str().unwrap()].clone();
            Sent {
                delivery: d,
                address,
            }
        })
        .collect()
}

fn line_user(i: usize) -> String {
    format!("U{:032x}", 0x0e2e_0000 + i)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_pushes_each_delivery_with_its_key_as_the_retry_key() {
    let fake = FakeLine::start().await;
    let host = Host::start().await;
    host.put_line_channel(&fake).await;
    for i in 1..=2 {
        host.subscriber("ja", "line", &line_user(i), born_five_days_ago())
            .await;
    }
    let sent = a_day(
        &host,
        "line",
        None,
        "大雪のため本日の4か月健診は中止します。",
    )
    .await;

    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 4, "one push per delivery, none twice");
    assert_eq!(fake.attempts().len(), 4);
    for s in &sent {
        let push = accepted
            .iter()
            .find(|a| a.retry_key.as_deref() == Some(s.key()))
            .unwrap_or_else(|| panic!("no push has the retry key {}", s.key()));
        assert_eq!(push.api, Api::Push);
        assert_eq!(push.to, std::slice::from_ref(&s.address));
        assert_eq!(s.receipt(), push.message_ids.join(","));
        let text = push.texts.join("\n");
        if s.scheduled() {
            assert!(
                text.starts_with(&format!("{SUBJECT}\n\n{BODY_START}")),
                "{text}"
            );
            assert!(text.ends_with(TENANT_NAME), "{text}");
        } else {
            assert_eq!(text, "大雪のため本日の4か月健診は中止します。");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kanameto_pushes_to_households_imported_from_kanametos_export() {
    let fake = FakeLine::start().await;
    let host = Host::start().await;
    host.put_channel(
        "kanameto",
        json!({
            "plugin": "kanameto",
            "config": {
                "channel_access_token": line::ACCESS_TOKEN,
                "api_base": fake.api_base(),
            },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    // KANAMETO's export, as the municipality converts it for the import.
    let csv = format!(
        "external_id,locale,channel,address,due_date,birth_date\n\
         K-0001,ja,kanameto,{},,{born}\n\
         K-0002,ja-easy,kanameto,{},,{born}\n",
        line_user(11),
        line_user(12),
        born = born_five_days_ago()
    );
    let response = host
        .server
        .op(
            Method::POST,
            &format!("/v1/tenants/{TENANT}/subscribers/import"),
        )
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let imported: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{status} {imported}");

    let sent = a_day(&host, "kanameto", Some("断水"), "明日9時から断水します。").await;
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 4);
    for s in &sent {
        let push = accepted
            .iter()
            .find(|a| a.retry_key.as_deref() == Some(s.key()))
            .unwrap_or_else(|| panic!("no push has the retry key {}", s.key()));
        assert_eq!(push.api, Api::Push);
        assert_eq!(push.to, std::slice::from_ref(&s.address));
        assert_eq!(s.receipt(), push.message_ids.join(","));
        if !s.scheduled() {
            assert_eq!(push.texts, ["断水\n\n明日9時から断水します。"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_sends_a_batch_as_one_mail_with_a_personalization_each() {
    let fake = FakeSendGrid::start().await;
    let host = Host::start().await;
    host.put_channel(
        "email",
        json!({
            "plugin": "email",
            "config": {
                "api_key": sendgrid::API_KEY,
                "from": "kosodate@city.otaru.example.jp",
                "from_name": "おたる子育て便り",
                "reply_to": "soudan@city.otaru.example.jp",
                "api_base": fake.api_base(),
                "unsubscribe_url": "https://tayori.example.jp/unsubscribe?key={{key}}",
            },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    for who in ["mother@example.jp", "father@example.ne.jp"] {
        host.subscriber("ja", "email", who, born_five_days_ago())
            .await;
    }
    let sent = a_day(
        &host,
        "email",
        Some("臨時休館のお知らせ"),
        "子育て支援センターは本日臨時休館します。",
    )
    .await;

    let mails = fake.mails();
    assert_eq!(
        mails.len(),
        2,
        "the catalog message and the broadcast, each one request"
    );
    assert_eq!(fake.attempts().len(), 2);
    for s in &sent {
        let (mail, p) = mails
            .iter()
            .find_map(|m| {
                m.body["personalizations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["custom_args"]["tayori_key"] == s.key())
                    .map(|p| (m, p))
            })
            .unwrap_or_else(|| panic!("no personalization carries {}", s.key()));
        assert_eq!(p["to"][0]["email"], s.address.as_str());
        // Tayori's own one-click stop link, not the channel's template.
        let stop = p["headers"]["List-Unsubscribe"].as_str().unwrap();
        assert!(
            stop.starts_with(&format!("<{}", host.server.url("/u/"))),
            "{stop}"
        );
        assert_eq!(
            p["headers"]["List-Unsubscribe-Post"],
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(s.receipt(), mail.message_id);
        assert_eq!(mail.body["personalizations"].as_array().unwrap().len(), 2);
        assert_eq!(mail.body["from"]["email"], "kosodate@city.otaru.example.jp");
        // As the parent reads it: the message, then their own stop link.
        let text = mail.text_for(&s.address);
        let stop = stop.trim_start_matches('<').trim_end_matches('>');
        let message = text
            .strip_suffix(&format!(
                "\n\n--\n配信の停止・登録内容の変更はこちら:\n{stop}\n"
            ))
            .unwrap_or_else(|| panic!("no stop link of their own at the end: {text}"));
        if s.scheduled() {
            assert_eq!(mail.body["subject"], SUBJECT);
            assert!(message.starts_with(BODY_START), "{message}");
            assert!(message.ends_with(TENANT_NAME), "{message}");
        } else {
            assert_eq!(mail.body["subject"], "臨時休館のお知らせ");
            assert_eq!(message, "子育て支援センターは本日臨時休館します。");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_sends_one_direct_message_per_delivery() {
    let fake = FakeX::start().await;
    let host = Host::start().await;
    host.put_channel(
        "x",
        json!({
            "plugin": "x-dm",
            "config": { "access_token": x::ACCESS_TOKEN, "api_base": fake.api_base() },
            "allowed_hosts": approved(fake.addr),
            // X's own limits are the manifest's windows, which the host
            // counts; the steady rate is raised so that the test, on a
            // clock it moves by hand, never waits on the wall clock.
            "rate_per_second": 50,
        }),
    )
    .await;
    for id in ["1460000000000000001", "1460000000000000002"] {
        host.subscriber("ja", "x", id, born_five_days_ago()).await;
    }
    let sent = a_day(&host, "x", None, "避難所を開設しました。").await;

    let dms = fake.dms();
    assert_eq!(dms.len(), 4);
    assert_eq!(fake.attempts().len(), 4);
    for s in &sent {
        let dm = dms
            .iter()
            .find(|dm| dm.dm_event_id == s.receipt())
            .unwrap_or_else(|| panic!("no DM has the id {}", s.receipt()));
        assert_eq!(dm.participant_id, s.address);
        if s.scheduled() {
            assert!(
                dm.text.starts_with(&format!("{SUBJECT}\n\n{BODY_START}")),
                "{}",
                dm.text
            );
        } else {
            assert_eq!(dm.text, "避難所を開設しました。");
        }
    }
    // The quota the host counts is visible on the channel: X's windows,
    // none spent.
    let quota = &host.channel("x").await["quota"];
    assert!(quota["exhausted_until"].is_null(), "{quota}");
    let windows: Vec<(u64, u64)> = quota["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["window_seconds"].as_u64().unwrap(),
                w["max"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(windows, [(900, 200), (86_400, 1_000)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_municipal_app_gets_signed_standard_webhooks() {
    let fake = FakeMuniApp::start().await;
    let host = Host::start().await;
    host.put_channel(
        "app",
        json!({
            "plugin": "muni-app",
            "config": { "endpoint": fake.endpoint(), "secret": muni_app::SECRET },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
    for user in ["app-user-1", "app-user-2"] {
        host.subscriber("ja", "app", user, born_five_days_ago())
            .await;
    }
    let sent = a_day(
        &host,
        "app",
        Some("お知らせ"),
        "予防接種の予約が始まりました。",
    )
    .await;

    assert_eq!(
        fake.refused_signatures(),
        0,
        "the Standard Webhooks library verified every request"
    );
    let notifications = fake.notifications();
    assert_eq!(notifications.len(), 4);
    for s in &sent {
        let n = notifications
            .iter()
            .find(|n| n.webhook_id == s.key())
            .unwrap_or_else(|| panic!("no notification has webhook-id {}", s.key()));
        assert_eq!(s.receipt(), n.id);
        let data = &n.payload["data"];
        assert_eq!(data["recipient"], s.address.as_str());
        assert_eq!(data["delivery_key"], s.key());
        assert_eq!(data["locale"], "ja");
        if s.scheduled() {
            assert_eq!(data["message_id"], "child-day-005");
            assert_eq!(data["subject"], SUBJECT);
            assert!(
                data["body"].as_str().unwrap().starts_with(BODY_START),
                "{data}"
            );
        } else {
            assert_eq!(data["subject"], "お知らせ");
            assert_eq!(data["body"], "予防接種の予約が始まりました。");
        }
    }
}
