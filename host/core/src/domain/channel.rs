//! Channels: a tenant's binding of a delivery plugin under a name (`line`,
//! `email`), with its config, the operator's approval of outbound hosts, rate
//! overrides, and the pause that a credential failure puts on it.
//!
//! A channel's config is split in two before it reaches the store: the fields
//! the plugin's schema marks `writeOnly` (secrets) are encrypted above the
//! store into one opaque blob, [`Channel::secrets_ciphertext`]; everything
//! else stays readable JSON in [`Channel::config`]. The store never sees a
//! secret in clear, and neither `Debug` nor `Serialize` shows the blob.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether `name` is a valid channel name: a slug, `[a-z0-9][a-z0-9-]{0,62}`.
pub fn is_valid_channel_name(name: &str) -> bool {
    super::is_slug(name)
}

/// Why and since when a channel is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPause {
    /// What the dispatcher saw, e.g. the plugin's `unauthorized` message.
    pub reason: String,
    /// When the channel was paused.
    pub since: DateTime<Utc>,
}

/// What the plugin's channel set-up (contract 0.2.0 `setup-channel`) last
/// did for a channel, shown on it: LINE's rich menu made and set, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSetupOutcome {
    /// Whether the platform side is set up.
    pub ok: bool,
    /// One line for staff: the plugin's summary, or its failure.
    pub summary: String,
    /// Platform ids worth keeping (`rich-menu-id`, ...).
    pub details: Vec<(String, String)>,
    /// The plugin version that ran it.
    pub plugin_version: String,
    /// When it ran.
    pub at: DateTime<Utc>,
}

/// A tenant's binding of a plugin.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The tenant that owns the channel.
    pub tenant_id: String,
    /// The channel's name, unique in the tenant.
    pub name: String,
    /// The plugin that delivers for it.
    pub plugin_id: String,
    /// A pinned plugin version; `None` follows the active version.
    pub version: Option<semver::Version>,
    /// The non-secret part of the config.
    pub config: serde_json::Value,
    /// The secret part of the config, encrypted above the store; empty when
    /// the config has no secrets. Never serialized.
    #[serde(skip)]
    pub secrets_ciphertext: Vec<u8>,
    /// The outbound hosts the operator approved (`host[:port]`).
    pub allowed_hosts: Vec<String>,
    /// Overrides the manifest's rate per second.
    pub rate_per_second: Option<u32>,
    /// Overrides the manifest's daily quota.
    pub daily_quota: Option<u32>,
    /// Set while the channel is paused (e.g. after `unauthorized`); cleared
    /// when its config is put again.
    pub paused: Option<ChannelPause>,
    /// What the plugin's set-up last did; `None` for a plugin that sets
    /// nothing up, or before its first run.
    #[serde(default)]
    pub setup: Option<ChannelSetupOutcome>,
    /// When the channel was first put.
    pub created_at: DateTime<Utc>,
    /// When it was last put, paused or resumed.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("plugin_id", &self.plugin_id)
            .field("version", &self.version)
            .field("config", &self.config)
            .field(
                "secrets_ciphertext",
                &Redacted(self.secrets_ciphertext.len()),
            )
            .field("allowed_hosts", &self.allowed_hosts)
            .field("rate_per_second", &self.rate_per_second)
            .field("daily_quota", &self.daily_quota)
            .field("paused", &self.paused)
            .field("setup", &self.setup)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What a `PUT` of a channel writes: everything but the timestamps and the
/// pause (a put always resumes the channel).
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The channel's name.
    pub name: String,
    /// The plugin that delivers for it.
    pub plugin_id: String,
    /// A pinned version, or `None` to follow the active version.
    pub version: Option<semver::Version>,
    /// The non-secret config.
    pub config: serde_json::Value,
    /// The encrypted secrets (empty for none).
    pub secrets_ciphertext: Vec<u8>,
    /// The approved outbound hosts.
    pub allowed_hosts: Vec<String>,
    /// Rate override.
    pub rate_per_second: Option<u32>,
    /// Daily quota override.
    pub daily_quota: Option<u32>,
}

impl std::fmt::Debug for ChannelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSpec")
            .field("name", &self.name)
            .field("plugin_id", &self.plugin_id)
            .field("version", &self.version)
            .field("config", &self.config)
            .field(
                "secrets_ciphertext",
                &Redacted(self.secrets_ciphertext.len()),
            )
            .field("allowed_hosts", &self.allowed_hosts)
            .field("rate_per_second", &self.rate_per_second)
            .field("daily_quota", &self.daily_quota)
            .finish()
    }
}

/// The result of putting a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutChannel {
    /// The channel as stored.
    pub channel: Channel,
    /// Whether it did not exist before (`201` rather than `200`).
    pub created: bool,
}

/// The menu a tenant's parents see on a platform that has one (LINE's rich
/// menu), in order, with labels in `locale` (`ja`, `ja-easy` or `en`;
/// Japanese otherwise). Each button posts back `menu=<action>`, which the
/// conversation reads: report a birth, add a child, invite family, change
/// the language, stop.
pub fn default_menu(locale: &str) -> Vec<crate::Button> {
    const ACTIONS: [&str; 5] = ["report-birth", "add-child", "family", "language", "stop"];
    let labels: [&str; 5] = match locale {
        "en" => [
            "Report a birth",
            "Add a child",
            "Invite family",
            "Language",
            "Stop messages",
        ],
        "ja-easy" => [
            "うまれました",
            "こどもを ふやす",
            "かぞくを さそう",
            "ことば",
            "やめる",
        ],
        _ => [
            "出産を届ける",
            "子どもを追加",
            "家族を招待",
            "言語",
            "配信を止める",
        ],
    };
    ACTIONS
        .iter()
        .zip(labels)
        .map(|(action, label)| crate::Button {
            label: label.to_owned(),
            action: crate::Action::Postback {
                data: format!("menu={action}"),
            },
        })
        .collect()
}

/// Shows a secret's length only.
struct Redacted(usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} encrypted bytes>", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_menu_has_five_postbacks_in_each_locale() {
        for locale in ["ja", "ja-easy", "en", "fr"] {
            let menu = default_menu(locale);
            let data: Vec<String> = menu
                .iter()
                .map(|b| match &b.action {
                    crate::Action::Postback { data } => data.clone(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                data,
                [
                    "menu=report-birth",
                    "menu=add-child",
                    "menu=family",
                    "menu=language",
                    "menu=stop"
                ]
            );
            // LINE's action labels hold at most 20 characters.
            assert!(
                menu.iter().all(|b| b.label.chars().count() <= 20),
                "{menu:?}"
            );
        }
        assert_eq!(default_menu("fr"), default_menu("ja"));
        assert_eq!(default_menu("en")[0].label, "Report a birth");
    }

    #[test]
    fn secrets_never_shown() {
        let spec = ChannelSpec {
            name: "line".into(),
            plugin_id: "line".into(),
            version: None,
            config: serde_json::json!({"api_base": "https://api.line.me"}),
            secrets_ciphertext: b"sealed-token-bytes".to_vec(),
            allowed_hosts: vec![],
            rate_per_second: None,
            daily_quota: None,
        };
        let shown = format!("{spec:?}");
        assert!(!shown.contains("sealed"), "{shown}");
        assert!(shown.contains("<18 encrypted bytes>"), "{shown}");
    }
}
