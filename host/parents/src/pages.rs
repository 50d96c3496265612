//! The pages, rendered from templates compiled into the binary
//! (`templates/`, minijinja with HTML escaping). Every page shares one
//! frame: the skip link, the service's name, the language switch (plain
//! links), one `<main>` with one `h1`. The views are plain data, so that
//! each page can be rendered and checked without a server.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use tayori_core::Locale;

use crate::form::{DateParts, Errors, Field, Typed};
use crate::text::{Texts, texts};

/// The pages' style sheet (system fonts, no images).
pub const CSS: &str = include_str!("../assets/parents.css");
/// Where it is served.
pub const CSS_PATH: &str = "/parents.css";

/// A link of the language switch.
#[derive(Debug, Clone, Serialize)]
pub struct LangLink {
    pub label: &'static str,
    pub lang: &'static str,
    pub href: String,
    pub current: bool,
}

/// The languages of the switch, with `href(locale)` as each link.
pub fn switch(current: Locale, href: impl Fn(Locale) -> String) -> Vec<LangLink> {
    [
        (Locale::Ja, "日本語", "ja"),
        (Locale::JaEasy, "やさしい にほんご", "ja"),
        (Locale::En, "English", "en"),
    ]
    .into_iter()
    .map(|(locale, label, lang)| LangLink {
        label,
        lang,
        href: href(locale),
        current: locale == current,
    })
    .collect()
}

/// What every page has.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub t: &'static Texts,
    pub locale: Locale,
    /// The tenant's display name (`None` on a page for no known tenant).
    pub tenant_name: Option<String>,
    pub switch: Vec<LangLink>,
}

impl Frame {
    pub fn new(locale: Locale, tenant_name: Option<String>, switch: Vec<LangLink>) -> Self {
        Self {
            t: texts(locale),
            locale,
            tenant_name,
            switch,
        }
    }
}

/// The registration form.
#[derive(Debug, Clone, Serialize)]
pub struct FormView {
    #[serde(flatten)]
    pub frame: Frame,
    /// Where the form posts.
    pub action: String,
    pub csrf: String,
    /// The register link's token, posted back.
    pub token: Option<String>,
    /// Where messages will go (a register link's contact), as shown.
    pub contact: Option<String>,
    /// Ask for an email address (no register link).
    pub ask_email: bool,
    /// What to allow in carrier filters: the sender and its domain.
    pub from: Option<(String, String)>,
    /// `date_range` with its dates written in.
    pub date_range: String,
    pub typed: Typed,
    pub errors: Errors,
}

/// A button that posts a form (with its CSRF field).
#[derive(Debug, Clone, Serialize)]
pub struct Button {
    pub action: String,
    pub csrf: String,
    pub label: &'static str,
    /// A stop button looks like a warning, not like going on.
    pub warning: bool,
}

/// A link under a page's text.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: String,
    pub label: &'static str,
}

/// Every other page: a heading, some paragraphs, a button or links.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    #[serde(flatten)]
    pub frame: Frame,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub button: Option<Button>,
    pub links: Vec<Link>,
    /// A page that says something went well (a panel), not only text.
    pub panel: bool,
}

/// A GOV.UK notification banner at the top of a page: what a parent just
/// did went through.
#[derive(Debug, Clone, Serialize)]
pub struct Banner {
    /// What was done (`birth`, `language`, `stopped`).
    pub done: &'static str,
    pub title: &'static str,
    pub body: String,
    /// Green, and announced as an alert; otherwise blue and a polite status
    /// (the words after stopping an expected child).
    pub success: bool,
}

/// An error summary's line: the message and the id of the input it is
/// about.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorLink {
    pub anchor: String,
    pub message: String,
}

/// The birth-date question of an expected child, as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BirthForm {
    pub action: String,
    /// The prefix of its inputs' ids (`birth-1`: `birth-1-year`, ...).
    pub id: String,
    pub year: String,
    pub month: String,
    pub day: String,
    pub error: Option<String>,
    pub parts: DateParts,
}

/// One child on the page of what is registered.
#[derive(Debug, Clone, Serialize)]
pub struct ChildView {
    /// The child as the parent knows it (by its due date or birthday).
    pub label: String,
    pub stopped: bool,
    /// Expected children only.
    pub birth: Option<BirthForm>,
    /// The confirmation page for stopping it (active children only).
    pub stop: Option<String>,
}

/// The question that adds a child (expecting or born, and the date), as
/// typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AddChildForm {
    /// Where it posts.
    pub action: String,
    /// `date_range` with its dates written in.
    pub date_range: String,
    pub stage: String,
    pub year: String,
    pub month: String,
    pub day: String,
    pub stage_error: Option<String>,
    pub date_error: Option<String>,
    pub parts: DateParts,
}

/// How a second parent is invited: a code to send in the tenant's LINE
/// chat, a mail with a join link, or both (each when the tenant has such a
/// channel).
#[derive(Debug, Clone, Default, Serialize)]
pub struct InviteView {
    /// `tayori-invite:<code>`, what the other parent sends in the chat.
    pub line_code: Option<String>,
    /// LINE's share link with the code (one tap to forward it).
    pub line_share: Option<String>,
    /// How long a code or a link works.
    pub hours: i64,
    /// Where the email form posts.
    pub email_action: Option<String>,
    /// The address as typed (after an error).
    pub email: String,
    pub email_error: Option<String>,
}

/// What is registered for a contact, with what a parent can change.
#[derive(Debug, Clone, Serialize)]
pub struct ManageView {
    #[serde(flatten)]
    pub frame: Frame,
    pub contact: String,
    pub banner: Option<Banner>,
    pub errors: Vec<ErrorLink>,
    pub children: Vec<ChildView>,
    pub add_child: AddChildForm,
    pub invite: InviteView,
    pub csrf: String,
    /// Where the language form posts.
    pub language_action: String,
    /// The language chosen (as typed after an error).
    pub language: String,
    pub language_now: String,
    pub language_error: Option<String>,
    /// The stop link for the whole contact (`/u/...`).
    pub stop_all: String,
}

/// Text for HTML text and quoted attributes.
fn escape_html(text: &str) -> String {
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

/// The languages of the messages, for radios: value, name, `lang`.
fn locales() -> [minijinja::Value; 3] {
    [
        ("ja", "日本語", "ja"),
        ("ja-easy", "やさしい にほんご", "ja"),
        ("en", "English", "en"),
    ]
    .map(|(value, label, lang)| minijinja::context! { value, label, lang })
}

/// The compiled templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

impl Pages {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // A name a template uses that a view lacks is a bug: fail loudly.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // HTML escaping without minijinja's `/` → `&#x2f;`, so that links
        // read as written (`/` is harmless in text and attributes).
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(text) if !value.is_safe() && state.auto_escape() == AutoEscape::Html => out
                .write_str(&escape_html(text))
                .map_err(minijinja::Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        });
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("form.html", include_str!("../templates/form.html")),
            ("message.html", include_str!("../templates/message.html")),
            ("manage.html", include_str!("../templates/manage.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Self { env }
    }

    fn render(&self, name: &str, view: impl Serialize) -> String {
        self.env
            .get_template(name)
            .and_then(|template| template.render(view))
            .unwrap_or_else(|e| panic!("rendering {name}: {e:#}"))
    }

    pub fn form(&self, view: &FormView) -> String {
        #[derive(Serialize)]
        struct Err<'a> {
            stage: Option<&'a str>,
            date: Option<&'a str>,
            locale: Option<&'a str>,
            email: Option<&'a str>,
            consent: Option<&'a str>,
        }
        let e = &view.errors;
        let err = Err {
            stage: e.about(Field::Stage),
            date: e.about(Field::Date),
            locale: e.about(Field::Locale),
            email: e.about(Field::Email),
            consent: e.about(Field::Consent),
        };
        self.render(
            "form.html",
            minijinja::context! { err, locales => locales(), ..minijinja::Value::from_serialize(view) },
        )
    }

    pub fn manage(&self, view: &ManageView) -> String {
        self.render(
            "manage.html",
            minijinja::context! { locales => locales(), ..minijinja::Value::from_serialize(view) },
        )
    }

    pub fn message(&self, view: &MessageView) -> String {
        self.render("message.html", view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::check;
    use chrono::NaiveDate;
    use tayori_core::registration::DateRules;

    const LOCALES: [Locale; 3] = [Locale::Ja, Locale::JaEasy, Locale::En];

    fn frame(locale: Locale) -> Frame {
        Frame::new(
            locale,
            Some("小樽市".into()),
            switch(locale, |l| format!("/r/otaru?lang={l}")),
        )
    }

    fn form(locale: Locale, typed: Typed, errors: Errors) -> FormView {
        FormView {
            frame: frame(locale),
            action: format!("/r/otaru?lang={locale}"),
            csrf: "csrf-field".into(),
            token: None,
            contact: None,
            ask_email: true,
            from: Some(("touroku@otaru.example.jp".into(), "otaru.example.jp".into())),
            date_range: "range".into(),
            typed,
            errors,
        }
    }

    /// The one `<h1>` of a page.
    fn h1(html: &str) -> &str {
        assert_eq!(html.matches("<h1").count(), 1, "{html}");
        let start = html.find("<h1").unwrap();
        let open_end = start + html[start..].find('>').unwrap() + 1;
        let end = html[open_end..].find("</h1>").unwrap() + open_end;
        &html[open_end..end]
    }

    #[test]
    fn the_form_in_each_language() {
        let pages = Pages::new();
        for locale in LOCALES {
            let t = texts(locale);
            let typed = Typed {
                locale: locale.as_str().into(),
                ..Typed::default()
            };
            let html = pages.form(&form(locale, typed, Errors::default()));
            let lang = if locale == Locale::En { "en" } else { "ja" };
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
            assert_eq!(h1(&html), t.form_title);
            assert!(html.contains("<main id=\"main\""));
            assert!(html.contains("href=\"#main\""), "skip link");
            for id in ["date-year", "date-month", "date-day"] {
                let at = html.find(&format!("id=\"{id}\"")).expect(id);
                let input =
                    &html[html[..at].rfind('<').unwrap()..at + html[at..].find('>').unwrap()];
                assert!(input.contains("inputmode=\"numeric\""), "{input}");
                assert!(input.contains("autocomplete=\"off\""), "{input}");
                assert!(html.contains(&format!("for=\"{id}\"")), "a label for {id}");
            }
            assert!(html.contains("type=\"email\""));
            assert!(html.contains("autocomplete=\"email\""));
            assert!(html.contains("touroku@otaru.example.jp"));
            assert!(html.contains("name=\"csrf\" value=\"csrf-field\""));
            assert!(!html.contains("<script"), "no script");
            assert!(!html.contains(t.error_summary), "no errors yet");
            assert!(!html.contains("aria-invalid"));
            // The language switch marks the current language.
            assert!(html.contains(&format!(
                "href=\"/r/otaru?lang={locale}\" lang=\"{lang}\" hreflang=\"{lang}\" aria-current=\"page\""
            )), "{html}");
            // The page's own language is chosen for the messages.
            assert!(
                html.contains(&format!("value=\"{locale}\" checked")),
                "{html}"
            );
        }
    }

    #[test]
    fn errors_are_summarised_and_said_at_each_question_with_the_values_kept() {
        let pages = Pages::new();
        let rules = DateRules::new(NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        for locale in LOCALES {
            let t = texts(locale);
            let typed = Typed {
                stage: "expecting".into(),
                year: "2027".into(),
                month: "2".into(),
                day: "30".into(),
                locale: locale.as_str().into(),
                consent: false,
                email: "hanako@".into(),
            };
            let errors = check(&typed, &rules, true, t, locale).unwrap_err();
            let html = pages.form(&form(locale, typed, errors));
            assert!(html.contains(t.error_summary), "{html}");
            assert!(
                html.contains(&format!("<title>{} ", t.error_prefix)),
                "{html}"
            );
            for anchor in ["#date-year", "#email", "#consent"] {
                assert!(html.contains(&format!("href=\"{anchor}\"")), "{anchor}");
            }
            assert!(html.contains(t.err_date_impossible));
            assert!(html.contains(t.err_email_invalid));
            assert!(html.contains(t.err_consent));
            assert_eq!(html.matches("aria-invalid=\"true\"").count(), 5, "{html}");
            assert!(html.contains("value=\"2027\""), "values kept");
            assert!(html.contains("value=\"30\""));
            assert!(html.contains("value=\"hanako@\""));
            assert!(html.contains("value=\"expecting\" checked"));
        }
    }

    #[test]
    fn values_are_escaped() {
        let pages = Pages::new();
        let typed = Typed {
            year: "\"><script>alert(1)</script>".into(),
            ..Typed::default()
        };
        let html = pages.form(&form(Locale::Ja, typed, Errors::default()));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn message_pages_in_each_language() {
        let pages = Pages::new();
        for locale in LOCALES {
            let t = texts(locale);
            let html = pages.message(&MessageView {
                frame: frame(locale),
                title: t.stop_title.into(),
                paragraphs: vec![t.stop_body.replace("{address}", "a@b.jp")],
                button: Some(Button {
                    action: "/u/token".into(),
                    csrf: "field".into(),
                    label: t.stop_button,
                    warning: true,
                }),
                links: vec![Link {
                    href: "/r/otaru".into(),
                    label: t.start_again,
                }],
                panel: false,
            });
            assert_eq!(h1(&html), t.stop_title);
            assert!(html.contains("a@b.jp"));
            assert!(
                html.contains("method=\"post\" action=\"/u/token\""),
                "{html}"
            );
            assert!(html.contains("name=\"csrf\" value=\"field\""));
            assert!(html.contains(t.stop_button));
            assert!(html.contains("小樽市"));
        }
    }

    #[test]
    fn the_manage_page_in_each_language() {
        let pages = Pages::new();
        for locale in LOCALES {
            let t = texts(locale);
            let child = |label: &str, stopped: bool, birth: Option<BirthForm>| ChildView {
                label: label.into(),
                stopped,
                birth,
                stop: (!stopped).then(|| "/m/tok/stop/c1".to_string()),
            };
            let html = pages.manage(&ManageView {
                frame: frame(locale),
                contact: "a@b.jp".into(),
                banner: Some(Banner {
                    done: "stopped",
                    title: t.banner_note,
                    body: t.stopped_expected.replace("{child}", "<b>"),
                    success: false,
                }),
                errors: vec![ErrorLink {
                    anchor: "birth-1-day".into(),
                    message: t.err_date_impossible.into(),
                }],
                children: vec![
                    child(
                        "due",
                        false,
                        Some(BirthForm {
                            action: "/m/tok/birth/c1".into(),
                            id: "birth-1".into(),
                            year: "2027".into(),
                            month: "2".into(),
                            day: "30".into(),
                            error: Some(t.err_date_impossible.into()),
                            parts: DateParts {
                                day: true,
                                ..DateParts::default()
                            },
                        }),
                    ),
                    child(t.child_stopped, true, None),
                ],
                add_child: AddChildForm {
                    action: "/m/tok/children".into(),
                    date_range: "range".into(),
                    ..AddChildForm::default()
                },
                invite: InviteView {
                    line_code: Some("tayori-invite:abc.def".into()),
                    line_share: Some("https://line.me/R/share?text=abc".into()),
                    hours: 72,
                    email_action: Some("/m/tok/invite".into()),
                    ..InviteView::default()
                },
                csrf: "field".into(),
                language_action: "/m/tok/language".into(),
                language: locale.as_str().into(),
                language_now: "English".into(),
                language_error: None,
                stop_all: "/u/stop".into(),
            });
            assert_eq!(h1(&html), t.manage_title);
            assert!(html.contains("role=\"status\""), "a quiet banner: {html}");
            assert!(html.contains("&lt;b&gt;"), "escaped");
            assert!(html.contains("href=\"#birth-1-day\""));
            assert_eq!(html.matches("aria-invalid=\"true\"").count(), 1, "{html}");
            assert!(html.contains("id=\"birth-1-day\""));
            assert!(html.contains("value=\"30\""), "values kept");
            assert!(html.contains("action=\"/m/tok/birth/c1\""));
            assert!(html.contains("action=\"/m/tok/language\""));
            assert_eq!(html.matches("name=\"csrf\" value=\"field\"").count(), 4);
            assert!(html.contains("action=\"/m/tok/children\""));
            assert!(html.contains("action=\"/m/tok/invite\""));
            assert!(html.contains("tayori-invite:abc.def"));
            assert!(html.contains(t.add_child_title));
            assert!(html.contains(&t.invite_code_expiry.replace("{hours}", "72")));
            assert_eq!(html.matches("href=\"/m/tok/stop/c1\"").count(), 1);
            assert!(html.contains("href=\"/u/stop\""));
            assert!(html.contains(&format!("value=\"{locale}\" checked")));
            assert!(html.contains(&format!("<title>{} ", t.error_prefix)));
            assert!(!html.contains("<script"));
        }
    }
}
