//! Inbound events: what a channel's plugin parsed from its platform's
//! webhook (DESIGN.md, "Inbound event"), as the host keeps them.
//!
//! Platforms redeliver a webhook they think was lost, so every event is kept
//! once per (tenant, channel, platform event id), and what it asks for is
//! done in the same transaction that records it: an event is acted on once,
//! however often it arrives. An unfollow (the parent blocked the account)
//! invalidates the contact with that address on that channel; a follow of a
//! known contact (LINE's `isUnblocked`: the parent unblocked it) makes it
//! valid again; everything else (a stranger's follow, texts, postbacks) is
//! recorded for the registration steps that read the list later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::string_enum;
use crate::plugin::EventKind;

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
    }
}

/// The largest platform event id the host keeps, in bytes.
pub const MAX_INBOUND_ID_BYTES: usize = 256;
/// The largest address, in bytes.
pub const MAX_INBOUND_ADDRESS_BYTES: usize = 256;
/// The largest text or postback data, in bytes (LINE: 5,000 characters of
/// text, 300 of postback data; three bytes a character at most).
pub const MAX_INBOUND_DATA_BYTES: usize = 16 * 1024;

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
}

/// What recording one event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecorded {
    /// The event as kept (the first arrival's, for a redelivery).
    pub record: InboundRecord,
    /// The event was already kept: nothing was done this time.
    pub duplicate: bool,
}
