//! The monthly report (`GET /v1/tenants/{tenant}/reports/monthly`) against
//! households counted by hand, on the edge days of the delivery window:
//! active users by stage and channel, registrations, blocks, deliveries; as
//! JSON and as CSV; bad months refused with the field named.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use chrono::{DateTime, NaiveDate, Utc};

use crate::support::chat::{actions, data_of, post, said};
use crate::support::host::{Host, TENANT, jst, today};
use crate::support::platforms::line::FakeLine;

fn user(i: usize) -> String {
    format!("U{:032x}", 0x0d00_0000 + i)
}

async fn household(host: &Host, contacts: Value, child: Value) -> String {
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({"locale": "ja", "contacts": contacts, "children": [child]})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_report_counts_what_a_person_would_count() {
    // 09:01 on 4 January 2027 (the host's day), a LINE channel.
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    host.put_channel("line-2", json!({"plugin": "line", "config": {"channel_access_token": crate::support::platforms::line::ACCESS_TOKEN, "api_base": fake.api_base(), "mode": "push_only"}, "allowed_hosts": crate::support::host::approved(fake.addr)})).await;
    let line = |i| json!({"channel": "line", "address": user(i)});
    // Expecting (due 1 June: pregnancy), on LINE.
    household(&host, json!([line(1)]), json!({"due_date": "2027-06-01"})).await;
    // Born 1 December (0-1), on two channels.
    household(
        &host,
        json!([line(2), {"channel": "line-2", "address": user(22)}]),
        json!({"birth_date": "2026-12-01"}),
    )
    .await;
    // Third birthday tomorrow (2-3).
    household(&host, json!([line(3)]), json!({"birth_date": "2024-01-05"})).await;
    // Third birthday yesterday: its span has ended.
    household(&host, json!([line(4)]), json!({"birth_date": "2024-01-03"})).await;
    // Stopped.
    let stopped = household(&host, json!([line(5)]), json!({"birth_date": "2026-06-01"})).await;
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers/{stopped}/stop"),
        Some(json!({"reason": "moved_away"})),
    )
    .await;
    // A parent registers in the chat: born yesterday (0-1).
    let greeting = said(&host, &fake, vec![fake.follow(&user(6), false)]).await;
    let picker = said(
        &host,
        &fake,
        vec![fake.postback(&user(6), &data_of(&greeting, "生まれた"))],
    )
    .await;
    let data = actions(&picker)[0]["data"].as_str().unwrap().to_string();
    let confirm = said(
        &host,
        &fake,
        vec![fake.picked(&user(6), &data, "2027-01-03")],
    )
    .await;
    said(
        &host,
        &fake,
        vec![fake.postback(&user(6), &data_of(&confirm, "登録する"))],
    )
    .await;
    // The expecting parent blocks the account.
    assert_eq!(
        post(&host, &fake, vec![fake.unfollow(&user(1))]).await,
        StatusCode::OK
    );
    host.plan_and_send().await;

    let path = format!("/v1/tenants/{TENANT}/reports/monthly?month=2027-01");
    let r = host.call(Method::GET, &path, None).await;
    assert_eq!(r["month"], "2027-01");
    assert_eq!(r["counted_on"], "2027-01-04", "today, within the month");
    assert_eq!(r["active_users"], 4, "{r}");
    assert_eq!(
        r["active_by_stage"],
        json!({"pregnancy": 1, "0-1": 2, "1-2": 0, "2-3": 1, "later": 0})
    );
    // The blocked contact no longer counts on its channel.
    assert_eq!(r["active_by_channel"], json!({"line": 3, "line-2": 1}));
    // Registered by the parent: one, in the chat.
    assert_eq!(r["registrations"], 1);
    assert_eq!(r["registrations_by_channel"], json!({"line": 1}));
    assert_eq!(r["blocks"], 1);
    assert_eq!(r["stops"], 0);
    // The 12 months to January: this month's registration only.
    let by_month = r["registrations_by_month"].as_object().unwrap();
    assert_eq!(by_month.len(), 12, "{r}");
    assert_eq!(by_month.keys().next().unwrap(), "2026-02");
    assert_eq!(by_month["2027-01"], 1);
    assert_eq!(by_month.values().filter_map(Value::as_u64).sum::<u64>(), 1);
    assert_eq!(r["yearly_births"], Value::Null, "not set");
    assert_eq!(r["registration_rate"], Value::Null, "no births, no rate");
    // Every day of January, and the deliveries by day add up to the month's.
    let by_day = r["deliveries_by_day"].as_object().unwrap();
    assert_eq!(by_day.len(), 31);
    let by_day_total: u64 = by_day
        .values()
        .flat_map(|by| by.as_object().unwrap().values())
        .flat_map(|by| by.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(r["failures"], json!({}), "nothing failed");
    // Deliveries: what the outbox holds for the month, by channel and status.
    let listed = host.deliveries("").await;
    let total: u64 = r["deliveries"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|by| by.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, listed.len(), "{r}");
    assert!(total > 0);
    assert_eq!(by_day_total, total, "{r}");

    // The same as CSV.
    let csv = host
        .server
        .op(Method::GET, &path)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("figure,dimension,value\n"), "{text}");
    assert!(text.contains("\nactive_users,,4\n"), "{text}");
    assert!(text.contains("\nactive_by_stage,2-3,1\n"), "{text}");
    assert!(text.contains("\nblocks,,1\n"), "{text}");

    // A past month counts on its last day: nobody registered then.
    let december = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/reports/monthly?month=2026-12"),
            None,
        )
        .await;
    assert_eq!(december["counted_on"], "2026-12-31");
    assert_eq!(december["registrations"], 0);

    for bad in ["2027-13", "2027-1", "january", "1999-12"] {
        let (status, answer) = host
            .request(
                Method::GET,
                &format!("/v1/tenants/{TENANT}/reports/monthly?month={bad}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
        assert!(answer.to_string().contains("month"), "{answer}");
    }
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A parent registers a baby born on 20 December in the LINE chat, the
/// last step (the one that registers) at `at`.
async fn register(host: &Host, fake: &FakeLine, user: &str, at: DateTime<Utc>) {
    let greeting = said(host, fake, vec![fake.follow(user, false)]).await;
    let picker = said(
        host,
        fake,
        vec![fake.postback(user, &data_of(&greeting, "生まれた"))],
    )
    .await;
    let data = actions(&picker)[0]["data"].as_str().unwrap().to_string();
    let confirm = said(host, fake, vec![fake.picked(user, &data, "2026-12-20")]).await;
    host.clock.set(at);
    said(
        host,
        fake,
        vec![fake.postback(user, &data_of(&confirm, "登録する"))],
    )
    .await;
}

async fn report(host: &Host, month: &str) -> Value {
    host.call(
        Method::GET,
        &format!("/v1/tenants/{TENANT}/reports/monthly?month={month}"),
        None,
    )
    .await
}

async fn set_births(host: &Host, births: Value) -> (StatusCode, Value) {
    host.request(
        Method::PATCH,
        &format!("/v1/tenants/{TENANT}"),
        Some(json!({ "yearly_births": births })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_by_month_deliveries_by_day_and_failures_are_counted_on_their_edges() {
    // 23:00 on 31 December 2026, Japan time (the tenant's zone).
    let host = Host::start_at(jst(d("2026-12-31"), 23, 0)).await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    let (late, early) = (user(31), user(32));
    // One parent registers at 23:59 on 31 December: December's. Another at
    // 00:00 on 1 January: January's.
    register(&host, &fake, &late, jst(d("2026-12-31"), 23, 59)).await;
    register(&host, &fake, &early, jst(d("2027-01-01"), 0, 0)).await;
    // On to 09:01 on 4 January.
    host.clock.set(jst(today(), 9, 1));

    let january = report(&host, "2027-01").await;
    assert_eq!(january["registrations"], 1, "{january}");
    let by_month = january["registrations_by_month"].as_object().unwrap();
    let months: Vec<&str> = by_month.keys().map(String::as_str).collect();
    assert_eq!(
        months,
        [
            "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
            "2026-10", "2026-11", "2026-12", "2027-01"
        ]
    );
    assert_eq!(by_month["2026-12"], 1, "23:59 on 31 December");
    assert_eq!(by_month["2027-01"], 1, "00:00 on 1 January");
    assert_eq!(by_month["2026-11"], 0);
    assert_eq!(january["yearly_births"], Value::Null);
    assert_eq!(january["registration_rate"], Value::Null);
    let december = report(&host, "2026-12").await;
    assert_eq!(december["registrations"], 1);
    assert_eq!(december["registrations_by_month"]["2026-12"], 1);
    assert_eq!(december["registrations_by_month"]["2026-01"], 0);
    assert!(december["registrations_by_month"].get("2027-01").is_none());

    // The yearly births: refused out of range with the field named, then
    // set: 2 registrations in the 12 months of 10 births are 20 %.
    for bad in [json!(0), json!(1_000_001), json!(-5)] {
        let (status, answer) = set_births(&host, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
        assert!(answer.to_string().contains("yearly_births"), "{answer}");
    }
    let (status, tenant) = set_births(&host, json!(10)).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["yearly_births"], 10);
    let january = report(&host, "2027-01").await;
    assert_eq!(january["yearly_births"], 10);
    assert_eq!(january["registration_rate"], 0.2, "{january}");
    // December's 12 months hold December's registration only: 10 %.
    assert_eq!(report(&host, "2026-12").await["registration_rate"], 0.1);

    // Broadcasts due a second before midnight at the end of 4 January, at
    // midnight starting 5 January, and at midnight starting 1 February.
    for send_at in [
        "2027-01-04T23:59:59+09:00",
        "2027-01-05T00:00:00+09:00",
        "2027-02-01T00:00:00+09:00",
    ] {
        host.call(
            Method::POST,
            &format!("/v1/tenants/{TENANT}/broadcasts"),
            Some(
                json!({"content": {"body": "健診のお知らせ"}, "audience": {}, "send_at": send_at}),
            ),
        )
        .await;
    }
    // One sent now: LINE no longer knows the late parent (gone: its other
    // deliveries are cancelled), the early one gets it.
    fake.unknown_user(&late);
    host.broadcast(None, "予防接種のお知らせ").await;
    host.send().await;

    let january = report(&host, "2027-01").await;
    let by_day = january["deliveries_by_day"].as_object().unwrap();
    assert_eq!(by_day.len(), 31);
    assert_eq!(
        by_day["2027-01-04"],
        json!({"line": {"sent": 1, "failed": 1, "pending": 1, "cancelled": 1}}),
        "{january}"
    );
    assert_eq!(
        by_day["2027-01-05"],
        json!({"line": {"pending": 1, "cancelled": 1}}),
        "midnight is the new day's"
    );
    assert_eq!(by_day["2027-01-03"], json!({}));
    assert_eq!(by_day["2027-01-31"], json!({}));
    assert_eq!(
        january["deliveries"],
        json!({"line": {"sent": 1, "failed": 1, "pending": 2, "cancelled": 2}})
    );
    assert_eq!(january["failures"], json!({"recipient_gone": 1}));
    let february = report(&host, "2027-02").await;
    assert_eq!(february["deliveries_by_day"].as_object().unwrap().len(), 28);
    assert_eq!(
        february["deliveries_by_day"]["2027-02-01"],
        json!({"line": {"pending": 1, "cancelled": 1}})
    );
    assert_eq!(february["failures"], json!({}));

    // The same in the CSV.
    let csv = host
        .server
        .op(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/reports/monthly?month=2027-01"),
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "\nregistrations_by_month,2026-12,1\n",
        "\nregistrations_by_month,2027-01,1\n",
        "\nyearly_births,,10\n",
        "\nregistration_rate,,0.2\n",
        "\ndeliveries_by_day,2027-01-05/line/pending,1\n",
        "\nfailures,recipient_gone,1\n",
    ] {
        assert!(csv.contains(line), "{line:?} in {csv}");
    }

    // Births forgotten: no rate again.
    let (status, tenant) = set_births(&host, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["yearly_births"], Value::Null);
    let january = report(&host, "2027-01").await;
    assert_eq!(january["registration_rate"], Value::Null);
    assert!(
        report(&host, "2027-01")
            .await
            .to_string()
            .contains("\"yearly_births\":null")
    );
}
