//! X's answers to a sent DM, as outcomes.
//!
//! The two endpoints answer in two dialects: v2 with problem details
//! (RFC 7807: `title`, `detail`, `type`, and `errors` naming parameters),
//! v1.1 with `{"errors":[{"code":..,"message":..}]}`; X's gateway answers
//! either endpoint in the v2 dialect (a 401, an App not enrolled). Both are
//! read, whichever endpoint was called.
//!
//! | answer | outcome |
//! |---|---|
//! | v2 201 | accepted, id = `data.dm_event_id` |
//! | v1.1 200 | accepted, id = `event.id` |
//! | 429 | retry after the `x-rate-limit-reset` (or, when the 24-hour user limit is spent, `x-user-limit-24hour-reset`) epoch second |
//! | 401 | unauthorized: the channel is paused |
//! | a user who cannot be messaged (v1.1 codes 150, 349; v2 "cannot send messages to this user") | recipient gone |
//! | an unknown user (v1.1 codes 50, 108; v2 400 naming `participant_id`, 404) | recipient gone |
//! | v1.1 code 354 (text too long), 151 (not sent, e.g. a duplicate) | permanent |
//! | v1.1 code 226 (X suspects automation) | transient |
//! | 403 otherwise (App not enrolled or without DM permission, v1.1 codes 93, 220, 261, 453) | unauthorized |
//! | v1.1 404 otherwise (code 34: no such endpoint) | permanent: no contact is invalidated for a wrong `api_base` |
//! | 400 otherwise | permanent |
//! | 5xx, connection errors, timeouts | transient |
//!
//! Messages quote what X said (its detail, title or error message, the
//! problem type and v1.1 codes), never a request header: no token reaches
//! them.

use serde::Deserialize;
use serde_json::Value;
use tayori_plugin_sdk::http::Response;
use tayori_plugin_sdk::{Failure, FailureKind};

/// Which endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /2/dm_conversations/with/{participant_id}/messages`.
    V2,
    /// `POST /1.1/direct_messages/events/new.json`.
    Events,
}

/// An error body in either dialect.
#[derive(Debug, Default, Deserialize)]
struct XError {
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    errors: Vec<Value>,
}

impl XError {
    /// The v1.1 error codes.
    fn codes(&self) -> Vec<u64> {
        self.errors
            .iter()
            .filter_map(|e| e["code"].as_u64())
            .collect()
    }

    fn has_code(&self, codes: &[u64]) -> bool {
        self.codes().iter().any(|c| codes.contains(c))
    }

    /// What X said, for operators.
    fn describe(&self) -> String {
        let first_message = self.errors.iter().find_map(|e| e["message"].as_str());
        let said = [self.detail.as_str(), self.title.as_str()]
            .into_iter()
            .find(|s| !s.is_empty())
            .or(first_message)
            .unwrap_or("");
        let mut out = said.to_owned();
        if !self.kind.is_empty() {
            out.push_str(&format!(" ({})", self.kind));
        }
        let codes = self.codes();
        if !codes.is_empty() {
            let codes: Vec<String> = codes.iter().map(u64::to_string).collect();
            out.push_str(&format!(" (code {})", codes.join(", ")));
        }
        out
    }

    /// Every message X gave, lower case.
    fn messages(&self) -> String {
        let mut all = self.detail.to_ascii_lowercase();
        for e in &self.errors {
            if let Some(m) = e["message"].as_str() {
                all.push('\n');
                all.push_str(&m.to_ascii_lowercase());
            }
        }
        all
    }

    /// Whether this user cannot be messaged (DMs closed to the account, the
    /// user blocked it), rather than the token may not send.
    fn cannot_message(&self) -> bool {
        let said = self.messages();
        self.has_code(&[150, 349])
            || said.contains("send messages to this user")
            || said.contains("send messages to users who")
            || said.contains("not permitted to send messages")
    }

    /// Whether X does not know the recipient.
    fn unknown_user(&self) -> bool {
        self.has_code(&[50, 108])
            || self
                .errors
                .iter()
                .any(|e| e["parameters"].get("participant_id").is_some())
            || self.messages().contains("recipient_id")
    }
}

/// The outcome of one answer from `endpoint`; `now` is the wall clock in
/// Unix seconds.
pub fn outcome(
    response: &Response,
    endpoint: Endpoint,
    now: u64,
) -> Result<Option<String>, Failure> {
    if response.is_success() {
        let body: Value = response.json().unwrap_or_default();
        let id = match endpoint {
            Endpoint::V2 => &body["data"]["dm_event_id"],
            Endpoint::Events => &body["event"]["id"],
        };
        return Ok(id.as_str().map(str::to_owned));
    }
    let error: XError = response.json().unwrap_or_default();
    let described = format!("X answered {}: {}", response.status, error.describe());
    let kind = match response.status {
        429 => retry_after(response, now).unwrap_or(FailureKind::Transient),
        401 => FailureKind::Unauthorized,
        _ if error.cannot_message() || error.unknown_user() => FailureKind::RecipientGone,
        _ if error.has_code(&[151, 354]) => FailureKind::Permanent,
        _ if error.has_code(&[226]) => FailureKind::Transient,
        403 => FailureKind::Unauthorized,
        404 if endpoint == Endpoint::V2 => FailureKind::RecipientGone,
        status => {
            tayori_plugin_sdk::classify(status, &response.headers).unwrap_or(FailureKind::Permanent)
        }
    };
    Err(Failure::new(kind, described))
}

/// When to try again after a 429: the later of the window's reset and, when
/// the 24-hour user limit is spent, that limit's reset.
fn retry_after(response: &Response, now: u64) -> Option<FailureKind> {
    let epoch = |name: &str| -> Option<u64> { response.header(name)?.trim().parse().ok() };
    let mut reset = epoch("x-rate-limit-reset");
    if response
        .header("x-user-limit-24hour-remaining")
        .map(str::trim)
        == Some("0")
        && let Some(day) = epoch("x-user-limit-24hour-reset")
    {
        reset = Some(reset.map_or(day, |r| r.max(day)));
    }
    match reset {
        Some(reset) => {
            let wait = reset.saturating_sub(now).max(1);
            Some(FailureKind::RetryAfter(
                u32::try_from(wait).unwrap_or(u32::MAX),
            ))
        }
        None => tayori_plugin_sdk::classify(429, &response.headers),
    }
}

#[cfg(test)]
mod tests {
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

    fn kind_at(endpoint: Endpoint, response: Response) -> FailureKind {
        outcome(&response, endpoint, 1_000_000)
            .expect_err("a failure")
            .kind
    }

    fn kind(response: Response) -> FailureKind {
        kind_at(Endpoint::V2, response)
    }

    fn v1(status: u16, code: u64, message: &str) -> Response {
        answer(
            status,
            &[],
            &format!(r#"{{"errors":[{{"code":{code},"message":"{message}"}}]}}"#),
        )
    }

    #[test]
    fn created_dms_give_their_event_ids() {
        let created = answer(
            201,
            &[],
            r#"{"data":{"dm_conversation_id":"1346889436626259968-1581988185434120192","dm_event_id":"1582838213288706049"}}"#,
        );
        assert_eq!(
            outcome(&created, Endpoint::V2, 0),
            Ok(Some("1582838213288706049".into()))
        );
        let event = answer(
            200,
            &[],
            r#"{"event":{"type":"message_create","id":"1234858592","created_timestamp":"1392078023603","message_create":{"target":{"recipient_id":"2244994945"},"sender_id":"1346889436626259968","message_data":{"text":"hi"}}}}"#,
        );
        assert_eq!(
            outcome(&event, Endpoint::Events, 0),
            Ok(Some("1234858592".into()))
        );
    }

    #[test]
    fn rate_limits_wait_for_the_reset() {
        let limited = answer(
            429,
            &[("x-rate-limit-reset", "1000300")],
            r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#,
        );
        assert_eq!(kind(limited), FailureKind::RetryAfter(300));
        let daily = answer(
            429,
            &[
                ("x-rate-limit-reset", "1000300"),
                ("x-user-limit-24hour-remaining", "0"),
                ("x-user-limit-24hour-reset", "1050000"),
            ],
            "",
        );
        assert_eq!(kind(daily), FailureKind::RetryAfter(50_000));
        assert_eq!(
            kind(answer(429, &[("x-rate-limit-reset", "5")], "")),
            FailureKind::RetryAfter(1)
        );
        assert_eq!(kind(answer(429, &[], "")), FailureKind::Transient);
        let v1_limited = answer(
            429,
            &[("x-rate-limit-reset", "1000060")],
            r#"{"errors":[{"code":88,"message":"Rate limit exceeded"}]}"#,
        );
        assert_eq!(
            kind_at(Endpoint::Events, v1_limited),
            FailureKind::RetryAfter(60)
        );
    }

    #[test]
    fn a_user_who_cannot_be_messaged_is_gone_and_a_bad_token_is_unauthorized() {
        let closed = answer(
            403,
            &[],
            r#"{"detail":"You cannot send messages to this user.","type":"about:blank","title":"Forbidden","status":403}"#,
        );
        assert_eq!(kind(closed), FailureKind::RecipientGone);
        let not_enrolled = answer(
            403,
            &[],
            r#"{"title":"Client Forbidden","detail":"This request must be made using an approved developer account that is enrolled in the requested endpoint.","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}"#,
        );
        let failure = outcome(&not_enrolled, Endpoint::Events, 0).unwrap_err();
        assert_eq!(failure.kind, FailureKind::Unauthorized);
        assert!(failure.message.contains("client-forbidden"), "{failure}");
        assert_eq!(
            kind(answer(
                401,
                &[],
                r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#
            )),
            FailureKind::Unauthorized
        );
    }

    #[test]
    fn v1_1_codes_say_what_to_do_next() {
        let at = |r| kind_at(Endpoint::Events, r);
        for (response, expected) in [
            (
                v1(401, 32, "Could not authenticate you."),
                FailureKind::Unauthorized,
            ),
            (
                v1(401, 89, "Invalid or expired token."),
                FailureKind::Unauthorized,
            ),
            (
                v1(403, 349, "You cannot send messages to this user."),
                FailureKind::RecipientGone,
            ),
            (
                v1(
                    403,
                    150,
                    "You cannot send messages to users who are not following you.",
                ),
                FailureKind::RecipientGone,
            ),
            (v1(404, 50, "User not found."), FailureKind::RecipientGone),
            (
                v1(
                    400,
                    214,
                    "event.message_create.target.recipient_id: '12a' is not a valid Long",
                ),
                FailureKind::RecipientGone,
            ),
            (
                v1(
                    403,
                    354,
                    "The text of your direct message is over the max character limit.",
                ),
                FailureKind::Permanent,
            ),
            (
                v1(
                    403,
                    151,
                    "There was an error sending your message: Whoops! You already said that.",
                ),
                FailureKind::Permanent,
            ),
            (
                v1(403, 226, "This request looks like it might be automated."),
                FailureKind::Transient,
            ),
            (
                v1(
                    403,
                    93,
                    "This application is not allowed to access or delete your direct messages.",
                ),
                FailureKind::Unauthorized,
            ),
            (
                v1(404, 34, "Sorry, that page does not exist."),
                FailureKind::Permanent,
            ),
            (
                v1(
                    400,
                    214,
                    "event.message_create.message_data.quick_reply.options[0].label: length must be between 1 and 36",
                ),
                FailureKind::Permanent,
            ),
            (v1(503, 131, "Internal error"), FailureKind::Transient),
        ] {
            let message = String::from_utf8_lossy(&response.body).into_owned();
            assert_eq!(at(response), expected, "{message}");
        }
        let failure = outcome(
            &v1(403, 349, "You cannot send messages to this user."),
            Endpoint::Events,
            0,
        )
        .unwrap_err();
        assert_eq!(
            failure.message,
            "X answered 403: You cannot send messages to this user. (code 349)"
        );
    }

    #[test]
    fn bad_participants_are_gone_and_other_bad_requests_permanent() {
        let bad_id = answer(
            400,
            &[],
            r#"{"errors":[{"parameters":{"participant_id":["12a"]},"message":"The `participant_id` query parameter value [12a] is not valid"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
        );
        assert_eq!(kind(bad_id), FailureKind::RecipientGone);
        assert_eq!(kind(answer(404, &[], "")), FailureKind::RecipientGone);
        let bad_text = answer(
            400,
            &[],
            r#"{"errors":[{"parameters":{"text":[""]},"message":"text is invalid"}],"title":"Invalid Request","type":"https://api.twitter.com/2/problems/invalid-request"}"#,
        );
        assert_eq!(kind(bad_text), FailureKind::Permanent);
        assert_eq!(kind(answer(503, &[], "")), FailureKind::Transient);
    }
}
