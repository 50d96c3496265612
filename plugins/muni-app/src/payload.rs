//! The JSON a municipality's app receives for one delivery.
//!
//! It follows the Standard Webhooks payload shape: a `type`, an RFC 3339
//! `timestamp` and the `data`:
//!
//! ```json
//! {
//!   "type": "tayori.message",
//!   "timestamp": "2026-05-01T00:00:00Z",
//!   "data": {
//!     "delivery_key": "0191c6a4-...",
//!     "recipient": "app-user-123",
//!     "message_id": "child-day-100",
//!     "subject": "生後100日",
//!     "body": "...",
//!     "locale": "ja"
//!   }
//! }
//! ```

use serde_json::{Value, json};
use tayori_plugin_sdk::{Batch, Recipient};

/// The event type of a delivery.
pub const EVENT_TYPE: &str = "tayori.message";

/// The payload for `recipient`, sent at `now` (Unix seconds).
pub fn message(batch: &Batch, recipient: &Recipient, now: u64) -> Value {
    json!({
        "type": EVENT_TYPE,
        "timestamp": rfc3339(now),
        "data": {
            "delivery_key": recipient.idempotency_key,
            "recipient": recipient.address,
            "message_id": batch.message_id,
            "subject": batch.content.subject,
            "body": batch.content.body,
            "locale": batch.content.locale
        }
    })
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (UTC).
pub fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let seconds = unix % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3_600,
        seconds % 3_600 / 60,
        seconds % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::Content;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_614_265_330), "2021-02-25T15:02:10Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn the_payload_names_the_delivery_and_its_content() {
        let batch = Batch {
            message_id: "broadcast:42".into(),
            content: Content {
                subject: Some("避難情報".into()),
                body: "本文".into(),
                locale: "ja-easy".into(),
                buttons: Vec::new(),
                quick_replies: Vec::new(),
            },
            recipients: vec![Recipient {
                address: "app-user-7".into(),
                idempotency_key: "k-7".into(),
                unsubscribe_url: None,
            }],
        };
        let value = message(&batch, &batch.recipients[0], 0);
        assert_eq!(
            value,
            json!({
                "type": "tayori.message",
                "timestamp": "1970-01-01T00:00:00Z",
                "data": {
                    "delivery_key": "k-7",
                    "recipient": "app-user-7",
                    "message_id": "broadcast:42",
                    "subject": "避難情報",
                    "body": "本文",
                    "locale": "ja-easy"
                }
            })
        );
    }
}
