//! The five platform plugins are bundled: a fresh server publishes them
//! through the upload path at start, and `GET /v1/plugins` lists them.

use reqwest::Method;
use serde_json::Value;

use crate::support::server::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_lists_all_five_platform_plugins() {
    let server = TestServer::start().await;
    let list: Value = server
        .op(Method::GET, "/v1/plugins")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plugins = list["plugins"].as_array().expect("a list");
    let mut listed: Vec<&str> = plugins.iter().map(|p| p["id"].as_str().unwrap()).collect();
    listed.sort_unstable();
    assert_eq!(listed, ["email", "kanameto", "line", "muni-app", "x-dm"]);
    for plugin in plugins {
        let id = plugin["id"].as_str().unwrap();
        assert_eq!(plugin["active_version"], "0.2.0", "{id} is active");
        assert_eq!(
            plugin["versions"][0]["contract"], "0.2.0",
            "{id} is on contract 0.2.0"
        );
        let manifest = &plugin["versions"][0]["manifest"];
        assert!(
            manifest["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h == "127.0.0.1:*"),
            "{id}"
        );
        let schema = &manifest["config_schema"];
        let secrets = schema["properties"]
            .as_object()
            .unwrap()
            .values()
            .filter(|p| p["writeOnly"] == true)
            .count();
        assert!(secrets >= 1, "{id} marks its credentials writeOnly");
        for (name, property) in schema["properties"].as_object().unwrap() {
            assert!(
                property["description"].is_string(),
                "{id}: /{name} has no description"
            );
        }
    }
    server.stop().await;
}
