//! OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), as X still accepts for
//! user-context requests.
//!
//! X's OAuth 2.0 user tokens expire after two hours, and a plugin keeps
//! nothing between calls, so it cannot store a refreshed one. OAuth 1.0a
//! access tokens do not expire: a channel configured with the App's consumer
//! key and secret and the account's access token and secret signs every
//! request instead of sending a bearer token. The JSON body is not part of
//! the signature (only form bodies are); the DM URL has no query.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The four credentials of a user-context OAuth 1.0a request.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The App's API key.
    pub consumer_key: &'a str,
    /// The App's API key secret.
    pub consumer_secret: &'a str,
    /// The account's access token.
    pub token: &'a str,
    /// The account's access token secret.
    pub token_secret: &'a str,
}

/// The `Authorization` header of a request with no query or form
/// parameters, at `timestamp` (Unix seconds) with `nonce`.
pub fn authorization(
    credentials: &Credentials,
    method: &str,
    url: &str,
    timestamp: u64,
    nonce: &str,
) -> String {
    let timestamp = timestamp.to_string();
    let mut oauth = vec![
        ("oauth_consumer_key", credentials.consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_token", credentials.token),
        ("oauth_version", "1.0"),
    ];
    let signature = signature(credentials, method, url, &oauth);
    oauth.push(("oauth_signature", &signature));
    oauth.sort_unstable();
    let fields: Vec<String> = oauth
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", encode(value)))
        .collect();
    format!("OAuth {}", fields.join(", "))
}

/// The signature over `method`, `url` (without its query) and `params` (the
/// `oauth_*` ones and any query or form parameters).
pub fn signature(
    credentials: &Credentials,
    method: &str,
    url: &str,
    params: &[(&str, &str)],
) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort_unstable();
    let joined: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let base = format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(&base_url(url)),
        encode(&joined.join("&"))
    );
    let key = format!(
        "{}&{}",
        encode(credentials.consumer_secret),
        encode(credentials.token_secret)
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(base.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// RFC 5849 3.4.1.2: lower-case scheme and host, default port dropped, no
/// query or fragment.
fn base_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let authority = authority.to_ascii_lowercase();
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_owned(),
        _ => authority,
    };
    format!("{scheme}://{authority}{path}")
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of X's (Twitter's) "Creating a signature" guide.
    const EXAMPLE: Credentials<'static> = Credentials {
        consumer_key: "xvz1evFS4wEEPTGEFPHBog",
        consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    };

    #[test]
    fn signs_xs_worked_example() {
        let params = [
            (
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            ("include_entities", "true"),
            ("oauth_consumer_key", EXAMPLE.consumer_key),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            ("oauth_token", EXAMPLE.token),
            ("oauth_version", "1.0"),
        ];
        assert_eq!(
            signature(
                &EXAMPLE,
                "post",
                "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
                &params
            ),
            "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
        );
    }

    #[test]
    fn the_header_carries_every_oauth_parameter_encoded() {
        let header = authorization(
            &EXAMPLE,
            "POST",
            "https://api.x.com/2/dm_conversations/with/1/messages",
            1_700_000_000,
            "abc123",
        );
        assert!(header.starts_with("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", oauth_nonce=\"abc123\", oauth_signature=\""), "{header}");
        assert!(
            header.contains("oauth_signature_method=\"HMAC-SHA1\""),
            "{header}"
        );
        assert!(
            header.contains("oauth_timestamp=\"1700000000\""),
            "{header}"
        );
        assert!(header.ends_with("oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", oauth_version=\"1.0\""), "{header}");
        assert!(
            !header.contains(EXAMPLE.consumer_secret) && !header.contains(EXAMPLE.token_secret)
        );
    }

    #[test]
    fn base_urls_are_normalised() {
        assert_eq!(
            base_url("HTTPS://API.X.com:443/2/a?x=1"),
            "https://api.x.com/2/a"
        );
        assert_eq!(
            base_url("http://127.0.0.1:8080/2/a"),
            "http://127.0.0.1:8080/2/a"
        );
        assert_eq!(base_url("http://example.com:80"), "http://example.com/");
        assert_eq!(encode("a b+c/~"), "a%20b%2Bc%2F~");
    }
}
