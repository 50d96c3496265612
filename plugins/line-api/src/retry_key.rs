//! `X-Line-Retry-Key` values.
//!
//! LINE accepts a request with a given retry key once (for 24 hours) and
//! answers any later request with the same key `409 Conflict`, so a retried
//! request can never deliver twice. The key must be a UUID.
//!
//! - A push goes to one recipient: its key is the delivery's own idempotency
//!   key, which the host keeps stable across retries and restarts.
//! - A multicast goes to many recipients at once and takes one key. It is
//!   derived from the set of its recipients' keys (sorted, so their order
//!   does not matter): a retry of the same group of deliveries sends the same
//!   key, and LINE answers 409 if the first attempt got through. The
//!   derivation is the name-based UUIDv8 of RFC 9562 (appendix B.2): the first
//!   16 bytes of a SHA-256 over a fixed label and the keys, with the version
//!   and variant bits set. A retry that groups the deliveries differently
//!   gets another key; see the README for what that means.

use sha2::{Digest, Sha256};

/// Label that keeps these digests apart from any other use of SHA-256.
const MULTICAST_LABEL: &[u8] = b"tayori:line:multicast-retry-key:v1\n";
/// Label for pushes whose delivery key is not already a UUID.
const PUSH_LABEL: &[u8] = b"tayori:line:push-retry-key:v1\n";

/// Whether `text` is a UUID in the 8-4-4-4-12 hexadecimal form LINE asks for.
pub fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The retry key of a push: the delivery's key when it is a UUID (the
/// contract says it is), else a UUID derived from it.
pub fn for_push(idempotency_key: &str) -> String {
    if is_uuid(idempotency_key) {
        idempotency_key.to_owned()
    } else {
        derive(PUSH_LABEL, [idempotency_key])
    }
}

/// The retry key of a multicast to the deliveries with these keys.
pub fn for_multicast<'a>(idempotency_keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut keys: Vec<&str> = idempotency_keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    derive(MULTICAST_LABEL, keys)
}

fn derive<'a>(label: &[u8], keys: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(label);
    for key in keys {
        // Keys never contain a line break, so this joins without ambiguity.
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "00000000-0000-4000-8000-000000000001";
    const B: &str = "00000000-0000-4000-8000-000000000002";
    const C: &str = "00000000-0000-4000-8000-000000000003";

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid(A));
        assert!(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
        for not in [
            "",
            "123e4567e89b12d3a456426614174000",
            "123e4567-e89b-12d3-a456-42661417400g",
        ] {
            assert!(!is_uuid(not), "{not}");
        }
    }

    #[test]
    fn a_push_uses_the_delivery_key() {
        assert_eq!(for_push(A), A);
        let derived = for_push("delivery-42");
        assert!(is_uuid(&derived), "{derived}");
        assert_eq!(derived, for_push("delivery-42"));
        assert_ne!(derived, for_push("delivery-43"));
    }

    #[test]
    fn a_multicast_key_depends_on_the_set_of_keys_only() {
        let key = for_multicast([A, B, C]);
        assert!(is_uuid(&key), "{key}");
        assert_eq!(key, for_multicast([C, A, B]), "order does not matter");
        assert_eq!(key, for_multicast([A, B, C, B]), "duplicates do not matter");
        assert_ne!(key, for_multicast([A, B]), "another group, another key");
        assert_ne!(key, for_push(A));
    }

    #[test]
    fn derived_keys_are_version_8_variant_10() {
        let key = for_multicast([A, B]);
        assert_eq!(&key[14..15], "8", "{key}");
        assert!(matches!(&key[19..20], "8" | "9" | "a" | "b"), "{key}");
        assert_eq!(key, key.to_ascii_lowercase());
    }

    #[test]
    fn the_derivation_is_stable_across_releases() {
        // A retry after an upgrade must send the key the first attempt sent:
        // SHA-256("tayori:line:multicast-retry-key:v1\n" A "\n" B "\n"),
        // first 16 bytes, version and variant set (computed independently).
        assert_eq!(
            for_multicast([B, A]),
            "c8ff6939-d2bb-8552-be0f-e565a84720ac"
        );
    }
}
