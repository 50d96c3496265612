//! Standard Webhooks signing (<https://www.standardwebhooks.com/>).
//!
//! A message carries three headers: `webhook-id` (here the delivery's
//! idempotency key, the same on every retry, so the app drops duplicates),
//! `webhook-timestamp` (Unix seconds; receivers refuse stale ones) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
//! The key is the shared secret, written `whsec_` followed by the base64 of
//! 24 to 64 random bytes, as Standard Webhooks libraries generate and read
//! it, so any app vendor verifies these requests with such a library.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The shortest key the specification allows, in bytes.
pub const MIN_KEY_BYTES: usize = 24;
/// The longest key the specification allows, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// Why a secret is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// It does not start with `whsec_`.
    Prefix,
    /// What follows is not base64.
    Base64,
    /// The key is shorter or longer than the specification allows.
    Length(usize),
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::Prefix => {
                f.write_str("must start with whsec_ (a Standard Webhooks secret)")
            }
            SecretError::Base64 => f.write_str("must be whsec_ followed by base64"),
            SecretError::Length(n) => write!(
                f,
                "decodes to {n} bytes; a Standard Webhooks key has {MIN_KEY_BYTES} to {MAX_KEY_BYTES}"
            ),
        }
    }
}

/// The key bytes of a `whsec_...` secret.
pub fn key(secret: &str) -> Result<Vec<u8>, SecretError> {
    let encoded = secret
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SecretError::Prefix)?;
    let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
    if (MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
        Ok(key)
    } else {
        Err(SecretError::Length(key.len()))
    }
}

/// The `webhook-signature` value for one message.
pub fn sign(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_as_published() {
        // The example of the Standard Webhooks specification and its
        // reference libraries.
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_must_be_whsec_base64_of_24_to_64_bytes() {
        assert_eq!(
            key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(SecretError::Prefix)
        );
        assert_eq!(key("whsec_not base64!"), Err(SecretError::Base64));
        assert_eq!(key("whsec_c2hvcnQ="), Err(SecretError::Length(5)));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(key(&long), Err(SecretError::Length(65)));
        assert_eq!(
            key(&format!("whsec_{}", STANDARD.encode([7u8; 32])))
                .unwrap()
                .len(),
            32
        );
    }
}
