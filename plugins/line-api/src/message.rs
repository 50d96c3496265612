//! A message's content as LINE message objects: its text (see [`text`]),
//! its buttons as a buttons template, and its quick replies on the last
//! message.
//!
//! LINE's limits, from the Messaging API reference: a buttons template takes
//! at most 4 actions and, without an image, a text of at most 160
//! characters, with an `altText` of at most 400 for notifications; a
//! message takes at most 13 quick-reply items; an action's label is at most
//! 20 characters and a postback's data at most 300. Quick replies cannot
//! open a link on LINE, so a link among the quick replies goes into the
//! text as "label: URL". A request carries at most 5 message objects.
//!
//! [`text`]: crate::text

use serde_json::{Value, json};
use tayori_plugin_sdk::{Action, Button, Content, PickerMode};

use crate::text::{self, MAX_MESSAGES, TextError, units};

/// LINE's limit on a buttons template's actions.
pub const MAX_BUTTONS: usize = 4;
/// LINE's limit on quick-reply items in one message.
pub const MAX_QUICK_REPLIES: usize = 13;
/// LINE's limit on an action's label.
const MAX_LABEL: usize = 20;
/// LINE's limit on a buttons template's text (without an image).
const MAX_TEMPLATE_TEXT: usize = 160;
/// LINE's limit on a template's `altText`.
const MAX_ALT_TEXT: usize = 400;

/// The message objects for `content`: one to five.
pub fn messages(content: &Content) -> Result<Vec<Value>, TextError> {
    let mut content = content.clone();
    let links: Vec<String> = content
        .quick_replies
        .iter()
        .filter_map(|b| match &b.action {
            Action::Link(url) => Some(format!("{}: {url}", b.label)),
            _ => None,
        })
        .collect();
    if !links.is_empty() {
        content.body = format!("{}\n\n{}", content.body.trim_end(), links.join("\n"));
    }
    let mut texts = text::messages(&content)?;
    let mut out: Vec<Value> = Vec::new();
    let buttons: Vec<Value> = content
        .buttons
        .iter()
        .take(MAX_BUTTONS)
        .map(action)
        .collect();
    let template = if buttons.is_empty() {
        None
    } else {
        // The last text becomes the template's text when it fits; else
        // the template follows it with a short prompt.
        let last = texts.last().cloned().unwrap_or_default();
        let text = if units(&last) <= MAX_TEMPLATE_TEXT {
            texts.pop();
            last.clone()
        } else {
            prompt(&content.locale).to_owned()
        };
        Some(json!({
            "type": "template",
            "altText": cut(&last, MAX_ALT_TEXT),
            "template": { "type": "buttons", "text": text, "actions": buttons },
        }))
    };
    out.extend(
        texts
            .into_iter()
            .map(|text| json!({ "type": "text", "text": text })),
    );
    out.extend(template);
    if out.len() > MAX_MESSAGES {
        return Err(TextError::TooLong {
            units: units(&text::compose(&content)),
        });
    }
    let items: Vec<Value> = content
        .quick_replies
        .iter()
        .filter(|b| !matches!(b.action, Action::Link(_)))
        .take(MAX_QUICK_REPLIES)
        .map(|b| json!({ "type": "action", "action": action(b) }))
        .collect();
    if !items.is_empty()
        && let Some(last) = out.last_mut()
    {
        last["quickReply"] = json!({ "items": items });
    }
    Ok(out)
}

/// A button as a LINE action object (the `line` plugin's rich menu areas
/// use the same): a postback shows its label as the user's `displayText`,
/// and every label is cut to LINE's 20 characters.
pub fn action(button: &Button) -> Value {
    let label = cut(&button.label, MAX_LABEL);
    match &button.action {
        Action::Postback(data) => json!({
            "type": "postback",
            "label": label,
            "data": data,
            "displayText": button.label,
        }),
        Action::Link(uri) => json!({ "type": "uri", "label": label, "uri": uri }),
        Action::DatePicker(p) => {
            let mut action = json!({
                "type": "datetimepicker",
                "label": label,
                "data": p.data,
                "mode": match p.mode {
                    PickerMode::Date => "date",
                    PickerMode::Time => "time",
                    PickerMode::Datetime => "datetime",
                },
            });
            for (key, value) in [("initial", &p.initial), ("min", &p.min), ("max", &p.max)] {
                if let Some(v) = value {
                    action[key] = json!(v);
                }
            }
            action
        }
    }
}

/// `text` cut to `max` UTF-16 units (never inside a character).
fn cut(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        used += c.len_utf16();
        if used > max {
            break;
        }
        out.push(c);
    }
    out
}

/// The template text when the message is too long to carry its buttons.
fn prompt(locale: &str) -> &'static str {
    match locale {
        "en" => "Please choose.",
        "ja-easy" => "えらんで ください。",
        _ => "選んでください。",
    }
}

#[cfg(test)]
mod tests {
    use tayori_plugin_sdk::DatePicker;

    use super::*;

    fn content(body: &str) -> Content {
        Content::text(body, "ja")
    }

    fn postback(label: &str, data: &str) -> Button {
        Button {
            label: label.into(),
            action: Action::Postback(data.into()),
        }
    }

    #[test]
    fn plain_text_is_text_objects() {
        assert_eq!(
            messages(&content("こんにちは")).unwrap(),
            [json!({"type": "text", "text": "こんにちは"})]
        );
    }

    #[test]
    fn quick_replies_and_a_date_picker_go_on_the_last_message() {
        let mut c = content("お子さんは生まれましたか。");
        c.quick_replies = vec![
            Button {
                label: "生まれた日を選ぶ".into(),
                action: Action::DatePicker(DatePicker {
                    data: "birth".into(),
                    mode: PickerMode::Date,
                    initial: Some("2027-05-01".into()),
                    min: Some("2027-03-01".into()),
                    max: None,
                }),
            },
            postback("まだです", "not-yet"),
            Button {
                label: "登録フォーム".into(),
                action: Action::Link("https://example.jp/r/otaru".into()),
            },
        ];
        let m = messages(&c).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0]["text"],
            "お子さんは生まれましたか。\n\n登録フォーム: https://example.jp/r/otaru"
        );
        let items = m[0]["quickReply"]["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "a link is not a LINE quick reply");
        assert_eq!(
            items[0]["action"],
            json!({"type": "datetimepicker", "label": "生まれた日を選ぶ", "data": "birth",
                   "mode": "date", "initial": "2027-05-01", "min": "2027-03-01"})
        );
        assert_eq!(items[1]["action"]["type"], "postback");
        assert_eq!(items[1]["action"]["displayText"], "まだです");
    }

    #[test]
    fn buttons_make_a_buttons_template_within_lines_limits() {
        let mut c = content("登録の内容を選んでください。");
        c.buttons = (0..6)
            .map(|i| {
                postback(
                    &format!("とても長いボタンのラベル{i}です。二十文字を超えます"),
                    "x",
                )
            })
            .collect();
        let m = messages(&c).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0]["type"], "template");
        assert_eq!(m[0]["template"]["text"], "登録の内容を選んでください。");
        let actions = m[0]["template"]["actions"].as_array().unwrap();
        assert_eq!(actions.len(), MAX_BUTTONS);
        assert!(units(actions[0]["label"].as_str().unwrap()) <= MAX_LABEL);
        // A long text stays a text; the template follows with a prompt.
        let mut long = content(&"あ".repeat(300));
        long.buttons = vec![postback("はい", "yes")];
        let m = messages(&long).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0]["type"], "text");
        assert_eq!(m[1]["template"]["text"], "選んでください。");
        assert_eq!(units(m[1]["altText"].as_str().unwrap()), 300);
    }

    #[test]
    fn five_full_texts_leave_no_room_for_a_template() {
        let mut c = content(&"あ".repeat(5 * text::MAX_TEXT_UNITS));
        c.buttons = vec![postback("はい", "yes")];
        assert!(matches!(messages(&c), Err(TextError::TooLong { .. })));
    }
}
