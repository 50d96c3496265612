//! The unsubscribe URL template: `https://example.jp/unsub?key={{key}}`.
//!
//! Each recipient's one-click unsubscribe link is the template with its
//! placeholders filled in: `{{key}}` is the delivery's idempotency key (the
//! host finds the contact from it), `{{address}}` the recipient's address.
//! Values are percent-encoded, so a link never breaks out of its query or of
//! the `<...>` of the `List-Unsubscribe` header.

use std::fmt;

/// A parsed template: literal text and placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Key,
    Address,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{` without `}}`.
    Unclosed,
    /// A placeholder other than `{{key}}` and `{{address}}`.
    Unknown(String),
    /// No placeholder: every recipient would get the same link.
    NoPlaceholder,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unclosed => f.write_str("has a `{{` without its `}}`"),
            TemplateError::Unknown(name) => write!(
                f,
                "has an unknown placeholder `{{{{{name}}}}}` (known: {{{{key}}}}, {{{{address}}}})"
            ),
            TemplateError::NoPlaceholder => f.write_str(
                "must contain {{key}} or {{address}} so that each recipient's link says who unsubscribes",
            ),
        }
    }
}

impl Template {
    /// Parse a template.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
            parts.push(match after[..close].trim() {
                "key" => Part::Key,
                "address" => Part::Address,
                other => return Err(TemplateError::Unknown(other.to_owned())),
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if !parts.iter().any(|p| matches!(p, Part::Key | Part::Address)) {
            return Err(TemplateError::NoPlaceholder);
        }
        Ok(Template { parts })
    }

    /// The link for one recipient.
    pub fn render(&self, key: &str, address: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Key => out.push_str(&percent_encode(key)),
                Part::Address => out.push_str(&percent_encode(address)),
            }
        }
        out
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_encoded() {
        let t = Template::parse("https://example.jp/unsub?key={{key}}&to={{ address }}").unwrap();
        assert_eq!(
            t.render("00000000-0000-4000-8000-000000000001", "a+b@example.jp"),
            "https://example.jp/unsub?key=00000000-0000-4000-8000-000000000001&to=a%2Bb%40example.jp"
        );
    }

    #[test]
    fn values_cannot_break_out_of_the_link() {
        let t = Template::parse("https://example.jp/u/{{key}}").unwrap();
        assert_eq!(
            t.render("a>b,c d", ""),
            "https://example.jp/u/a%3Eb%2Cc%20d"
        );
        assert_eq!(
            percent_encode("お知らせ"),
            "%E3%81%8A%E7%9F%A5%E3%82%89%E3%81%9B"
        );
    }

    #[test]
    fn bad_templates_say_why() {
        assert_eq!(
            Template::parse("https://x.jp/{{key"),
            Err(TemplateError::Unclosed)
        );
        assert_eq!(
            Template::parse("https://x.jp/{{name}}"),
            Err(TemplateError::Unknown("name".into()))
        );
        assert_eq!(
            Template::parse("https://x.jp/unsub"),
            Err(TemplateError::NoPlaceholder)
        );
        assert!(
            TemplateError::Unknown("name".into())
                .to_string()
                .contains("`{{name}}`")
        );
    }
}
