//! One batch as one SendGrid v3 `mail/send` request body.
//!
//! The content is shared: one subject, a text part and an HTML part made
//! from the same text. Each recipient gets a personalization of its own, so
//! that its `to`, its one-click unsubscribe headers (RFC 8058:
//! `List-Unsubscribe: <https://...>` and `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click`, which large mailbox providers require of
//! bulk senders) and its `custom_args` (the delivery key, which comes back in
//! the provider's event webhooks) are its own. SendGrid takes at most 1,000
//! personalizations per request.
//!
//! Every mail ends with that recipient's stop link in its text too, below
//! a rule, in the content's language: the parent who never looks at the
//! mail program's unsubscribe button still finds it. The content is shared,
//! so the link is SendGrid's substitution tag [`STOP_TAG`], which each
//! personalization's `substitutions` replaces with its own link. Tayori's
//! own link leads to a page that stops the messages or changes what is
//! registered.

use serde_json::{Map, Value, json};
use tayori_plugin_sdk::{Batch, Content, Recipient};

use crate::template::Template;

/// SendGrid's limit on personalizations per request.
pub const MAX_PERSONALIZATIONS: usize = 1_000;
/// A subject made from the body is cut to this many characters.
const SUBJECT_FROM_BODY_CHARS: usize = 60;
/// The `custom_args` entry that carries the delivery key.
pub const KEY_ARG: &str = "tayori_key";
/// The `custom_args` entry that carries the catalog message id.
pub const MESSAGE_ARG: &str = "tayori_message";

/// The substitution tag of the recipient's stop link in the shared text.
pub const STOP_TAG: &str = "%tayori_stop%";

/// The words above the stop link at the end of every mail.
fn footer_words(locale: &str) -> &'static str {
    match locale {
        "en" => "To stop these messages or change your registration:",
        "ja-easy" => "メールを とめる・とうろくを かえる ときは こちら:",
        _ => "配信の停止・登録内容の変更はこちら:",
    }
}

/// Who the mail is from, and where replies go.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    /// The verified sender address.
    pub from: &'a str,
    /// The display name, if any.
    pub from_name: Option<&'a str>,
    /// The reply-to address, if any.
    pub reply_to: Option<&'a str>,
}

/// The request body for `recipients` (at most [`MAX_PERSONALIZATIONS`]).
pub fn body(
    sender: &Sender,
    unsubscribe: &Template,
    batch: &Batch,
    recipients: &[&Recipient],
) -> Value {
    let personalizations: Vec<Value> = recipients
        .iter()
        .map(|r| {
            // The host's own one-click link when it gives one (contract
            // 0.2.0); else the channel's template.
            let link = r
                .unsubscribe_url
                .clone()
                .unwrap_or_else(|| unsubscribe.render(&r.idempotency_key, &r.address));
            json!({
                "to": [{ "email": r.address }],
                "headers": {
                    "List-Unsubscribe": format!("<{link}>"),
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"
                },
                "substitutions": { STOP_TAG: link },
                "custom_args": {
                    KEY_ARG: r.idempotency_key,
                    MESSAGE_ARG: batch.message_id
                }
            })
        })
        .collect();
    let mut from = Map::new();
    from.insert("email".into(), sender.from.into());
    if let Some(name) = sender.from_name.filter(|n| !n.trim().is_empty()) {
        from.insert("name".into(), name.into());
    }
    let text = text(&batch.content);
    let mut body = json!({
        "personalizations": personalizations,
        "from": from,
        "subject": subject(&batch.content),
        "content": [
            { "type": "text/plain", "value": text },
            { "type": "text/html", "value": html(&batch.content) }
        ]
    });
    if let Some(reply_to) = sender.reply_to.filter(|r| !r.trim().is_empty()) {
        body["reply_to"] = json!({ "email": reply_to });
    }
    body
}

/// The subject, or the body's first line (cut) when the content has none.
pub fn subject(content: &Content) -> String {
    if let Some(subject) = content.subject.as_deref().map(str::trim)
        && !subject.is_empty()
    {
        return subject.replace(['\r', '\n'], " ");
    }
    let first = content
        .body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut chars = first.chars();
    let mut cut: String = chars.by_ref().take(SUBJECT_FROM_BODY_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// The text part: the body, then the stop link's tag below a rule.
pub fn text(content: &Content) -> String {
    let body = content.body.replace("\r\n", "\n");
    format!(
        "{}\n\n--\n{}\n{STOP_TAG}\n",
        body.trim_end(),
        footer_words(&content.locale)
    )
}

/// The text as a small HTML document: paragraphs at blank lines, `<br>` at
/// line breaks, everything escaped; the stop link's tag last, as a link.
pub fn html(content: &Content) -> String {
    let lang = content
        .locale
        .split(['-', '_'])
        .next()
        .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphabetic()))
        .unwrap_or("ja");
    let text = content.body.replace("\r\n", "\n");
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(escape).collect();
            format!("<p>{}</p>", lines.join("<br>\n"))
        })
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{}\n<hr>\n<p><a href=\"{STOP_TAG}\">{}</a></p>\n</body>\n</html>\n",
        escape(&subject(content)),
        paragraphs.join("\n"),
        escape(footer_words(&content.locale).trim_end_matches([':', '：']))
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `address` is an email address the provider will take: one `@`, a
/// local part of printable ASCII without spaces or specials, a domain of at
/// least two dot-separated labels of letters, digits and hyphens.
pub fn is_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'@' | b'"'
                        | b'('
                        | b')'
                        | b','
                        | b':'
                        | b';'
                        | b'<'
                        | b'>'
                        | b'['
                        | b'\\'
                        | b']'
                )
        })
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    address.len() <= 254 && local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: Option<&str>, body: &str) -> Content {
        Content {
            subject: subject.map(str::to_owned),
            body: body.to_owned(),
            locale: "ja-easy".into(),
            buttons: Vec::new(),
            quick_replies: Vec::new(),
        }
    }

    fn batch() -> Batch {
        Batch {
            message_id: "child-day-100".into(),
            content: content(
                Some("生後100日"),
                "おめでとうございます。\n\n4か月健診は<区役所>で。",
            ),
            recipients: vec![
                Recipient {
                    address: "mother@example.jp".into(),
                    idempotency_key: "00000000-0000-4000-8000-000000000001".into(),
                    unsubscribe_url: None,
                },
                Recipient {
                    address: "father@example.jp".into(),
                    idempotency_key: "00000000-0000-4000-8000-000000000002".into(),
                    unsubscribe_url: None,
                },
            ],
        }
    }

    #[test]
    fn each_recipient_has_its_own_personalization() {
        let b = batch();
        let unsub = Template::parse("https://example.jp/unsub?key={{key}}").unwrap();
        let sender = Sender {
            from: "info@city.example.jp",
            from_name: Some("さっぽろ子育て便り"),
            reply_to: Some("kosodate@city.example.jp"),
        };
        let recipients: Vec<&Recipient> = b.recipients.iter().collect();
        let body = body(&sender, &unsub, &b, &recipients);
        let p = body["personalizations"].as_array().unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1]["to"], json!([{ "email": "father@example.jp" }]));
        assert_eq!(
            p[1]["headers"]["List-Unsubscribe"],
            "<https://example.jp/unsub?key=00000000-0000-4000-8000-000000000002>"
        );
        assert_eq!(
            p[1]["headers"]["List-Unsubscribe-Post"],
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(
            p[1]["custom_args"][KEY_ARG],
            "00000000-0000-4000-8000-000000000002"
        );
        assert_eq!(p[1]["custom_args"][MESSAGE_ARG], "child-day-100");
        // The host's link, when it gives one, is the one used.
        let mut given = b.clone();
        given.recipients[0].unsubscribe_url = Some("https://tayori.example/u/otaru/abc".into());
        let recipients: Vec<&Recipient> = given.recipients.iter().collect();
        let with_host = super::body(&sender, &unsub, &given, &recipients);
        assert_eq!(
            with_host["personalizations"][0]["headers"]["List-Unsubscribe"],
            "<https://tayori.example/u/otaru/abc>"
        );
        assert_eq!(
            with_host["personalizations"][1]["headers"]["List-Unsubscribe"],
            "<https://example.jp/unsub?key=00000000-0000-4000-8000-000000000002>"
        );
        assert_eq!(
            body["from"],
            json!({"email": "info@city.example.jp", "name": "さっぽろ子育て便り"})
        );
        assert_eq!(
            body["reply_to"],
            json!({"email": "kosodate@city.example.jp"})
        );
        assert_eq!(body["subject"], "生後100日");
        assert_eq!(body["content"][0]["type"], "text/plain");
        assert_eq!(body["content"][1]["type"], "text/html");
        // Each recipient's own link stands for the tag in the shared text.
        assert_eq!(
            with_host["personalizations"][0]["substitutions"][STOP_TAG],
            "https://tayori.example/u/otaru/abc"
        );
        assert_eq!(
            p[0]["substitutions"][STOP_TAG],
            "https://example.jp/unsub?key=00000000-0000-4000-8000-000000000001"
        );
        let text = body["content"][0]["value"].as_str().unwrap();
        assert!(
            text.ends_with("4か月健診は<区役所>で。\n\n--\nメールを とめる・とうろくを かえる ときは こちら:\n%tayori_stop%\n"),
            "{text}"
        );
        let html = body["content"][1]["value"].as_str().unwrap();
        assert!(
            html.contains("<hr>\n<p><a href=\"%tayori_stop%\">メールを とめる・とうろくを かえる ときは こちら</a></p>"),
            "{html}"
        );
    }

    #[test]
    fn the_stop_words_are_in_the_contents_language() {
        let mut c = content(None, "Hello\r\n");
        c.locale = "en".into();
        assert_eq!(
            text(&c),
            "Hello\n\n--\nTo stop these messages or change your registration:\n%tayori_stop%\n"
        );
        c.locale = "ja".into();
        assert!(text(&c).contains("配信の停止・登録内容の変更はこちら:"));
    }

    #[test]
    fn html_is_escaped_and_in_paragraphs() {
        let html = html(&batch().content);
        assert!(html.contains("<html lang=\"ja\">"), "{html}");
        assert!(
            html.contains("<p>おめでとうございます。</p>\n<p>4か月健診は&lt;区役所&gt;で。</p>"),
            "{html}"
        );
        let lines = super::html(&content(None, "一行目\n二行目"));
        assert!(lines.contains("<p>一行目<br>\n二行目</p>"), "{lines}");
    }

    #[test]
    fn a_missing_subject_comes_from_the_body() {
        assert_eq!(
            subject(&content(None, "\n  緊急のお知らせ  \n詳細")),
            "緊急のお知らせ"
        );
        let long = "あ".repeat(100);
        assert_eq!(subject(&content(Some(" "), &long)).chars().count(), 61);
        assert_eq!(subject(&content(Some("a\r\nb"), "x")), "a  b");
    }

    #[test]
    fn addresses_are_checked_before_sending() {
        for ok in [
            "a@example.jp",
            "first.last+tag@sub.example.co.jp",
            "x_y-z@a-b.jp",
        ] {
            assert!(is_address(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@example.jp",
            "a@",
            "a@localhost",
            "a b@example.jp",
            "a@exa mple.jp",
            ".a@example.jp",
            "a..b@example.jp",
            "a@-x.jp",
            "a@example..jp",
            "名前@example.jp",
            "U4af4980629aaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(!is_address(bad), "{bad}");
        }
    }
}
