//! Every released contract keeps loading. `legacy-echo` is a plugin of
//! contract 0.1.0 built from source without the SDK (kept for good);
//! `echo` is built with the SDK, on 0.2.0. Both upload, say their contract,
//! and deliver side by side through the real host; after a restart on the
//! same database the 0.1.0 plugin is still active on its channel and
//! delivers with no operator step.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fake::Fake;
use crate::support::host::{Host, TENANT, approved, born_five_days_ago, jst, today};
use crate::support::server::{Db, TestServer};

async fn upload(server: &TestServer, path: &str) -> Value {
    let bytes = std::fs::read(path).expect("the component");
    let response = server
        .op(Method::POST, "/v1/plugins")
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{status} {body}");
    body
}

/// The fake's requests, as JSON bodies, in order.
fn bodies(fake: &Fake) -> Vec<Value> {
    fake.received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON body"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_plugin_and_a_0_2_0_plugin_deliver_side_by_side_and_after_a_restart() {
    let fake = Fake::start().await;
    let host = Host::start().await;
    let legacy = upload(&host.server, tayori_plugin_artifacts::LEGACY_ECHO).await;
    assert_eq!(legacy["contract"], "0.1.0", "{legacy}");
    let echo = upload(&host.server, tayori_plugin_artifacts::ECHO).await;
    assert_eq!(echo["contract"], "0.2.0", "{echo}");
    // The 0.2.0 manifest's new fields reach the host; 0.1.0 gets defaults.
    assert_eq!(echo["manifest"]["max_batches_per_call"], 64, "{echo}");
    assert_eq!(legacy["manifest"]["max_batches_per_call"], 1, "{legacy}");

    for (name, plugin) in [("legacy", "legacy-echo"), ("modern", "echo")] {
        host.put_channel(
            name,
            json!({
                "plugin": plugin,
                "config": { "endpoint": fake.url("/ok") },
                "allowed_hosts": approved(fake.addr),
            }),
        )
        .await;
    }
    let old = host
        .subscriber("ja", "legacy", "old-1", born_five_days_ago())
        .await;
    let new = host
        .subscriber("ja", "modern", "new-1", born_five_days_ago())
        .await;
    host.plan_and_send().await;

    let sent = host.deliveries("&status=sent").await;
    let receipt = |sid: &Value| -> String {
        sent.iter()
            .find(|d| d["subscriber_id"] == sid["id"])
            .unwrap_or_else(|| panic!("no sent delivery for {sid} in {sent:?}"))["receipt"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(receipt(&old).starts_with("legacy-m-"), "{sent:?}");
    assert!(receipt(&new).starts_with("m-"), "{sent:?}");
    let received = bodies(&fake);
    assert_eq!(received.len(), 2, "{received:?}");
    let legacy_body = received
        .iter()
        .find(|b| b["to"] == "old-1")
        .expect("legacy");
    assert_eq!(legacy_body["contract"], "0.1.0");
    assert_eq!(legacy_body["message_id"], "child-day-005");
    assert!(legacy_body["body"].as_str().unwrap().contains("小樽市"));
    let modern_body = received
        .iter()
        .find(|b| b["to"] == "new-1")
        .expect("modern");
    assert_eq!(modern_body["message_id"], "child-day-005");

    // Restart on the same database, the next morning: the stored 0.1.0
    // plugin loads again, stays active on its channel and delivers.
    let url = host.server.database_url.clone();
    let dir = host.server.stop().await;
    let clock = host.clock.clone();
    clock.set(jst(today() + chrono::Duration::days(1), 9, 1));
    let shared = clock.clone();
    let server = TestServer::start_configured(Db::Url(url), move |c| {
        c.clock = shared;
        c.run_scheduler = false;
    })
    .await;
    let host = Host { server, clock };
    let channel = host.channel("legacy").await;
    assert_eq!(channel["plugin"], "legacy-echo", "{channel}");
    host.plan_and_send().await;
    let received = bodies(&fake);
    let day_six: Vec<&Value> = received
        .iter()
        .filter(|b| b["message_id"] == "child-day-006")
        .collect();
    assert_eq!(day_six.len(), 2, "{received:?}");
    assert!(
        day_six
            .iter()
            .any(|b| b["to"] == "old-1" && b["contract"] == "0.1.0")
    );
    let (status, _) = host
        .request(Method::GET, &format!("/v1/tenants/{TENANT}"), None)
        .await;
    assert!(status.is_success());
    host.server.stop().await;
    drop(dir);
}
