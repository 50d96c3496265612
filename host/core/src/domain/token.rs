//! API tokens: who may call the API, as what, and for which tenant or plugins.
//!
//! A token is shown once when created and stored only as the SHA-256 of its
//! text (lower-case hex), so a copy of the database grants nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::string_enum;

string_enum! {
    /// What a token may do.
    pub enum Role ("role") {
        /// Everything.
        Operator = "operator",
        /// One tenant's resources.
        TenantAdmin = "tenant_admin",
        /// Its own plugin ids.
        Partner = "partner",
    }
}

/// Whether `hash` looks like a token hash: 64 lower-case hex digits.
pub fn is_valid_token_hash(hash: &str) -> bool {
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A stored token (without its text, which is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// The token's id, for listing and revoking.
    pub id: String,
    /// What it may do.
    pub role: Role,
    /// The tenant of a tenant admin.
    pub tenant_id: Option<String>,
    /// The plugin ids of a partner.
    pub plugin_ids: Vec<String>,
    /// Who or what it is for, as its maker wrote it.
    pub label: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to store. A tenant admin must name its tenant; only a partner
/// carries plugin ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// SHA-256 of the token text, lower-case hex.
    pub token_hash: String,
    /// What it may do.
    pub role: Role,
    /// The tenant of a tenant admin.
    pub tenant_id: Option<String>,
    /// The plugin ids of a partner.
    pub plugin_ids: Vec<String>,
    /// Who or what it is for ([`MAX_TOKEN_LABEL`] characters at most).
    pub label: Option<String>,
}

/// The longest label of a token, in characters.
pub const MAX_TOKEN_LABEL: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes() {
        assert!(is_valid_token_hash(&"ab".repeat(32)));
        assert!(!is_valid_token_hash(&"AB".repeat(32)));
        assert!(!is_valid_token_hash("abc"));
    }
}
