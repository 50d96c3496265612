//! A message's content as an X direct message, and the request bodies of
//! both endpoints that send one.
//!
//! X API v2 (`POST /2/dm_conversations/with/{participant_id}/messages`) takes
//! text only. Quick replies exist only on the v1.1 event endpoint
//! (`POST /1.1/direct_messages/events/new.json`, OAuth 1.0a only), as
//! `message_data.quick_reply`: up to 20 options, each a label of at most 36
//! characters (no URLs) and metadata of at most 1,000 characters that X posts
//! back with the parent's choice. The same endpoint takes up to three
//! `ctas`, buttons that open an http(s) URL, labels of at most 36 characters.
//!
//! So a postback (a button's or a quick reply's) becomes a quick-reply
//! option whose metadata is the postback data, and a link becomes a CTA, in
//! the content's order, buttons first. What X would refuse never goes out:
//!
//! | choice | becomes |
//! |---|---|
//! | postback, among the first 20, data within 1,000 characters, label without a URL | option; a label over 36 characters is cut to 35 and `…` |
//! | link to `http(s)://`, among the first 3 | CTA, label cut likewise |
//! | any other postback (the 21st on, longer data, a URL in the label), a date picker | a line of the text: the label |
//! | any other link | a line of the text: `label: url` |
//! | a choice with an empty label | left out |
//!
//! Without OAuth 1.0a (a bearer token, which v1.1 does not take) nothing is
//! interactive: every choice becomes a line of the text and the DM goes
//! through v2. The manifest declares postback buttons, quick replies and link
//! buttons with limits (4 and 16) whose sum is X's 20 options, so the host
//! never hands more postbacks than fit; the rules above are the guard for
//! what the contract does not bound (the data's length, more than 3 links).
//! The text is the subject, a blank line, the body, then the lines; over
//! 10,000 characters it is refused before sending.

use serde::Serialize;
use serde_json::{Value, json};
use tayori_plugin_sdk::{Action, Button, Content, Failure, log};

/// X's limit on a DM's text, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Quick-reply options per message.
pub const MAX_OPTIONS: usize = 20;
/// Characters of an option's or a CTA's label.
pub const MAX_LABEL_CHARS: usize = 36;
/// Characters of an option's metadata.
pub const MAX_METADATA_CHARS: usize = 1_000;
/// CTA buttons per message.
pub const MAX_CTAS: usize = 3;

/// A quick-reply option: what the parent taps, and what X posts back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuickReplyOption {
    pub label: String,
    pub metadata: String,
}

/// A call-to-action button that opens a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cta {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub label: String,
    pub url: String,
}

/// One DM as X takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dm {
    pub text: String,
    pub options: Vec<QuickReplyOption>,
    pub ctas: Vec<Cta>,
}

impl Dm {
    /// Whether it needs the v1.1 event endpoint.
    pub fn is_interactive(&self) -> bool {
        !self.options.is_empty() || !self.ctas.is_empty()
    }

    /// The body of `POST /2/dm_conversations/with/{participant_id}/messages`.
    pub fn v2_body(&self) -> Value {
        json!({ "text": self.text })
    }

    /// The body of `POST /1.1/direct_messages/events/new.json` to `recipient_id`.
    pub fn event_body(&self, recipient_id: &str) -> Value {
        let mut message_data = json!({ "text": self.text });
        if !self.options.is_empty() {
            message_data["quick_reply"] = json!({ "type": "options", "options": self.options });
        }
        if !self.ctas.is_empty() {
            message_data["ctas"] = json!(self.ctas);
        }
        json!({
            "event": {
                "type": "message_create",
                "message_create": {
                    "target": { "recipient_id": recipient_id },
                    "message_data": message_data
                }
            }
        })
    }
}

/// `content` as a DM; `interactive` when the channel can use the v1.1
/// endpoint (OAuth 1.0a).
pub fn render(content: &Content, interactive: bool) -> Result<Dm, Failure> {
    let body = content.body.replace("\r\n", "\n");
    let mut text = match content.subject.as_deref().map(str::trim) {
        Some(subject) if !subject.is_empty() => format!("{subject}\n\n{}", body.trim()),
        _ => body.trim().to_owned(),
    };
    let mut dm = Dm {
        text: String::new(),
        options: Vec::new(),
        ctas: Vec::new(),
    };
    let bullet = if content.locale == "en" { "- " } else { "・" };
    let mut lines: Vec<String> = Vec::new();
    for button in content.buttons.iter().chain(&content.quick_replies) {
        let label = one_line(&button.label);
        if label.is_empty() {
            log::warn("a choice without a label was left out");
            continue;
        }
        if interactive && place(&mut dm, button, &label) {
            continue;
        }
        lines.push(match &button.action {
            Action::Link(url) => format!("{label}: {url}"),
            Action::Postback(_) | Action::DatePicker(_) => format!("{bullet}{label}"),
        });
    }
    if !lines.is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&lines.join("\n"));
    }
    let chars = text.chars().count();
    if text.is_empty() {
        return Err(Failure::permanent("the message is empty"));
    }
    if chars > MAX_TEXT_CHARS {
        return Err(Failure::permanent(format!(
            "the message is {chars} characters; an X direct message takes at most {MAX_TEXT_CHARS}"
        )));
    }
    dm.text = text;
    Ok(dm)
}

/// Put `button` on `dm` as an option or a CTA; false when X would refuse it
/// there (or has nothing like it: a date picker).
fn place(dm: &mut Dm, button: &Button, label: &str) -> bool {
    match &button.action {
        Action::Postback(data) => {
            let fits = dm.options.len() < MAX_OPTIONS
                && data.chars().count() <= MAX_METADATA_CHARS
                && !has_url(label);
            if fits {
                dm.options.push(QuickReplyOption {
                    label: cut(label),
                    metadata: data.clone(),
                });
            }
            fits
        }
        Action::Link(url) => {
            let fits = dm.ctas.len() < MAX_CTAS
                && (url.starts_with("https://") || url.starts_with("http://"))
                && !url.chars().any(char::is_whitespace);
            if fits {
                dm.ctas.push(Cta {
                    kind: "web_url",
                    label: cut(label),
                    url: url.clone(),
                });
            }
            fits
        }
        Action::DatePicker(_) => false,
    }
}

/// The label on one line: control characters (line breaks) as spaces,
/// trimmed.
fn one_line(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// At most [`MAX_LABEL_CHARS`]: a longer label is cut to one less and `…`.
fn cut(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_owned();
    }
    let mut out: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// Whether X would take `label` for a URL, which it refuses in a label.
fn has_url(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    lower.contains("://") || lower.contains("www.")
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::{DatePicker, FailureKind, PickerMode};

    use super::*;

    fn content(subject: Option<&str>, body: &str) -> Content {
        Content {
            subject: subject.map(str::to_owned),
            ..Content::text(body, "ja")
        }
    }

    fn postback(label: &str, data: &str) -> Button {
        Button {
            label: label.into(),
            action: Action::Postback(data.into()),
        }
    }

    fn link(label: &str, url: &str) -> Button {
        Button {
            label: label.into(),
            action: Action::Link(url.into()),
        }
    }

    #[test]
    fn text_is_subject_then_body_within_xs_limit() {
        let dm = render(&content(Some("お知らせ"), "本文\r\n二行目"), true).unwrap();
        assert_eq!(dm.text, "お知らせ\n\n本文\n二行目");
        assert!(!dm.is_interactive());
        assert_eq!(dm.v2_body(), json!({ "text": "お知らせ\n\n本文\n二行目" }));
        let long = render(&content(None, &"あ".repeat(10_000)), true).unwrap();
        assert_eq!(long.text.chars().count(), 10_000);
        for refused in [&"あ".repeat(10_001), " "] {
            assert_eq!(
                render(&content(None, refused), true).unwrap_err().kind,
                FailureKind::Permanent
            );
        }
    }

    #[test]
    fn postbacks_become_options_and_links_ctas_in_the_v1_1_body() {
        let mut c = content(None, "お子さんは生まれましたか。");
        c.buttons = vec![link("詳しく", "https://example.jp/a")];
        c.quick_replies = vec![
            postback("生まれました", "report-birth"),
            postback("まだです", "not-yet"),
        ];
        let dm = render(&c, true).unwrap();
        assert!(dm.is_interactive());
        assert_eq!(dm.text, "お子さんは生まれましたか。");
        assert_eq!(
            dm.event_body("2244994945"),
            json!({
                "event": {
                    "type": "message_create",
                    "message_create": {
                        "target": { "recipient_id": "2244994945" },
                        "message_data": {
                            "text": "お子さんは生まれましたか。",
                            "quick_reply": {
                                "type": "options",
                                "options": [
                                    { "label": "生まれました", "metadata": "report-birth" },
                                    { "label": "まだです", "metadata": "not-yet" }
                                ]
                            },
                            "ctas": [
                                { "type": "web_url", "label": "詳しく", "url": "https://example.jp/a" }
                            ]
                        }
                    }
                }
            })
        );
        // Options only: no `ctas` key at all.
        c.buttons.clear();
        let body = render(&c, true).unwrap().event_body("1");
        assert!(
            body["event"]["message_create"]["message_data"]
                .get("ctas")
                .is_none()
        );
    }

    #[test]
    fn labels_are_cut_to_36_characters() {
        let mut c = content(None, "選んでください");
        let long = "とても長いラベルです".repeat(4); // 40 characters
        c.quick_replies = vec![
            postback(&long, "a"),
            postback(&"x".repeat(36), "b"),
            postback("  二行の\nラベル ", "c"),
        ];
        let dm = render(&c, true).unwrap();
        let labels: Vec<&str> = dm.options.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels[0].chars().count(), 36);
        assert!(labels[0].ends_with('…'));
        assert!(long.starts_with(labels[0].trim_end_matches('…')));
        assert_eq!(labels[1], "x".repeat(36));
        assert_eq!(labels[2], "二行の ラベル");
    }

    #[test]
    fn what_x_would_refuse_falls_back_to_text_in_order() {
        let mut c = content(None, "メニュー");
        c.buttons = (1..=4)
            .map(|i| link(&format!("リンク{i}"), &format!("https://example.jp/{i}")))
            .collect();
        c.quick_replies = (1..=21)
            .map(|i| postback(&format!("選択{i}"), &format!("pb-{i}")))
            .collect();
        c.quick_replies
            .push(postback("長いデータ", &"d".repeat(1_001)));
        c.quick_replies
            .push(postback("www.example.jp を見る", "url-label"));
        c.quick_replies.push(postback("", "no-label"));
        c.quick_replies.push(Button {
            label: "日付を選ぶ".into(),
            action: Action::DatePicker(DatePicker {
                data: "due".into(),
                mode: PickerMode::Date,
                initial: None,
                min: None,
                max: None,
            }),
        });
        let dm = render(&c, true).unwrap();
        assert_eq!(dm.options.len(), MAX_OPTIONS);
        assert_eq!(dm.options[19].metadata, "pb-20");
        assert_eq!(dm.ctas.len(), MAX_CTAS);
        assert_eq!(
            dm.text,
            "メニュー\n\nリンク4: https://example.jp/4\n・選択21\n・長いデータ\n\
             ・www.example.jp を見る\n・日付を選ぶ"
        );
        // The same content renders the same way every time.
        assert_eq!(render(&c, true).unwrap(), dm);
    }

    #[test]
    fn without_oauth1_every_choice_is_text_for_v2() {
        let mut c = content(None, "Has your baby been born?");
        c.locale = "en".into();
        c.buttons = vec![link("Form", "https://example.jp/f")];
        c.quick_replies = vec![postback("Yes", "born"), postback("Not yet", "not-yet")];
        let dm = render(&c, false).unwrap();
        assert!(!dm.is_interactive());
        assert_eq!(
            dm.text,
            "Has your baby been born?\n\nForm: https://example.jp/f\n- Yes\n- Not yet"
        );
    }

    #[test]
    fn fallback_lines_count_towards_the_limit() {
        let mut c = content(None, &"あ".repeat(9_996));
        c.quick_replies = vec![postback("はい", "yes")];
        assert!(render(&c, true).is_ok());
        assert_eq!(
            render(&c, false).unwrap_err().kind,
            FailureKind::Permanent,
            "9,996, a blank line and `・はい` are over 10,000"
        );
    }
}
