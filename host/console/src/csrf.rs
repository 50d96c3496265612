//! CSRF protection. Signed in, every form carries the session's own CSRF
//! secret (kept in the session's row) and a POST is taken only when the
//! field equals it. Signed out (the sign-in form, an invitation), the
//! double-submit pattern, signed: a random value in an `HttpOnly;
//! SameSite=Lax` cookie and its HMAC in a hidden field.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::auth;

/// The signed-out forms' cookie.
pub const COOKIE: &str = "tayori_console_form";
/// Every form's hidden field.
pub const FIELD: &str = "csrf";

/// Issues and checks signed-out form tokens with one key.
#[derive(Clone)]
pub struct FormKey {
    key: [u8; 32],
    secure: bool,
}

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormKey").finish_non_exhaustive()
    }
}

/// A signed-out page's hidden field, and the cookie to set with it when
/// the browser has none yet.
#[derive(Debug, Clone)]
pub struct FormToken {
    pub field: String,
    pub set_cookie: Option<String>,
}

impl FormKey {
    pub fn new(key: [u8; 32], secure: bool) -> Self {
        Self { key, secure }
    }

    fn mac(&self, value: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"tayori/console-form/v1/");
        mac.update(value.as_bytes());
        mac
    }

    /// The token for a page: the browser's cookie kept when sound.
    pub fn for_page(&self, cookie_header: Option<&str>) -> FormToken {
        if let Some(value) = cookie(cookie_header, COOKIE).filter(|v| auth::well_formed(v)) {
            return FormToken {
                field: URL_SAFE_NO_PAD.encode(self.mac(value).finalize().into_bytes()),
                set_cookie: None,
            };
        }
        let value = auth::new_token();
        FormToken {
            field: URL_SAFE_NO_PAD.encode(self.mac(&value).finalize().into_bytes()),
            set_cookie: Some(format!(
                "{COOKIE}={value}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax{}",
                if self.secure { "; Secure" } else { "" }
            )),
        }
    }

    /// Whether a signed-out POST's field matches its cookie.
    pub fn check(&self, cookie_header: Option<&str>, field: Option<&str>) -> bool {
        let (Some(value), Some(field)) = (cookie(cookie_header, COOKIE), field) else {
            return false;
        };
        if !auth::well_formed(value) {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(field.trim()) else {
            return false;
        };
        self.mac(value).verify_slice(&tag).is_ok()
    }
}

/// A cookie's value in a `Cookie` header.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|pair| {
        let (n, value) = pair.trim().split_once('=')?;
        (n == name).then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_out_form_needs_its_cookie_and_field() {
        let key = FormKey::new([3; 32], false);
        let token = key.for_page(None);
        let set = token.set_cookie.clone().unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
        let value = set
            .strip_prefix("tayori_console_form=")
            .and_then(|s| s.split(';').next())
            .unwrap();
        let header = format!("{COOKIE}={value}");
        assert!(key.check(Some(&header), Some(&token.field)));
        assert!(!key.check(Some(&header), None));
        assert!(!key.check(None, Some(&token.field)));
        assert!(!FormKey::new([4; 32], false).check(Some(&header), Some(&token.field)));
    }
}
