//! What the host keeps of the strings a plugin gives back.
//!
//! A plugin is a partner's code: the texts it answers (a platform's message
//! id, a failure's message, a log line) are stored in the outbox, shown by
//! the API and written to the log. Each is cut to a named bound, so that a
//! plugin cannot make the host hold or store megabytes per delivery (a
//! 10 MB message id once took the host from 137 MB to 440 MB), has NUL
//! characters replaced (PostgreSQL's `TEXT` cannot hold them), and has the
//! channel's secret values (the config properties its schema marks
//! `writeOnly`) replaced by [`MASK`], so that a failure quoting the token
//! it was given never reaches the deliveries API.
//!
//! The runtime applies [`Scrub::outcomes`] to every `deliver` answer and
//! [`Scrub::text`] to every log line, so all callers (the dispatcher, test
//! sends, the partner kit) see the same cleaned values.

use super::{DeliveryStatus, Outcome};

/// The longest platform message id kept, in bytes. Platforms' ids are short
/// (LINE: 18 digits; SendGrid: 22 characters; X: 19 digits).
pub const MAX_RECEIPT_BYTES: usize = 256;
/// The longest failure message kept, in bytes: enough for a platform's
/// error body quoted in full, not for a page of it.
pub const MAX_FAILURE_BYTES: usize = 2048;
/// The longest log line kept, in bytes.
pub const MAX_LOG_LINE_BYTES: usize = 2048;
/// What a secret value is replaced by.
pub const MASK: &str = "***";
/// What ends a cut text.
const CUT: &str = "…";

/// The channel's secret values, to replace in what a plugin answers.
#[derive(Debug, Clone, Default)]
pub struct Scrub {
    /// Non-empty, longest first, so that a secret that contains another is
    /// masked whole.
    values: Vec<String>,
}

impl Scrub {
    /// The values, in the JSON `config`, of the `fields` a plugin's schema
    /// marks `writeOnly` (strings as they are, other values as JSON text).
    /// A config that is not a JSON object has none.
    pub fn new(fields: &[String], config: &str) -> Self {
        if fields.is_empty() {
            return Self::default();
        }
        let Ok(serde_json::Value::Object(config)) = serde_json::from_str(config) else {
            return Self::default();
        };
        let mut values: Vec<String> = fields
            .iter()
            .filter_map(|field| match config.get(field)? {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            })
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Self { values }
    }

    /// `text` with every secret value replaced by [`MASK`] (nothing else).
    pub fn mask(&self, text: String) -> String {
        let mut text = text;
        for value in &self.values {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), MASK);
            }
        }
        text
    }

    /// `text` masked, without NUL characters, and cut to `max` bytes (on a
    /// character boundary, ending with `…`). Masked before it is cut, so a
    /// secret across the cut leaves no part of itself.
    pub fn text(&self, text: String, max: usize) -> String {
        let mut text = self.mask(text);
        if text.contains('\0') {
            text = text.replace('\0', "\u{FFFD}");
        }
        cut(text, max)
    }

    /// Every outcome's message id and failure message cleaned by
    /// [`Scrub::text`] to [`MAX_RECEIPT_BYTES`] and [`MAX_FAILURE_BYTES`].
    /// An id that is empty once cleaned is no id.
    pub fn outcomes(&self, outcomes: Vec<Outcome>) -> Vec<Outcome> {
        outcomes
            .into_iter()
            .map(|o| Outcome {
                idempotency_key: o.idempotency_key,
                status: match o.status {
                    DeliveryStatus::Accepted(id) => DeliveryStatus::Accepted(
                        id.map(|id| self.text(id, MAX_RECEIPT_BYTES))
                            .filter(|id| !id.trim().is_empty()),
                    ),
                    DeliveryStatus::Failed(mut f) => {
                        f.message = self.text(f.message, MAX_FAILURE_BYTES);
                        DeliveryStatus::Failed(f)
                    }
                },
            })
            .collect()
    }
}

/// `text` cut to at most `max` bytes on a character boundary, ending with
/// `…` when it was cut.
pub fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut at = max.saturating_sub(CUT.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str(CUT);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Failure, FailureKind};

    fn scrub() -> Scrub {
        Scrub::new(
            &["token".into(), "pin".into(), "absent".into()],
            r#"{"token": "tok-123", "pin": 4321, "url": "https://x.test", "absent": null}"#,
        )
    }

    #[test]
    fn secret_values_are_masked_and_nothing_else() {
        assert_eq!(
            scrub().mask("POST https://x.test with Bearer tok-123 (pin 4321)".into()),
            "POST https://x.test with Bearer *** (pin ***)"
        );
        let nested = Scrub::new(&["a".into(), "b".into()], r#"{"a": "abc", "b": "abcdef"}"#);
        assert_eq!(nested.mask("x abcdef y abc".into()), "x *** y ***");
        assert_eq!(Scrub::new(&[], r#"{"t": "t"}"#).mask("t".into()), "t");
        assert_eq!(Scrub::new(&["t".into()], "not json").mask("t".into()), "t");
    }

    #[test]
    fn texts_are_cut_on_a_character_boundary_after_masking() {
        assert_eq!(cut("short".into(), 10), "short");
        let cut_text = cut("あいうえお".into(), 8);
        assert!(cut_text.len() <= 8, "{cut_text}");
        assert_eq!(cut_text, "あ…");
        // A secret straddling the cut is masked whole, not cut in half.
        let text = format!("{}tok-123", "x".repeat(10));
        let cleaned = scrub().text(text, 14);
        assert!(!cleaned.contains("tok"), "{cleaned}");
        assert_eq!(scrub().text("a\0b".into(), 100), "a\u{FFFD}b");
    }

    #[test]
    fn outcomes_are_bounded_and_masked() {
        let outcomes = scrub().outcomes(vec![
            Outcome {
                idempotency_key: "k1".into(),
                status: DeliveryStatus::Accepted(Some("9".repeat(10 << 20))),
            },
            Outcome {
                idempotency_key: "k2".into(),
                status: DeliveryStatus::Failed(Failure {
                    kind: FailureKind::Permanent,
                    message: format!("401 for token tok-123: {}", "e".repeat(1 << 20)),
                }),
            },
            Outcome {
                idempotency_key: "k3".into(),
                status: DeliveryStatus::Accepted(Some("\0".into())),
            },
        ]);
        let DeliveryStatus::Accepted(Some(id)) = &outcomes[0].status else {
            panic!("{:?}", outcomes[0]);
        };
        assert!(id.len() <= MAX_RECEIPT_BYTES);
        let DeliveryStatus::Failed(f) = &outcomes[1].status else {
            panic!("{:?}", outcomes[1]);
        };
        assert!(f.message.len() <= MAX_FAILURE_BYTES);
        assert!(
            f.message.starts_with("401 for token ***: "),
            "{}",
            f.message
        );
        assert_eq!(
            outcomes[2].status,
            DeliveryStatus::Accepted(Some("\u{FFFD}".into()))
        );
        assert_eq!(outcomes[1].idempotency_key, "k2");
    }
}
