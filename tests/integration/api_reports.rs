//! The monthly report (`GET /v1/tenants/{tenant}/reports/monthly`) against
//! households counted by hand, on the edge days of the delivery window:
//! active users by stage and channel, registrations, blocks, deliveries; as
//! JSON and as CSV; bad months refused with the field named.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::chat::{actions, data_of, post, said};
use crate::support::host::{Host, TENANT};
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
