//! What of a plugin's webhook answer reaches the platform.
//!
//! The answer goes out on the host's own origin (where the console lives),
//! so a plugin may not set what would act on that origin: cookies, redirects,
//! caching or security policies. Only the headers a platform reads (the
//! type of the body, when to send again, how to authenticate) pass, and
//! only a final status a platform understands (2xx, 4xx, 5xx of the HTTP
//! range); everything else makes the answer a plugin fault (502). Every
//! answer also carries `x-content-type-options: nosniff` and a sandboxing
//! `content-security-policy`, so a body a browser is shown can run nothing.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use tayori_core::WebhookResponse;

use crate::system::AsIs;

/// The largest answer body a plugin may give its platform (platforms read
/// little more than the status).
pub const MAX_WEBHOOK_ANSWER: usize = 64 * 1024;

/// The headers a plugin may set on its answer (lower case). Anything else
/// (`set-cookie`, `location`, `access-control-*`, `strict-transport-security`,
/// the host's own framing headers...) is dropped.
pub const ANSWER_HEADERS: &[&str] = &[
    "content-type",
    "content-language",
    "retry-after",
    "www-authenticate",
];

/// Whether a plugin may answer its platform with this status: a final
/// status of the HTTP range that is not a redirect (no `location` may
/// follow it).
pub fn answerable(status: u16) -> bool {
    matches!(status, 200..=299 | 400..=599)
}

/// The plugin's answer as an HTTP response, or `None` when it cannot be
/// one (a status [`answerable`] refuses, a body over [`MAX_WEBHOOK_ANSWER`]).
/// Headers off [`ANSWER_HEADERS`], or not valid HTTP, are dropped.
pub fn answer(plugin_answer: WebhookResponse) -> Option<Response> {
    if !answerable(plugin_answer.status) {
        return None;
    }
    let status = StatusCode::from_u16(plugin_answer.status).ok()?;
    if plugin_answer.body.len() > MAX_WEBHOOK_ANSWER {
        return None;
    }
    let mut response = Response::new(Body::from(plugin_answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in plugin_answer.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if !ANSWER_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response.extensions_mut().insert(AsIs);
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(status: u16, headers: &[(&str, &str)], size: usize) -> Option<Response> {
        answer(WebhookResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: vec![b'x'; size],
        })
    }

    #[test]
    fn only_the_safe_headers_pass() {
        let ok = with(
            401,
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "999"),
                ("set-cookie", "session=stolen; Path=/"),
                ("Set-Cookie", "console=1"),
                ("location", "https://evil.example/"),
                ("access-control-allow-origin", "*"),
                ("content-security-policy", "script-src *"),
                ("retry-after", "30"),
                ("bad header", "x"),
                ("www-authenticate", "bad\nvalue"),
            ],
            10,
        )
        .expect("a 401 is an answer");
        assert_eq!(ok.status(), StatusCode::UNAUTHORIZED);
        let headers = ok.headers();
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["retry-after"], "30");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; sandbox"
        );
        assert!(headers.get("set-cookie").is_none());
        assert!(headers.get("location").is_none());
        assert!(headers.get("content-length").is_none());
        assert!(headers.get("access-control-allow-origin").is_none());
        assert!(headers.get("www-authenticate").is_none());
        assert_eq!(headers.len(), 4, "{headers:?}");
        assert!(ok.extensions().get::<AsIs>().is_some());
    }

    #[test]
    fn only_final_http_statuses_that_are_not_redirects_pass() {
        for status in [200, 204, 299, 400, 401, 404, 429, 500, 503, 599] {
            assert!(with(status, &[], 0).is_some(), "{status}");
        }
        for status in [
            0,
            99,
            100,
            101,
            199,
            300,
            302,
            399,
            600,
            999,
            1000,
            u16::MAX,
        ] {
            assert!(with(status, &[], 0).is_none(), "{status}");
        }
        assert!(with(200, &[], MAX_WEBHOOK_ANSWER).is_some());
        assert!(with(200, &[], MAX_WEBHOOK_ANSWER + 1).is_none());
    }
}
