//! A blocking HTTP client over `wasi:http`, for the sync contract exports.
//!
//! The contract's exports are synchronous; wstd's client is async. This
//! module runs wstd inside `wstd::runtime::block_on` so a plugin writes
//! `http::post_json(url, &headers, &body)?` and gets the whole response, and
//! it turns wstd's `anyhow` errors back into the `wasi:http` error codes that
//! say what to do next ([`HttpError`], then [`Failure`]).
//!
//! The host only lets a request through to a host that is both in the
//! plugin's manifest and approved for the channel; anything else fails here
//! with [`HttpError::Denied`]. It also caps the requests per call, the
//! response size and the request time.
//!
//! On the native target (unit tests) every request fails with
//! [`HttpError::Unsupported`].

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use ::http::Method;
pub use wasip2::http::types::ErrorCode;

use crate::types::{Failure, find_header};

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The host refused the request: its host is not in the manifest, not
    /// approved for this channel, or the call's request cap is spent.
    #[error(
        "request denied by the host ({0}): the destination is not allowed for this channel, or the call made too many requests"
    )]
    Denied(String),
    /// Connecting, or waiting for the response, took too long.
    #[error("request timed out ({0})")]
    Timeout(String),
    /// The connection could not be made or broke (DNS, refused, reset, TLS).
    #[error("connection failed ({0})")]
    Connection(String),
    /// The response broke the protocol or the host failed to relay it.
    #[error("bad response ({0})")]
    Protocol(String),
    /// The request or the response was over a size limit.
    #[error("too large ({0})")]
    TooLarge(String),
    /// The request itself is malformed (URL, header, method).
    #[error("invalid request ({0})")]
    InvalidRequest(String),
    /// Not running inside a `wasm32-wasip2` host.
    #[error("HTTP is only available to a plugin running in the Tayori host")]
    Unsupported,
}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        HttpError::from(&code)
    }
}

impl From<&ErrorCode> for HttpError {
    fn from(code: &ErrorCode) -> Self {
        let debug = format!("{code:?}");
        let detail = debug
            .strip_prefix("ErrorCode::")
            .unwrap_or(&debug)
            .to_owned();
        match code {
            ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
                HttpError::Denied(detail)
            }
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => HttpError::Timeout(detail),
            ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTerminated
            | ErrorCode::ConnectionLimitReached
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::TlsAlertReceived(_) => HttpError::Connection(detail),
            ErrorCode::HttpRequestBodySize(_)
            | ErrorCode::HttpRequestHeaderSectionSize(_)
            | ErrorCode::HttpRequestHeaderSize(_)
            | ErrorCode::HttpRequestTrailerSectionSize(_)
            | ErrorCode::HttpRequestTrailerSize(_)
            | ErrorCode::HttpResponseHeaderSectionSize(_)
            | ErrorCode::HttpResponseHeaderSize(_)
            | ErrorCode::HttpResponseBodySize(_)
            | ErrorCode::HttpResponseTrailerSectionSize(_)
            | ErrorCode::HttpResponseTrailerSize(_) => HttpError::TooLarge(detail),
            ErrorCode::HttpRequestMethodInvalid
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestUriTooLong
            | ErrorCode::HttpRequestLengthRequired => HttpError::InvalidRequest(detail),
            ErrorCode::HttpResponseIncomplete
            | ErrorCode::HttpResponseTransferCoding(_)
            | ErrorCode::HttpResponseContentCoding(_)
            | ErrorCode::HttpUpgradeFailed
            | ErrorCode::HttpProtocolError
            | ErrorCode::LoopDetected
            | ErrorCode::ConfigurationError
            | ErrorCode::InternalError(_) => HttpError::Protocol(detail),
        }
    }
}

impl HttpError {
    /// Classify an error met while reading a response body. wstd reports
    /// those as text (the debug form of the stream's error), so this looks for
    /// the error code's name in it.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn from_body_error(text: String) -> Self {
        if text.contains("BodySize") || text.contains("TrailerSize") {
            HttpError::TooLarge(text)
        } else if text.contains("Timeout") {
            HttpError::Timeout(text)
        } else if text.contains("HttpRequestDenied") {
            HttpError::Denied(text)
        } else {
            HttpError::Connection(text)
        }
    }
}

/// Header names whose values [`Request`]'s `Debug` hides.
const SECRET_HEADER_HINTS: &[&str] = &["authorization", "cookie", "token", "secret", "key"];

/// An outgoing request.
///
/// Its `Debug` shows neither the URL's path and query nor secret-looking
/// header values, so a request can be logged without leaking credentials.
#[derive(Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The absolute URL (`https://api.example.com/v1/send`).
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Limit on connecting and on waiting for the response head; the host
    /// has its own limit, which wins when shorter.
    pub timeout: Option<Duration>,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
        }
    }

    /// A `GET`.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new(Method::GET, url)
    }

    /// A `POST`.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new(Method::POST, url)
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Add `authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Set a JSON body and `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, HttpError> {
        self.body = serde_json::to_vec(body)
            .map_err(|e| HttpError::InvalidRequest(format!("body is not JSON: {e}")))?;
        Ok(self.header("content-type", "application/json"))
    }

    /// Limit connecting and waiting for the response head.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = self
            .url
            .parse::<::http::Uri>()
            .ok()
            .map(|uri| {
                format!(
                    "{}://{}",
                    uri.scheme_str().unwrap_or("?"),
                    uri.authority().map_or("?", |a| a.as_str())
                )
            })
            .unwrap_or_else(|| "<invalid url>".to_owned());
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                let secret = SECRET_HEADER_HINTS.iter().any(|hint| lower.contains(hint));
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("origin", &origin)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A whole response: status, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The response if it is a success, else the [`Failure`] its status means.
    pub fn error_for_status(self) -> Result<Self, Failure> {
        match Failure::from_response(&self) {
            None => Ok(self),
            Some(failure) => Err(failure),
        }
    }
}

/// Send a request and read the whole response.
pub fn send(request: Request) -> Result<Response, HttpError> {
    imp::send(request)
}

/// Send several requests at once and read their responses, in order.
///
/// Useful for per-recipient platforms: a batch of 50 goes out concurrently
/// instead of one after another. The host's cap on requests per call counts
/// each of them.
pub fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
    imp::send_all(requests)
}

/// `GET` a URL.
pub fn get(url: &str) -> Result<Response, HttpError> {
    send(Request::get(url))
}

/// `POST` a JSON body, with extra headers (name, value).
pub fn post_json<T: Serialize + ?Sized>(
    url: &str,
    headers: &[(&str, &str)],
    body: &T,
) -> Result<Response, HttpError> {
    let mut request = Request::post(url).json(body)?;
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wstd::http::{Body, Client};
    use wstd::runtime::{block_on, spawn};

    use wasip2::http::types::HeaderError;

    use super::{ErrorCode, HttpError, Request, Response};

    pub(super) fn send(request: Request) -> Result<Response, HttpError> {
        block_on(send_async(request))
    }

    pub(super) fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        block_on(async move {
            let tasks: Vec<_> = requests
                .into_iter()
                .map(|request| spawn(send_async(request)))
                .collect();
            let mut responses = Vec::with_capacity(tasks.len());
            for task in tasks {
                responses.push(task.await);
            }
            responses
        })
    }

    async fn send_async(request: Request) -> Result<Response, HttpError> {
        let mut builder = ::http::Request::builder()
            .method(request.method)
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let outgoing = builder
            .body(Body::from(request.body))
            .map_err(|e| HttpError::InvalidRequest(e.to_string()))?;
        let mut client = Client::new();
        if let Some(timeout) = request.timeout {
            client.set_connect_timeout(timeout);
            client.set_first_byte_timeout(timeout);
        }
        let response = client.send(outgoing).await.map_err(from_wstd)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = response.into_body();
        let body = body
            .contents()
            .await
            .map_err(|e| HttpError::from_body_error(format!("{e:#}")))?
            .to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// wstd wraps the `wasi:http` error code in `anyhow`: find it again.
    fn from_wstd(error: wstd::http::Error) -> HttpError {
        if let Some(code) = error.chain().find_map(|e| e.downcast_ref::<ErrorCode>()) {
            return HttpError::from(code);
        }
        let text = format!("{error:#}");
        let refused_header = error.chain().any(|e| e.is::<HeaderError>());
        if refused_header || text.contains("rejected by wasi-http") {
            HttpError::InvalidRequest(text)
        } else {
            HttpError::Protocol(text)
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response};

    pub(super) fn send(_request: Request) -> Result<Response, HttpError> {
        Err(HttpError::Unsupported)
    }

    pub(super) fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        requests
            .iter()
            .map(|_| Err(HttpError::Unsupported))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_denial_is_its_own_error() {
        let error = HttpError::from(ErrorCode::HttpRequestDenied);
        assert_eq!(error, HttpError::Denied("HttpRequestDenied".into()));
        assert!(error.to_string().contains("HttpRequestDenied"));
    }

    #[test]
    fn error_codes_map_to_what_they_mean() {
        assert!(matches!(
            HttpError::from(ErrorCode::ConnectionRefused),
            HttpError::Connection(_)
        ));
        assert!(matches!(
            HttpError::from(ErrorCode::ConnectionReadTimeout),
            HttpError::Timeout(_)
        ));
        assert!(matches!(
            HttpError::from(ErrorCode::HttpResponseBodySize(Some(1 << 20))),
            HttpError::TooLarge(_)
        ));
        assert!(matches!(
            HttpError::from(ErrorCode::HttpRequestUriInvalid),
            HttpError::InvalidRequest(_)
        ));
        assert!(matches!(
            HttpError::from(ErrorCode::InternalError(Some("boom".into()))),
            HttpError::Protocol(_)
        ));
    }

    #[test]
    fn body_errors_are_read_from_their_text() {
        assert!(matches!(
            HttpError::from_body_error(
                "reading incoming body stream: HttpResponseBodySize(Some(10))".into()
            ),
            HttpError::TooLarge(_)
        ));
        assert!(matches!(
            HttpError::from_body_error("ConnectionReadTimeout".into()),
            HttpError::Timeout(_)
        ));
        assert!(matches!(
            HttpError::from_body_error("connection reset".into()),
            HttpError::Connection(_)
        ));
    }

    #[test]
    fn request_debug_hides_secrets() {
        let request = Request::post("https://api.example.com/bot123:SECRET/send?key=abc")
            .bearer_auth("tok-123")
            .header("x-api-key", "k-456")
            .header("x-retry-id", "visible");
        let debug = format!("{request:?}");
        assert!(debug.contains("https://api.example.com"), "{debug}");
        assert!(debug.contains("visible"), "{debug}");
        for secret in ["SECRET", "abc", "tok-123", "k-456"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn json_requests_say_so() {
        let request = Request::post("https://x.test/")
            .json(&serde_json::json!({"a": 1}))
            .expect("serialises");
        assert_eq!(request.body, br#"{"a":1}"#);
        assert!(
            request
                .headers
                .iter()
                .any(|(n, v)| n == "content-type" && v == "application/json")
        );
    }

    #[test]
    fn native_requests_are_unsupported() {
        assert_eq!(get("https://x.test/"), Err(HttpError::Unsupported));
    }

    #[test]
    fn error_for_status_gives_the_failure() {
        let response = Response {
            status: 401,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let failure = response.error_for_status().expect_err("401 fails");
        assert_eq!(failure.kind, crate::FailureKind::Unauthorized);
    }
}
