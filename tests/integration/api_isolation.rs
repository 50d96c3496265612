//! Tenant isolation through the HTTP API: for every tenant-scoped endpoint
//! (the table below, checked against the OpenAPI document so that a new
//! endpoint cannot be left out), a tenant admin of A is refused (403/404) on
//! B's resources, B's data never appears in A's answers, a partner token
//! reaches no tenant, and B's data is unchanged afterwards.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{Api, on_each_engine, send, tokyo_day};

/// Every tenant-scoped endpoint, with a body that would succeed for a
/// caller allowed to make it. `{id}` is a subscriber id, or a tenant
/// message id under `catalog/messages`.
fn endpoints(b_due: &str) -> Vec<(Method, &'static str, Option<Value>)> {
    use Method as M;
    vec![
        (M::GET, "/v1/tenants/{tenant}", None),
        (
            M::PATCH,
            "/v1/tenants/{tenant}",
            Some(json!({"send_time": "10:30"})),
        ),
        (M::DELETE, "/v1/tenants/{tenant}", None),
        (M::GET, "/v1/tenants/{tenant}/texts", None),
        (M::GET, "/v1/tenants/{tenant}/reports/monthly", None),
        (
            M::PUT,
            "/v1/tenants/{tenant}/texts",
            Some(json!({"greeting": {"ja": "stolen"}})),
        ),
        (M::GET, "/v1/tenants/{tenant}/channels", None),
        (M::GET, "/v1/tenants/{tenant}/channels/{channel}", None),
        (
            M::PUT,
            "/v1/tenants/{tenant}/channels/{channel}",
            Some(json!({"plugin": "echo", "config": {"endpoint": "http://127.0.0.1:9/stolen"}})),
        ),
        (M::DELETE, "/v1/tenants/{tenant}/channels/{channel}", None),
        (
            M::POST,
            "/v1/tenants/{tenant}/channels/{channel}/pause",
            Some(json!({"reason": "stolen"})),
        ),
        (
            M::POST,
            "/v1/tenants/{tenant}/channels/{channel}/resume",
            None,
        ),
        (M::GET, "/v1/tenants/{tenant}/subscribers", None),
        (
            M::POST,
            "/v1/tenants/{tenant}/subscribers",
            Some(
                json!({"contacts": [{"channel": "line", "address": "U-intruder"}], "children": [{"due_date": b_due}]}),
            ),
        ),
        (M::GET, "/v1/tenants/{tenant}/subscribers/counts", None),
        (M::GET, "/v1/tenants/{tenant}/subscribers/{id}", None),
        (
            M::PATCH,
            "/v1/tenants/{tenant}/subscribers/{id}",
            Some(json!({"locale": "en"})),
        ),
        (M::DELETE, "/v1/tenants/{tenant}/subscribers/{id}", None),
        (
            M::POST,
            "/v1/tenants/{tenant}/subscribers/{id}/stop",
            Some(json!({"reason": "unsubscribed"})),
        ),
        (
            M::POST,
            "/v1/tenants/{tenant}/subscribers/{id}/children",
            Some(json!({"due_date": b_due})),
        ),
        (
            M::POST,
            "/v1/tenants/{tenant}/subscribers/{id}/children/{child}/birth",
            Some(json!({"birth_date": tokyo_day(0).to_string()})),
        ),
        (
            M::POST,
            "/v1/tenants/{tenant}/subscribers/{id}/children/{child}/stop",
            Some(json!({"reason": "pregnancy_loss"})),
        ),
        (M::POST, "/v1/tenants/{tenant}/subscribers/import", None),
        (M::GET, "/v1/tenants/{tenant}/catalog/inserts", None),
        (
            M::PUT,
            "/v1/tenants/{tenant}/catalog/inserts/{kind}/{key}",
            Some(json!({"content": {"ja": "intruder"}})),
        ),
        (
            M::DELETE,
            "/v1/tenants/{tenant}/catalog/inserts/{kind}/{key}",
            None,
        ),
        (M::GET, "/v1/tenants/{tenant}/catalog/messages", None),
        (
            M::PUT,
            "/v1/tenants/{tenant}/catalog/messages/{id}",
            Some(
                json!({"rule": {"child_day": 5}, "content": {"ja": {"subject": "x", "body": "intruder"}}}),
            ),
        ),
        (
            M::DELETE,
            "/v1/tenants/{tenant}/catalog/messages/{id}",
            None,
        ),
        (
            M::POST,
            "/v1/tenants/{tenant}/broadcasts",
            Some(json!({"content": {"body": "intruder"}, "audience": {}})),
        ),
        (M::GET, "/v1/tenants/{tenant}/broadcasts/{broadcast}", None),
        (M::GET, "/v1/tenants/{tenant}/deliveries", None),
        (
            M::GET,
            "/v1/tenants/{tenant}/subscribers/{subscriber}/deliveries",
            None,
        ),
        (M::GET, "/v1/tenants/{tenant}/schedule/preview", None),
        (M::GET, "/v1/tenants/{tenant}/inbound", None),
    ]
}

/// B's resources, for filling in paths.
struct Ids {
    subscriber: String,
    child: String,
}

fn fill(template: &str, tenant: &str, ids: &Ids) -> String {
    let id = if template.contains("/catalog/messages/") {
        "b-local-message"
    } else {
        ids.subscriber.as_str()
    };
    // The preview's query is required; without it the answer is a 400
    // before any tenant is looked at.
    let query = if template.ends_with("/schedule/preview") {
        "?from=2027-01-04&days=7"
    } else if template.ends_with("/reports/monthly") {
        "?month=2027-01"
    } else {
        ""
    };
    let path = template
        .replace("{tenant}", tenant)
        .replace("{channel}", "line")
        .replace("{id}", id)
        .replace("{subscriber}", &ids.subscriber)
        .replace("{broadcast}", "b-broadcast")
        .replace("{child}", &ids.child)
        .replace("{kind}", "message")
        .replace("{key}", "m1");
    format!("{path}{query}")
}

const CSV: &str = "external_id,channel,address,due_date\nX1,line,U-intruder-csv,DUE\n";

async fn setup(api: &Api, tenant: &str, secret_word: &str) -> Ids {
    api.tenant(tenant).await;
    api.echo_channel(tenant, "line").await;
    let (status, body) = send(
        api.op(Method::POST, &format!("/v1/tenants/{tenant}/subscribers"))
            .json(&json!({
                "external_id": format!("{secret_word}-ext"),
                "contacts": [{"channel": "line", "address": format!("{secret_word}-address")}],
                "children": [{"due_date": tokyo_day(100).to_string()}],
            })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body2) = send(
        api.op(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/catalog/inserts/message/m1"),
        )
        .json(&json!({"content": {"ja": format!("{secret_word}-insert")}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body2}");
    let (status, body3) = send(
        api.op(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/catalog/messages/{tenant}-local-message"),
        )
        .json(&json!({"rule": {"child_day": 3}, "content": {"ja": {"subject": "s", "body": format!("{secret_word}-message")}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body3}");
    Ids {
        subscriber: body["id"].as_str().unwrap().to_string(),
        child: body["children"][0]["id"].as_str().unwrap().to_string(),
    }
}

async fn call(
    api: &Api,
    token: &str,
    method: &Method,
    path: &str,
    body: &Option<Value>,
) -> (StatusCode, String) {
    let mut rb = api.with(token, method.clone(), path);
    if path.ends_with("/subscribers/import") {
        rb = rb
            .header("content-type", "text/csv")
            .body(CSV.replace("DUE", &tokyo_day(100).to_string()));
    } else if let Some(b) = body {
        rb = rb.json(b);
    }
    let resp = rb.send().await.expect("send");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_endpoint_is_isolated() {
    on_each_engine(|api| async move {
        api.upload_echo().await;
        // A one-message catalog so that inserts have a target.
        let (status, body) = send(
            api.op(Method::POST, "/v1/catalog/import")
                .header("content-type", "application/yaml")
                .body("programs: [{id: standard, name: S, messages: [{id: m1, rule: {child_day: 1}, content: {ja: {body: hi}}}]}]"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let a = setup(&api, "a", "alpha").await;
        let b = setup(&api, "b", "bravo").await;
        let admin_a = api.token("tenant_admin", Some("a"), &[]).await;
        let admin_b = api.token("tenant_admin", Some("b"), &[]).await;
        let partner = api.token("partner", None, &["echo"]).await;
        let b_due = tokyo_day(100).to_string();
        let table = endpoints(&b_due);

        // The table is every tenant-scoped route of the OpenAPI document
        // (but platforms' webhooks, `/hooks/...`, which take no token: the
        // channel's plugin checks the platform's signature; e2e_webhooks.rs).
        let doc = tayori_api::openapi();
        let documented: BTreeSet<String> = serde_json::to_value(&doc).unwrap()["paths"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(path, _)| path.starts_with("/v1/") && path.contains("{tenant}"))
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| ["get", "put", "post", "patch", "delete"].contains(&k.as_str()))
                    .map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        let listed: BTreeSet<String> = table.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
        assert_eq!(listed, documented, "the isolation table must list every tenant-scoped route");

        for (method, template, body) in &table {
            // A's admin on B's resources; a partner on A's and B's.
            for (who, token, tenant, ids) in [
                ("tenant admin of a", &admin_a, "b", &b),
                ("partner", &partner, "a", &a),
                ("partner", &partner, "b", &b),
            ] {
                let path = fill(template, tenant, ids);
                let (status, text) = call(&api, token, method, &path, body).await;
                assert!(
                    status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
                    "{who}: {method} {path} answered {status}: {text}"
                );
                assert!(!text.contains("bravo"), "{who}: {method} {path} leaked B's data: {text}");
            }
            // A's admin on A's paths naming B's ids: B's data stays unseen.
            let path = fill(template, "a", &b);
            if *method == Method::GET {
                let (status, text) = call(&api, &admin_a, method, &path, body).await;
                assert!(!text.contains("bravo"), "GET {path} as a ({status}) leaked B's data: {text}");
                if path.contains(&b.subscriber) {
                    assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {text}");
                }
            }
        }

        // A's own lists show A's data only.
        for path in [
            "/v1/tenants/a/subscribers",
            "/v1/tenants/a/channels",
            "/v1/tenants/a/catalog/inserts",
            "/v1/tenants/a/catalog/messages",
            "/v1/tokens",
        ] {
            let (status, text) = call(&api, &admin_a, &Method::GET, path, &None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {text}");
            assert!(!text.contains("bravo") && !text.contains("\"b\""), "{path} leaked B's data: {text}");
        }
        let (status, text) = call(&api, &admin_a, &Method::GET, "/v1/tenants/a/subscribers", &None).await;
        assert!(status.is_success() && text.contains("alpha-address"), "{text}");
        // Only operators list tenants; A's admin cannot reach B's tokens.
        let (status, _) = call(&api, &admin_a, &Method::GET, "/v1/tenants", &None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, tokens_b) = send(api.with(&admin_b, Method::GET, "/v1/tokens")).await;
        let b_token_id = tokens_b["tokens"][0]["id"].as_str().unwrap().to_string();
        let (status, _) = call(&api, &admin_a, &Method::DELETE, &format!("/v1/tokens/{b_token_id}"), &None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(&api, &admin_a, &Method::POST, "/v1/tokens", &Some(json!({"role": "tenant_admin", "tenant": "b"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // B is as it was.
        let (status, sub) = send(api.op(Method::GET, &format!("/v1/tenants/b/subscribers/{}", b.subscriber))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sub["status"], "active");
        assert_eq!(sub["locale"], "ja");
        assert_eq!(sub["contacts"][0]["address"], "bravo-address");
        assert_eq!(sub["children"].as_array().unwrap().len(), 1);
        assert_eq!(sub["children"][0]["status"], "expecting");
        let (_, tenant) = send(api.op(Method::GET, "/v1/tenants/b")).await;
        assert_eq!(tenant["send_time"], "09:00");
        let (_, channel) = send(api.op(Method::GET, "/v1/tenants/b/channels/line")).await;
        assert_eq!(channel["config"]["endpoint"], "http://127.0.0.1:9/hook");
        let (_, subs) = send(api.op(Method::GET, "/v1/tenants/b/subscribers")).await;
        assert_eq!(subs["items"].as_array().unwrap().len(), 1, "{subs}");
        let (_, inserts) = send(api.op(Method::GET, "/v1/tenants/b/catalog/inserts")).await;
        assert_eq!(inserts["inserts"][0]["content"]["ja"], "bravo-insert");
        let (_, messages) = send(api.op(Method::GET, "/v1/tenants/b/catalog/messages")).await;
        assert_eq!(messages["messages"].as_array().unwrap().len(), 1);
        // And B's own admin does reach it (the refusals above were isolation).
        let (status, _) = call(&api, &admin_b, &Method::GET, &format!("/v1/tenants/b/subscribers/{}", b.subscriber), &None).await;
        assert_eq!(status, StatusCode::OK);
    })
    .await;
}
