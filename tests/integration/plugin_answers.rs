//! What the host keeps of a plugin's answers, through the running host and
//! the hostile test plugin (uploaded as a partner's would be): a webhook
//! answer reaches the platform with its status and only the safe headers
//! (never a cookie on the host's origin), or not at all (502) when its
//! status is not HTTP; a platform message id or a failure text is stored
//! cut to its bound, without NUL, and with the channel's secret masked.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::answers::{MAX_FAILURE_BYTES, MAX_RECEIPT_BYTES};

use crate::support::host::{Host, jst, today};

const TOKEN: &str = "hostile-secret-token-0123456789";

/// A host at 10:00 with the hostile plugin uploaded and a channel `hostile`
/// of it behaving as `behaviour` says, and one household on it.
async fn hostile_host(config: Value) -> Host {
    let host = Host::start_at(jst(today(), 10, 0)).await;
    let bytes = std::fs::read(tayori_plugin_artifacts::HOSTILE).expect("the hostile plugin");
    let response = host
        .server
        .op(Method::POST, "/v1/plugins")
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    assert!(
        response.status().is_success(),
        "upload: {}",
        response.status()
    );
    host.put_channel(
        "hostile",
        json!({ "plugin": "hostile", "config": config, "allowed_hosts": [] }),
    )
    .await;
    host.subscriber(
        "ja",
        "hostile",
        "U-hostile-1",
        today() - chrono::Duration::days(200),
    )
    .await;
    host
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_carries_no_cookie_and_only_an_http_status() {
    let host = hostile_host(json!({ "behaviour": "bad-answer", "status": 200 })).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let response = client
        .post(host.hook_url("hostile"))
        .body("{}")
        .send()
        .await
        .expect("the webhook");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(headers.get("set-cookie").is_none(), "{headers:?}");
    assert!(headers.get("location").is_none(), "{headers:?}");
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(headers["content-type"], "text/html");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; sandbox"
    );

    // Not an HTTP status, a redirect, an informational status: the plugin
    // failed, and the platform hears 502 (and sends again).
    for status in [999, 302, 101] {
        host.put_channel(
            "hostile",
            json!({ "plugin": "hostile", "config": { "behaviour": "bad-answer", "status": status }, "allowed_hosts": [] }),
        )
        .await;
        let response = client
            .post(host.hook_url("hostile"))
            .body("{}")
            .send()
            .await
            .expect("the webhook");
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{status}");
        assert!(response.headers().get("set-cookie").is_none());
        let body: Value = response.json().await.expect("our error shape");
        assert_eq!(body["error"]["code"], "plugin_failed", "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_message_id_is_stored_cut_and_without_nul() {
    let host = hostile_host(json!({ "behaviour": "huge-receipt" })).await;
    host.broadcast(Some("休館"), "本日は休館します。").await;
    host.send().await;
    let sent = host.deliveries("&status=sent").await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let receipt = sent[0]["receipt"].as_str().expect("a receipt");
    assert!(
        receipt.len() <= MAX_RECEIPT_BYTES,
        "{} bytes",
        receipt.len()
    );
    assert!(receipt.starts_with("999999"), "{receipt}");
    assert!(!receipt.contains('\0'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_quoting_the_secret_is_masked_and_cut() {
    let host = hostile_host(json!({ "behaviour": "leak-secret", "token": TOKEN })).await;
    host.broadcast(Some("休館"), "本日は休館します。").await;
    host.send().await;
    let failed = host.deliveries("&status=failed").await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let error = failed[0]["last_error"].as_str().expect("an error");
    assert!(error.len() <= MAX_FAILURE_BYTES, "{} bytes", error.len());
    assert!(
        error.starts_with("the platform refused token ***: eee"),
        "{error}"
    );
    assert!(!error.contains(TOKEN));
    let (_, page) = host
        .request(
            Method::GET,
            "/v1/tenants/otaru/deliveries?status=failed",
            None,
        )
        .await;
    assert!(!page.to_string().contains(TOKEN), "{page}");
}
