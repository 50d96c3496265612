//! The API's rules for what comes in, applied at the edge so that both
//! engines answer the same and no handler can forget them:
//!
//! - no NUL character anywhere text reaches the database (PostgreSQL's
//!   `TEXT` and `JSONB` cannot hold one; SQLite would store it): a path
//!   parameter ([`reject_nul`], a route layer, so before any token is
//!   read), a query parameter (the same layer), any string or key of a JSON
//!   body ([`Json422`], [`parse_json`]), a line of a text body
//!   ([`text_body`]). Each is a 422 naming the field;
//! - a JSON body is read as its schema says: an array where an object is
//!   expected is refused (serde would read `[null, null]` as a struct of
//!   two fields), naming where ([`strict`]).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{RawPathParams, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

mod strict;

/// What a NUL character is refused with.
pub const NUL_MESSAGE: &str = "must not contain a NUL character (U+0000)";

fn nul(field: &str) -> ApiError {
    ApiError::invalid(field, NUL_MESSAGE)
}

/// Refuses a request whose path or query parameters hold a NUL character,
/// naming the parameter. Layered with `route_layer`, so it runs once the
/// route (and its parameter names) is known, before the handler's
/// extractors (the token, the body).
pub(crate) async fn reject_nul(
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    req: Request,
    next: Next,
) -> Response {
    if let Ok(params) = &params
        && let Some((name, _)) = params.iter().find(|(_, v)| v.contains('\0'))
    {
        return nul(name).into_response();
    }
    if let Some(query) = req.uri().query()
        && let Some(name) = nul_query_parameter(query)
    {
        return nul(&format!("query parameter `{name}`")).into_response();
    }
    next.run(req).await
}

/// The first query parameter whose name or value decodes to text with a NUL.
fn nul_query_parameter(query: &str) -> Option<String> {
    // Only `%00` decodes to NUL (a raw NUL is not a valid URI byte).
    if !query.contains("%00") && !query.contains('\0') {
        return None;
    }
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\\0"))
}

/// Where in a JSON value a NUL character is (in a string or a key), as a
/// path (`contacts[0].address`), or `None`.
pub fn nul_in_json(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(v, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(k, v)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\0"));
                let found = k.contains('\0') || walk(v, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| if path.is_empty() { "body".into() } else { path })
}

/// A JSON value read as `T` by the API's rules: no NUL anywhere, no array
/// for an object; an error names the field (`contacts[0].address: ...`).
pub fn from_json<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    if let Some(field) = nul_in_json(value) {
        return Err(nul(&field));
    }
    strict::from_value(value)
        .map_err(|(path, e)| ApiError::invalid(if path.is_empty() { "body" } else { &path }, e))
}

/// A JSON body (bytes) read as `T` by the API's rules.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("body: {e}")))?;
    from_json(&value)
}

/// A text body (CSV, YAML) as UTF-8 without NUL characters; the error
/// names the line (1-based).
pub fn text_body<'a>(what: &str, body: &'a [u8]) -> Result<&'a str, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let line = body[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ApiError::invalid(&format!("{what} line {line}"), "is not UTF-8")
    })?;
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        return Err(nul(&format!("{what} line {line}")));
    }
    Ok(text)
}

/// A JSON body, with our error shape for axum's rejections and the API's
/// rules ([`from_json`]) for what it holds.
pub struct Json422<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Json422<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Value>::from_request(req, state).await {
            Ok(Json(value)) => from_json(&value).map(Json422),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as J;
    match r {
        J::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            e.body_text(),
        ),
        J::JsonSyntaxError(e) => ApiError::bad_request("malformed_json", e.body_text()),
        J::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected `Content-Type: application/json`",
        ),
        J::BytesRejection(e) => {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the request body is too large",
                )
            } else {
                ApiError::bad_request("bad_body", e.body_text())
            }
        }
        other => ApiError::bad_request("bad_body", other.body_text()),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nul_is_found_and_named_wherever_it_is() {
        assert_eq!(nul_in_json(&json!({"a": ["x", {"b": "y"}]})), None);
        assert_eq!(
            nul_in_json(&json!({"contacts": [{"address": "U1"}, {"address": "U\u{0}2"}]})),
            Some("contacts[1].address".into())
        );
        assert_eq!(nul_in_json(&json!({"a\u{0}b": 1})), Some("a\\0b".into()));
        assert_eq!(nul_in_json(&json!("x\u{0}")), Some("body".into()));
        assert_eq!(
            nul_query_parameter("status=sent&channel=a%00b"),
            Some("channel".into())
        );
        assert_eq!(nul_query_parameter("a%2500=1&b=%3000"), None);
        assert_eq!(nul_query_parameter("x%00y=1"), Some("x\\0y".into()));
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        address: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        name: Option<String>,
        contacts: Vec<Inner>,
    }

    #[test]
    fn an_array_is_not_an_object_at_any_depth() {
        let err = from_json::<Outer>(&json!([null, []])).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            err.message.starts_with("body: invalid type: sequence"),
            "{}",
            err.message
        );
        let err = from_json::<Outer>(&json!({"contacts": [["U1"]]})).unwrap_err();
        assert!(
            err.message
                .starts_with("contacts[0]: invalid type: sequence"),
            "{}",
            err.message
        );
        let ok: Outer = from_json(&json!({"contacts": [{"address": "U1"}]})).unwrap();
        assert_eq!(
            ok.contacts,
            vec![Inner {
                address: "U1".into()
            }]
        );
        let err = from_json::<Outer>(&json!({"contacts": [{}]})).unwrap_err();
        assert_eq!(err.message, "contacts[0]: missing field `address`");
        let err = from_json::<Outer>(&json!({"name": "a\u{0}", "contacts": []})).unwrap_err();
        assert_eq!(err.message, format!("name: {NUL_MESSAGE}"));
    }

    #[test]
    fn text_bodies_name_the_line_of_a_nul() {
        assert_eq!(text_body("CSV", b"a\nb").unwrap(), "a\nb");
        let err = text_body("CSV", b"a\nb\nc\0").unwrap_err();
        assert_eq!(err.message, format!("CSV line 3: {NUL_MESSAGE}"));
        let err = text_body("CSV", b"a\n\xff").unwrap_err();
        assert_eq!(err.message, "CSV line 2: is not UTF-8");
    }
}
