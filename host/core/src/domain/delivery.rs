//! The delivery outbox: one row per (contact, child, message, day) the
//! planner materialises, or per (contact, broadcast), each with a stable
//! idempotency key, a due time, a status and its attempts (DESIGN.md,
//! "Delivery" and "Delivery pipeline").
//!
//! Times in the outbox are milliseconds since the Unix epoch (UTC): the
//! dispatcher compares and computes with them on every row, and both engines
//! store them as one 64-bit integer.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Locale, string_enum};

string_enum! {
    /// Where a delivery stands.
    pub enum OutboxStatus ("delivery status") {
        /// Waiting for its due time (or its next attempt).
        Pending = "pending",
        /// Its channel is paused (credentials refused); it goes back to
        /// pending when the channel's config changes.
        Held = "held",
        /// Claimed by a dispatcher, under a lease.
        InFlight = "in_flight",
        /// The platform accepted it.
        Sent = "sent",
        /// The platform refused it for good (permanent failure, recipient gone).
        Failed = "failed",
        /// It could not go out within the tenant's lateness window.
        Expired = "expired",
        /// Its child, contact, subscriber or channel was stopped or removed first.
        Cancelled = "cancelled",
        /// It kept failing: dead-lettered after the last attempt.
        Dead = "dead",
    }
}

impl OutboxStatus {
    /// Whether nothing more will happen to a delivery in this status.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Held | Self::InFlight)
    }
}

/// Why a delivery was planned already past its lateness window, and so
/// recorded as expired, never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateReason {
    /// Its day was planned late because the host was not running (or not
    /// planning) at the day's send time and for the lateness window after it.
    HostDown,
    /// The child, the contact or the dates were registered or changed after
    /// the day's send time and its lateness window had passed: the day's
    /// messages are then planned to go at once (see the planner's
    /// `plan_day`), not expired.
    RegisteredLate,
    /// The tenant was created after that day's send time and window.
    TenantNew,
}

impl LateReason {
    /// The text stored with the expired delivery (its `last_error`).
    pub fn message(self) -> &'static str {
        match self {
            Self::HostDown => {
                "planned after its lateness window: the host was not running at the day's send time"
            }
            Self::RegisteredLate => {
                "registered after the day's send time and its lateness window: not sent"
            }
            Self::TenantNew => {
                "the tenant was created after the day's send time and its lateness window"
            }
        }
    }
}

/// What a delivery carries: a catalog (or tenant) message for a child on a
/// day, or a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliverySource {
    /// A scheduled message for a child.
    Scheduled {
        /// The child.
        child_id: String,
        /// The catalog or tenant message id.
        message_id: String,
        /// The day (in the tenant's zone) it is for.
        occurs_on: NaiveDate,
        /// Whether the message is of the pregnancy track (cancelled when a
        /// birth is reported).
        pregnancy: bool,
    },
    /// A broadcast.
    Broadcast {
        /// The broadcast.
        broadcast_id: String,
    },
}

/// A delivery to add to the outbox (planner or broadcast).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The idempotency key: a UUID derived from the delivery's identity.
    pub key: String,
    pub tenant_id: String,
    pub subscriber_id: String,
    pub contact_id: String,
    /// The contact's channel name.
    pub channel: String,
    pub source: DeliverySource,
    /// When it is due (ms since the epoch).
    pub due_at: i64,
    /// After this it is expired, never sent (ms since the epoch).
    pub expires_at: i64,
    /// `Pending`, or `Expired` for a day caught up too late, or `Held` for a
    /// paused channel.
    pub status: OutboxStatus,
    /// Why an `Expired` row was late (stored as its reason).
    pub late: Option<LateReason>,
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The outbox row id (its order of creation).
    pub id: i64,
    /// The idempotency key handed to the plugin.
    pub key: String,
    pub tenant_id: String,
    pub subscriber_id: String,
    pub contact_id: String,
    pub channel: String,
    #[serde(flatten)]
    pub source: DeliverySource,
    pub status: OutboxStatus,
    pub due_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Attempts made so far (a claim is an attempt).
    pub attempts: u32,
    /// When the next attempt may be made, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// What the last failure was.
    pub last_error: Option<String>,
    /// The platform's id for the sent message.
    pub receipt: Option<String>,
    /// The plugin version that made the last attempt.
    pub plugin_version: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<OutboxStatus>,
    pub channel: Option<String>,
    pub subscriber_id: Option<String>,
    pub broadcast_id: Option<String>,
    /// Due at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Due before this.
    pub until: Option<DateTime<Utc>>,
}

/// A claimed delivery with what the dispatcher needs to render and send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: i64,
    /// The claim's fencing token: completing the row requires it.
    pub fence: i64,
    /// Attempts including this one.
    pub attempts: u32,
    pub key: String,
    pub tenant_id: String,
    pub subscriber_id: String,
    pub contact_id: String,
    pub channel: String,
    pub source: DeliverySource,
    pub due_at: i64,
    pub expires_at: i64,
    /// The batch this delivery was last sent in, when that batch must be
    /// sent again as it was (its outcome is unknown).
    pub batch: Option<String>,
    /// The contact's address, `None` once removed or erased.
    pub address: Option<String>,
    /// Whether the contact is still valid.
    pub contact_valid: bool,
    pub locale: Locale,
    /// Whether the subscriber is still active.
    pub subscriber_active: bool,
    /// The child's due date, birth date and whether it is stopped (scheduled
    /// deliveries).
    pub due_date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    pub child_stopped: bool,
}

/// What became of a claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Accepted by the platform.
    Sent {
        receipt: Option<String>,
        plugin_version: String,
    },
    /// Try again at `at`. `keep_batch`: the batch's outcome is unknown, so it
    /// must be sent again as the same batch.
    Retry {
        at: i64,
        error: String,
        plugin_version: Option<String>,
        keep_batch: bool,
    },
    /// Not attempted (rate limit, quota, quiet hours): back to pending at
    /// `at`, the attempt not counted, in the batch it had (if any).
    Defer { at: i64, reason: Option<String> },
    /// Refused for good.
    Failed {
        error: String,
        plugin_version: Option<String>,
    },
    /// The recipient is gone: the delivery failed, and the contact is marked
    /// invalid (its other pending deliveries cancelled).
    RecipientGone {
        error: String,
        plugin_version: Option<String>,
    },
    /// Too late to send.
    Expired { error: Option<String> },
    /// Its child, contact or subscriber stopped meanwhile.
    Cancelled { reason: String },
    /// Failed on its last attempt.
    Dead {
        error: String,
        plugin_version: Option<String>,
    },
    /// The channel refused its credentials: the channel is paused (with
    /// `error` as the reason) and the delivery held until its config changes,
    /// the attempt not counted. `config_at` is the `updated_at` of the
    /// channel config the attempt used: a config changed since is not paused
    /// for the old one's failure.
    Unauthorized {
        error: String,
        config_at: DateTime<Utc>,
    },
}

string_enum! {
    /// Why a delivery failed for good (stored with it, for the figures; the
    /// plugin's own words stay in its `last_error`).
    pub enum FailureReason ("failure reason") {
        /// The platform refused it for good (a permanent failure).
        Refused = "refused",
        /// The recipient is gone: blocked the account, left, or the address
        /// no longer exists.
        RecipientGone = "recipient_gone",
        /// It kept failing, and was given up after its last attempt.
        GaveUp = "gave_up",
        /// The message could not be made (its message or broadcast is
        /// missing), so nothing was sent.
        NotMade = "not_made",
    }
}

impl FailureReason {
    /// The reason a completion records, if it is a failure for good. A
    /// failure with no plugin version never reached a plugin: its message
    /// could not be made.
    pub fn of(c: &Completion) -> Option<Self> {
        match c {
            Completion::Failed {
                plugin_version: None,
                ..
            } => Some(Self::NotMade),
            Completion::Failed { .. } => Some(Self::Refused),
            Completion::RecipientGone { .. } => Some(Self::RecipientGone),
            Completion::Dead { .. } => Some(Self::GaveUp),
            _ => None,
        }
    }

    /// The reason of a failed (`failed`, `dead`) row stored before reasons
    /// were: read from its status.
    pub fn of_status(status: OutboxStatus) -> Self {
        if status == OutboxStatus::Dead {
            Self::GaveUp
        } else {
            Self::Refused
        }
    }
}

/// One claimed delivery's completion, fenced by its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    pub id: i64,
    pub fence: i64,
    pub completion: Completion,
}

/// A child (with one of its subscriber's contacts) as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanSource {
    pub subscriber_id: String,
    pub child_id: String,
    pub due_date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    pub contact_id: String,
    pub channel: String,
}

/// A recipient of a broadcast as the audience filter sees it: a valid
/// contact of an active subscriber, with the subscriber's living children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceMember {
    pub subscriber_id: String,
    pub contact_id: String,
    pub channel: String,
    /// (due date, birth date) of each child that is not stopped.
    pub children: Vec<(Option<NaiveDate>, Option<NaiveDate>)>,
}

/// Where the planner stands for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanState {
    /// The last day fully planned.
    pub day: NaiveDate,
    /// Subscriber changes numbered above this (see
    /// [`OutboxStore::change_cursor`](crate::OutboxStore::change_cursor))
    /// were not yet planned for `day`.
    pub changes: i64,
}

/// A tenant's message to an audience, now or at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    pub id: String,
    pub tenant_id: String,
    /// The subject (platforms without subjects ignore it).
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// The audience filter as given.
    pub audience: serde_json::Value,
    /// When it goes out.
    pub send_at: DateTime<Utc>,
    /// How many deliveries it made (one per contact).
    pub deliveries: u64,
    pub created_at: DateTime<Utc>,
}

/// The outbox at a glance, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Pending deliveries, due or not.
    pub pending: u64,
    /// Deliveries claimed and not yet completed.
    pub in_flight: u64,
    /// Pending deliveries due now or earlier.
    pub due: u64,
    /// The due time of the oldest due delivery (ms since the epoch).
    pub oldest_due_at: Option<i64>,
}

/// Converts outbox milliseconds to a time.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_for_good_have_their_reason() {
        let v = || Some("1.0.0".to_string());
        let of = |c: Completion| FailureReason::of(&c);
        assert_eq!(
            of(Completion::Failed {
                error: "400".into(),
                plugin_version: v(),
            }),
            Some(FailureReason::Refused)
        );
        assert_eq!(
            of(Completion::Failed {
                error: "no message `m`".into(),
                plugin_version: None,
            }),
            Some(FailureReason::NotMade),
            "never reached a plugin"
        );
        assert_eq!(
            of(Completion::RecipientGone {
                error: "blocked".into(),
                plugin_version: v(),
            }),
            Some(FailureReason::RecipientGone)
        );
        assert_eq!(
            of(Completion::Dead {
                error: "500".into(),
                plugin_version: None,
            }),
            Some(FailureReason::GaveUp)
        );
        for not_a_failure in [
            Completion::Sent {
                receipt: None,
                plugin_version: "1.0.0".into(),
            },
            Completion::Retry {
                at: 0,
                error: "429".into(),
                plugin_version: v(),
                keep_batch: false,
            },
            Completion::Expired { error: None },
            Completion::Cancelled {
                reason: "stopped".into(),
            },
        ] {
            assert_eq!(of(not_a_failure.clone()), None, "{not_a_failure:?}");
        }
        assert_eq!(
            FailureReason::of_status(OutboxStatus::Dead),
            FailureReason::GaveUp
        );
        assert_eq!(
            FailureReason::of_status(OutboxStatus::Failed),
            FailureReason::Refused
        );
    }
}
