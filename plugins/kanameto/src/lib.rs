//! `kanameto`: Tayori's messages to parents registered through KANAMETO.
//!
//! KANAMETO (transcosmos) runs a municipality's LINE official account and
//! owns that account's webhook, and publishes no developer API. So this
//! plugin sends the way the `line` plugin does in `push_only` mode: LINE
//! pushes (or multicasts for large batches) on the municipality's own
//! Messaging API channel, addressed by the LINE user ids that KANAMETO's CSV
//! export lists, and it has no webhook. The sending is the `line-api` crate,
//! shared with `line`. When transcosmos publishes a partner API, it ships as
//! a new version of this plugin without touching the host. See README.md.

use line_api::{DEFAULT_API_BASE, Delivery, MulticastPolicy};
use serde::Deserialize;
use serde_json::json;
use tayori_plugin_sdk::{Batch, ConfigError, Manifest, Outcome, Plugin, export_plugin};

/// Recipients per second per channel: LINE's push limit (see the `line`
/// plugin for why multicasts then stay within their own limit).
const RATE_PER_SECOND: u32 = 2_000;
/// The smallest `multicast_min_recipients` (2,000/s in groups of 10 is
/// LINE's 200 multicasts a second).
const MIN_MULTICAST_RECIPIENTS: u32 = 10;
/// Default `multicast_min_recipients`.
const DEFAULT_MULTICAST_RECIPIENTS: u32 = 50;

#[derive(Deserialize)]
struct Config {
    channel_access_token: String,
    #[serde(default = "default_api_base")]
    api_base: String,
    #[serde(default = "default_multicast_min")]
    multicast_min_recipients: Option<u32>,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_owned()
}

fn default_multicast_min() -> Option<u32> {
    Some(DEFAULT_MULTICAST_RECIPIENTS)
}

struct Kanameto;

impl Plugin for Kanameto {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("kanameto", env!("CARGO_PKG_VERSION"))
            .name("KANAMETO (LINE)")
            .vendor("Tayori")
            .description(
                "For municipalities whose LINE official account runs on transcosmos KANAMETO: \
                 sends through the LINE Messaging API on that account (push, or multicast for \
                 large batches, with retry keys). KANAMETO keeps the webhook; subscribers \
                 arrive by importing KANAMETO's CSV export.",
            )
            .config_schema(schema())
            // The loopback entries are for sandboxes and fakes, reachable
            // only when the operator approves that address for the channel.
            .hosts(["api.line.me", "127.0.0.1:*", "localhost:*"])
            .max_batch_size(line_api::send::MAX_MULTICAST_RECIPIENTS as u32)
            .max_batches_per_call(256)
            .rate_per_second(RATE_PER_SECOND)
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        platform_common::check_base_url("/api_base", &config.api_base)?;
        if config.channel_access_token.trim().is_empty() {
            return Err(ConfigError::new(
                "/channel_access_token",
                "must not be empty",
            ));
        }
        if config
            .multicast_min_recipients
            .is_some_and(|min| min < MIN_MULTICAST_RECIPIENTS)
        {
            return Err(ConfigError::new(
                "/multicast_min_recipients",
                format!("must be at least {MIN_MULTICAST_RECIPIENTS} (or null to always push)"),
            ));
        }
        Ok(())
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        line_api::deliver(&delivery(config), &batch)
    }

    fn deliver_batches(config: &Config, batches: Vec<Batch>) -> Vec<Outcome> {
        line_api::deliver_many(&delivery(config), &batches)
    }
}

fn delivery(config: &Config) -> Delivery<'_> {
    Delivery {
        api_base: &config.api_base,
        access_token: &config.channel_access_token,
        multicast: match config.multicast_min_recipients {
            Some(min) => MulticastPolicy::From(min.max(MIN_MULTICAST_RECIPIENTS) as usize),
            None => MulticastPolicy::Never,
        },
    }
}

fn schema() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "KANAMETO channel (LINE push)",
        "type": "object",
        "additionalProperties": false,
        "required": ["channel_access_token"],
        "properties": {
            "channel_access_token": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "A long-lived channel access token of the Messaging API channel of the municipality's LINE official account that KANAMETO runs (LINE Developers console → that channel → Messaging API). The account's webhook stays with KANAMETO."
            },
            "api_base": {
                "type": "string",
                "format": "uri",
                "default": DEFAULT_API_BASE,
                "description": "Base URL of the LINE Messaging API. Change it only to point the channel at a sandbox or a fake; https is required except on a loopback address, and the operator must approve its host for the channel."
            },
            "multicast_min_recipients": {
                "type": ["integer", "null"],
                "minimum": MIN_MULTICAST_RECIPIENTS,
                "maximum": 500,
                "default": DEFAULT_MULTICAST_RECIPIENTS,
                "description": "A batch with at least this many distinct recipients goes as one multicast instead of one push each. null: always push."
            }
        }
    })
}

export_plugin!(Kanameto);

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::WebhookRequest;

    use super::*;

    fn config(value: serde_json::Value) -> Config {
        serde_json::from_value(value).expect("config deserialises")
    }

    #[test]
    fn a_token_is_all_it_needs() {
        let c = config(json!({"channel_access_token": "t"}));
        assert_eq!(c.api_base, "https://api.line.me");
        assert_eq!(Kanameto::validate_config(&c), Ok(()));
    }

    #[test]
    fn odd_configs_are_refused_by_field() {
        for (value, field) in [
            (
                json!({"channel_access_token": "t", "api_base": "http://api.line.me"}),
                "/api_base",
            ),
            (json!({"channel_access_token": ""}), "/channel_access_token"),
            (
                json!({"channel_access_token": "t", "multicast_min_recipients": 2}),
                "/multicast_min_recipients",
            ),
        ] {
            let error = Kanameto::validate_config(&config(value.clone())).expect_err("refused");
            assert_eq!(error.field, field, "{value}");
        }
    }

    #[test]
    fn it_has_no_webhook() {
        let m = Kanameto::manifest();
        assert_eq!(m.id, "kanameto");
        assert!(!m.handles_webhooks);
        assert_eq!((m.max_batch_size, m.rate_per_second), (500, 2_000));
        let request = WebhookRequest {
            method: "POST".into(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: b"{}".to_vec(),
        };
        let c = config(json!({"channel_access_token": "t"}));
        assert_eq!(Kanameto::handle_webhook(&c, request).response.status, 404);
    }
}
