//! What the bundled platform plugins check and do alike.
//!
//! Every platform plugin takes an `api_base` (or an endpoint) so that an
//! operator can point a channel at a sandbox or a fake, and every one sends
//! a batch as several requests. The rules for both are the same for all five
//! plugins, so they live here once:
//!
//! - [`check_base_url`] and [`check_link`]: a URL is absolute, has no user
//!   (and a base URL no query or fragment), and is HTTPS unless it names a
//!   loopback address (a local fake or sandbox; the operator still has to
//!   approve that address for the channel before the host lets a request
//!   through);
//! - [`endpoint`]: a base URL and a path joined without doubled slashes;
//! - [`send_in_waves`]: a batch's requests sent concurrently, a few at a time,
//!   so that one call never opens hundreds of connections to a platform;
//! - [`unix_now`]: the wall clock, for timestamps and rate-limit resets.

use std::time::{SystemTime, UNIX_EPOCH};

use tayori_plugin_sdk::ConfigError;
use tayori_plugin_sdk::http::{self, HttpError, Request, Response};

/// Check a base URL from a channel config; `field` is its JSON pointer
/// (`/api_base`), named in the error.
pub fn check_base_url(field: &str, url: &str) -> Result<(), ConfigError> {
    if url.contains('?') || url.contains('#') {
        return Err(ConfigError::new(
            field,
            "must not have a query or a fragment",
        ));
    }
    check_link(field, url)
}

/// Check a link from a channel config (an unsubscribe page, a webhook
/// endpoint): like [`check_base_url`], but a query and a fragment are fine.
pub fn check_link(field: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |message: &str| Err(ConfigError::new(field, message));
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let Ok(uri) = without_fragment.parse::<::http::Uri>() else {
        return bad("is not a URL");
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return bad("must be an absolute URL such as https://api.example.com");
    };
    if authority.as_str().contains('@') {
        return bad("must not carry a user name or password; credentials go in their own fields");
    }
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(authority.host()) => Ok(()),
        "http" => bad(
            "must use https (plain http is allowed only for a loopback address such as 127.0.0.1)",
        ),
        _ => bad("must be an https URL"),
    }
}

/// Whether a URL's host is a loopback address or `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// `base` and `path` joined with exactly one `/` between them.
pub fn endpoint(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Send `requests` at most `width` at a time, in order; one result each.
///
/// Each wave goes out concurrently and the next starts when it is done.
/// Platforms limit concurrent requests as well as requests per second (LINE
/// answers 429 past its concurrency limit), and the host's limiter, not this
/// function, keeps the rate.
pub fn send_in_waves(requests: Vec<Request>, width: usize) -> Vec<Result<Response, HttpError>> {
    let width = width.max(1);
    let mut results = Vec::with_capacity(requests.len());
    let mut pending = requests.into_iter().peekable();
    while pending.peek().is_some() {
        let wave: Vec<Request> = pending.by_ref().take(width).collect();
        results.extend(http::send_all(wave));
    }
    results
}

/// Seconds since the Unix epoch, by the wall clock (0 before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_pass() {
        for url in [
            "https://api.line.me",
            "https://api.line.me/",
            "https://sandbox.example.jp:8443/prefix",
        ] {
            assert_eq!(check_base_url("/api_base", url), Ok(()), "{url}");
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for url in [
            "http://127.0.0.1:4010",
            "http://127.8.9.10",
            "http://localhost:8080/x",
            "http://[::1]:9000",
        ] {
            assert_eq!(check_base_url("/api_base", url), Ok(()), "{url}");
        }
        let error = check_base_url("/api_base", "http://api.line.me").unwrap_err();
        assert_eq!(error.field, "/api_base");
        assert!(error.message.contains("https"), "{error}");
        assert!(check_base_url("/api_base", "http://10.0.0.1").is_err());
    }

    #[test]
    fn odd_urls_are_refused_with_the_field_named() {
        for url in [
            "api.line.me",
            "/v2/bot",
            "ftp://api.line.me",
            "https://user:pw@api.line.me",
            "https://api.line.me/?x=1",
            "https://api.line.me/#top",
            "not a url",
        ] {
            let error = check_base_url("/endpoint", url).expect_err(url);
            assert_eq!(error.field, "/endpoint", "{url}");
            assert!(!error.message.contains("pw"), "{error}");
        }
    }

    #[test]
    fn links_may_have_a_query() {
        assert_eq!(
            check_link("/unsubscribe_url", "https://example.jp/unsub?key=abc#x"),
            Ok(())
        );
        assert!(check_link("/unsubscribe_url", "http://example.jp/unsub?key=abc").is_err());
    }

    #[test]
    fn endpoints_join_with_one_slash() {
        assert_eq!(
            endpoint("https://api.line.me/", "/v2/bot/message/push"),
            "https://api.line.me/v2/bot/message/push"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:9/p", "v3/mail/send"),
            "http://127.0.0.1:9/p/v3/mail/send"
        );
    }

    #[test]
    fn waves_keep_order_and_count() {
        let requests: Vec<Request> = (0..7)
            .map(|i| Request::get(format!("https://x.test/{i}")))
            .collect();
        let results = send_in_waves(requests, 3);
        assert_eq!(results.len(), 7);
        assert!(results.iter().all(|r| *r == Err(HttpError::Unsupported)));
        assert!(send_in_waves(Vec::new(), 0).is_empty());
    }

    #[test]
    fn clock_is_past_2020() {
        assert!(unix_now() > 1_577_836_800);
    }
}
