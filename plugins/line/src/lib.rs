//! `line`: Tayori's messages through the LINE Messaging API.
//!
//! A municipality's LINE official account sends each parent the day's
//! message by push (or, for a large broadcast, by multicast), with LINE's
//! retry key so that a retried request never delivers twice; the sending
//! lives in the `line-api` crate, shared with the `kanameto` plugin. In
//! `full` mode the account's webhook points at Tayori and this plugin turns
//! LINE's signed events (follow, unfollow, text, postback) into inbound
//! events; in `push_only` mode someone else owns the webhook and this plugin
//! only sends. When the channel is put, the plugin makes the parents' menu
//! the account's default rich menu (see [`rich_menu`]). See README.md for
//! operators.

mod rich_menu;
mod webhook;

use line_api::{DEFAULT_API_BASE, Delivery, MulticastPolicy};
use rich_menu::picture::{self, Picture};
use serde::Deserialize;
use serde_json::json;
use tayori_plugin_sdk::{
    Batch, ChannelSetup, ConfigError, Failure, Manifest, Outcome, Plugin, Renders, Reply,
    ReplyOutcome, SetupReport, WebhookRequest, WebhookResult, export_plugin,
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
    /// Where pictures are uploaded; see [`Config::data_base`].
    #[serde(default)]
    api_data_base: Option<String>,
    /// The municipality's own rich menu picture (base64 PNG or JPEG).
    #[serde(default)]
    rich_menu_image: Option<String>,
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
    /// LINE's upload host: `api_data_base` when given, else
    /// `https://api-data.line.me` for LINE's own `api_base` and the same
    /// base as `api_base` for a sandbox or a fake (which serve both).
    fn data_base(&self) -> &str {
        match &self.api_data_base {
            Some(base) => base,
            None if self.api_base.trim_end_matches('/') == DEFAULT_API_BASE => {
                rich_menu::DEFAULT_DATA_BASE
            }
            None => &self.api_base,
        }
    }

    /// The municipality's picture, checked as LINE checks it.
    fn own_picture(&self) -> Result<Option<Picture>, ConfigError> {
        self.rich_menu_image
            .as_deref()
            .map(|text| {
                picture::from_base64(text).map_err(|e| ConfigError::new("/rich_menu_image", e))
            })
            .transpose()
    }

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
                 registrations and stops. Makes the parents' menu the account's default rich \
                 menu when the channel is put.",
            )
            .config_schema(schema())
            // api.line.me is LINE, api-data.line.me its upload host (the
            // rich menu's picture); the loopback entries are for sandboxes
            // and fakes, reachable only when the operator approves that
            // address for the channel (the operator's approval is the real
            // gate).
            .hosts([
                "api.line.me",
                "api-data.line.me",
                "127.0.0.1:*",
                "localhost:*",
            ])
            .max_batch_size(line_api::send::MAX_MULTICAST_RECIPIENTS as u32)
            .max_batches_per_call(BATCHES_PER_CALL)
            .rate_per_second(RATE_PER_SECOND)
            .handles_webhooks(true)
            .replies(true)
            .sets_up_channels(true)
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
        if let Some(base) = &config.api_data_base {
            platform_common::check_base_url("/api_data_base", base)?;
        }
        config.own_picture()?;
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

    fn setup_channel(config: &Config, setup: ChannelSetup) -> Result<SetupReport, Failure> {
        let own = config
            .own_picture()
            .map_err(|e| Failure::permanent(format!("rich_menu_image {}", e.message)))?;
        let target = rich_menu::Target {
            api_base: &config.api_base,
            data_base: config.data_base(),
            access_token: &config.channel_access_token,
        };
        rich_menu::set_up(&target, &setup, own)
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
            "api_data_base": {
                "type": "string",
                "format": "uri",
                "description": "Base URL of LINE's upload host, where the rich menu's picture goes. Default: https://api-data.line.me when api_base is LINE's, else api_base (a sandbox or a fake serves both). Its host must be approved for the channel too."
            },
            "rich_menu_image": {
                "type": "string",
                "contentEncoding": "base64",
                "description": "Your own picture for the account's rich menu instead of the one Tayori draws: a PNG or JPEG of at most 1 MB, base64, 800 to 2500 pixels wide, at least 250 high and at least 1.45 times as wide as high (2500x1686 or 2500x843). Its buttons are laid out as Tayori's own picture lays them out (see the LINE plugin's README)."
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
            (
                json!({"channel_access_token": "t", "channel_secret": "s", "api_data_base": "http://api-data.line.me"}),
                "/api_data_base",
            ),
            (
                json!({"channel_access_token": "t", "channel_secret": "s", "rich_menu_image": "R0lGODlh"}),
                "/rich_menu_image",
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
    fn pictures_go_to_lines_upload_host_or_the_sandbox_that_serves_both() {
        let production = config(json!({"channel_access_token": "t", "channel_secret": "s"}));
        assert_eq!(production.data_base(), "https://api-data.line.me");
        let fake = config(
            json!({"channel_access_token": "t", "channel_secret": "s", "api_base": "http://127.0.0.1:4010"}),
        );
        assert_eq!(fake.data_base(), "http://127.0.0.1:4010");
        let both = config(json!({
            "channel_access_token": "t", "channel_secret": "s",
            "api_base": "http://127.0.0.1:4010", "api_data_base": "http://127.0.0.1:4011"
        }));
        assert_eq!(both.data_base(), "http://127.0.0.1:4011");
        assert_eq!(Line::validate_config(&both), Ok(()));
    }

    #[test]
    fn a_municipalitys_picture_is_checked_before_the_channel_is_stored() {
        use base64::Engine as _;
        let drawn = rich_menu::render::render(
            &["言語"],
            &rich_menu::layout::tiles(1, rich_menu::layout::HALF),
            rich_menu::layout::HALF,
        )
        .expect("drawn");
        let encoded = base64::engine::general_purpose::STANDARD.encode(&drawn.png);
        let good = config(
            json!({"channel_access_token": "t", "channel_secret": "s", "rich_menu_image": encoded}),
        );
        assert_eq!(Line::validate_config(&good), Ok(()));
        assert_eq!(good.own_picture().unwrap().unwrap().bytes, drawn.png);
        let mut square = drawn.png.clone();
        square[16..24].copy_from_slice(&[0, 0, 0x06, 0x96, 0, 0, 0x06, 0x96]);
        let bad = config(json!({
            "channel_access_token": "t", "channel_secret": "s",
            "rich_menu_image": base64::engine::general_purpose::STANDARD.encode(&square)
        }));
        let error = Line::validate_config(&bad).unwrap_err();
        assert_eq!(error.field, "/rich_menu_image");
        assert!(
            error.message.starts_with("is 1686x1686 pixels"),
            "{}",
            error.message
        );
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
        assert!(m.sets_up_channels);
        assert_eq!(m.max_batches_per_call, 256);
        assert!(m.renders.quick_replies && m.renders.date_picker && m.renders.buttons);
        assert_eq!(m.renders.max_quick_replies, 13);
        assert_eq!(m.hosts[..2], ["api.line.me", "api-data.line.me"]);
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
