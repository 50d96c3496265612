//! From a platform's answer to what the host should do next.
//!
//! Every JSON-over-HTTPS platform answers in HTTP status codes, and most mean
//! the same thing by them, so this mapping lives here once instead of in every
//! plugin. A plugin that knows better (LINE's "unknown user" 400 means the
//! recipient is gone) checks its platform's own error first and falls back on
//! [`Failure::from_response`].
//!
//! | answer | [`FailureKind`] |
//! |---|---|
//! | 2xx | none: success |
//! | 429 (or 503) with `Retry-After` in seconds or as an HTTP date | `RetryAfter(n)` |
//! | 429 without a usable `Retry-After` | `Transient` |
//! | 401, 403 | `Unauthorized` |
//! | 408, 5xx, 1xx | `Transient` |
//! | 400, 404, 422, 3xx and every other status | `Permanent` |
//! | connection error, timeout, broken response | `Transient` |
//! | the host refused the request (`HttpRequestDenied`) | `Permanent` |
//! | request or response too large, malformed request | `Permanent` |

use std::time::SystemTime;

use crate::http::{HttpError, Response};
use crate::types::{Failure, FailureKind, find_header};

/// How much of a platform's error body goes into a failure message.
const BODY_EXCERPT_CHARS: usize = 300;

/// The failure kind an HTTP status means, or `None` for a success (2xx).
///
/// `headers` is read for `Retry-After` on 429 and 503.
pub fn classify(status: u16, headers: &[(String, String)]) -> Option<FailureKind> {
    classify_at(status, headers, SystemTime::now())
}

/// [`classify`], with `now` for turning a `Retry-After` date into seconds.
pub fn classify_at(
    status: u16,
    headers: &[(String, String)],
    now: SystemTime,
) -> Option<FailureKind> {
    let retry_after = || {
        find_header(headers, "retry-after")
            .and_then(|value| parse_retry_after(value, now))
            .map(FailureKind::RetryAfter)
    };
    match status {
        200..=299 => None,
        429 => Some(retry_after().unwrap_or(FailureKind::Transient)),
        503 => Some(retry_after().unwrap_or(FailureKind::Transient)),
        401 | 403 => Some(FailureKind::Unauthorized),
        408 | 500..=599 | 100..=199 => Some(FailureKind::Transient),
        _ => Some(FailureKind::Permanent),
    }
}

/// Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date.
///
/// A date in the past means "now" (0); an unreadable value means `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<u32> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 still means "a very long time".
        return Some(value.parse::<u64>().map_or(u32::MAX, saturate));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let seconds = at.duration_since(now).map_or(0, |d| {
        // Round up: retrying a fraction of a second early is retrying too early.
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    });
    Some(saturate(seconds))
}

fn saturate(seconds: u64) -> u32 {
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

impl Failure {
    /// The failure a response means, or `None` if it is a success (2xx).
    ///
    /// The message names the status and quotes the start of the body, which
    /// is where platforms explain themselves.
    pub fn from_response(response: &Response) -> Option<Failure> {
        let kind = classify(response.status, &response.headers)?;
        Some(Failure::new(kind, describe_status(response)))
    }

    /// The failure an HTTP error means (see the module's table).
    pub fn from_http_error(error: &HttpError) -> Failure {
        let kind = match error {
            HttpError::Timeout(_) | HttpError::Connection(_) | HttpError::Protocol(_) => {
                FailureKind::Transient
            }
            HttpError::Denied(_)
            | HttpError::TooLarge(_)
            | HttpError::InvalidRequest(_)
            | HttpError::Unsupported => FailureKind::Permanent,
        };
        Failure::new(kind, error.to_string())
    }
}

impl From<HttpError> for Failure {
    fn from(error: HttpError) -> Self {
        Failure::from_http_error(&error)
    }
}

impl From<&HttpError> for Failure {
    fn from(error: &HttpError) -> Self {
        Failure::from_http_error(error)
    }
}

fn describe_status(response: &Response) -> String {
    let reason = http::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut message = format!("HTTP {} {reason}", response.status)
        .trim_end()
        .to_owned();
    let body = String::from_utf8_lossy(&response.body);
    let body = body.trim();
    if !body.is_empty() {
        message.push_str(": ");
        let mut chars = body.chars();
        message.extend(chars.by_ref().take(BODY_EXCERPT_CHARS));
        if chars.next().is_some() {
            message.push('…');
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn response(status: u16, pairs: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers(pairs),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn success_is_not_a_failure() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(classify(status, &[]), None, "{status}");
        }
        assert_eq!(Failure::from_response(&response(200, &[], "{}")), None);
    }

    #[test]
    fn too_many_requests_honours_retry_after_seconds() {
        let h = headers(&[("Retry-After", "120")]);
        assert_eq!(classify(429, &h), Some(FailureKind::RetryAfter(120)));
        let h = headers(&[("retry-after", " 0 ")]);
        assert_eq!(classify(429, &h), Some(FailureKind::RetryAfter(0)));
    }

    #[test]
    fn too_many_requests_honours_retry_after_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        // 2015-10-21 07:28:00 GMT is `now`; 07:30:00 is two minutes later.
        let h = headers(&[("retry-after", "Wed, 21 Oct 2015 07:30:00 GMT")]);
        assert_eq!(
            classify_at(429, &h, now),
            Some(FailureKind::RetryAfter(120))
        );
        let past = headers(&[("retry-after", "Wed, 21 Oct 2015 07:00:00 GMT")]);
        assert_eq!(
            classify_at(429, &past, now),
            Some(FailureKind::RetryAfter(0))
        );
    }

    #[test]
    fn too_many_requests_without_usable_retry_after_is_transient() {
        assert_eq!(classify(429, &[]), Some(FailureKind::Transient));
        let h = headers(&[("retry-after", "soon")]);
        assert_eq!(classify(429, &h), Some(FailureKind::Transient));
        let h = headers(&[("retry-after", "-5")]);
        assert_eq!(classify(429, &h), Some(FailureKind::Transient));
    }

    #[test]
    fn huge_retry_after_saturates() {
        let h = headers(&[("retry-after", "99999999999999999999999")]);
        assert_eq!(classify(429, &h), Some(FailureKind::RetryAfter(u32::MAX)));
    }

    #[test]
    fn unavailable_honours_retry_after_too() {
        let h = headers(&[("retry-after", "30")]);
        assert_eq!(classify(503, &h), Some(FailureKind::RetryAfter(30)));
        assert_eq!(classify(503, &[]), Some(FailureKind::Transient));
    }

    #[test]
    fn refused_credentials_are_unauthorized() {
        assert_eq!(classify(401, &[]), Some(FailureKind::Unauthorized));
        assert_eq!(classify(403, &[]), Some(FailureKind::Unauthorized));
    }

    #[test]
    fn malformed_requests_are_permanent() {
        for status in [400, 404, 410, 413, 422, 301, 302] {
            assert_eq!(
                classify(status, &[]),
                Some(FailureKind::Permanent),
                "{status}"
            );
        }
    }

    #[test]
    fn server_errors_and_timeouts_are_transient() {
        for status in [408, 500, 502, 504, 599] {
            assert_eq!(
                classify(status, &[]),
                Some(FailureKind::Transient),
                "{status}"
            );
        }
    }

    #[test]
    fn failure_message_names_the_status_and_quotes_the_body() {
        let failure = Failure::from_response(&response(
            400,
            &[],
            r#"{"message":"The request body has 1 error(s)"}"#,
        ))
        .expect("a failure");
        assert_eq!(failure.kind, FailureKind::Permanent);
        assert_eq!(
            failure.message,
            r#"HTTP 400 Bad Request: {"message":"The request body has 1 error(s)"}"#
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(1000);
        let failure = Failure::from_response(&response(500, &[], &body)).expect("a failure");
        assert!(failure.message.ends_with('…'));
        assert!(failure.message.chars().count() < 400);
    }

    #[test]
    fn http_errors_map_to_kinds() {
        let cases = [
            (
                HttpError::Denied("HttpRequestDenied".into()),
                FailureKind::Permanent,
            ),
            (
                HttpError::Timeout("ConnectionTimeout".into()),
                FailureKind::Transient,
            ),
            (
                HttpError::Connection("ConnectionRefused".into()),
                FailureKind::Transient,
            ),
            (
                HttpError::Protocol("HttpProtocolError".into()),
                FailureKind::Transient,
            ),
            (
                HttpError::TooLarge("HttpResponseBodySize".into()),
                FailureKind::Permanent,
            ),
            (
                HttpError::InvalidRequest("bad uri".into()),
                FailureKind::Permanent,
            ),
            (HttpError::Unsupported, FailureKind::Permanent),
        ];
        for (error, kind) in cases {
            assert_eq!(Failure::from(&error).kind, kind, "{error:?}");
        }
    }

    #[test]
    fn denial_says_the_host_is_not_allowed() {
        let failure = Failure::from(HttpError::Denied("HttpRequestDenied".into()));
        assert_eq!(failure.kind, FailureKind::Permanent);
        assert!(
            failure.message.contains("not allowed"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("HttpRequestDenied"),
            "{}",
            failure.message
        );
    }
}
