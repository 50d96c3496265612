//! `line`: Tayori's messages through the LINE Messaging API.
//!
//! A municipality's LINE official account sends each parent the day's
//! message by push (or, for a large broadcast, by multicast), with LINE's
//! retry key so that a retried request never delivers twice; the sending
//! lives in the `line-api` crate, shared with the `kanameto` plugin. In
//! `full` mode the account's webhook points at Tayori and this plugin turns
//! LINE's signed events (follow, unfollow, text, postback) into inbound
//! events; in `push_only` mode someone else owns the webhook and this plugin
//! only sends. See README.md for operators.

mod webhook;

use line_api::{DEFAULT_API_BASE, Delivery, MulticastPolicy};
use serde::Deserialize;
use serde_json::json;
use tayori_plugin_sdk::{
    Batch, ConfigError, Manifest, Outcome, Plugin, Renders, Reply, ReplyOutcome, WebhookRequest,
    WebhookResult, export_plugin,
};

/// Recipients per second per channel: LINE's push limit (about 2,000
/// requests a second per channel, one recipient each). A multicast of at
/// least 10 recipients at this rate stays within LINE's 200 multicasts a
/// second, hence the floor on `multicast_min_recipients`.
const RATE_PER_SECOND: u32 = 2_000;
/// The smallest `multicast_min_recipients`: 2,000 recipients a second in
/// multicasts of at least 10 is at most 200 multicasts a second.
const MIN_MULTICAST_RECIPIENTS: u32 = 10;
/// Batches (different messages) one call takes: a claim's messages for the
/// channel, their pushes sent together.
const BATCHES_PER_CALL: u32 = 256;
/// Default `multicast_min_recipients`.
const DEFAULT_MULTICAST_RECIPIENTS: u32 = 50;

/// Whether this channel receives LINE's webhooks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// Send, and handle the account's webhook.
    #[default]
    Full,
    /// Only send: another system owns the webhook.
    PushOnly,
}

/// The channel config (see the schema in [`Line::manifest`]).
#[derive(Deserialize)]
struct Config {
    channel_access_token: String,
    #[serde(default)]
    channel_secret: Option<String>,
    #[serde(default = "default_api_base")]
    api_base: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "default_multicast_min")]
    multicast_min_recipients: Option<u32>,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_owned()
}

fn default_multicast_min() -> Option<u32> {
    Some(DEFAULT_MULTICAST_RECIPIENTS)
}

impl Config {
    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            api_base: &self.api_base,
            access_token: &self.channel_access_token,
            multicast: match self.multicast_min_recipients {
                Some(min) => MulticastPolicy::From(min.max(MIN_MULTICAST_RECIPIENTS) as usize),
                None => MulticastPolicy::Never,
            },
        }
    }
}

struct Line;

impl Plugin for Line {
    type Config = Config;

    fn manifest() -> Manifest {
        Manifest::new("line", env!("CARGO_PKG_VERSION"))
            .name("LINE")
            .vendor("Tayori")
            .description(
                "Sends messages from a municipality's LINE official account through the LINE \
                 Messaging API (push, or multicast for large batches, with retry keys), and in \
                 full mode turns its webhook's follow, unfollow, text and postback events into \
                 registrations and stops.",
            )
            .config_schema(schema())
            // api.line.me is LINE; the loopback entries are for sandboxes and
            // fakes, reachable only when the operator approves that address
            // for the channel (the operator's approval is the real gate).
            .hosts(["api.line.me", "127.0.0.1:*", "localhost:*"])
            .max_batch_size(line_api::send::MAX_MULTICAST_RECIPIENTS as u32)
            .max_batches_per_call(BATCHES_PER_CALL)
            .rate_per_second(RATE_PER_SECOND)
            .handles_webhooks(true)
            .replies(true)
            .renders(Renders {
                buttons: true,
                quick_replies: true,
                date_picker: true,
                link_buttons: true,
                max_buttons: line_api::message::MAX_BUTTONS as u32,
                max_quick_replies: line_api::message::MAX_QUICK_REPLIES as u32,
            })
    }

    fn validate_config(config: &Config) -> Result<(), ConfigError> {
        platform_common::check_base_url("/api_base", &config.api_base)?;
        if config.channel_access_token.trim().is_empty() {
            return Err(ConfigError::new(
                "/channel_access_token",
                "must not be empty",
            ));
        }
        if config.mode == Mode::Full
            && config
                .channel_secret
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            return Err(ConfigError::new(
                "/channel_secret",
                "is required in full mode: it checks the signature of LINE's webhooks",
            ));
        }
        if config
            .multicast_min_recipients
            .is_some_and(|min| min < MIN_MULTICAST_RECIPIENTS)
        {
            return Err(ConfigError::new(
                "/multicast_min_recipients",
                format!(
                    "must be at least {MIN_MULTICAST_RECIPIENTS} (or null to always push), \
                     so that multicasts stay within LINE's 200 requests a second"
                ),
            ));
        }
        Ok(())
    }

    fn deliver(config: &Config, batch: Batch) -> Vec<Outcome> {
        line_api::deliver(&config.delivery(), &batch)
    }

    fn deliver_batches(config: &Config, batches: Vec<Batch>) -> Vec<Outcome> {
        line_api::deliver_many(&config.delivery(), &batches)
    }

    fn reply(config: &Config, replies: Vec<Reply>) -> Vec<ReplyOutcome> {
        line_api::reply::reply(&config.delivery(), &replies)
    }

    fn handle_webhook(config: &Config, request: WebhookRequest) -> WebhookResult {
        match (config.mode, config.channel_secret.as_deref()) {
            (Mode::Full, Some(secret)) if !secret.is_empty() => webhook::handle(secret, &request),
            _ => WebhookResult::not_found(),
        }
    }
}

fn schema() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "LINE channel",
        "type": "object",
        "additionalProperties": false,
        "required": ["channel_access_token"],
        "properties": {
            "channel_access_token": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "The Messaging API channel's long-lived channel access token (LINE Developers console → the channel → Messaging API → Channel access token)."
            },
            "channel_secret": {
                "type": "string",
                "minLength": 1,
                "writeOnly": true,
                "description": "The channel secret (LINE Developers console → the channel → Basic settings). Checks the signature of every webhook; required in full mode."
            },
            "api_base": {
                "type": "string",
                "format": "uri",
                "default": DEFAULT_API_BASE,
                "description": "Base URL of the Messaging API. Change it only to point the channel at a sandbox or a fake; https is required except on a loopback address, and the operator must approve its host for the channel."
            },
            "mode": {
                "type": "string",
                "enum": ["full", "push_only"],
                "default": "full",
                "description": "full: Tayori sends and receives the account's webhook (set the webhook URL to Tayori's /hooks/{tenant}/{channel}). push_only: Tayori only sends; another system owns the webhook, and subscribers arrive by import."
            },
            "multicast_min_recipients": {
                "type": ["integer", "null"],
                "minimum": MIN_MULTICAST_RECIPIENTS,
                "maximum": 500,
                "default": DEFAULT_MULTICAST_RECIPIENTS,
                "description": "A batch with at least this many distinct recipients goes as one multicast (up to 500 per request) instead of one push each. null: always push (exactly once per recipient however retries are grouped, with per-recipient message ids)."
            }
        },
        "if": {
            "properties": { "mode": { "const": "push_only" } },
            "required": ["mode"]
        },
        "else": { "required": ["channel_secret"] }
    })
}

export_plugin!(Line);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: serde_json::Value) -> Config {
        serde_json::from_value(value).expect("config deserialises")
    }

    #[test]
    fn defaults_are_lines_production_api_full_mode_and_multicast_from_50() {
        let c = config(json!({"channel_access_token": "t", "channel_secret": "s"}));
        assert_eq!(c.api_base, "https://api.line.me");
        assert_eq!(c.mode, Mode::Full);
        assert_eq!(c.delivery().multicast, MulticastPolicy::From(50));
        assert_eq!(Line::validate_config(&c), Ok(()));
        let never = config(
            json!({"channel_access_token": "t", "channel_secret": "s", "multicast_min_recipients": null}),
        );
        assert_eq!(never.delivery().multicast, MulticastPolicy::Never);
    }

    #[test]
    fn full_mode_needs_the_channel_secret() {
        let c = config(json!({"channel_access_token": "t"}));
        assert_eq!(
            Line::validate_config(&c).unwrap_err().field,
            "/channel_secret"
        );
        let c = config(json!({"channel_access_token": "t", "mode": "push_only"}));
        assert_eq!(Line::validate_config(&c), Ok(()));
    }

    #[test]
    fn odd_configs_are_refused_by_field() {
        for (value, field) in [
            (
                json!({"channel_access_token": "t", "channel_secret": "s", "api_base": "http://api.line.me"}),
                "/api_base",
            ),
            (
                json!({"channel_access_token": " ", "channel_secret": "s"}),
                "/channel_access_token",
            ),
            (
                json!({"channel_access_token": "t", "channel_secret": "s", "multicast_min_recipients": 3}),
                "/multicast_min_recipients",
            ),
        ] {
            let error = Line::validate_config(&config(value.clone())).expect_err("refused");
            assert_eq!(error.field, field, "{value}");
        }
        let loopback = config(
            json!({"channel_access_token": "t", "channel_secret": "s", "api_base": "http://127.0.0.1:4010"}),
        );
        assert_eq!(Line::validate_config(&loopback), Ok(()));
    }

    #[test]
    fn push_only_channels_have_no_webhook() {
        let c = config(
            json!({"channel_access_token": "t", "channel_secret": "s", "mode": "push_only"}),
        );
        let request = WebhookRequest {
            method: "POST".into(),
            path: String::new(),
            query: String::new(),
            headers: Vec::new(),
            body: b"{}".to_vec(),
        };
        assert_eq!(Line::handle_webhook(&c, request).response.status, 404);
    }

    #[test]
    fn the_manifest_declares_lines_limits() {
        let m = Line::manifest();
        assert_eq!(m.id, "line");
        assert_eq!(m.max_batch_size, 500);
        assert_eq!(m.rate_per_second, 2_000);
        assert!(m.handles_webhooks);
        assert!(m.replies);
        assert_eq!(m.max_batches_per_call, 256);
        assert!(m.renders.quick_replies && m.renders.date_picker && m.renders.buttons);
        assert_eq!(m.renders.max_quick_replies, 13);
        assert_eq!(m.hosts[0], "api.line.me");
        let secrets: Vec<&str> = m.config_schema["properties"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, p)| p["writeOnly"] == true)
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(secrets, ["channel_access_token", "channel_secret"]);
    }
}
