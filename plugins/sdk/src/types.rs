//! Plain Rust versions of the contract's types.
//!
//! They mirror `wit/v0.2.0/plugin.wit` field for field, so the WIT comments
//! are their spec, but they belong to the SDK: a plugin's code does not change
//! when the generated bindings do, they derive what Rust code expects
//! (`PartialEq`, `serde`), and they carry the constructors plugins need.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A rate window: at most `max` recipients per `window_seconds`, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateWindow {
    /// Recipients allowed in one window.
    pub max: u32,
    /// Length of the window, in seconds.
    pub window_seconds: u32,
}

/// What a plugin says about itself. Read once, at upload.
///
/// [`Manifest::new`] fills in defaults that suit a cautious plugin (one
/// recipient per call, 10 per second, no hosts, no webhooks); chain the
/// setters to change them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Stable id, `[a-z0-9][a-z0-9-]*`, at most 64 characters.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Semantic version of this build (`env!("CARGO_PKG_VERSION")`).
    pub version: String,
    /// Who maintains the plugin.
    pub vendor: String,
    /// One paragraph for operators.
    pub description: String,
    /// JSON Schema (draft 2020-12) of the channel config. Mark secrets with
    /// `"writeOnly": true`: the host encrypts them and never shows them.
    pub config_schema: Value,
    /// Outbound hosts: `host` (port 443), `host:port`, or `host:*` (any port).
    pub hosts: Vec<String>,
    /// The largest number of recipients one batch takes.
    pub max_batch_size: u32,
    /// The most batches (different messages) one `deliver` call takes.
    pub max_batches_per_call: u32,
    /// Default sustained rate, in recipients per second per channel.
    pub rate_per_second: u32,
    /// Default recipients per day per channel; `None` is unlimited.
    pub daily_quota: Option<u32>,
    /// Further limits the platform imposes.
    pub rate_windows: Vec<RateWindow>,
    /// Whether `handle_webhook` does anything.
    pub handles_webhooks: bool,
    /// Whether [`Plugin::reply`] answers inbound events.
    pub replies: bool,
    /// Whether [`Plugin::setup_channel`] provisions the platform side.
    pub sets_up_channels: bool,
    /// The interactive content the plugin renders; the host turns what it
    /// does not render into text (buttons become links).
    pub renders: Renders,
}

/// The interactive content a plugin renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renders {
    /// Buttons under a message.
    pub buttons: bool,
    /// Quick replies (choices shown above the keyboard).
    pub quick_replies: bool,
    /// Date pickers (in buttons or quick replies).
    pub date_picker: bool,
    /// Buttons that open a link.
    pub link_buttons: bool,
    /// The most buttons one message shows (at least 1 with `buttons`).
    pub max_buttons: u32,
    /// The most quick replies one message shows (at least 1 with
    /// `quick_replies`).
    pub max_quick_replies: u32,
}

impl Manifest {
    /// A manifest with this id and version, and defaults for the rest: the
    /// name is the id, the schema accepts any object, no hosts, batches of
    /// one, 64 batches per call, 10 recipients per second, no quota, no
    /// webhooks, no replies, no channel set-up, plain text only.
    pub fn new(id: impl Into<String>, version: impl Into<String>) -> Self {
        let id = id.into();
        Manifest {
            name: id.clone(),
            id,
            version: version.into(),
            vendor: String::new(),
            description: String::new(),
            config_schema: serde_json::json!({ "type": "object" }),
            hosts: Vec::new(),
            max_batch_size: 1,
            max_batches_per_call: DEFAULT_BATCHES_PER_CALL,
            rate_per_second: 10,
            daily_quota: None,
            rate_windows: Vec::new(),
            handles_webhooks: false,
            replies: false,
            sets_up_channels: false,
            renders: Renders::default(),
        }
    }

    /// Set the most batches one `deliver` call takes (1 to 1,000).
    pub fn max_batches_per_call(mut self, batches: u32) -> Self {
        self.max_batches_per_call = batches;
        self
    }

    /// Say whether [`Plugin::reply`](crate::Plugin::reply) answers events.
    pub fn replies(mut self, replies: bool) -> Self {
        self.replies = replies;
        self
    }

    /// Say whether [`Plugin::setup_channel`](crate::Plugin::setup_channel)
    /// provisions the platform side.
    pub fn sets_up_channels(mut self, sets_up: bool) -> Self {
        self.sets_up_channels = sets_up;
        self
    }

    /// Set the interactive content the plugin renders.
    pub fn renders(mut self, renders: Renders) -> Self {
        self.renders = renders;
        self
    }

    /// Set the human-readable name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Set who maintains the plugin.
    pub fn vendor(mut self, vendor: impl Into<String>) -> Self {
        self.vendor = vendor.into();
        self
    }

    /// Set the paragraph shown to operators.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Set the JSON Schema of the channel config.
    pub fn config_schema(mut self, schema: Value) -> Self {
        self.config_schema = schema;
        self
    }

    /// Add one outbound host (`host`, `host:port` or `host:*`).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into());
        self
    }

    /// Add several outbound hosts.
    pub fn hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// Set the largest batch `deliver` takes.
    pub fn max_batch_size(mut self, size: u32) -> Self {
        self.max_batch_size = size;
        self
    }

    /// Set the default sustained rate, in recipients per second.
    pub fn rate_per_second(mut self, rate: u32) -> Self {
        self.rate_per_second = rate;
        self
    }

    /// Set the default daily quota per channel.
    pub fn daily_quota(mut self, quota: u32) -> Self {
        self.daily_quota = Some(quota);
        self
    }

    /// Add a platform limit: at most `max` recipients per `window_seconds`.
    pub fn rate_window(mut self, max: u32, window_seconds: u32) -> Self {
        self.rate_windows.push(RateWindow {
            max,
            window_seconds,
        });
        self
    }

    /// Say whether `handle_webhook` does anything.
    pub fn handles_webhooks(mut self, handles: bool) -> Self {
        self.handles_webhooks = handles;
        self
    }
}

/// How many batches one `deliver` call takes unless the manifest says
/// otherwise: a whole claim for a channel in one fresh instance.
pub const DEFAULT_BATCHES_PER_CALL: u32 = 64;

/// A config the plugin refuses, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", if field.is_empty() { "config" } else { field.as_str() })]
pub struct ConfigError {
    /// JSON pointer to the field (`/api_base`), empty for the whole config.
    pub field: String,
    /// What is wrong with it. Must not repeat a secret.
    pub message: String,
}

impl ConfigError {
    /// An error about the field at JSON pointer `field` (e.g. `/endpoint`).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about the config as a whole.
    pub fn whole(message: impl Into<String>) -> Self {
        ConfigError::new("", message)
    }
}

/// One message's content, rendered by the host for one locale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// Subject line, for platforms that have one.
    pub subject: Option<String>,
    /// Plain-text body.
    pub body: String,
    /// Locale tag of the content (`ja`, `ja-easy`, `en`).
    pub locale: String,
    /// Buttons under the message, as many as the manifest's
    /// `renders.max_buttons` at most (empty when it renders none).
    pub buttons: Vec<Button>,
    /// Quick replies, likewise bounded by `renders.max_quick_replies`.
    pub quick_replies: Vec<Button>,
}

impl Content {
    /// Plain text, no buttons.
    pub fn text(body: impl Into<String>, locale: impl Into<String>) -> Self {
        Content {
            subject: None,
            body: body.into(),
            locale: locale.into(),
            buttons: Vec::new(),
            quick_replies: Vec::new(),
        }
    }
}

/// A button or quick reply: a label and what tapping it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    /// What the user reads (the host keeps it within the platform's limits).
    pub label: String,
    /// What tapping it does.
    pub action: Action,
}

/// What a button does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Post this data back to the host (an inbound postback event).
    Postback(String),
    /// Open a date or time picker; the choice comes back as a postback.
    DatePicker(DatePicker),
    /// Open this URL.
    Link(String),
}

/// A date or time picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatePicker {
    /// The postback data sent with the choice.
    pub data: String,
    /// What is picked.
    pub mode: PickerMode,
    /// The value shown first (`YYYY-MM-DD`, `HH:MM` or `YYYY-MM-DDTHH:MM`).
    pub initial: Option<String>,
    /// The earliest value that can be picked.
    pub min: Option<String>,
    /// The latest value that can be picked.
    pub max: Option<String>,
}

/// What a [`DatePicker`] picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PickerMode {
    /// A day.
    Date,
    /// A time of day.
    Time,
    /// A day and a time.
    Datetime,
}

/// One recipient of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The contact's address on the platform.
    pub address: String,
    /// Stable for this delivery across retries; pass it on to platforms
    /// that take one.
    pub idempotency_key: String,
    /// The host's one-click unsubscribe URL for this recipient, when it has
    /// one (email: `List-Unsubscribe`, RFC 8058).
    pub unsubscribe_url: Option<String>,
}

impl Recipient {
    /// This recipient's outcome: accepted, with the platform's id if any.
    pub fn accepted(&self, platform_id: Option<String>) -> Outcome {
        Outcome::accepted(&self.idempotency_key, platform_id)
    }

    /// This recipient's outcome: failed.
    pub fn failed(&self, failure: Failure) -> Outcome {
        Outcome::failed(&self.idempotency_key, failure)
    }

    /// This recipient's outcome from a send's result.
    pub fn outcome(&self, result: Result<Option<String>, Failure>) -> Outcome {
        match result {
            Ok(platform_id) => self.accepted(platform_id),
            Err(failure) => self.failed(failure),
        }
    }
}

/// The same content for one or more recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The catalog message id, or `broadcast:<id>`.
    pub message_id: String,
    /// What to send.
    pub content: Content,
    /// Who to send it to.
    pub recipients: Vec<Recipient>,
}

impl Batch {
    /// The same outcome for every recipient (a config or platform-wide failure).
    pub fn fail_all(&self, failure: &Failure) -> Vec<Outcome> {
        self.recipients
            .iter()
            .map(|r| r.failed(failure.clone()))
            .collect()
    }
}

/// What the host should do after a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureKind {
    /// Try again no sooner than this many seconds from now.
    RetryAfter(u32),
    /// Try again later with backoff (5xx, connection errors, timeouts).
    Transient,
    /// Will never succeed as sent. Dead-lettered.
    Permanent,
    /// The address is gone (blocked, unfollowed, unknown): the contact is invalidated.
    RecipientGone,
    /// The credentials are refused: the channel is paused until its config changes.
    Unauthorized,
}

/// A failed delivery: what to do next, and what happened.
///
/// `message` is for operators; it must not contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct Failure {
    /// What the host should do next.
    pub kind: FailureKind,
    /// What the platform said.
    pub message: String,
}

impl Failure {
    /// A failure of this kind.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// Retry no sooner than `seconds` from now.
    pub fn retry_after(seconds: u32, message: impl Into<String>) -> Self {
        Failure::new(FailureKind::RetryAfter(seconds), message)
    }

    /// Retry later with backoff.
    pub fn transient(message: impl Into<String>) -> Self {
        Failure::new(FailureKind::Transient, message)
    }

    /// Never retry: dead-letter.
    pub fn permanent(message: impl Into<String>) -> Self {
        Failure::new(FailureKind::Permanent, message)
    }

    /// The address is gone: invalidate the contact.
    pub fn recipient_gone(message: impl Into<String>) -> Self {
        Failure::new(FailureKind::RecipientGone, message)
    }

    /// The credentials are refused: pause the channel.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Failure::new(FailureKind::Unauthorized, message)
    }
}

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Accepted by the platform, with its message id when it gives one.
    Accepted(Option<String>),
    /// Not delivered.
    Failed(Failure),
}

/// The result for one recipient, keyed by its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The recipient's idempotency key, exactly as given.
    pub idempotency_key: String,
    /// What happened.
    pub status: DeliveryStatus,
}

impl Outcome {
    /// Accepted, with the platform's message id if it gave one.
    pub fn accepted(idempotency_key: impl Into<String>, platform_id: Option<String>) -> Self {
        Outcome {
            idempotency_key: idempotency_key.into(),
            status: DeliveryStatus::Accepted(platform_id),
        }
    }

    /// Failed.
    pub fn failed(idempotency_key: impl Into<String>, failure: Failure) -> Self {
        Outcome {
            idempotency_key: idempotency_key.into(),
            status: DeliveryStatus::Failed(failure),
        }
    }
}

/// A platform's webhook request, as received by the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    /// `POST`, `GET`...
    pub method: String,
    /// The path below `/hooks/{tenant}/{channel}`.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Header names are lower case.
    pub headers: Vec<(String, String)>,
    /// The raw body, as signed by the platform.
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// What the host answers the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl WebhookResponse {
    /// An empty response with this status.
    pub fn status(status: u16) -> Self {
        WebhookResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// An empty `200 OK`.
    pub fn ok() -> Self {
        WebhookResponse::status(200)
    }

    /// A JSON body with this status.
    pub fn json<T: Serialize>(status: u16, body: &T) -> Self {
        WebhookResponse {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            // A `Serialize` value made of plain data always serialises.
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

/// What happened on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The user followed (or unblocked, when `unblocked` is true).
    Follow {
        /// Whether this follow is an unblock.
        unblocked: bool,
    },
    /// The user unfollowed or blocked.
    Unfollow,
    /// A text message from the user.
    Text(String),
    /// A postback (button, quick reply or date picker).
    Postback(Postback),
    /// An email the user sent to the channel's address.
    Email(EmailMessage),
}

/// A postback: the button's data, and what the user picked in a picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Postback {
    /// The data of the button that was tapped.
    pub data: String,
    /// The date, time or both chosen in a date picker, as the platform
    /// gives it (`2027-05-01`, `10:30`, `2027-05-01T10:30`).
    pub chosen: Option<String>,
}

impl Postback {
    /// A postback with this data and no picked value.
    pub fn data(data: impl Into<String>) -> Self {
        Postback {
            data: data.into(),
            chosen: None,
        }
    }
}

/// An inbound email, reduced to what the host needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The address it was sent to (the tenant's address).
    pub to: String,
}

/// How to answer an inbound event on the platform, while it lets you.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyHandle {
    /// The platform's reply token.
    pub token: String,
    /// When the token stops working (ms since the Unix epoch).
    pub expires_at_ms: u64,
}

/// An event parsed from a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// The platform's event id, used by the host to drop redeliveries.
    pub id: String,
    /// The user's address on the platform.
    pub address: String,
    /// Milliseconds since the Unix epoch, as the platform says.
    pub timestamp_ms: u64,
    /// What happened.
    pub kind: EventKind,
    /// How to answer it, when the platform allows a reply.
    pub reply: Option<ReplyHandle>,
    /// The platform says it sent this event before.
    pub redelivery: bool,
}

impl InboundEvent {
    /// An event with no reply handle, not a redelivery.
    pub fn new(
        id: impl Into<String>,
        address: impl Into<String>,
        timestamp_ms: u64,
        kind: EventKind,
    ) -> Self {
        InboundEvent {
            id: id.into(),
            address: address.into(),
            timestamp_ms,
            kind,
            reply: None,
            redelivery: false,
        }
    }
}

/// The host's answer to an inbound event: messages for one reply token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The event's reply token.
    pub token: String,
    /// The user it answers (for platforms that reply by address).
    pub address: String,
    /// The messages, in order (at most the platform's limit per reply).
    pub messages: Vec<Content>,
}

/// What became of one reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplyStatus {
    /// Sent, with the platform's id when it gives one.
    Sent(Option<String>),
    /// The token had expired: the host pushes instead.
    Expired,
    /// Not sent.
    Failed(Failure),
}

/// The result of one reply, keyed by its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyOutcome {
    /// The reply token, exactly as given.
    pub token: String,
    /// What happened.
    pub status: ReplyStatus,
}

/// What the host asks a plugin to set up on the platform for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSetup {
    /// The tenant's display name.
    pub tenant_name: String,
    /// The tenant's main locale.
    pub locale: String,
    /// The channel's webhook URL on the host.
    pub webhook_url: String,
    /// The tenant's registration form.
    pub form_url: String,
    /// The menu the tenant wants (LINE: the rich menu's areas).
    pub menu: Vec<Button>,
}

/// What a channel set-up did, shown on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupReport {
    /// One line for operators.
    pub summary: String,
    /// Named facts (`rich_menu_id`...), never secrets.
    pub details: Vec<(String, String)>,
}

impl SetupReport {
    /// A report with this summary and no details.
    pub fn new(summary: impl Into<String>) -> Self {
        SetupReport {
            summary: summary.into(),
            details: Vec::new(),
        }
    }
}

/// The answer to a webhook request, and the events found in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookResult {
    /// What the host answers the platform.
    pub response: WebhookResponse,
    /// The events, in the platform's order.
    pub events: Vec<InboundEvent>,
}

impl WebhookResult {
    /// `404`, no events: what a plugin without webhooks answers.
    pub fn not_found() -> Self {
        WebhookResult {
            response: WebhookResponse::status(404),
            events: Vec::new(),
        }
    }

    /// `200 OK` with these events.
    pub fn ok(events: Vec<InboundEvent>) -> Self {
        WebhookResult {
            response: WebhookResponse::ok(),
            events,
        }
    }
}

/// The first value of header `name` in a list of pairs, case-insensitively.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
