//! A channel's platform side, set up by its plugin when the channel is put
//! (contract 0.2.0 `setup-channel`), through the running host on both
//! engines: the plugin is told the tenant's name, the channel's webhook URL,
//! the registration form and the parents' menu; what it did is kept on the
//! channel and shown by the API; a refusal (its secret masked) or a trap is
//! shown as a failed set-up and the channel is still stored; a plugin that
//! sets nothing up shows none.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{Api, on_each_engine, send};

const TOKEN: &str = "setup-secret-token-5f0c2a9e";

/// A platform that takes a set-up as JSON and answers `{"id": "menu-N"}`.
struct MenuPlatform {
    addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Value>>>,
}

impl MenuPlatform {
    async fn start() -> Self {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        async fn take(
            State(received): State<Arc<Mutex<Vec<Value>>>>,
            Json(body): Json<Value>,
        ) -> Json<Value> {
            let mut all = received.lock().unwrap();
            all.push(body);
            Json(json!({ "id": format!("menu-{}", all.len()) }))
        }
        let app = axum::Router::new()
            .route("/menus", axum::routing::post(take))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the platform");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, received }
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

async fn upload_hostile(api: &Api) {
    let bytes = std::fs::read(tayori_plugin_artifacts::HOSTILE).expect("the hostile plugin");
    let (status, body) = send(
        api.op(Method::POST, "/v1/plugins")
            .header("content-type", "application/wasm")
            .body(bytes),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
}

async fn put(api: &Api, name: &str, channel: Value) -> (StatusCode, Value) {
    send(
        api.op(Method::PUT, &format!("/v1/tenants/otaru/channels/{name}"))
            .json(&channel),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_channel_is_set_up_by_its_plugin_and_shows_what_it_did() {
    on_each_engine(|api| async move {
        let platform = MenuPlatform::start().await;
        api.tenant("otaru").await;
        upload_hostile(&api).await;
        let channel = json!({
            "plugin": "hostile",
            "config": {
                "behaviour": "ok",
                "setup": "echo",
                "url": format!("http://{}/menus", platform.addr),
                "token": TOKEN,
            },
            "allowed_hosts": [platform.addr.to_string()],
        });
        let (status, view) = put(&api, "menu", channel.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        let setup = &view["setup"];
        assert_eq!(setup["ok"], true, "{view:#}");
        assert_eq!(setup["summary"], "menu of 5 buttons set for otaru city");
        assert_eq!(setup["details"], json!({ "menu_id": "menu-1" }));
        assert_eq!(setup["plugin_version"], "0.1.0");

        // What the plugin was told.
        let received = platform.received();
        assert_eq!(received.len(), 1);
        let told = &received[0];
        assert_eq!(told["tenant_name"], "otaru city");
        assert_eq!(told["locale"], "ja");
        assert_eq!(told["webhook_url"], api.url("/hooks/otaru/menu"));
        assert_eq!(told["form_url"], api.url("/r/otaru"));
        let menu: Vec<(&str, &str)> = told["menu"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["label"].as_str().unwrap(),
                    // The SDK's serde shape of a postback button.
                    b["action"]["Postback"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            menu,
            [
                ("出産を届ける", "menu=report-birth"),
                ("子どもを追加", "menu=add-child"),
                ("家族を招待", "menu=family"),
                ("言語", "menu=language"),
                ("配信を止める", "menu=stop"),
            ]
        );

        // Kept: GET shows the same, and a second put sets up again.
        let (_, got) = send(api.op(Method::GET, "/v1/tenants/otaru/channels/menu")).await;
        assert_eq!(got["setup"], view["setup"]);
        let (status, again) = put(&api, "menu", channel).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["setup"]["details"], json!({ "menu_id": "menu-2" }));
        let (_, got) = send(api.op(Method::GET, "/v1/tenants/otaru/channels/menu")).await;
        assert_eq!(got["setup"]["details"], json!({ "menu_id": "menu-2" }));
        assert!(!got.to_string().contains(TOKEN));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_set_up_is_shown_and_the_channel_is_kept() {
    on_each_engine(|api| async move {
        api.tenant("otaru").await;
        upload_hostile(&api).await;
        api.upload_echo().await;

        // Refused by the platform, quoting the secret: shown masked.
        let (status, view) = put(
            &api,
            "refused",
            json!({ "plugin": "hostile", "config": { "behaviour": "ok", "setup": "fail", "token": TOKEN } }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["setup"]["ok"], false);
        assert_eq!(
            view["setup"]["summary"],
            "the platform refused the menu for token ***"
        );
        let (status, got) = send(api.op(Method::GET, "/v1/tenants/otaru/channels/refused")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["setup"], view["setup"]);
        assert!(!got.to_string().contains(TOKEN), "{got}");

        // A trap fails the set-up alone.
        let (status, view) = put(
            &api,
            "trapped",
            json!({ "plugin": "hostile", "config": { "behaviour": "ok", "setup": "trap" } }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["setup"]["ok"], false);
        let summary = view["setup"]["summary"].as_str().unwrap();
        assert!(summary.starts_with("the plugin failed"), "{summary}");

        // Nothing to set up without `setup`: a plain report.
        let (_, view) = put(
            &api,
            "plain",
            json!({ "plugin": "hostile", "config": { "behaviour": "ok" } }),
        )
        .await;
        assert_eq!(view["setup"]["ok"], true);
        assert_eq!(view["setup"]["summary"], "nothing to set up");

        // A plugin that sets nothing up (its manifest says so): none.
        let echo = api.echo_channel("otaru", "echo").await;
        assert_eq!(echo["setup"], Value::Null, "{echo}");
    })
    .await;
}
