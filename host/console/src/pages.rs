//! The templates (`templates/`, minijinja with HTML escaping), compiled
//! into the binary. Every page shares `base.html`: the skip link, the
//! service's name, the language switch, the signed-in account with its
//! sign-out button and menu, one `<main>` with one `h1`.

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// The style sheet (system fonts, no images, no script).
pub const CSS: &str = include_str!("../assets/console.css");
/// Where it is served.
pub const CSS_PATH: &str = "/console.css";

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

/// The compiled templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_formatter(|out, state, value| match value.as_str() {
            Some(text) if !value.is_safe() && state.auto_escape() == AutoEscape::Html => out
                .write_str(&escape_html(text))
                .map_err(minijinja::Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        });
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("message.html", include_str!("../templates/message.html")),
            ("sign_in.html", include_str!("../templates/sign_in.html")),
            ("accept.html", include_str!("../templates/accept.html")),
            (
                "dashboard.html",
                include_str!("../templates/dashboard.html"),
            ),
            ("operator.html", include_str!("../templates/operator.html")),
            ("team.html", include_str!("../templates/team.html")),
            ("audit.html", include_str!("../templates/audit.html")),
            ("support.html", include_str!("../templates/support.html")),
            ("channels.html", include_str!("../templates/channels.html")),
            (
                "broadcasts.html",
                include_str!("../templates/broadcasts.html"),
            ),
            ("content.html", include_str!("../templates/content.html")),
            ("plugins.html", include_str!("../templates/plugins.html")),
            ("partners.html", include_str!("../templates/partners.html")),
            ("poster.html", include_str!("../templates/poster.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Self { env }
    }

    pub fn render(&self, name: &str, view: Value) -> String {
        self.env
            .get_template(name)
            .and_then(|template| template.render(view))
            .unwrap_or_else(|e| panic!("rendering {name}: {e:#}"))
    }
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}
