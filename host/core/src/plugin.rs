//! The plugin contract's values as the host sees them.
//!
//! These are the union of every contract version's types (today those of
//! `wit/v0.2.0/plugin.wit`, which extends 0.1.0). The runtime converts each
//! version's generated bindings into these, so that nothing above the runtime
//! depends on a contract version. Fields a version lacks have serde defaults,
//! so manifests stored by an older host read back as that version said.

use serde::{Deserialize, Serialize};

pub mod answers;

/// The contract versions this host loads, newest last.
pub const CONTRACT_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// A rate window a platform imposes: `max` recipients per `window_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateWindow {
    pub max: u32,
    pub window_seconds: u32,
}

/// What a plugin says about itself, as checked by the host at upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: semver::Version,
    pub vendor: String,
    pub description: String,
    /// The JSON Schema of the channel config.
    pub config_schema: serde_json::Value,
    /// Outbound hosts, `host` or `host:port`.
    pub hosts: Vec<String>,
    pub max_batch_size: u32,
    pub rate_per_second: u32,
    pub daily_quota: Option<u32>,
    pub rate_windows: Vec<RateWindow>,
    pub handles_webhooks: bool,
    /// The most batches one `deliver` call takes (0.1.0 plugins: 1).
    #[serde(default = "one")]
    pub max_batches_per_call: u32,
    /// Whether `reply` does anything (0.2.0).
    #[serde(default)]
    pub replies: bool,
    /// Whether `setup-channel` does anything (0.2.0).
    #[serde(default)]
    pub sets_up_channels: bool,
    /// What the plugin can show (0.1.0 plugins: text only).
    #[serde(default)]
    pub renders: Renders,
}

fn one() -> u32 {
    1
}

/// What a plugin can render beyond text; the host falls back for the rest
/// ([`Content::fit`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renders {
    pub buttons: bool,
    pub quick_replies: bool,
    pub date_picker: bool,
    pub link_buttons: bool,
    /// The most buttons one message may carry.
    pub max_buttons: u32,
    /// The most quick replies one message may carry.
    pub max_quick_replies: u32,
}

impl Manifest {
    /// Names of the config's top-level properties marked `"writeOnly": true`.
    pub fn secret_fields(&self) -> Vec<String> {
        self.config_schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|props| {
                props
                    .iter()
                    .filter(|(_, s)| s.get("writeOnly").and_then(|w| w.as_bool()) == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A config refused by a plugin or by its schema, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    /// JSON pointer to the field, empty for the whole config.
    pub field: String,
    pub message: String,
}

/// One message's content, rendered for one locale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub subject: Option<String>,
    pub body: String,
    pub locale: String,
    /// Buttons under the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    /// Quick-reply chips under the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<Button>,
    /// Where a person can do what the buttons offer when the platform cannot
    /// show them (the tenant's web form); used only by [`Content::fit`],
    /// never sent to a plugin as a field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_url: Option<String>,
}

/// A button or quick reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub action: Action,
}

/// What pressing a button does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Posts back this data as a postback event.
    Postback { data: String },
    /// Opens a date picker.
    DatePicker(DatePicker),
    /// Opens an `https://` link.
    Link { url: String },
}

/// What a date picker asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PickerMode {
    Date,
    Time,
    Datetime,
}

/// A date picker: `YYYY-MM-DD` dates, `HH:MM` times, `YYYY-MM-DDTHH:MM`
/// date-times, in the tenant's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatePicker {
    pub data: String,
    pub mode: PickerMode,
    pub initial: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
}

/// One recipient of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub address: String,
    pub idempotency_key: String,
    /// The contact's one-click stop link (RFC 8058), for email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe_url: Option<String>,
}

/// The same content for one or more recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub message_id: String,
    pub content: Content,
    pub recipients: Vec<Recipient>,
}

/// What the host should do after a failed delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "seconds", rename_all = "snake_case")]
pub enum FailureKind {
    RetryAfter(u32),
    Transient,
    Permanent,
    RecipientGone,
    Unauthorized,
}

/// A failed delivery and what the platform (or the host) said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Transient,
            message: message.into(),
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Permanent,
            message: message.into(),
        }
    }
}

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted, with the platform's message id when it gives one.
    Accepted(Option<String>),
    Failed(Failure),
}

/// One recipient's outcome, keyed by its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub idempotency_key: String,
    pub status: DeliveryStatus,
}

/// A platform's webhook request as the host received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the host answers the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What happened on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum EventKind {
    Follow {
        unblocked: bool,
    },
    Unfollow,
    Text(String),
    /// A button's or quick reply's postback data.
    Postback(String),
    /// A date picker's choice: the picker's data and the value chosen
    /// (`YYYY-MM-DD`, `HH:MM` or `YYYY-MM-DDTHH:MM`).
    Picked {
        data: String,
        chosen: String,
    },
    /// A mail sent to the channel's address.
    Email(EmailMessage),
}

impl EventKind {
    /// What the host keeps of the event as its data: the text, the
    /// postback data, a date picker's data and choice joined by a tab
    /// (`due\t2027-05-01`), a mail's subject and text joined by a blank
    /// line.
    pub fn stored_data(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            EventKind::Text(d) | EventKind::Postback(d) => Some(Cow::Borrowed(d)),
            EventKind::Picked { data, chosen } => Some(Cow::Owned(format!("{data}\t{chosen}"))),
            EventKind::Email(m) => Some(Cow::Owned(format!("{}\n\n{}", m.subject, m.text))),
            EventKind::Follow { .. } | EventKind::Unfollow => None,
        }
    }

    /// Every text the event carries, for size and content checks.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            EventKind::Text(d) | EventKind::Postback(d) => vec![d],
            EventKind::Picked { data, chosen } => vec![data, chosen],
            EventKind::Email(m) => vec![&m.subject, &m.text, &m.to],
            EventKind::Follow { .. } | EventKind::Unfollow => Vec::new(),
        }
    }
}

/// A mail a person sent to the channel's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub subject: String,
    pub text: String,
    /// The address it was sent to.
    pub to: String,
}

/// How to answer an event in place (LINE's reply token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyHandle {
    pub token: String,
    /// Milliseconds since the Unix epoch after which the platform refuses it.
    pub expires_at_ms: u64,
}

/// An event a plugin parsed from a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub id: String,
    pub address: String,
    pub timestamp_ms: u64,
    pub kind: EventKind,
    /// Present when the platform lets the event be answered in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyHandle>,
    /// The platform says it sent this event before.
    #[serde(default)]
    pub redelivery: bool,
}

/// An answer to one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The event's reply handle token.
    pub token: String,
    pub address: String,
    pub messages: Vec<Content>,
}

/// What became of one reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    Sent(Option<String>),
    /// The platform refused the handle as used or expired: push instead.
    Expired,
    Failed(Failure),
}

/// One reply's outcome, keyed by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyOutcome {
    pub token: String,
    pub status: ReplyStatus,
}

/// What the host knows of a channel when it asks the plugin to set it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSetup {
    pub tenant_name: String,
    pub locale: String,
    pub webhook_url: String,
    pub form_url: String,
    pub menu: Vec<Button>,
}

/// What a plugin's channel set-up did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupReport {
    pub summary: String,
    pub details: Vec<(String, String)>,
}

/// A webhook's answer and the events in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookResult {
    pub response: WebhookResponse,
    pub events: Vec<InboundEvent>,
}

/// Log levels of the plugin `log` interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Whether a plugin id is well formed: `[a-z0-9][a-z0-9-]*`, at most 64 characters.
pub fn is_valid_plugin_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

/// The manifest's hosts that are the platform's own: named hosts on one
/// port, not a loopback address and not any port (the entries a plugin
/// lists for sandboxes and fakes). What a channel made by a tenant's staff
/// may reach until the operator approves more.
pub fn platform_hosts(manifest_hosts: &[String]) -> Vec<String> {
    manifest_hosts
        .iter()
        .filter(|entry| match parse_host_entry(entry) {
            Ok((host, Some(_))) => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let loopback = host
                    .parse::<std::net::IpAddr>()
                    .map(|ip| ip.is_loopback() || ip.is_unspecified())
                    .unwrap_or(false);
                !loopback && host != "localhost" && !host.ends_with(".localhost")
            }
            _ => false,
        })
        .cloned()
        .collect()
}

/// Parses a host entry (`host`, `host:port` or `host:*`) into `(host, port)`,
/// where a port of `None` means any port (`host:*`) and a missing port means
/// 443. IPv6 literals are written `[::1]:8080`.
pub fn parse_host_entry(entry: &str) -> Result<(String, Option<u16>), String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err("empty host".into());
    }
    if entry.contains('/') || entry.contains('@') || entry.contains("://") || entry.contains(' ') {
        return Err(format!(
            "`{entry}` is not host[:port] (no scheme, path or user)"
        ));
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (h, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{entry}`: unclosed `[`"))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p),
            None if tail.is_empty() => None,
            None => return Err(format!("`{entry}`: junk after `]`")),
        };
        (h.to_string(), port)
    } else {
        match entry.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (entry.to_string(), None),
        }
    };
    let port = match port {
        Some("*") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => {
                return Err(format!(
                    "`{entry}`: port `{p}` is not `*` or a number from 1 to 65535"
                ));
            }
            Ok(p) => Some(p),
        },
        None => Some(443),
    };
    let valid_name = host.parse::<std::net::IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }));
    if !valid_name {
        return Err(format!(
            "`{entry}`: `{host}` is not a host name or IP address"
        ));
    }
    Ok((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_hosts_leave_out_loopback_and_any_port() {
        let hosts: Vec<String> = [
            "api.line.me",
            "api-data.line.me:443",
            "127.0.0.1:*",
            "localhost:*",
            "[::1]:8080",
            "127.0.0.1:9000",
            "dev.localhost:443",
            "mail.example.jp:*",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            platform_hosts(&hosts),
            ["api.line.me", "api-data.line.me:443"]
        );
    }

    #[test]
    fn host_entries() {
        assert_eq!(
            parse_host_entry("api.line.me").unwrap(),
            ("api.line.me".into(), Some(443))
        );
        assert_eq!(
            parse_host_entry("API.line.me:8443").unwrap(),
            ("api.line.me".into(), Some(8443))
        );
        assert_eq!(
            parse_host_entry("127.0.0.1:9000").unwrap(),
            ("127.0.0.1".into(), Some(9000))
        );
        assert_eq!(
            parse_host_entry("127.0.0.1:*").unwrap(),
            ("127.0.0.1".into(), None)
        );
        assert_eq!(
            parse_host_entry("[::1]:9000").unwrap(),
            ("::1".into(), Some(9000))
        );
        for bad in [
            "",
            "https://api.line.me",
            "a b",
            "host:0",
            "host:99999",
            "-bad.example",
            "x/y",
            "host:",
        ] {
            assert!(parse_host_entry(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn plugin_ids() {
        assert!(is_valid_plugin_id("line"));
        assert!(is_valid_plugin_id("muni-app2"));
        for bad in ["", "-x", "Line", "a_b", &"a".repeat(65)] {
            assert!(!is_valid_plugin_id(bad), "{bad}");
        }
    }
}
