//! Between the contract's generated exports and a [`Plugin`].
//!
//! The generated `Guest` trait takes config text and generated types; a
//! `Plugin` takes a typed config and the SDK's types. [`Export`] implements
//! the first on top of the second, so that `export_plugin!` only has to name
//! it. The entry points below do the work in plain Rust (tested natively);
//! the `Guest` impl only converts types.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::__private::bindings::Guest;
use crate::__private::bindings::tayori::plugin::types as wit;
use crate::types::{
    Action, Batch, Button, ChannelSetup, ConfigError, Content, DatePicker, DeliveryStatus,
    EventKind, Failure, FailureKind, InboundEvent, Manifest, Outcome, PickerMode, Recipient, Reply,
    ReplyOutcome, ReplyStatus, SetupReport, WebhookRequest, WebhookResponse, WebhookResult,
};
use crate::{Plugin, log};

/// The contract's exports for plugin `P`. Named by `export_plugin!`.
#[derive(Debug)]
pub struct Export<P>(PhantomData<P>);

/// Deserialise a channel config, naming the field at fault when it fails.
///
/// The message never quotes the value it refused: the value may be a secret.
pub(crate) fn parse_config<C: DeserializeOwned>(text: &str) -> Result<C, ConfigError> {
    // The usual case, a config the host has checked against the schema: one
    // plain pass. Only a config that fails is parsed again, tracking the path
    // to the field at fault.
    if let Ok(config) = serde_json::from_str(text) {
        return Ok(config);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let config = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let mut field = json_pointer(error.path());
        let message = error.inner().to_string();
        if let Some(missing) = between(&message, "missing field `", "`") {
            field.push('/');
            field.push_str(&escape_pointer_token(missing));
        }
        ConfigError::new(field, redact_value(&message))
    })?;
    deserializer
        .end()
        .map_err(|error| ConfigError::whole(error.to_string()))?;
    Ok(config)
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        let token = match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => escape_pointer_token(key),
            Segment::Enum { variant } => escape_pointer_token(variant),
            Segment::Unknown => continue,
        };
        pointer.push('/');
        pointer.push_str(&token);
    }
    pointer
}

/// RFC 6901: `~` is `~0`, `/` is `~1`.
fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// serde says `invalid type: string "hunter2", expected u32`: keep only what
/// was expected, since the refused value may be a secret.
fn redact_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(at) = rest.find(", expected ")
        {
            return format!("{}{}", prefix.trim_end_matches(": "), &rest[at..]);
        }
    }
    message.to_owned()
}

fn invalid_config_failure(error: &ConfigError) -> Failure {
    Failure::permanent(format!("invalid channel config: {error}"))
}

/// `validate-config`: deserialise, then ask the plugin.
pub(crate) fn validate_config<P: Plugin>(config: &str) -> Result<(), ConfigError> {
    P::validate_config(&parse_config::<P::Config>(config)?)
}

/// `deliver`: a config that does not deserialise fails every recipient
/// permanently; otherwise the plugin's outcomes go to the host untouched (the
/// host, not the SDK, checks there is one per recipient).
pub(crate) fn deliver<P: Plugin>(config: &str, batches: Vec<Batch>) -> Vec<Outcome> {
    match parse_config::<P::Config>(config) {
        Ok(config) => P::deliver_batches(&config, batches),
        Err(error) => {
            log::error(format!("deliver refused: {error}"));
            let failure = invalid_config_failure(&error);
            batches.iter().flat_map(|b| b.fail_all(&failure)).collect()
        }
    }
}

/// `reply`: a config that does not deserialise fails every reply.
pub(crate) fn reply<P: Plugin>(config: &str, replies: Vec<Reply>) -> Vec<ReplyOutcome> {
    match parse_config::<P::Config>(config) {
        Ok(config) => P::reply(&config, replies),
        Err(error) => {
            log::error(format!("reply refused: {error}"));
            let failure = invalid_config_failure(&error);
            replies
                .into_iter()
                .map(|r| ReplyOutcome {
                    token: r.token,
                    status: ReplyStatus::Failed(failure.clone()),
                })
                .collect()
        }
    }
}

/// `setup-channel`: a config that does not deserialise is a permanent
/// failure, shown on the channel.
pub(crate) fn setup_channel<P: Plugin>(
    config: &str,
    setup: ChannelSetup,
) -> Result<SetupReport, Failure> {
    let config = parse_config::<P::Config>(config).map_err(|e| invalid_config_failure(&e))?;
    P::setup_channel(&config, setup)
}

/// `handle-webhook`: a config that does not deserialise answers 500 so the
/// platform retries once an operator has fixed it.
pub(crate) fn handle_webhook<P: Plugin>(config: &str, request: WebhookRequest) -> WebhookResult {
    match parse_config::<P::Config>(config) {
        Ok(config) => P::handle_webhook(&config, request),
        Err(error) => {
            log::error(format!("webhook refused: {error}"));
            WebhookResult {
                response: WebhookResponse::status(500),
                events: Vec::new(),
            }
        }
    }
}

impl<P: Plugin> Guest for Export<P> {
    fn manifest() -> wit::Manifest {
        P::manifest().into()
    }

    fn validate_config(config: String) -> Result<(), wit::ConfigError> {
        validate_config::<P>(&config).map_err(Into::into)
    }

    fn deliver(config: String, batches: Vec<wit::Batch>) -> Vec<wit::Outcome> {
        deliver::<P>(&config, batches.into_iter().map(Into::into).collect())
            .into_iter()
            .map(Into::into)
            .collect()
    }

    fn reply(config: String, replies: Vec<wit::Reply>) -> Vec<wit::ReplyOutcome> {
        let replies = replies
            .into_iter()
            .map(|r| Reply {
                token: r.token,
                address: r.address,
                messages: r.messages.into_iter().map(Into::into).collect(),
            })
            .collect();
        reply::<P>(&config, replies)
            .into_iter()
            .map(|o| wit::ReplyOutcome {
                token: o.token,
                status: match o.status {
                    ReplyStatus::Sent(id) => wit::ReplyStatus::Sent(id),
                    ReplyStatus::Expired => wit::ReplyStatus::Expired,
                    ReplyStatus::Failed(f) => wit::ReplyStatus::Failed(f.into()),
                },
            })
            .collect()
    }

    fn setup_channel(
        config: String,
        setup: wit::ChannelSetup,
    ) -> Result<wit::SetupReport, wit::Failure> {
        let setup = ChannelSetup {
            tenant_name: setup.tenant_name,
            locale: setup.locale,
            webhook_url: setup.webhook_url,
            form_url: setup.form_url,
            menu: setup.menu.into_iter().map(Into::into).collect(),
        };
        setup_channel::<P>(&config, setup)
            .map(|r| wit::SetupReport {
                summary: r.summary,
                details: r.details,
            })
            .map_err(Into::into)
    }

    fn handle_webhook(config: String, request: wit::HttpRequest) -> wit::WebhookResult {
        handle_webhook::<P>(&config, request.into()).into()
    }
}

impl From<Manifest> for wit::Manifest {
    fn from(m: Manifest) -> Self {
        wit::Manifest {
            id: m.id,
            name: m.name,
            version: m.version,
            vendor: m.vendor,
            description: m.description,
            config_schema: m.config_schema.to_string(),
            hosts: m.hosts,
            max_batch_size: m.max_batch_size,
            max_batches_per_call: m.max_batches_per_call,
            rate_per_second: m.rate_per_second,
            daily_quota: m.daily_quota,
            rate_windows: m
                .rate_windows
                .into_iter()
                .map(|w| wit::RateWindow {
                    max: w.max,
                    window_seconds: w.window_seconds,
                })
                .collect(),
            handles_webhooks: m.handles_webhooks,
            replies: m.replies,
            sets_up_channels: m.sets_up_channels,
            renders: {
                let r = m.renders;
                let mut flags = wit::Renders::empty();
                flags.set(wit::Renders::BUTTONS, r.buttons);
                flags.set(wit::Renders::QUICK_REPLIES, r.quick_replies);
                flags.set(wit::Renders::DATE_PICKER, r.date_picker);
                flags.set(wit::Renders::LINK_BUTTONS, r.link_buttons);
                flags
            },
            max_buttons: m.renders.max_buttons,
            max_quick_replies: m.renders.max_quick_replies,
        }
    }
}

impl From<ConfigError> for wit::ConfigError {
    fn from(e: ConfigError) -> Self {
        wit::ConfigError {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<wit::Batch> for Batch {
    fn from(b: wit::Batch) -> Self {
        Batch {
            message_id: b.message_id,
            content: b.content.into(),
            recipients: b
                .recipients
                .into_iter()
                .map(|r| Recipient {
                    address: r.address,
                    idempotency_key: r.idempotency_key,
                    unsubscribe_url: r.unsubscribe_url,
                })
                .collect(),
        }
    }
}

impl From<wit::Content> for Content {
    fn from(c: wit::Content) -> Self {
        Content {
            subject: c.subject,
            body: c.body,
            locale: c.locale,
            buttons: c.buttons.into_iter().map(Into::into).collect(),
            quick_replies: c.quick_replies.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<wit::Button> for Button {
    fn from(b: wit::Button) -> Self {
        Button {
            label: b.label,
            action: match b.action {
                wit::Action::Postback(data) => Action::Postback(data),
                wit::Action::Link(url) => Action::Link(url),
                wit::Action::DatePicker(p) => Action::DatePicker(DatePicker {
                    data: p.data,
                    mode: match p.mode {
                        wit::PickerMode::Date => PickerMode::Date,
                        wit::PickerMode::Time => PickerMode::Time,
                        wit::PickerMode::Datetime => PickerMode::Datetime,
                    },
                    initial: p.initial,
                    min: p.min,
                    max: p.max,
                }),
            },
        }
    }
}

impl From<Failure> for wit::Failure {
    fn from(f: Failure) -> Self {
        wit::Failure {
            kind: match f.kind {
                FailureKind::RetryAfter(s) => wit::FailureKind::RetryAfter(s),
                FailureKind::Transient => wit::FailureKind::Transient,
                FailureKind::Permanent => wit::FailureKind::Permanent,
                FailureKind::RecipientGone => wit::FailureKind::RecipientGone,
                FailureKind::Unauthorized => wit::FailureKind::Unauthorized,
            },
            message: f.message,
        }
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(o: Outcome) -> Self {
        wit::Outcome {
            idempotency_key: o.idempotency_key,
            status: match o.status {
                DeliveryStatus::Accepted(id) => wit::DeliveryStatus::Accepted(id),
                DeliveryStatus::Failed(f) => wit::DeliveryStatus::Failed(f.into()),
            },
        }
    }
}

impl From<wit::HttpRequest> for WebhookRequest {
    fn from(r: wit::HttpRequest) -> Self {
        WebhookRequest {
            method: r.method,
            path: r.path,
            query: r.query,
            headers: r.headers,
            body: r.body,
        }
    }
}

impl From<WebhookResult> for wit::WebhookResult {
    fn from(r: WebhookResult) -> Self {
        wit::WebhookResult {
            response: wit::HttpResponse {
                status: r.response.status,
                headers: r.response.headers,
                body: r.response.body,
            },
            events: r.events.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<InboundEvent> for wit::InboundEvent {
    fn from(e: InboundEvent) -> Self {
        wit::InboundEvent {
            id: e.id,
            address: e.address,
            timestamp_ms: e.timestamp_ms,
            kind: match e.kind {
                EventKind::Follow { unblocked } => wit::EventKind::Follow(unblocked),
                EventKind::Unfollow => wit::EventKind::Unfollow,
                EventKind::Text(t) => wit::EventKind::Text(t),
                EventKind::Postback(p) => wit::EventKind::Postback(wit::Postback {
                    data: p.data,
                    chosen: p.chosen,
                }),
                EventKind::Email(m) => wit::EventKind::Email(wit::EmailMessage {
                    subject: m.subject,
                    text: m.text,
                    to: m.to,
                }),
            },
            reply: e.reply.map(|h| wit::ReplyHandle {
                token: h.token,
                expires_at_ms: h.expires_at_ms,
            }),
            redelivery: e.redelivery,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        endpoint: String,
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        limits: Vec<Limit>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Limit {
        max: u32,
    }

    struct Fake;

    impl Plugin for Fake {
        type Config = Config;

        fn manifest() -> Manifest {
            Manifest::new("fake", "1.0.0")
        }

        fn validate_config(config: &Config) -> Result<(), ConfigError> {
            if config.endpoint.starts_with("https://") {
                Ok(())
            } else {
                Err(ConfigError::new("/endpoint", "must be an https URL"))
            }
        }

        fn deliver(_config: &Config, batch: Batch) -> Vec<Outcome> {
            batch.recipients.iter().map(|r| r.accepted(None)).collect()
        }
    }

    fn batch(keys: &[&str]) -> Batch {
        Batch {
            message_id: "m1".into(),
            content: Content::text("hello", "ja"),
            recipients: keys
                .iter()
                .map(|k| Recipient {
                    address: format!("addr-{k}"),
                    idempotency_key: (*k).to_owned(),
                    unsubscribe_url: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_good_config_reaches_the_plugin() {
        assert_eq!(
            validate_config::<Fake>(r#"{"endpoint":"https://x.test"}"#),
            Ok(())
        );
        assert_eq!(
            validate_config::<Fake>(r#"{"endpoint":"http://x.test"}"#),
            Err(ConfigError::new("/endpoint", "must be an https URL"))
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let error = validate_config::<Fake>("{}").expect_err("missing endpoint");
        assert_eq!(error.field, "/endpoint");
        assert!(error.message.contains("missing field"), "{}", error.message);
    }

    #[test]
    fn a_wrong_type_is_named_without_quoting_the_value() {
        let error = validate_config::<Fake>(r#"{"endpoint":"https://x","token":12345}"#)
            .expect_err("token is a number");
        assert_eq!(error.field, "/token");
        assert!(!error.message.contains("12345"), "{}", error.message);
        assert!(error.message.contains("expected"), "{}", error.message);

        let error =
            validate_config::<Fake>(r#"{"endpoint":"https://x","limits":[{"max":"lots"}]}"#)
                .expect_err("max is a string");
        assert_eq!(error.field, "/limits/0/max");
        assert!(!error.message.contains("lots"), "{}", error.message);
    }

    #[test]
    fn text_that_is_not_json_is_a_whole_config_error() {
        let error = validate_config::<Fake>("not json").expect_err("not JSON");
        assert_eq!(error.field, "");
        let error =
            validate_config::<Fake>(r#"{"endpoint":"https://x"} trailing"#).expect_err("trailing");
        assert_eq!(error.field, "");
    }

    #[test]
    fn a_bad_config_fails_every_recipient_permanently() {
        let outcomes = deliver::<Fake>("{}", vec![batch(&["k1", "k2"]), batch(&["k3"])]);
        assert_eq!(outcomes.len(), 3);
        for (outcome, key) in outcomes.iter().zip(["k1", "k2", "k3"]) {
            assert_eq!(outcome.idempotency_key, key);
            match &outcome.status {
                DeliveryStatus::Failed(f) => {
                    assert_eq!(f.kind, FailureKind::Permanent);
                    assert!(f.message.contains("/endpoint"), "{}", f.message);
                }
                other => panic!("expected a failure, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_good_config_delivers() {
        let outcomes = deliver::<Fake>(
            r#"{"endpoint":"https://x"}"#,
            vec![batch(&["k1"]), batch(&["k2", "k3"])],
        );
        assert_eq!(
            outcomes,
            vec![
                Outcome::accepted("k1", None),
                Outcome::accepted("k2", None),
                Outcome::accepted("k3", None),
            ]
        );
    }

    #[test]
    fn webhooks_default_to_not_found() {
        let request = WebhookRequest {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let result = handle_webhook::<Fake>(r#"{"endpoint":"https://x"}"#, request.clone());
        assert_eq!(result, WebhookResult::not_found());
        let result = handle_webhook::<Fake>("{}", request);
        assert_eq!(result.response.status, 500);
    }

    #[test]
    fn manifest_schema_becomes_json_text() {
        let manifest: wit::Manifest = Manifest::new("fake", "1.0.0")
            .config_schema(serde_json::json!({"type": "object", "required": ["endpoint"]}))
            .into();
        let schema: serde_json::Value =
            serde_json::from_str(&manifest.config_schema).expect("JSON text");
        assert_eq!(schema["required"][0], "endpoint");
        assert_eq!(manifest.max_batch_size, 1);
        assert_eq!(
            manifest.max_batches_per_call,
            crate::DEFAULT_BATCHES_PER_CALL
        );
        assert!(manifest.renders.is_empty());
    }

    #[test]
    fn replies_and_set_up_have_safe_defaults() {
        let config = r#"{"endpoint":"https://x"}"#;
        let outcomes = reply::<Fake>(
            config,
            vec![Reply {
                token: "t1".into(),
                address: "U1".into(),
                messages: vec![Content::text("hi", "ja")],
            }],
        );
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].token, "t1");
        assert!(
            matches!(&outcomes[0].status, ReplyStatus::Failed(f) if f.kind == FailureKind::Permanent)
        );
        let setup = ChannelSetup {
            tenant_name: "小樽市".into(),
            locale: "ja".into(),
            webhook_url: "https://host/hooks/otaru/line".into(),
            form_url: "https://host/r/otaru".into(),
            menu: Vec::new(),
        };
        assert_eq!(
            setup_channel::<Fake>(config, setup.clone()),
            Ok(SetupReport::new("nothing to set up"))
        );
        let refused = setup_channel::<Fake>("{}", setup).expect_err("bad config");
        assert_eq!(refused.kind, FailureKind::Permanent);
        assert!(refused.message.contains("/endpoint"), "{}", refused.message);
    }

    #[test]
    fn buttons_and_pickers_reach_the_plugin() {
        let content: Content = wit::Content {
            subject: None,
            body: "生まれましたか".into(),
            locale: "ja".into(),
            buttons: vec![wit::Button {
                label: "日付を選ぶ".into(),
                action: wit::Action::DatePicker(wit::DatePicker {
                    data: "birth".into(),
                    mode: wit::PickerMode::Date,
                    initial: Some("2027-05-01".into()),
                    min: Some("2027-03-01".into()),
                    max: Some("2027-05-20".into()),
                }),
            }],
            quick_replies: vec![wit::Button {
                label: "まだ".into(),
                action: wit::Action::Postback("not-yet".into()),
            }],
        }
        .into();
        assert_eq!(
            content.buttons[0].action,
            Action::DatePicker(DatePicker {
                data: "birth".into(),
                mode: PickerMode::Date,
                initial: Some("2027-05-01".into()),
                min: Some("2027-03-01".into()),
                max: Some("2027-05-20".into()),
            })
        );
        assert_eq!(
            content.quick_replies[0].action,
            Action::Postback("not-yet".into())
        );
    }
}
