//! Forms that another site cannot post, without JavaScript or a session:
//! the double-submit pattern, signed. A page with a form sets a random
//! value in an `HttpOnly; SameSite=Lax` cookie and puts the HMAC of that
//! value (under a key of its own) in a hidden field; a POST is taken only
//! when the field is the HMAC of the cookie it came with. Another site can
//! neither read the cookie nor compute the field, and a browser does not
//! send a `Lax` cookie on another site's POST.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "tayori_form";
/// The hidden field's name.
pub const FIELD: &str = "csrf";
/// How long the cookie lives: a form left open longer says "the form had
/// expired; please try again".
pub const COOKIE_MAX_AGE_SECONDS: u64 = 24 * 60 * 60;
/// Random bytes in a cookie value.
const VALUE_BYTES: usize = 32;

/// Issues and checks form tokens with one key.
#[derive(Clone)]
pub struct Csrf {
    key: [u8; 32],
    /// Add `Secure` to the cookie (the service is reached over https).
    secure: bool,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csrf")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

/// What a page with a form needs: the hidden field's value, and the cookie
/// to set when the browser has none yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormToken {
    pub field: String,
    pub set_cookie: Option<String>,
}

impl Csrf {
    pub fn new(key: [u8; 32], secure: bool) -> Self {
        Self { key, secure }
    }

    fn mac(&self, value: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(b"tayori/csrf/v1/");
        mac.update(value.as_bytes());
        mac
    }

    /// The hidden field that goes with a cookie value.
    pub fn field_for(&self, cookie_value: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(cookie_value).finalize().into_bytes())
    }

    /// The token for a page: the browser's cookie kept when it has a sound
    /// one, a new one otherwise.
    pub fn for_page(&self, cookie_header: Option<&str>) -> FormToken {
        if let Some(value) = cookie_value(cookie_header).filter(|v| well_formed(v)) {
            return FormToken {
                field: self.field_for(value),
                set_cookie: None,
            };
        }
        let mut bytes = [0u8; VALUE_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let value = URL_SAFE_NO_PAD.encode(bytes);
        FormToken {
            field: self.field_for(&value),
            set_cookie: Some(self.cookie(&value)),
        }
    }

    /// The `Set-Cookie` value for a cookie value.
    pub fn cookie(&self, value: &str) -> String {
        format!(
            "{COOKIE}={value}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// Whether a POST's field matches the cookie it came with (compared in
    /// constant time).
    pub fn check(&self, cookie_header: Option<&str>, field: Option<&str>) -> bool {
        let (Some(value), Some(field)) = (cookie_value(cookie_header), field) else {
            return false;
        };
        if !well_formed(value) {
            return false;
        }
        let Ok(tag) = URL_SAFE_NO_PAD.decode(field.trim()) else {
            return false;
        };
        self.mac(value).verify_slice(&tag).is_ok()
    }
}

/// A value this module could have written (so that a planted cookie of
/// another shape is replaced, not echoed).
fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Our cookie's value in a `Cookie` header (`a=1; tayori_form=...`).
pub fn cookie_value(header: Option<&str>) -> Option<&str> {
    header?.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE).then_some(value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(set_cookie: &str) -> &str {
        set_cookie
            .strip_prefix("tayori_form=")
            .and_then(|rest| rest.split(';').next())
            .expect("our cookie")
    }

    #[test]
    fn a_new_browser_gets_a_cookie_and_the_field_that_matches_it() {
        let csrf = Csrf::new([1; 32], false);
        let token = csrf.for_page(None);
        let set = token.set_cookie.expect("a cookie for a new browser");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        assert!(!set.contains("Secure"), "{set}");
        let header = format!("other=1; {COOKIE}={}", value_of(&set));
        assert!(csrf.check(Some(&header), Some(&token.field)));
        // The same browser keeps its cookie on the next page.
        let again = csrf.for_page(Some(&header));
        assert_eq!(again.set_cookie, None);
        assert_eq!(again.field, token.field);
    }

    #[test]
    fn the_cookie_is_secure_over_https() {
        let set = Csrf::new([1; 32], true).for_page(None).set_cookie.unwrap();
        assert!(set.ends_with("; Secure"), "{set}");
    }

    #[test]
    fn a_post_without_the_pair_is_refused() {
        let csrf = Csrf::new([1; 32], false);
        let token = csrf.for_page(None);
        let header = format!("{COOKIE}={}", value_of(token.set_cookie.as_ref().unwrap()));
        let other = csrf.for_page(None);
        assert!(!csrf.check(None, Some(&token.field)), "no cookie");
        assert!(!csrf.check(Some(&header), None), "no field");
        assert!(!csrf.check(Some(&header), Some("")), "empty field");
        assert!(
            !csrf.check(Some(&header), Some(&other.field)),
            "another browser's field"
        );
        assert!(
            !Csrf::new([2; 32], false).check(Some(&header), Some(&token.field)),
            "another key"
        );
        let mut changed = token.field.clone().into_bytes();
        changed[0] = if changed[0] == b'A' { b'B' } else { b'A' };
        assert!(!csrf.check(Some(&header), Some(std::str::from_utf8(&changed).unwrap())));
    }

    #[test]
    fn a_planted_cookie_of_another_shape_is_replaced() {
        let csrf = Csrf::new([1; 32], false);
        let planted = format!("{COOKIE}=attacker");
        let token = csrf.for_page(Some(&planted));
        assert!(token.set_cookie.is_some());
        assert!(!csrf.check(Some(&planted), Some(&csrf.field_for("attacker"))));
    }
}
