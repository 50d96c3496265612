//! The API's input rules, the same on both engines: a NUL character in a
//! path parameter, a query parameter, a JSON body, a CSV line or a catalog
//! file is a 422 naming where it is (PostgreSQL answered 500, SQLite stored
//! it), even before a token is read; and a JSON array is not an object.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::api::{Api, error, on_each_engine, send, tokyo_day};

/// Asserts a 422 whose message starts with `field`.
fn assert_names(status: StatusCode, body: &serde_json::Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
    let (code, message) = error(body);
    assert_eq!(code, "invalid_field", "{body}");
    assert!(message.starts_with(field), "{field}: {message}");
    assert!(
        message.contains("NUL") || message.contains("invalid type"),
        "{message}"
    );
}

async fn nul_is_refused_everywhere(api: Api) {
    api.tenant("otaru").await;
    api.upload_echo().await;
    api.echo_channel("otaru", "line").await;

    // Paths and queries: without a token too.
    let (status, body) = send(api.http.post(api.url("/hooks/ot%00aru/line")).body("{}")).await;
    assert_names(status, &body, "tenant:");
    let (status, body) = send(api.http.get(api.url("/v1/tenants/ot%00aru"))).await;
    assert_names(status, &body, "tenant:");
    let (status, body) = send(api.op(Method::GET, "/v1/tenants/ot%00aru")).await;
    assert_names(status, &body, "tenant:");
    let (status, body) =
        send(api.op(Method::GET, "/v1/tenants/otaru/deliveries?channel=a%00b")).await;
    assert_names(status, &body, "query parameter `channel`:");

    // JSON bodies: names, broadcasts, inserts, subscribers, canary lists.
    let (status, body) = send(
        api.op(Method::POST, "/v1/tenants")
            .json(&json!({ "id": "sapporo", "name": "札幌\u{0}市" })),
    )
    .await;
    assert_names(status, &body, "name:");
    let (status, body) = send(api.op(Method::GET, "/v1/tenants/sapporo")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was written: {body}");
    let (status, body) = send(
        api.op(Method::POST, "/v1/tenants/otaru/broadcasts")
            .json(&json!({
                "content": { "subject": "休館", "body": "本日は\u{0}休館" }, "audience": {}
            })),
    )
    .await;
    assert_names(status, &body, "content.body:");
    let (status, body) = send(
        api.op(
            Method::PUT,
            "/v1/tenants/otaru/catalog/inserts/stage/newborn",
        )
        .json(&json!({ "content": { "ja": "健診\u{0}" } })),
    )
    .await;
    assert_names(status, &body, "content.ja:");
    let (status, body) = send(
        api.op(Method::POST, "/v1/tenants/otaru/subscribers")
            .json(&json!({
                "locale": "ja",
                "contacts": [{ "channel": "line", "address": "U\u{0}1" }],
                "children": [{ "due_date": tokyo_day(100).to_string() }],
            })),
    )
    .await;
    assert_names(status, &body, "contacts[0].address:");
    let (status, body) = send(
        api.op(Method::POST, "/v1/plugins/echo/versions/1.0.0/activate")
            .json(&json!({ "tenants": ["ot\u{0}aru"] })),
    )
    .await;
    assert_names(status, &body, "tenants[0]:");

    // Text bodies: the CSV line, the catalog file's field.
    let (status, body) = send(
        api.op(Method::POST, "/v1/tenants/otaru/subscribers/import")
            .header("content-type", "text/csv")
            .body("external_id,locale,channel,address,due_date,birth_date\nh1,ja,line,U\u{0}1,,2026-12-01\n"),
    )
    .await;
    assert_names(status, &body, "CSV line 2:");
    let catalog = "programs:\n  - id: local\n    name: Local\n    messages:\n      - id: local-day-1\n        rule: { child_day: 1 }\n        content:\n          ja: { subject: \"件\\0名\", body: \"本文\" }\n";
    let (status, body) = send(
        api.op(Method::POST, "/v1/catalog/import")
            .header("content-type", "application/yaml")
            .body(catalog),
    )
    .await;
    assert_names(
        status,
        &body,
        "catalog file programs[0].messages[0].content.ja.subject:",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_is_a_422_naming_the_field_on_both_engines() {
    on_each_engine(nul_is_refused_everywhere).await;
}

async fn arrays_are_not_objects(api: Api) {
    api.tenant("otaru").await;
    api.upload_echo().await;
    api.echo_channel("otaru", "line").await;
    let (status, created) = send(api.op(Method::POST, "/v1/tenants/otaru/subscribers").json(
        &json!({
            "locale": "ja",
            "contacts": [{ "channel": "line", "address": "U1" }],
            "children": [{ "due_date": tokyo_day(100).to_string() }],
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let path = format!(
        "/v1/tenants/otaru/subscribers/{}",
        created["id"].as_str().unwrap()
    );
    for patch in [json!([null, null]), json!({ "contacts": [["line", "U2"]] })] {
        let (status, body) = send(api.op(Method::PATCH, &path).json(&patch)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{patch}: {body}");
        assert!(
            error(&body)
                .1
                .contains("invalid type: sequence, expected an object"),
            "{body}"
        );
    }
    let (_, now) = send(api.op(Method::GET, &path)).await;
    assert_eq!(now, created, "nothing changed");
    let (status, body) = send(
        api.op(Method::POST, "/v1/tenants")
            .json(&json!(["x", "X city"])),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

/// Every operation of the document that takes a JSON body refuses an
/// array for it, naming the body, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_endpoint_refuses_an_array_for_its_body() {
    let api = Api::sqlite().await;
    api.tenant("otaru").await;
    let doc = serde_json::to_value(tayori_api::openapi()).unwrap();
    let mut probed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"]
                .get("application/json")
                .is_none()
            {
                continue;
            }
            let concrete = path
                .replace("{tenant}", "otaru")
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            // Activations read their version first: give a valid one.
            let concrete = concrete.replace("/versions/x1/", "/versions/1.0.0/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) =
                send(api.op(method.clone(), &concrete).json(&json!([null, null]))).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{method} {path}: {body}"
            );
            assert!(
                error(&body).1.starts_with("body: invalid type: sequence"),
                "{method} {path}: {body}"
            );
            probed += 1;
        }
    }
    assert!(probed >= 15, "only {probed} JSON operations");
    let (_, tenant) = send(api.op(Method::GET, "/v1/tenants/otaru")).await;
    assert_eq!(tenant["name"], "otaru city", "nothing changed: {tenant}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_with_an_unknown_filter_is_refused_at_import() {
    let api = Api::sqlite().await;
    api.tenant("otaru").await;
    let import = |body: &str| {
        let catalog = format!(
            "programs:\n  - id: local\n    name: Local\n    messages:\n      - id: local-day-1\n        stage: newborn\n        rule: {{ child_day: 1 }}\n        content:\n          ja: {{ body: \"{body}\" }}\n"
        );
        api.op(Method::POST, "/v1/catalog/import")
            .header("content-type", "application/yaml")
            .body(catalog)
    };
    let (status, body) = send(import("{{ tenant_name | nosuchfilter }}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error(&body).1.contains("unknown filter"), "{body}");
    let (status, body) = send(import("{{ tenant_name | upper }}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(
        api.op(
            Method::PUT,
            "/v1/tenants/otaru/catalog/inserts/stage/newborn",
        )
        .json(&json!({ "content": { "ja": "{{ tenant_name | nosuchfilter }}" } })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, message) = error(&body);
    assert!(
        message.starts_with("content.ja: ") && message.contains("unknown filter"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_not_an_object_on_both_engines() {
    on_each_engine(arrays_are_not_objects).await;
}
