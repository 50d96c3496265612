//! Fitting interactive content to what a plugin can render.
//!
//! Contract 0.2.0 lets a message carry buttons and quick replies; each
//! plugin declares what its platform shows ([`Renders`]). The host never
//! hands a plugin content it did not declare: what does not fit becomes
//! text in the body, in the content's locale:
//!
//! - a link becomes `label: https://...`;
//! - a postback becomes a numbered choice (`1. 出産を報告`) that the person
//!   can answer by sending the number or the words;
//! - a date picker becomes a link to the web form (`fallback_url`), or a
//!   numbered choice when there is no form;
//! - buttons past the plugin's `max-buttons` (quick replies past
//!   `max-quick-replies`) fall back the same way, in order.

use crate::plugin::{Action, Button, Content, Renders};

impl Content {
    /// This content as a plugin with `renders` can show it.
    pub fn fit(&self, renders: &Renders) -> Content {
        let mut out = Content {
            subject: self.subject.clone(),
            body: self.body.clone(),
            locale: self.locale.clone(),
            buttons: Vec::new(),
            quick_replies: Vec::new(),
            fallback_url: None,
        };
        let mut rest: Vec<&Button> = Vec::new();
        for b in &self.buttons {
            if out.buttons.len() < renders.max_buttons as usize && as_button(renders, &b.action) {
                out.buttons.push(b.clone());
            } else {
                rest.push(b);
            }
        }
        for b in &self.quick_replies {
            if out.quick_replies.len() < renders.max_quick_replies as usize
                && as_quick_reply(renders, &b.action)
            {
                out.quick_replies.push(b.clone());
            } else {
                rest.push(b);
            }
        }
        if rest.is_empty() {
            return out;
        }
        let words = Words::of(&self.locale);
        let mut lines: Vec<String> = Vec::new();
        let mut choices = 0;
        let mut to_form = false;
        for b in rest {
            match &b.action {
                Action::Link { url } => lines.push(format!("{}: {url}", b.label)),
                Action::DatePicker(_) if self.fallback_url.is_some() => to_form = true,
                Action::Postback { .. } | Action::DatePicker(_) => {
                    choices += 1;
                    lines.push(format!("{choices}. {}", b.label));
                }
            }
        }
        if choices > 0 {
            lines.push(words.answer_by_number.to_string());
        }
        if let Some(url) = &self.fallback_url
            && (to_form || choices > 0)
        {
            lines.push(format!("{}: {url}", words.on_the_form));
        }
        if !out.body.is_empty() {
            out.body.push_str("\n\n");
        }
        out.body.push_str(&lines.join("\n"));
        out
    }
}

/// Whether a button with `action` can be shown as a button.
fn as_button(r: &Renders, action: &Action) -> bool {
    match action {
        Action::Postback { .. } => r.buttons,
        Action::DatePicker(_) => r.buttons && r.date_picker,
        Action::Link { .. } => r.buttons || r.link_buttons,
    }
}

/// Whether a quick reply with `action` can be shown as a quick reply.
fn as_quick_reply(r: &Renders, action: &Action) -> bool {
    match action {
        Action::Postback { .. } => r.quick_replies,
        Action::DatePicker(_) => r.quick_replies && r.date_picker,
        Action::Link { .. } => r.quick_replies && r.link_buttons,
    }
}

struct Words {
    answer_by_number: &'static str,
    on_the_form: &'static str,
}

impl Words {
    fn of(locale: &str) -> Self {
        match locale {
            "en" => Words {
                answer_by_number: "Reply with the number or the words.",
                on_the_form: "Or use the form",
            },
            "ja-easy" => Words {
                answer_by_number: "ばんごう か ことば で へんしん してください。",
                on_the_form: "フォーム から も できます",
            },
            _ => Words {
                answer_by_number: "番号か言葉で返信してください。",
                on_the_form: "フォームからも手続きできます",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{DatePicker, PickerMode};

    fn postback(label: &str) -> Button {
        Button {
            label: label.into(),
            action: Action::Postback {
                data: format!("pb:{label}"),
            },
        }
    }

    fn picker() -> Button {
        Button {
            label: "日付を選ぶ".into(),
            action: Action::DatePicker(DatePicker {
                data: "due".into(),
                mode: PickerMode::Date,
                initial: None,
                min: Some("2026-12-01".into()),
                max: Some("2027-09-01".into()),
            }),
        }
    }

    fn link() -> Button {
        Button {
            label: "詳しく".into(),
            action: Action::Link {
                url: "https://example.jp/a".into(),
            },
        }
    }

    fn content() -> Content {
        Content {
            body: "ご登録ありがとうございます".into(),
            locale: "ja".into(),
            buttons: vec![link()],
            quick_replies: vec![postback("妊娠中"), postback("出産済み"), picker()],
            fallback_url: Some("https://tayori.example/f/x".into()),
            ..Content::default()
        }
    }

    #[test]
    fn what_the_plugin_renders_is_kept_as_it_is() {
        let all = Renders {
            buttons: true,
            quick_replies: true,
            date_picker: true,
            link_buttons: true,
            max_buttons: 4,
            max_quick_replies: 13,
        };
        let fitted = content().fit(&all);
        assert_eq!(fitted.body, "ご登録ありがとうございます");
        assert_eq!(fitted.buttons, vec![link()]);
        assert_eq!(fitted.quick_replies.len(), 3);
        assert_eq!(fitted.fallback_url, None);
    }

    #[test]
    fn text_only_plugins_get_numbered_choices_links_and_the_form() {
        let fitted = content().fit(&Renders::default());
        assert!(fitted.buttons.is_empty() && fitted.quick_replies.is_empty());
        assert_eq!(
            fitted.body,
            "ご登録ありがとうございます\n\n詳しく: https://example.jp/a\n1. 妊娠中\n2. 出産済み\n\
             番号か言葉で返信してください。\nフォームからも手続きできます: https://tayori.example/f/x"
        );
    }

    #[test]
    fn a_date_picker_the_plugin_cannot_show_goes_to_the_form_and_limits_are_kept() {
        let r = Renders {
            quick_replies: true,
            link_buttons: true,
            max_buttons: 1,
            max_quick_replies: 1,
            ..Renders::default()
        };
        let fitted = content().fit(&r);
        assert_eq!(fitted.buttons, vec![link()]);
        assert_eq!(fitted.quick_replies, vec![postback("妊娠中")]);
        assert_eq!(
            fitted.body,
            "ご登録ありがとうございます\n\n1. 出産済み\n番号か言葉で返信してください。\n\
             フォームからも手続きできます: https://tayori.example/f/x"
        );
        let mut no_form = content();
        no_form.fallback_url = None;
        no_form.quick_replies = vec![picker()];
        no_form.buttons.clear();
        assert_eq!(
            no_form.fit(&Renders::default()).body,
            "ご登録ありがとうございます\n\n1. 日付を選ぶ\n番号か言葉で返信してください。"
        );
    }
}
