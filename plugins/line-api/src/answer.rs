//! LINE's answers, mapped onto what the host does next.
//!
//! | answer | push | multicast |
//! |---|---|---|
//! | 200 | accepted, id = `sentMessages[].id` (joined by `,` when the text was split) | accepted, id = the `x-line-request-id` header (LINE gives a multicast no message ids) |
//! | 409, the retry key was already accepted | accepted, id = `sentMessages[].id` of the first request, else `x-line-accepted-request-id` | accepted, id = `x-line-accepted-request-id` |
//! | 400 `Failed to send messages` (no such user for this channel) | recipient gone | sent again as pushes, which find the unknown user |
//! | 400 naming `to` in its details | recipient gone | sent again as pushes |
//! | 400 about the messages (or anything else) | permanent | permanent |
//! | 401 | unauthorized (the channel access token is refused) | same |
//! | 403 | unauthorized (the channel may not use this API) | same |
//! | 429 `You have reached your monthly limit.` | retry after an hour | same |
//! | 429 otherwise | transient (LINE sends no `Retry-After`; the host backs off) | same |
//! | 5xx, connection errors, timeouts | transient | same |
//!
//! A user who blocked the account is not an error: LINE answers 200 and
//! delivers nothing; the `unfollow` webhook event says so instead.

use serde::Deserialize;
use tayori_plugin_sdk::http::Response;
use tayori_plugin_sdk::{Failure, log};

/// How long to wait after LINE says the month's message quota is spent: an
/// operator may raise the plan's limit at any time, so look again hourly.
pub const MONTHLY_LIMIT_RETRY_SECONDS: u32 = 3_600;

/// LINE's message when the user id is unknown to this channel's provider.
const UNKNOWN_USER: &str = "Failed to send messages";
/// LINE's message when the month's quota of messages is spent.
const MONTHLY_LIMIT: &str = "You have reached your monthly limit.";

/// LINE's `ErrorResponse`, which a 409 also uses to return `sentMessages`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
    #[serde(default, rename = "sentMessages")]
    sent_messages: Vec<SentMessage>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    property: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SentMessage {
    id: String,
}

impl ErrorBody {
    fn of(response: &Response) -> Self {
        response.json().unwrap_or_default()
    }

    fn sent_ids(&self) -> Option<String> {
        let ids: Vec<&str> = self.sent_messages.iter().map(|m| m.id.as_str()).collect();
        (!ids.is_empty()).then(|| ids.join(","))
    }

    /// Whether the error is about the recipient rather than the message.
    fn is_about_recipient(&self) -> bool {
        self.message == UNKNOWN_USER
            || self
                .details
                .iter()
                .filter_map(|d| d.property.as_deref())
                .any(|p| p == "to" || p.starts_with("to[") || p.starts_with("to."))
    }

    fn describe(&self, status: u16) -> String {
        let mut text = format!("LINE answered {status}: {}", self.message);
        for detail in &self.details {
            let property = detail.property.as_deref().unwrap_or("-");
            let message = detail.message.as_deref().unwrap_or("");
            text.push_str(&format!("; {property}: {message}"));
        }
        text
    }
}

/// Whether LINE refused a reply for its token (expired, or used before).
pub fn is_invalid_reply_token(response: &Response) -> bool {
    response.status == 400 && ErrorBody::of(response).message == INVALID_REPLY_TOKEN
}

/// LINE's message for a reply token that has expired or was used.
const INVALID_REPLY_TOKEN: &str = "Invalid reply token";

/// The outcome of one push.
pub fn push(response: &Response) -> Result<Option<String>, Failure> {
    match response.status {
        200..=299 => {
            let body = ErrorBody::of(response);
            Ok(body.sent_ids().or_else(|| request_id(response)))
        }
        409 => {
            let body = ErrorBody::of(response);
            log::info(format!(
                "LINE had already accepted this retry key ({}): counted as delivered",
                body.message
            ));
            Ok(body
                .sent_ids()
                .or_else(|| header(response, "x-line-accepted-request-id")))
        }
        400 => {
            let body = ErrorBody::of(response);
            if body.is_about_recipient() {
                Err(Failure::recipient_gone(format!(
                    "{} (the user id is unknown to this LINE channel)",
                    body.describe(400)
                )))
            } else {
                Err(Failure::permanent(body.describe(400)))
            }
        }
        _ => Err(other(response)),
    }
}

/// What one multicast's answer means for its recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Multicast {
    /// The same result for every recipient.
    All(Result<Option<String>, Failure>),
    /// LINE refused the request because of some recipient and sent nothing:
    /// send to each of them on their own, which finds who is at fault.
    PushEach,
}

/// The outcome of one multicast.
pub fn multicast(response: &Response) -> Multicast {
    match response.status {
        200..=299 => Multicast::All(Ok(request_id(response))),
        409 => {
            log::info("LINE had already accepted this multicast's retry key: counted as delivered");
            Multicast::All(Ok(header(response, "x-line-accepted-request-id")))
        }
        400 => {
            let body = ErrorBody::of(response);
            if body.is_about_recipient() {
                log::warn(format!(
                    "{}; sending to each recipient on their own",
                    body.describe(400)
                ));
                Multicast::PushEach
            } else {
                Multicast::All(Err(Failure::permanent(body.describe(400))))
            }
        }
        _ => Multicast::All(Err(other(response))),
    }
}

/// 401, 403, 429, 5xx and the rest, the same for push and multicast.
fn other(response: &Response) -> Failure {
    let body = ErrorBody::of(response);
    let described = body.describe(response.status);
    match response.status {
        401 => Failure::unauthorized(format!("{described} (check the channel access token)")),
        403 => Failure::unauthorized(format!(
            "{described} (the channel is not allowed to use this API; check its plan)"
        )),
        429 if body.message == MONTHLY_LIMIT => Failure::retry_after(
            MONTHLY_LIMIT_RETRY_SECONDS,
            format!("{described} (raise the account's message limit or wait for next month)"),
        ),
        _ => match Failure::from_response(response) {
            Some(failure) => Failure::new(failure.kind, described),
            None => Failure::permanent(described),
        },
    }
}

fn request_id(response: &Response) -> Option<String> {
    header(response, "x-line-request-id")
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .header(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::FailureKind;

    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn kind(result: Result<Option<String>, Failure>) -> FailureKind {
        result.expect_err("a failure").kind
    }

    #[test]
    fn a_push_is_accepted_with_its_message_ids() {
        let ok = answer(
            200,
            &[("x-line-request-id", "req-1")],
            r#"{"sentMessages":[{"id":"461230966842064897","quoteToken":"q"},{"id":"461230966842064898"}]}"#,
        );
        assert_eq!(
            push(&ok),
            Ok(Some("461230966842064897,461230966842064898".into()))
        );
        let bare = answer(200, &[("x-line-request-id", "req-1")], "{}");
        assert_eq!(push(&bare), Ok(Some("req-1".into())));
    }

    #[test]
    fn a_reused_retry_key_is_success() {
        let conflict = answer(
            409,
            &[("x-line-accepted-request-id", "req-0")],
            r#"{"message":"The retry key is already accepted","sentMessages":[{"id":"77"}]}"#,
        );
        assert_eq!(push(&conflict), Ok(Some("77".into())));
        let without_ids = answer(
            409,
            &[("x-line-accepted-request-id", "req-0")],
            r#"{"message":"The retry key is already accepted"}"#,
        );
        assert_eq!(push(&without_ids), Ok(Some("req-0".into())));
        assert_eq!(
            multicast(&without_ids),
            Multicast::All(Ok(Some("req-0".into())))
        );
    }

    #[test]
    fn unknown_users_are_gone_and_bad_messages_permanent() {
        let unknown = answer(400, &[], r#"{"message":"Failed to send messages"}"#);
        assert_eq!(kind(push(&unknown)), FailureKind::RecipientGone);
        let bad_to = answer(
            400,
            &[],
            r#"{"message":"The request body has 1 error(s)","details":[{"message":"Invalid user ID","property":"to"}]}"#,
        );
        assert_eq!(kind(push(&bad_to)), FailureKind::RecipientGone);
        let bad_text = answer(
            400,
            &[],
            r#"{"message":"The request body has 1 error(s)","details":[{"message":"Length must be between 0 and 5000","property":"messages[0].text"}]}"#,
        );
        let failure = push(&bad_text).unwrap_err();
        assert_eq!(failure.kind, FailureKind::Permanent);
        assert!(failure.message.contains("messages[0].text"), "{failure}");
        assert_eq!(
            kind(push(&answer(400, &[], "not json"))),
            FailureKind::Permanent
        );
    }

    #[test]
    fn a_multicast_refused_for_a_recipient_is_pushed_instead() {
        let bad_to = answer(
            400,
            &[],
            r#"{"message":"The request body has 1 error(s)","details":[{"message":"invalid","property":"to[3]"}]}"#,
        );
        assert_eq!(multicast(&bad_to), Multicast::PushEach);
        let bad_text = answer(
            400,
            &[],
            r#"{"message":"The request body has 1 error(s)","details":[{"property":"messages[0].text"}]}"#,
        );
        assert!(matches!(
            multicast(&bad_text),
            Multicast::All(Err(Failure {
                kind: FailureKind::Permanent,
                ..
            }))
        ));
        let ok = answer(200, &[("x-line-request-id", "req-9")], "{}");
        assert_eq!(multicast(&ok), Multicast::All(Ok(Some("req-9".into()))));
    }

    #[test]
    fn credentials_rate_limits_and_outages() {
        let body = r#"{"message":"Authentication failed. Confirm that the access token in the authorization header is valid."}"#;
        assert_eq!(
            kind(push(&answer(401, &[], body))),
            FailureKind::Unauthorized
        );
        assert_eq!(
            kind(push(&answer(403, &[], "{}"))),
            FailureKind::Unauthorized
        );
        let rate = r#"{"message":"The API rate limit has been exceeded. Try again later."}"#;
        assert_eq!(kind(push(&answer(429, &[], rate))), FailureKind::Transient);
        let monthly = r#"{"message":"You have reached your monthly limit."}"#;
        assert_eq!(
            kind(push(&answer(429, &[], monthly))),
            FailureKind::RetryAfter(MONTHLY_LIMIT_RETRY_SECONDS)
        );
        for status in [500, 502, 503, 504] {
            assert_eq!(kind(push(&answer(status, &[], ""))), FailureKind::Transient);
        }
    }

    #[test]
    fn failures_quote_line_without_secrets() {
        let failure =
            push(&answer(401, &[], r#"{"message":"Authentication failed."}"#)).unwrap_err();
        assert_eq!(
            failure.message,
            "LINE answered 401: Authentication failed. (check the channel access token)"
        );
    }
}
