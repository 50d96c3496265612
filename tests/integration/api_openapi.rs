//! The OpenAPI document: structurally valid OpenAPI 3 (every operation has
//! responses, every `$ref` resolves, every path parameter is declared), equal
//! to the hand-written list of routes below, and each documented route is
//! one the server really serves (a bogus token gets 401, not 404 or 405;
//! a platform's webhook, which takes no token, 404 for a tenant that does
//! not exist).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::api::{Api, send};

/// Every route of the API. Adding a route means adding it here.
const ROUTES: &[&str] = &[
    "GET /healthz",
    "GET /metrics",
    "GET /openapi.json",
    "POST /v1/plugins",
    "GET /v1/plugins",
    "POST /v1/plugins/{plugin}/versions/{version}/activate",
    "POST /v1/plugins/{plugin}/rollback",
    "POST /v1/tenants",
    "GET /v1/tenants",
    "GET /v1/tenants/{tenant}",
    "PATCH /v1/tenants/{tenant}",
    "DELETE /v1/tenants/{tenant}",
    "GET /v1/tenants/{tenant}/channels",
    "PUT /v1/tenants/{tenant}/channels/{channel}",
    "GET /v1/tenants/{tenant}/texts",
    "GET /v1/tenants/{tenant}/reports/monthly",
    "PUT /v1/tenants/{tenant}/texts",
    "GET /v1/tenants/{tenant}/channels/{channel}",
    "DELETE /v1/tenants/{tenant}/channels/{channel}",
    "POST /v1/tenants/{tenant}/channels/{channel}/pause",
    "POST /v1/tenants/{tenant}/channels/{channel}/resume",
    "POST /v1/tenants/{tenant}/subscribers",
    "GET /v1/tenants/{tenant}/subscribers",
    "GET /v1/tenants/{tenant}/subscribers/counts",
    "POST /v1/tenants/{tenant}/subscribers/import",
    "GET /v1/tenants/{tenant}/subscribers/{id}",
    "PATCH /v1/tenants/{tenant}/subscribers/{id}",
    "DELETE /v1/tenants/{tenant}/subscribers/{id}",
    "POST /v1/tenants/{tenant}/subscribers/{id}/stop",
    "POST /v1/tenants/{tenant}/subscribers/{id}/children",
    "POST /v1/tenants/{tenant}/subscribers/{id}/children/{child}/birth",
    "POST /v1/tenants/{tenant}/subscribers/{id}/children/{child}/stop",
    "POST /v1/catalog/import",
    "GET /v1/catalog/export",
    "GET /v1/catalog/programs",
    "GET /v1/catalog/programs/{program}",
    "DELETE /v1/catalog/programs/{program}",
    "GET /v1/tenants/{tenant}/catalog/inserts",
    "PUT /v1/tenants/{tenant}/catalog/inserts/{kind}/{key}",
    "DELETE /v1/tenants/{tenant}/catalog/inserts/{kind}/{key}",
    "GET /v1/tenants/{tenant}/catalog/messages",
    "PUT /v1/tenants/{tenant}/catalog/messages/{id}",
    "DELETE /v1/tenants/{tenant}/catalog/messages/{id}",
    "POST /v1/tokens",
    "GET /v1/tokens",
    "DELETE /v1/tokens/{id}",
    "POST /v1/tenants/{tenant}/broadcasts",
    "GET /v1/tenants/{tenant}/broadcasts/{broadcast}",
    "GET /v1/tenants/{tenant}/deliveries",
    "GET /v1/tenants/{tenant}/subscribers/{subscriber}/deliveries",
    "GET /v1/tenants/{tenant}/schedule/preview",
    "GET /v1/tenants/{tenant}/inbound",
    "POST /hooks/{tenant}/{channel}",
    "GET /hooks/{tenant}/{channel}",
];

/// Routes answered without a token.
const PUBLIC: &[&str] = &["GET /healthz", "GET /metrics", "GET /openapi.json"];

/// Routes platforms call, which take no token: a tenant that does not
/// exist is simply not found.
const PLATFORM: &[&str] = &[
    "POST /hooks/{tenant}/{channel}",
    "GET /hooks/{tenant}/{channel}",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Follows a local `$ref` (`#/components/schemas/X`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref"
                    && let Value::String(r) = v
                {
                    out.push(r.clone());
                }
                refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// The structural rules of OpenAPI 3 this document must meet.
fn check_structure(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let version = doc["openapi"].as_str().unwrap_or_default();
    if !(version.starts_with("3.0.") || version.starts_with("3.1.")) {
        problems.push(format!("openapi is `{version}`, not 3.0.x or 3.1.x"));
    }
    for field in ["title", "version"] {
        if !doc["info"][field].is_string() {
            problems.push(format!("info.{field} is missing"));
        }
    }
    let Some(paths) = doc["paths"].as_object() else {
        problems.push("paths is not an object".into());
        return problems;
    };
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        if !path.starts_with('/') {
            problems.push(format!("path `{path}` does not start with /"));
        }
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        let Some(item) = item.as_object() else {
            problems.push(format!("{path}: not an object"));
            continue;
        };
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                if method != "parameters" && method != "summary" && method != "description" {
                    problems.push(format!("{path}: unknown key `{method}`"));
                }
                continue;
            }
            let at = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object();
            if responses.is_none_or(|r| r.is_empty()) {
                problems.push(format!("{at}: no responses"));
            }
            for code in responses.into_iter().flat_map(|r| r.keys()) {
                let ok = code == "default"
                    || (code.len() == 3 && code.chars().all(|c| c.is_ascii_digit() || c == 'X'));
                if !ok {
                    problems.push(format!("{at}: response code `{code}`"));
                }
            }
            if let Some(id) = op["operationId"].as_str()
                && !operation_ids.insert(id.to_string())
            {
                problems.push(format!("{at}: operationId `{id}` is used twice"));
            }
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            if declared != templated {
                problems.push(format!(
                    "{at}: path parameters {declared:?}, template has {templated:?}"
                ));
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                if !["path", "query", "header", "cookie"]
                    .contains(&p["in"].as_str().unwrap_or_default())
                {
                    problems.push(format!("{at}: parameter {p} has no valid `in`"));
                }
                if p["in"] == "path" && p["required"] != true {
                    problems.push(format!(
                        "{at}: path parameter {} is not required",
                        p["name"]
                    ));
                }
            }
        }
    }
    let mut all = Vec::new();
    refs(doc, &mut all);
    for r in all {
        if resolve(doc, &r).is_none() {
            problems.push(format!("`$ref` {r} does not resolve"));
        }
    }
    problems
}

fn documented(doc: &Value) -> BTreeSet<String> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| METHODS.contains(&m.as_str()))
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect()
}

/// Every operation documents the answers any of its requests can get, with
/// the shared error body: 401 and 403 where a token is taken, 413 and 415
/// where a body is.
#[test]
fn every_operation_documents_the_shared_answers() {
    let doc: Value = serde_json::to_value(tayori_api::openapi()).unwrap();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{} {path}", method.to_uppercase());
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let public = PUBLIC.contains(&at.as_str()) || PLATFORM.contains(&at.as_str());
            assert_eq!(secured, !public, "{at}: security");
            let mut want = Vec::new();
            if secured {
                want.extend(["401", "403"]);
            }
            if op.get("requestBody").is_some() {
                want.extend(["400", "413", "415", "422"]);
            }
            for status in want {
                let schema = &op["responses"][status]["content"]["application/json"]["schema"];
                if schema["$ref"] != "#/components/schemas/ErrorBody" {
                    missing.push(format!("{at}: {status}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn the_structural_check_catches_broken_documents() {
    let good: Value = serde_json::to_value(tayori_api::openapi()).unwrap();
    assert_eq!(check_structure(&good), Vec::<String>::new());
    let mut broken = good.clone();
    broken["openapi"] = "2.0".into();
    broken["paths"]["/v1/tenants/{tenant}"]["get"]["parameters"] = Value::Array(vec![]);
    broken["paths"]["/v1/tokens"]["post"]["responses"] = serde_json::json!({});
    broken["paths"]["/v1/tokens"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] =
        serde_json::json!({"$ref": "#/components/schemas/Nowhere"});
    let problems = check_structure(&broken);
    assert_eq!(problems.len(), 4, "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_3_and_covers_every_route() {
    let api = Api::sqlite().await;
    let (status, doc) = send(api.http.get(api.url("/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let problems = check_structure(&doc);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(
        doc,
        serde_json::to_value(tayori_api::openapi()).unwrap(),
        "served = generated"
    );

    let expected: BTreeSet<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        documented(&doc),
        expected,
        "the document lists exactly the routes"
    );

    for route in ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let resp = api
            .http
            .request(method, api.url(&concrete))
            .bearer_auth("bogus-token")
            .send()
            .await
            .unwrap();
        let want = if PUBLIC.contains(route) {
            StatusCode::OK
        } else if PLATFORM.contains(route) {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(resp.status(), want, "{route} ({concrete})");
        if want == StatusCode::UNAUTHORIZED {
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized", "{route}: {body}");
        }
    }
    // An unknown route and a wrong method answer in the one error shape.
    let (status, body) = send(api.op(Method::GET, "/v1/nowhere")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = send(api.op(Method::PATCH, "/v1/tokens")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[test]
fn the_dashboard_figures_and_the_yearly_births_are_documented() {
    let doc = serde_json::to_value(tayori_api::openapi()).unwrap();
    let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();
    let report = schema("MonthlyReport");
    for field in [
        "registrations_by_month",
        "yearly_births",
        "registration_rate",
        "deliveries_by_day",
        "failures",
    ] {
        assert!(
            report.get(field).is_some(),
            "MonthlyReport.{field}: {report}"
        );
    }
    for name in ["TenantView", "CreateTenant", "UpdateTenant"] {
        let births = &schema(name)["yearly_births"];
        assert!(births.is_object(), "{name}.yearly_births");
        if name != "TenantView" {
            assert_eq!(births["minimum"].as_f64(), Some(1.0), "{name}: {births}");
            assert_eq!(births["maximum"].as_f64(), Some(1e6), "{name}: {births}");
        }
    }
}
