//! Passwords (Argon2id), random tokens and their digests.
//!
//! A password is stored as its Argon2id PHC string with the argon2 crate's
//! defaults (19 MiB, 2 passes, 1 lane: OWASP's minimum for Argon2id) and a
//! random 16-byte salt. Hashing and checking run on the blocking pool: they
//! take tens of milliseconds on purpose.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// The shortest password taken (NCSC and NIST advise length over rules).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (Argon2 takes any length; a bound keeps requests small).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The PHC string of `password`.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id with its default parameters")
        .to_string()
}

/// Whether `password` is the one `phc` was made from. A string that is not
/// a PHC string matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password is checked against but for the time it takes: a
/// sign-in with an unknown email address costs what a known one does.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_token()))
}

/// [`hash_password`] on the blocking pool.
pub async fn hash_password_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing does not panic")
}

/// [`verify_password`] on the blocking pool; `None` checks the decoy.
pub async fn verify_password_blocking(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password(&password, &phc),
        None => {
            let _ = verify_password(&password, decoy_hash());
            false
        }
    })
    .await
    .expect("checking does not panic")
}

/// A random 32-byte token, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token: its SHA-256, lower-case hex.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` could be one of ours (43 URL-safe characters).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Equality in time that depends on the lengths only.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_argon2id_hash_only() {
        let phc = hash_password("correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
        assert!(!verify_password("correct horse battery", "not a hash"));
        // A new salt each time.
        assert_ne!(phc, hash_password("correct horse battery"));
    }

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert_eq!(digest(&a).len(), 64);
        assert!(!digest(&a).contains(&a));
        assert!(same(&a, &a) && !same(&a, &b) && !same("a", "ab"));
    }
}
