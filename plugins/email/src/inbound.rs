//! Mail to the channel's address, through SendGrid's Inbound Parse webhook.
//!
//! The provider receives mail for the tenant's address (its MX points at the
//! provider) and POSTs each one to the URL set in its Inbound Parse settings:
//! Tayori's `/hooks/{tenant}/{channel}`, with the channel's `inbound_secret`
//! as the password of the URL's basic auth
//! (`https://inbound:SECRET@tayori.example/hooks/otaru/email`). The body is
//! `multipart/form-data` with the parsed fields (`from`, `to`, `subject`,
//! `text`, `html`, `headers`, `envelope`, `charsets`), or with the whole
//! message in `email` when "POST the raw, full MIME message" is chosen; both
//! are read.
//!
//! | request | answer | events |
//! |---|---|---|
//! | not a POST | 405 | none |
//! | no or wrong basic-auth password | 401 | none |
//! | not `multipart/form-data`, or no sender | 400 (the provider does not retry a 4xx) | none |
//! | a mail | 200 | one `email` event, keyed by its `Message-ID` |
//!
//! The provider retries a 5xx for three days, and may post one mail twice:
//! the event id is the mail's `Message-ID` (a digest of the body when it has
//! none), so the host drops the second.

use std::collections::BTreeMap;

use mailparse::{MailAddr, MailHeaderMap, ParsedMail};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tayori_plugin_sdk::{
    EmailMessage, EventKind, InboundEvent, WebhookRequest, WebhookResponse, WebhookResult, log,
};

/// What a mail's text may hold, in bytes: the host keeps at most 16 KiB of an
/// event's words, and a parent's answer is a line or two.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Answer one Inbound Parse request of a channel with an `inbound_secret`.
pub fn handle(secret: &str, request: &WebhookRequest) -> WebhookResult {
    if !request.method.eq_ignore_ascii_case("POST") {
        return refuse(405, "inbound mail is a POST request");
    }
    if !authorized(secret, request.header("authorization")) {
        log::warn("inbound mail refused: missing or wrong basic-auth password");
        return refuse(401, "missing or wrong basic-auth password");
    }
    let Some(form) = request
        .header("content-type")
        .and_then(|ct| form(ct, &request.body))
    else {
        return refuse(400, "the body is not multipart/form-data");
    };
    match mail(&form, &request.body) {
        Some(event) => WebhookResult::ok(vec![event]),
        None => refuse(400, "the mail has no sender address"),
    }
}

fn refuse(status: u16, message: &str) -> WebhookResult {
    WebhookResult {
        response: WebhookResponse::json(status, &serde_json::json!({ "message": message })),
        events: Vec::new(),
    }
}

/// Whether `header` is `Basic base64(user:secret)` for any user, compared
/// in constant time over the password.
fn authorized(secret: &str, header: Option<&str>) -> bool {
    use base64::Engine as _;
    let Some(encoded) = header.and_then(|h| {
        let (scheme, rest) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    }) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let Some(password) = decoded
        .iter()
        .position(|&b| b == b':')
        .map(|i| &decoded[i + 1..])
    else {
        return false;
    };
    // Digests have one length, so the comparison below takes the same time
    // whatever the password's length or first wrong byte.
    let given = Sha256::digest(password);
    let wanted = Sha256::digest(secret.as_bytes());
    !secret.is_empty()
        && given
            .iter()
            .zip(wanted.iter())
            .fold(0u8, |d, (a, b)| d | (a ^ b))
            == 0
}

/// The form's fields by name, each as decoded text.
type Form = BTreeMap<String, String>;

/// Read a `multipart/form-data` body (RFC 7578 is MIME multipart, which
/// mailparse reads) into its fields; text fields in the charset the
/// provider's `charsets` names, UTF-8 otherwise.
fn form(content_type: &str, body: &[u8]) -> Option<Form> {
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    let mut whole = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
    whole.extend_from_slice(body);
    let parsed = mailparse::parse_mail(&whole).ok()?;
    let raw: Vec<(String, Vec<u8>)> = parsed
        .subparts
        .iter()
        .filter_map(|part| {
            let name = part.get_content_disposition().params.get("name")?.clone();
            Some((name, part.get_body_raw().ok()?))
        })
        .collect();
    if raw.is_empty() {
        return None;
    }
    let charsets: BTreeMap<String, String> = raw
        .iter()
        .find(|(name, _)| name == "charsets")
        .and_then(|(_, value)| serde_json::from_slice(value).ok())
        .unwrap_or_default();
    Some(
        raw.into_iter()
            .map(|(name, value)| {
                let text = decode(charsets.get(&name).map(String::as_str), &value);
                (name, text)
            })
            .collect(),
    )
}

/// `bytes` in the named charset (ISO-2022-JP and Shift_JIS are common in
/// Japanese mail), UTF-8 when none is named or it is unknown.
fn decode(charset: Option<&str>, bytes: &[u8]) -> String {
    match charset.and_then(|label| charset::Charset::for_label(label.as_bytes())) {
        Some(charset) => charset.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[derive(Deserialize, Default)]
struct Envelope {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
}

/// The one event a posted mail makes, or `None` without a sender.
fn mail(form: &Form, body: &[u8]) -> Option<InboundEvent> {
    // "Raw" mode: the whole message in `email`.
    let raw = form
        .get("email")
        .and_then(|m| mailparse::parse_mail(m.as_bytes()).ok());
    let header_text = form.get("headers").map(String::as_str).unwrap_or("");
    let headers = mailparse::parse_headers(header_text.as_bytes())
        .map(|(h, _)| h)
        .unwrap_or_default();
    let header = |name: &str| -> Option<String> {
        match &raw {
            Some(m) => m.headers.get_first_value(name),
            None => headers.get_first_value(name),
        }
        .filter(|v| !v.trim().is_empty())
    };
    let envelope: Envelope = form
        .get("envelope")
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();

    let from = form.get("from").cloned().or_else(|| header("From"));
    let address = from
        .as_deref()
        .and_then(first_address)
        .or_else(|| envelope.from.clone().filter(|a| a.contains('@')))?;
    let to = envelope
        .to
        .first()
        .cloned()
        .or_else(|| form.get("to").and_then(|t| first_address(t)))
        .or_else(|| header("To").as_deref().and_then(first_address))
        .unwrap_or_default();
    let subject = form
        .get("subject")
        .cloned()
        .or_else(|| header("Subject"))
        .unwrap_or_default();
    let text = match &raw {
        Some(m) => text_of(m),
        None => form
            .get("text")
            .filter(|t| !t.trim().is_empty())
            .cloned()
            .or_else(|| form.get("html").map(|h| strip_html(h)))
            .unwrap_or_default(),
    };
    let id = header("Message-ID")
        .map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .unwrap_or_else(|| {
            let digest = Sha256::digest(body);
            format!("sha256:{}", hex(&digest[..16]))
        });
    let timestamp_ms = header("Date")
        .and_then(|d| mailparse::dateparse(&d).ok())
        .and_then(|s| u64::try_from(s).ok())
        .map_or(0, |s| s.saturating_mul(1000));
    Some(InboundEvent {
        id,
        address: address.to_ascii_lowercase(),
        timestamp_ms,
        kind: EventKind::Email(EmailMessage {
            subject: cut(subject.trim(), 998),
            text: cut(quoted_reply_removed(&text).trim(), MAX_TEXT_BYTES),
            to: to.to_ascii_lowercase(),
        }),
        reply: None,
        redelivery: false,
    })
}

/// The first mailbox of an address list (`"山田 花子" <hanako@example.jp>`).
fn first_address(list: &str) -> Option<String> {
    let parsed = mailparse::addrparse(list).ok()?;
    parsed.iter().find_map(|addr| match addr {
        MailAddr::Single(single) => Some(single.addr.clone()),
        MailAddr::Group(group) => group.addrs.first().map(|s| s.addr.clone()),
    })
}

/// A raw message's plain text: its first `text/plain` part, else its HTML
/// part stripped.
fn text_of(mail: &ParsedMail<'_>) -> String {
    fn find(mail: &ParsedMail<'_>, mime: &str) -> Option<String> {
        if mail.subparts.is_empty() {
            return (mail.ctype.mimetype == mime)
                .then(|| mail.get_body().ok())
                .flatten();
        }
        mail.subparts.iter().find_map(|part| find(part, mime))
    }
    find(mail, "text/plain")
        .or_else(|| find(mail, "text/html").map(|h| strip_html(&h)))
        .unwrap_or_default()
}

/// The lines a parent wrote, without the quoted message below them (lines
/// starting with `>`), which would otherwise repeat Tayori's own mail.
fn quoted_reply_removed(text: &str) -> String {
    text.replace("\r\n", "\n")
        .lines()
        .filter(|line| !line.trim_start().starts_with('>'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// HTML as plain text: tags dropped, line-breaking tags as new lines (no
/// blank ones), the common entities decoded.
fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        if ["br", "p", "div", "li", "tr"].iter().any(|t| {
            tag == *t || tag.starts_with(&format!("{t} ")) || tag.starts_with(&format!("{t}/"))
        }) {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let out: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    out.join("\n")
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// At most `max` bytes of `text`, cut on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const SECRET: &str = "in-7f3a9c2e41d8b605";
    const BOUNDARY: &str = "xYzZY";

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    /// A body as the provider posts it: one part per field.
    fn multipart(fields: &[(&str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    fn request(body: Vec<u8>, auth: Option<String>) -> WebhookRequest {
        let mut headers = vec![(
            "content-type".to_owned(),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )];
        if let Some(auth) = auth {
            headers.push(("authorization".to_owned(), auth));
        }
        WebhookRequest {
            method: "POST".into(),
            path: String::new(),
            query: String::new(),
            headers,
            body,
        }
    }

    fn parsed_mail() -> Vec<u8> {
        multipart(&[
            (
                "headers",
                b"Message-ID: <CAF=abc123@mail.example.jp>\r\nDate: Sun, 6 Dec 2026 09:15:00 +0900\r\nFrom: =?UTF-8?B?5bGx55SwIOiKseWtkA==?= <Hanako@Example.jp>\r\n",
            ),
            ("from", "山田 花子 <Hanako@Example.jp>".as_bytes()),
            ("to", b"touroku@otaru.example.jp"),
            ("subject", "登録".as_bytes()),
            ("text", "登録したいです\r\n\r\n> 以前のメール\r\n".as_bytes()),
            (
                "envelope",
                br#"{"to":["touroku+line@otaru.example.jp"],"from":"bounce@example.jp"}"#,
            ),
            ("charsets", br#"{"to":"UTF-8","subject":"UTF-8","text":"UTF-8","from":"UTF-8"}"#),
        ])
    }

    #[test]
    fn a_parsed_mail_is_one_email_event_keyed_by_its_message_id() {
        let result = handle(
            SECRET,
            &request(parsed_mail(), Some(basic("inbound", SECRET))),
        );
        assert_eq!(result.response.status, 200);
        assert_eq!(result.events.len(), 1);
        let event = &result.events[0];
        assert_eq!(event.id, "CAF=abc123@mail.example.jp");
        assert_eq!(event.address, "hanako@example.jp");
        // 2026-12-06 00:15:00 UTC.
        assert_eq!(event.timestamp_ms, 1_796_516_100_000);
        assert!(event.reply.is_none());
        assert_eq!(
            event.kind,
            EventKind::Email(EmailMessage {
                subject: "登録".into(),
                text: "登録したいです".into(),
                to: "touroku+line@otaru.example.jp".into(),
            })
        );
    }

    #[test]
    fn the_password_is_checked_and_nothing_is_read_without_it() {
        for auth in [
            None,
            Some(basic("inbound", "wrong")),
            Some(format!("Bearer {SECRET}")),
        ] {
            let result = handle(SECRET, &request(parsed_mail(), auth.clone()));
            assert_eq!(result.response.status, 401, "{auth:?}");
            assert!(result.events.is_empty());
        }
        // Any user name: the provider's settings page asks for both.
        let result = handle(
            SECRET,
            &request(parsed_mail(), Some(basic("sendgrid", SECRET))),
        );
        assert_eq!(result.response.status, 200);
        let mut get = request(parsed_mail(), Some(basic("inbound", SECRET)));
        get.method = "GET".into();
        assert_eq!(handle(SECRET, &get).response.status, 405);
    }

    #[test]
    fn a_body_that_is_no_form_or_has_no_sender_is_a_400() {
        let mut json = request(b"{}".to_vec(), Some(basic("inbound", SECRET)));
        json.headers[0].1 = "application/json".into();
        assert_eq!(handle(SECRET, &json).response.status, 400);
        let no_sender = multipart(&[("subject", b"hi"), ("text", b"hello")]);
        let result = handle(SECRET, &request(no_sender, Some(basic("inbound", SECRET))));
        assert_eq!(result.response.status, 400);
        assert!(result.events.is_empty());
    }

    #[test]
    fn iso_2022_jp_fields_are_decoded_by_the_charsets_field() {
        // "登録" in ISO-2022-JP.
        let subject: &[u8] = b"\x1b$BEPO?\x1b(B";
        let body = multipart(&[
            ("from", b"hanako@example.jp"),
            ("subject", subject),
            ("text", b""),
            ("html", b"<p>&lt;hello&gt;</p><div>world<br/>again</div>"),
            ("charsets", br#"{"subject":"iso-2022-jp"}"#),
        ]);
        let result = handle(SECRET, &request(body.clone(), Some(basic("u", SECRET))));
        let EventKind::Email(mail) = &result.events[0].kind else {
            panic!("an email event");
        };
        assert_eq!(mail.subject, "登録");
        assert_eq!(mail.text, "<hello>\nworld\nagain");
        // Without a Message-ID, the same body gives the same id.
        let again = handle(SECRET, &request(body, Some(basic("u", SECRET))));
        assert!(result.events[0].id.starts_with("sha256:"));
        assert_eq!(result.events[0].id, again.events[0].id);
        assert_eq!(result.events[0].timestamp_ms, 0);
    }

    #[test]
    fn a_raw_mime_message_is_read_too() {
        let message = "Message-ID: <raw-1@example.jp>\r\nFrom: hanako@example.jp\r\nTo: touroku@otaru.example.jp\r\nSubject: =?UTF-8?B?55m76Yyy?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nはい\r\n--b1\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>はい</p>\r\n--b1--\r\n";
        let body = multipart(&[
            ("email", message.as_bytes()),
            (
                "envelope",
                br#"{"to":["touroku@otaru.example.jp"],"from":"hanako@example.jp"}"#,
            ),
        ]);
        let result = handle(SECRET, &request(body, Some(basic("u", SECRET))));
        assert_eq!(result.response.status, 200);
        let event = &result.events[0];
        assert_eq!(event.id, "raw-1@example.jp");
        assert_eq!(event.address, "hanako@example.jp");
        let EventKind::Email(mail) = &event.kind else {
            panic!("an email event");
        };
        assert_eq!(
            (mail.subject.as_str(), mail.text.as_str()),
            ("登録", "はい")
        );
        assert_eq!(mail.to, "touroku@otaru.example.jp");
    }

    #[test]
    fn long_text_is_cut_on_a_character() {
        let long = "あ".repeat(MAX_TEXT_BYTES);
        let body = multipart(&[("from", b"a@example.jp"), ("text", long.as_bytes())]);
        let result = handle(SECRET, &request(body, Some(basic("u", SECRET))));
        let EventKind::Email(mail) = &result.events[0].kind else {
            panic!("an email event");
        };
        assert!(mail.text.len() <= MAX_TEXT_BYTES && mail.text.chars().all(|c| c == 'あ'));
    }
}
