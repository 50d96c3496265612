//! The catalog through the HTTP API: the demo catalog's cadence, import and
//! export round trip, template errors naming message and locale, and a
//! tenant's local inserts and extra messages.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{Api, error, on_each_engine, send};

fn demo() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog/demo.yaml");
    std::fs::read_to_string(path).expect("catalog/demo.yaml")
}

fn import(api: &Api, yaml: String) -> reqwest::RequestBuilder {
    api.op(Method::POST, "/v1/catalog/import")
        .header("content-type", "application/yaml")
        .body(yaml)
}

/// The demo catalog follows the real cadence, phase by phase.
#[test]
fn the_demo_catalog_follows_the_real_cadence() {
    let file: tayori_api::CatalogFile = serde_yaml::from_str(&demo()).expect("demo.yaml parses");
    let programs = tayori_api::check_catalog_file(&file).expect("demo.yaml is valid");
    let standard = &programs
        .iter()
        .find(|p| p.program.id == "standard")
        .unwrap()
        .messages;
    use tayori_core::ScheduleRule as R;
    let pregnancy: Vec<u32> = standard
        .iter()
        .filter_map(|m| match m.rule {
            R::PregnancyDay(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(
        pregnancy,
        (28..=293).collect::<Vec<_>>(),
        "daily from week 4 day 0 to week 41 day 6"
    );
    let mut child_days: Vec<u32> = standard
        .iter()
        .filter(|m| !m.id.starts_with("milestone"))
        .filter_map(|m| match m.rule {
            R::ChildDay(n) => Some(n),
            _ => None,
        })
        .collect();
    child_days.sort_unstable();
    let to_100: Vec<u32> = child_days.iter().copied().filter(|d| *d <= 100).collect();
    assert_eq!(to_100, (0..=100).collect::<Vec<_>>(), "daily to day 100");
    let to_first: Vec<u32> = child_days
        .iter()
        .copied()
        .filter(|d| (101..365).contains(d))
        .collect();
    assert_eq!(to_first.len(), 88);
    assert!(
        to_first.windows(2).all(|w| w[1] - w[0] == 3),
        "every 3 days to the 1st birthday"
    );
    let year1: Vec<u32> = child_days
        .iter()
        .copied()
        .filter(|d| (365..730).contains(d))
        .collect();
    assert!(
        year1.windows(2).all(|w| w[1] - w[0] == 7),
        "weekly in year 1"
    );
    let year2: Vec<u32> = child_days
        .iter()
        .copied()
        .filter(|d| (730..1095).contains(d))
        .collect();
    assert!(
        year2.windows(2).all(|w| w[1] - w[0] == 14),
        "every two weeks in year 2"
    );
    let birthdays: Vec<u32> = standard
        .iter()
        .filter_map(|m| match m.rule {
            R::ChildYear(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(birthdays, [1, 2, 3], "ends at the 3rd birthday");
    assert_eq!(year1.len() + 1, 52);
    assert_eq!(year2.len() + 1, 26);
    let milestones: Vec<(&str, R)> = standard
        .iter()
        .filter(|m| m.id.starts_with("milestone"))
        .map(|m| (m.id.as_str(), m.rule))
        .collect();
    assert_eq!(
        milestones,
        [
            ("milestone-day-100", R::ChildDay(100)),
            ("milestone-day-1000", R::ChildDay(1000))
        ]
    );
    assert!(
        (520..=545).contains(&standard.len()),
        "about 530 messages: {}",
        standard.len()
    );
    for m in standard {
        let locales: Vec<&str> = m.content.keys().map(|l| l.as_str()).collect();
        assert_eq!(locales, ["ja", "en"], "{}", m.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_imports_exports_and_refuses_bad_templates() {
    on_each_engine(|api| async move {
        let (status, r) = send(import(&api, demo())).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r, json!({"programs": 2, "messages": 537, "removed": 0}));
        let (_, list) = send(api.op(Method::GET, "/v1/catalog/programs")).await;
        let counts: BTreeMap<String, u64> = list["programs"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap().to_string(), p["messages"].as_u64().unwrap())).collect();
        assert_eq!(counts, BTreeMap::from([("school-entry".to_string(), 1), ("standard".to_string(), 536)]));

        // Export, import the export: nothing changes, and it exports the same.
        let export = api.op(Method::GET, "/v1/catalog/export").send().await.unwrap();
        assert_eq!(export.status(), StatusCode::OK);
        assert!(export.headers()["content-type"].to_str().unwrap().starts_with("application/yaml"));
        let first = export.text().await.unwrap();
        let (status, r) = send(import(&api, first.clone())).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["removed"], 0);
        let second = api.op(Method::GET, "/v1/catalog/export").send().await.unwrap().text().await.unwrap();
        assert_eq!(first, second);
        let (_, program) = send(api.op(Method::GET, "/v1/catalog/programs/standard")).await;
        assert_eq!(program["messages"][0]["rule"], json!({"pregnancy_day": 28}));
        assert_eq!(program["messages"][0]["id"], "pregnancy-day-028");

        // A program imported alone replaces only itself.
        let (status, r) = send(import(&api, "programs: [{id: school-entry, name: School, messages: [{id: school-a, rule: {school_entry: {offset_days: -7}}, content: {ja: {subject: 入学, body: \"{{ tenant_name }}より\"}}}]}]".into())).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r, json!({"programs": 1, "messages": 1, "removed": 1}));
        let (_, list) = send(api.op(Method::GET, "/v1/catalog/programs")).await;
        assert_eq!(list["programs"].as_array().unwrap().len(), 2);

        // Bad files: the message id and locale are named; nothing changes.
        for (yaml, expected) in [
            ("programs: [{id: standard, name: S, messages: [{id: m1, rule: {child_day: 1}, content: {ja: {body: ok}, en: {body: \"{% if %}\"}}}]}]", "message `m1` en body: template syntax error"),
            ("programs: [{id: standard, name: S, messages: [{id: m1, rule: {child_day: 1}, content: {ja: {subject: \"{{ tenat_name }}\", body: ok}}}]}]", "message `m1` ja subject: unknown template variable `tenat_name`"),
            ("programs: [{id: standard, name: S, messages: [{id: m1, rule: {child_week: 1}, content: {ja: {body: ok}}}]}]", "message `m1` rule: "),
            ("programs: [{id: standard, name: S, messages: [{id: m1, rule: {child_day: 1}, content: {en: {body: ok}}}]}]", "message `m1` content: needs a `ja` text"),
            ("programs: [{id: standard, name: S, messages: [{id: m1, rule: {child_day: 1}, content: {ja: {body: a}}}, {id: m1, rule: {child_day: 2}, content: {ja: {body: b}}}]}]", "message `m1`: the id is used twice"),
            ("programs: [{id: standard, name: S, mesages: []}]", "catalog file: "),
        ] {
            let (status, answer) = send(import(&api, yaml.to_string())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{yaml}: {answer}");
            assert!(error(&answer).1.starts_with(expected), "{yaml}: {answer}");
        }
        let (_, list) = send(api.op(Method::GET, "/v1/catalog/programs")).await;
        assert_eq!(list["programs"][1]["messages"], 536, "{list}");
        let (status, _) = send(api.op(Method::POST, "/v1/catalog/import").header("content-type", "text/csv").body("x")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        // Tenants read the catalog but do not import it.
        api.tenant("otaru").await;
        let admin = api.token("tenant_admin", Some("otaru"), &[]).await;
        let (status, _) = send(api.with(&admin, Method::GET, "/v1/catalog/programs")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = send(api.with(&admin, Method::POST, "/v1/catalog/import").header("content-type", "application/yaml").body(demo())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Programs named by tenants must exist.
        let (status, t) = send(api.with(&admin, Method::PATCH, "/v1/tenants/otaru").json(&json!({"programs": ["standard", "school-entry"]}))).await;
        assert_eq!(status, StatusCode::OK, "{t}");

        // Local inserts per message and per stage; extra messages.
        let (status, ins) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/catalog/inserts/stage/month-3").json(&json!({"content": {"ja": "4か月児健診は{{ tenant_name }}保健センターで。"}}))).await;
        assert_eq!(status, StatusCode::OK, "{ins}");
        let (status, _) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/catalog/inserts/message/child-day-100").json(&json!({"content": {"ja": "お食い初めの食器を貸し出しています。", "en": "We lend okuizome tableware."}}))).await;
        assert_eq!(status, StatusCode::OK);
        for (path, body, expected) in [
            ("/v1/tenants/otaru/catalog/inserts/stage/month-99", json!({"content": {"ja": "x"}}), "stage: no catalog stage `month-99`"),
            ("/v1/tenants/otaru/catalog/inserts/message/child-day-100", json!({"content": {"ja": "{{ nope }}"}}), "content.ja: unknown template variable `nope`"),
            ("/v1/tenants/otaru/catalog/inserts/message/child-day-100", json!({"content": {"xx": "x"}}), "content: unknown locale `xx`"),
        ] {
            let (status, answer) = send(api.with(&admin, Method::PUT, path).json(&body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
            assert!(error(&answer).1.starts_with(expected), "{answer}");
        }
        let (status, _) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/catalog/inserts/chapter/x").json(&json!({"content": {"ja": "x"}}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, inserts) = send(api.with(&admin, Method::GET, "/v1/tenants/otaru/catalog/inserts")).await;
        assert_eq!(inserts["inserts"].as_array().unwrap().len(), 2, "{inserts}");

        let (status, m) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/catalog/messages/otaru-checkup-18m").json(&json!({
            "stage": "year-1", "rule": {"child_month": 18},
            "content": {"ja": {"subject": "1歳6か月児健診", "body": "{{ tenant_name }}の1歳6か月児健診のご案内です。"}}
        }))).await;
        assert_eq!(status, StatusCode::OK, "{m}");
        let (status, answer) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/catalog/messages/child-day-001").json(&json!({
            "rule": {"child_day": 1}, "content": {"ja": {"subject": "", "body": "mine"}}
        }))).await;
        assert_eq!(status, StatusCode::CONFLICT, "a catalog id: {answer}");
        let (status, answer) = send(api.with(&admin, Method::PUT, "/v1/tenants/otaru/catalog/messages/x1").json(&json!({
            "rule": {"child_day": 1}, "content": {"ja": {"subject": "", "body": "{% endif %}"}}
        }))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error(&answer).1.starts_with("content ja body: template syntax error"), "{answer}");
        let (_, list) = send(api.with(&admin, Method::GET, "/v1/tenants/otaru/catalog/messages")).await;
        assert_eq!(list["messages"][0]["rule"], json!({"child_month": 18}));
        let (status, _) = send(api.with(&admin, Method::DELETE, "/v1/tenants/otaru/catalog/messages/otaru-checkup-18m")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = send(api.with(&admin, Method::DELETE, "/v1/tenants/otaru/catalog/inserts/stage/month-3")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // Deleting a program (operators).
        let (status, _) = send(api.op(Method::DELETE, "/v1/catalog/programs/school-entry")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, answer): (StatusCode, Value) = send(api.op(Method::GET, "/v1/catalog/export?program=school-entry")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    })
    .await;
}
