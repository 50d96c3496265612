//! The plugin contract's values as the host sees them.
//!
//! These mirror the WIT types of `wit/v0.1.0/plugin.wit`. The runtime converts
//! each contract version's generated bindings into these, so that nothing above
//! the runtime depends on a contract version.

use serde::{Deserialize, Serialize};

pub mod answers;

/// The contract versions this host loads, newest last.
pub const CONTRACT_VERSIONS: &[&str] = &["0.1.0"];

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub subject: Option<String>,
    pub body: String,
    pub locale: String,
}

/// One recipient of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub address: String,
    pub idempotency_key: String,
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
    Follow { unblocked: bool },
    Unfollow,
    Text(String),
    Postback(String),
}

/// An event a plugin parsed from a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub id: String,
    pub address: String,
    pub timestamp_ms: u64,
    pub kind: EventKind,
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
