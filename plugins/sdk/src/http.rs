//! A blocking HTTP client over `wasi:http`, for the sync contract exports.
//!
//! The contract's exports are synchronous and `wasi:http` is poll-based:
//! this module runs each request on wstd's reactor inside
//! `wstd::runtime::block_on`, so a plugin writes
//! `http::post_json(url, &headers, &body)?` and gets the whole response, and
//! every failure keeps the `wasi:http` error code that says what to do next
//! ([`HttpError`], then [`Failure`]).
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
    /// Classify an error met while streaming a body. wstd reports those as
    /// text (the debug form of the stream's error), so this looks for the
    /// error code's name in it.
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

/// The request on `wasi:http`, driven by wstd's reactor.
///
/// wstd's own `Client::send` writes the body and waits for the response
/// concurrently and returns whichever fails first, so a platform that answers
/// and closes the connection while the body is being finished comes back as
/// "connection reset" although it answered (a 204 seen as a failure, which
/// would make the host retry a delivered message), and a refused connection
/// comes back without its error code. Here the response decides: the body is
/// written alongside, and its error only counts when there is no response.
#[cfg(target_arch = "wasm32")]
mod imp {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions,
        Scheme, http_error_code,
    };
    use wasip2::io::streams::{InputStream, StreamError};
    use wstd::io::AsyncOutputStream;
    use wstd::runtime::{AsyncPollable, block_on, spawn};

    use super::{HttpError, Method, Request, Response};

    /// Bytes asked of the response body stream per read.
    const READ_CHUNK: u64 = 64 * 1024;

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
        let (outgoing, options) = outgoing_request(&request)?;
        let body = outgoing
            .body()
            .map_err(|()| invalid("the request has no body"))?;
        let future_response =
            outgoing_handler::handle(outgoing, options).map_err(HttpError::from)?;

        let body_bytes = request.body;
        let writer = spawn(async move {
            let stream = body
                .write()
                .map_err(|()| "the body cannot be written".to_owned())?;
            let stream = AsyncOutputStream::new(stream);
            let written = stream.write_all(&body_bytes).await;
            drop(stream);
            written.map_err(|e| e.to_string())?;
            OutgoingBody::finish(body, None).map_err(|code| format!("{code:?}"))
        });

        AsyncPollable::new(future_response.subscribe())
            .wait_for()
            .await;
        let response = future_response
            .get()
            .expect("the response is ready once its pollable is")
            .expect("the response is taken once");
        let response = match response {
            Ok(response) => response,
            Err(code) => return Err(HttpError::from(code)),
        };
        // The platform answered: a body write still pending or failed no
        // longer matters (dropping the task cancels it).
        drop(writer);

        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| HttpError::Protocol("the response body was taken".to_owned()))?;
        let stream = incoming
            .stream()
            .map_err(|()| HttpError::Protocol("the response body was taken".to_owned()))?;
        let body = read_to_end(&stream).await;
        drop(stream);
        drop(IncomingBody::finish(incoming));
        drop(response);
        Ok(Response {
            status,
            headers,
            body: body?,
        })
    }

    fn outgoing_request(
        request: &Request,
    ) -> Result<(OutgoingRequest, Option<RequestOptions>), HttpError> {
        let uri: ::http::Uri = request
            .url
            .parse()
            .map_err(|e| invalid(format!("bad URL: {e}")))?;
        let mut headers: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone().into_bytes()))
            .collect();
        // The whole body is known: say how long it is rather than send it
        // chunked, which some platforms and fakes do not read.
        let has_length = headers.iter().any(|(name, _)| name == "content-length");
        let may_have_body = !matches!(request.method, Method::GET | Method::HEAD);
        if !has_length && (may_have_body || !request.body.is_empty()) {
            headers.push((
                "content-length".to_owned(),
                request.body.len().to_string().into_bytes(),
            ));
        }
        let fields =
            Fields::from_list(&headers).map_err(|e| invalid(format!("refused header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(fields);
        outgoing
            .set_method(&wasi_method(&request.method))
            .map_err(|()| invalid(format!("method refused: {}", request.method)))?;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            Some(other) => Scheme::Other(other.to_owned()),
            None => return Err(invalid("the URL has no scheme")),
        };
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme refused"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("the URL has no host"))?;
        outgoing
            .set_authority(Some(authority.as_str()))
            .map_err(|()| invalid("host refused"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        outgoing
            .set_path_with_query(Some(path))
            .map_err(|()| invalid("path refused"))?;

        let options = match request.timeout {
            None => None,
            Some(timeout) => {
                let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
                let options = RequestOptions::new();
                options
                    .set_connect_timeout(Some(nanos))
                    .map_err(|()| invalid("the host refuses a connect timeout"))?;
                options
                    .set_first_byte_timeout(Some(nanos))
                    .map_err(|()| invalid("the host refuses a first-byte timeout"))?;
                Some(options)
            }
        };
        Ok((outgoing, options))
    }

    fn wasi_method(method: &Method) -> WasiMethod {
        match *method {
            Method::GET => WasiMethod::Get,
            Method::HEAD => WasiMethod::Head,
            Method::POST => WasiMethod::Post,
            Method::PUT => WasiMethod::Put,
            Method::DELETE => WasiMethod::Delete,
            Method::CONNECT => WasiMethod::Connect,
            Method::OPTIONS => WasiMethod::Options,
            Method::TRACE => WasiMethod::Trace,
            Method::PATCH => WasiMethod::Patch,
            ref other => WasiMethod::Other(other.as_str().to_owned()),
        }
    }

    /// Read a response body, with the `wasi:http` error code when it breaks
    /// (the host's size cap, a timeout, a reset).
    async fn read_to_end(stream: &InputStream) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            match stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => {
                    AsyncPollable::new(stream.subscribe()).wait_for().await;
                }
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => return Ok(body),
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(match http_error_code(&error) {
                        Some(code) => HttpError::from(code),
                        None => HttpError::from_body_error(error.to_debug_string()),
                    });
                }
            }
        }
    }

    fn invalid(message: impl Into<String>) -> HttpError {
        HttpError::InvalidRequest(message.into())
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
