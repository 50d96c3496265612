//! Inbound events: what a channel's plugin parsed from its platform's
//! webhook (DESIGN.md, "Inbound event"), as the host keeps them.
//!
//! Platforms redeliver a webhook they think was lost, so every event is kept
//! once per (tenant, channel, platform event id), and what it asks for is
//! done in the same transaction that records it: an event is acted on once,
//! however often it arrives. An unfollow (the parent blocked the account)
//! invalidates the contact with that address on that channel; everything
//! else (follows, texts, postbacks, mails) is kept, and answered after the
//! platform has its answer by the conversation
//! ([`super::conversation`]): a stranger's follow is greeted, a stopped
//! contact's (LINE's `isUnblocked`) is asked whether to resume.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::plugin::{EventKind, InboundEvent};

string_enum! {
    /// What kind of event it was.
    pub enum InboundKind ("inbound event kind") {
        /// Someone added the account (or unblocked it).
        Follow = "follow",
        /// Someone blocked the account.
        Unfollow = "unfollow",
        /// A text message to the account.
        Text = "text",
        /// A tap on a button (its data).
        Postback = "postback",
    }
}

string_enum! {
    /// What the host did with an event.
    pub enum InboundAction ("inbound action") {
        /// Nothing changed: kept for the registration steps that read it
        /// (a stranger's follow, a text, a postback, a contact already so).
        Recorded = "recorded",
        /// The contact was marked invalid and its pending deliveries cancelled.
        ContactInvalidated = "contact_invalidated",
        /// The contact was valid again.
        ContactRestored = "contact_restored",
        /// A later follow or unfollow of the same address was already
        /// applied (a late redelivery): this one changes nothing.
        Superseded = "superseded",
        /// The event could not be taken as it came (a NUL character, an
        /// address or a text over the limits, a time out of range): kept
        /// with the reason, and nothing was done. The other events of the
        /// same webhook are not affected.
        Refused = "refused",
    }
}

/// The largest platform event id the host keeps, in bytes.
pub const MAX_INBOUND_ID_BYTES: usize = 256;
/// The largest address, in bytes.
pub const MAX_INBOUND_ADDRESS_BYTES: usize = 256;
/// The largest text or postback data, in bytes (LINE: 5,000 characters of
/// text, 300 of postback data; three bytes a character at most).
pub const MAX_INBOUND_DATA_BYTES: usize = 16 * 1024;

/// What is wrong with a platform event id as a key, or `None`: a row is
/// keyed by it, so an event without a usable id cannot be kept at all.
pub fn id_problem(id: &str) -> Option<String> {
    if id.trim().is_empty() {
        Some("must not be empty".into())
    } else if id.len() > MAX_INBOUND_ID_BYTES {
        Some(format!("must be at most {MAX_INBOUND_ID_BYTES} bytes"))
    } else if id.contains('\0') {
        Some("must not contain a NUL character".into())
    } else {
        None
    }
}

/// What is wrong with an address, or `None`.
pub fn address_problem(address: &str) -> Option<String> {
    if address.trim().is_empty() {
        Some("is empty".into())
    } else if address.len() > MAX_INBOUND_ADDRESS_BYTES {
        Some(format!("is over {MAX_INBOUND_ADDRESS_BYTES} bytes"))
    } else if address.contains('\0') {
        Some("contains a NUL character".into())
    } else {
        None
    }
}

/// Why an event (with a usable id) is refused, kept as
/// [`InboundAction::Refused`] without being acted on, or `None` when it can
/// be taken as it came.
pub fn inbound_refusal(event: &InboundEvent) -> Option<String> {
    if let Some(problem) = address_problem(&event.address) {
        return Some(format!("the address {problem}"));
    }
    if let EventKind::Text(data) | EventKind::Postback(data) = &event.kind {
        if data.len() > MAX_INBOUND_DATA_BYTES {
            return Some(format!("the data is over {MAX_INBOUND_DATA_BYTES} bytes"));
        }
        if data.contains('\0') {
            return Some("the data contains a NUL character".into());
        }
    }
    if i64::try_from(event.timestamp_ms).is_err() {
        return Some("the time is out of range".into());
    }
    None
}

impl From<&EventKind> for InboundKind {
    fn from(kind: &EventKind) -> Self {
        match kind {
            EventKind::Follow { .. } => Self::Follow,
            EventKind::Unfollow => Self::Unfollow,
            EventKind::Text(_) => Self::Text,
            // A date picker's choice is a postback; a mail is a text.
            EventKind::Postback(_) | EventKind::Picked { .. } => Self::Postback,
            EventKind::Email(_) => Self::Text,
        }
    }
}

/// An inbound event as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRecord {
    /// The order of arrival.
    pub id: i64,
    pub tenant_id: String,
    pub channel: String,
    /// The platform's id of the event (LINE's `webhookEventId`).
    pub event_id: String,
    /// The sender's address on the platform; `None` once the subscriber it
    /// belonged to was erased.
    pub address: Option<String>,
    pub kind: InboundKind,
    /// For a follow: the account was unblocked rather than added.
    pub unblocked: bool,
    /// A text's words or a postback's data; `None` for the other kinds and
    /// once the subscriber was erased.
    pub data: Option<String>,
    /// When it happened, by the platform's clock.
    pub occurred_at: DateTime<Utc>,
    /// When the host received it.
    pub received_at: DateTime<Utc>,
    pub action: InboundAction,
    /// The subscriber and contact the address belonged to when it arrived.
    pub subscriber_id: Option<String>,
    pub contact_id: Option<String>,
    /// Why a refused event was refused (`None` for the other actions).
    pub reason: Option<String>,
}

/// What recording one event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecorded {
    /// The event as kept (the first arrival's, for a redelivery).
    pub record: InboundRecord,
    /// The event was already kept: nothing was done this time.
    pub duplicate: bool,
}
