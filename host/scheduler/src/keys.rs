//! Idempotency keys: UUIDs derived from a delivery's identity, so that a
//! delivery keeps its key across retries, restarts and re-planning, and a
//! platform that takes an idempotency key (LINE's `X-Line-Retry-Key` must be
//! a UUID) accepts it once.

use chrono::NaiveDate;
use uuid::Uuid;

/// The namespace of Tayori's delivery keys (a fixed random UUID).
const NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3b0a_52c4_4e8e_9a41_7c2d_e0b5_93f6);

/// The key of a scheduled delivery: one message for one child to one
/// contact on one day.
pub fn scheduled(
    tenant: &str,
    contact: &str,
    child: &str,
    message: &str,
    day: NaiveDate,
) -> String {
    let name = format!("s\u{1f}{tenant}\u{1f}{contact}\u{1f}{child}\u{1f}{message}\u{1f}{day}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// The key of a broadcast's delivery to one contact.
pub fn broadcast(tenant: &str, broadcast: &str, contact: &str) -> String {
    let name = format!("b\u{1f}{tenant}\u{1f}{broadcast}\u{1f}{contact}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// The key of a message sent now, outside the schedule
/// ([`crate::messenger::PluginMessenger`]): named by the caller's message
/// id, so that a caller naming one message twice (a redelivered webhook's
/// `reply:<event id>`) gets the platform's retry protection.
pub fn now(tenant: &str, channel: &str, address: &str, message_id: &str) -> String {
    let name = format!("n\u{1f}{tenant}\u{1f}{channel}\u{1f}{address}\u{1f}{message_id}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// The key of a batch of several deliveries sent together (kept while the
/// batch's outcome is unknown).
pub fn batch(first_key: &str, attempt: u32) -> String {
    let name = format!("batch\u{1f}{first_key}\u{1f}{attempt}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// The batch of the first `len` deliveries of `batch`, when a quota lets
/// only those go out now: they go (and, if their outcome is lost, go again)
/// as a batch of their own.
pub fn batch_part(batch: &str, len: usize) -> String {
    let name = format!("part\u{1f}{batch}\u{1f}{len}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_uuids_and_distinct() {
        let day: NaiveDate = "2027-05-01".parse().unwrap();
        let a = scheduled("t", "c1", "k1", "m1", day);
        assert_eq!(a, scheduled("t", "c1", "k1", "m1", day));
        assert!(Uuid::parse_str(&a).is_ok());
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 5);
        let others = [
            scheduled("u", "c1", "k1", "m1", day),
            scheduled("t", "c2", "k1", "m1", day),
            scheduled("t", "c1", "k2", "m1", day),
            scheduled("t", "c1", "k1", "m2", day),
            scheduled("t", "c1", "k1", "m1", day.succ_opt().unwrap()),
            broadcast("t", "b", "c1"),
        ];
        for o in others {
            assert_ne!(a, o);
        }
        // Separators keep ambiguous concatenations apart.
        assert_ne!(broadcast("t", "ab", "c"), broadcast("t", "a", "bc"));
    }
}
