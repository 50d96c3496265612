//! A whole JSON-over-HTTPS plugin (the README's example): one POST per
//! recipient, the platform's id back, its errors mapped to the contract's.
//!
//! Build it: `cargo build --release --target wasm32-wasip2 --example hello`.

use serde::Deserialize;
use serde_json::json;
use tayori_plugin_sdk::{
    Batch, Failure, Manifest, Outcome, Plugin, Recipient, export_plugin, http,
};

#[derive(Deserialize)]
struct Config {
    #[serde(default = "default_api_base")]
    api_base: String,
    token: String,
}

fn default_api_base() -> String {
    "https://api.hello.example".to_owned()
}

struct Hello;

impl Plugin for Hello {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("hello", env!("CARGO_PKG_VERSION"))
            .name("Hello Messenger")
            .vendor("Example Inc.")
            .config_schema(json!({
                "type": "object",
                "required": ["token"],
                "properties": {
                    "api_base": { "type": "string", "default": "https://api.hello.example" },
                    "token": { "type": "string", "writeOnly": true }
                }
            }))
            .host("api.hello.example")
            .rate_per_second(50)
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        let send = |r: &Recipient| -> Result<Option<String>, Failure> {
            let url = format!("{}/v1/messages", config.api_base);
            let auth = format!("Bearer {}", config.token);
            let body = json!({ "to": r.address, "text": batch.content.body });
            let headers = [
                ("authorization", auth.as_str()),
                ("idempotency-key", &r.idempotency_key),
            ];
            let response = http::post_json(&url, &headers, &body)?;
            if response.status == 404 {
                return Err(Failure::recipient_gone("unknown user"));
            }
            let sent: serde_json::Value = response.error_for_status()?.json().unwrap_or_default();
            Ok(sent["id"].as_str().map(str::to_owned))
        };
        batch
            .recipients
            .iter()
            .map(|r| r.outcome(send(r)))
            .collect()
    }
}

export_plugin!(Hello);
