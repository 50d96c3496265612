//! Signed links for parents: the link in a blank email's answer, a
//! confirmation mail's link, the one-click stop of every email (RFC 8058),
//! the self-service link in a message, a second parent's invitation.
//!
//! A link carries what it is for and whom it concerns, so that the page it
//! opens needs no session and the database holds nothing until the parent
//! acts: a confirmation link carries the form's answers, and nothing is
//! written before the click. The token is `base64url(claims JSON) "."
//! base64url(HMAC-SHA256)` under a key of its own (derived from the host's
//! secret key); changing one character of either part is
//! [`LinkError::Altered`], and a link past its time is
//! [`LinkError::Expired`]. The claims are readable by whoever holds the
//! link (they say nothing a parent does not already know: their own
//! address), never forgeable.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::string_enum;

string_enum! {
    /// What a link lets its holder do.
    pub enum LinkPurpose ("link purpose") {
        /// Open the registration form for a proven contact (a LINE user, an
        /// email address that wrote to the tenant).
        Register = "register",
        /// Confirm an email address typed into the form (double opt-in);
        /// the answers ride in `data`.
        Confirm = "confirm",
        /// Look after a registration (report a birth, add a child, stop).
        Manage = "manage",
        /// Stop the contact (RFC 8058 one-click, or the page it opens).
        Unsubscribe = "unsubscribe",
        /// Join a household as its second parent; `data` is the household.
        Invite = "invite",
    }
}

/// What a link says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    #[serde(rename = "p")]
    pub purpose: LinkPurpose,
    #[serde(rename = "t")]
    pub tenant: String,
    /// The channel of the contact it concerns.
    #[serde(rename = "c")]
    pub channel: String,
    /// The contact's address on that channel.
    #[serde(rename = "a")]
    pub address: String,
    /// What else the purpose needs (a confirmation's answers as JSON, a
    /// household id); empty when nothing.
    #[serde(rename = "d", default, skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// After this, the link is refused as expired.
    #[serde(rename = "e", with = "chrono::serde::ts_seconds")]
    pub expires_at: DateTime<Utc>,
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token this host writes (cut short, not base64, not JSON).
    #[error("the link is not complete")]
    Malformed,
    /// The signature does not match: the link was changed.
    #[error("the link was changed")]
    Altered,
    /// Its time has passed.
    #[error("the link has expired")]
    Expired,
    /// A sound link for something else (a stop link used to confirm).
    #[error("the link is for something else")]
    WrongPurpose,
}

/// Signs and checks links with one key.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"tayori/link/v1/");
        mac.update(payload);
        mac
    }

    /// The URL-safe token for `claims`.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let json = serde_json::to_vec(claims).expect("claims are plain data");
        let payload = URL_SAFE_NO_PAD.encode(&json);
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The claims of a token this signer wrote for `purpose`, still valid
    /// at `now`. The signature is checked (in constant time) before
    /// anything in the token is read.
    pub fn verify(
        &self,
        token: &str,
        purpose: LinkPurpose,
        now: DateTime<Utc>,
    ) -> Result<LinkClaims, LinkError> {
        let (payload, tag) = token.trim().split_once('.').ok_or(LinkError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| LinkError::Malformed)?;
        self.mac(payload.as_bytes())
            .verify_slice(&tag)
            .map_err(|_| LinkError::Altered)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Malformed)?;
        let claims: LinkClaims = serde_json::from_slice(&json).map_err(|_| LinkError::Malformed)?;
        if claims.purpose != purpose {
            return Err(LinkError::WrongPurpose);
        }
        if claims.expires_at <= now {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }

    /// The tenant a token names, read without checking the signature: only
    /// to offer a refused link's page the tenant's form again (shown only
    /// when that tenant exists). Never an authority for anything else.
    pub fn peek_tenant(token: &str) -> Option<String> {
        let payload = token.trim().split('.').next()?;
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
        let id = value.get("t")?.as_str()?;
        crate::domain::is_slug(id).then(|| id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn claims() -> LinkClaims {
        LinkClaims {
            purpose: LinkPurpose::Register,
            tenant: "sapporo".into(),
            channel: "mail".into(),
            address: "hanako@example.jp".into(),
            data: String::new(),
            expires_at: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_link_comes_back_as_it_was_signed() {
        let signer = LinkSigner::new([7; 32]);
        let token = signer.sign(&claims());
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'),
            "{token}"
        );
        assert_eq!(
            signer.verify(&token, LinkPurpose::Register, now()),
            Ok(claims())
        );
    }

    #[test]
    fn any_changed_character_is_refused() {
        let signer = LinkSigner::new([7; 32]);
        let token = signer.sign(&claims());
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed == token {
                continue;
            }
            let got = signer.verify(&changed, LinkPurpose::Register, now());
            assert!(
                matches!(got, Err(LinkError::Altered | LinkError::Malformed)),
                "position {i}: {got:?}"
            );
        }
        assert_eq!(
            signer.verify(&token[..token.len() - 3], LinkPurpose::Register, now()),
            Err(LinkError::Altered)
        );
        assert_eq!(
            signer.verify("nonsense", LinkPurpose::Register, now()),
            Err(LinkError::Malformed)
        );
    }

    #[test]
    fn another_key_the_wrong_purpose_and_time_are_refused() {
        let signer = LinkSigner::new([7; 32]);
        let token = signer.sign(&claims());
        assert_eq!(
            LinkSigner::new([8; 32]).verify(&token, LinkPurpose::Register, now()),
            Err(LinkError::Altered)
        );
        assert_eq!(
            signer.verify(&token, LinkPurpose::Unsubscribe, now()),
            Err(LinkError::WrongPurpose)
        );
        assert_eq!(
            signer.verify(&token, LinkPurpose::Register, claims().expires_at),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn the_tenant_of_a_refused_link_can_be_peeked_but_only_a_slug() {
        let signer = LinkSigner::new([7; 32]);
        let token = signer.sign(&claims());
        let altered = format!("{}x", &token[..token.len() - 1]);
        assert_eq!(LinkSigner::peek_tenant(&altered), Some(claims().tenant));
        let odd = URL_SAFE_NO_PAD.encode(br#"{"t":"<script>"}"#);
        assert_eq!(LinkSigner::peek_tenant(&format!("{odd}.x")), None);
        assert_eq!(LinkSigner::peek_tenant("nonsense"), None);
    }
}
