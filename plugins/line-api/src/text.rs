//! A message's content as LINE text objects.
//!
//! LINE has no subject line, so a subject becomes the first paragraph. A
//! text object holds at most 5,000 characters, counted as LINE counts them:
//! a character outside the Basic Multilingual Plane (most emoji) counts two,
//! which is exactly its length in UTF-16 code units. A request carries at
//! most five message objects, so a longer text is split into at most five
//! parts, each cut at the best place within its limit: a blank line, else a
//! line break, else the end of a sentence (。！？ or . ! ?), else a space, else
//! anywhere, but never inside a character. Line breaks are normalised to
//! `\n` first (LINE counts `\r\n` as two characters).

use std::fmt;

use tayori_plugin_sdk::Content;

/// LINE's limit on one text object, in UTF-16 code units.
pub const MAX_TEXT_UNITS: usize = 5_000;
/// LINE's limit on message objects per push or multicast.
pub const MAX_MESSAGES: usize = 5;

/// Why a content cannot be sent as LINE text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Nothing to send.
    Empty,
    /// More than five text objects' worth.
    TooLong {
        /// The text's length as LINE counts it.
        units: usize,
    },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::Empty => f.write_str("the message is empty"),
            TextError::TooLong { units } => write!(
                f,
                "the message is {units} characters long as LINE counts them; \
                 LINE takes at most {MAX_MESSAGES} texts of {MAX_TEXT_UNITS}"
            ),
        }
    }
}

/// The texts to send for `content`: one to five, each within the limit.
pub fn messages(content: &Content) -> Result<Vec<String>, TextError> {
    split(&compose(content))
}

/// The subject (if any) as the first paragraph, then the body.
pub fn compose(content: &Content) -> String {
    let body = content.body.replace("\r\n", "\n");
    let subject = content
        .subject
        .as_deref()
        .map(|s| s.replace("\r\n", "\n"))
        .filter(|s| !s.trim().is_empty());
    let text = match subject {
        Some(subject) => format!("{}\n\n{}", subject.trim(), body.trim()),
        None => body,
    };
    text.trim().to_owned()
}

/// The length of `text` as LINE counts it.
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Split `text` into at most [`MAX_MESSAGES`] parts of at most
/// [`MAX_TEXT_UNITS`] each.
pub fn split(text: &str) -> Result<Vec<String>, TextError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    let too_long = || TextError::TooLong { units: units(text) };
    let mut parts = Vec::new();
    let mut rest = text;
    while units(rest) > MAX_TEXT_UNITS {
        if parts.len() + 1 == MAX_MESSAGES {
            return Err(too_long());
        }
        let window = &rest[..prefix_within(rest, MAX_TEXT_UNITS)];
        let cut = best_cut(window);
        parts.push(window[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start_matches(['\n', ' ']);
    }
    parts.push(rest.to_owned());
    Ok(parts)
}

/// The byte length of the longest prefix of `text` within `limit` units.
fn prefix_within(text: &str, limit: usize) -> usize {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += c.len_utf16();
        if used > limit {
            return at;
        }
    }
    text.len()
}

/// Where to end a part taken from `window`: the latest break of the best
/// kind that leaves at least half the window in the part.
fn best_cut(window: &str) -> usize {
    let half = window.len() / 2;
    let latest = |patterns: &[&str], after: bool| {
        patterns
            .iter()
            .filter_map(|p| {
                window
                    .rfind(p)
                    .map(|at| if after { at + p.len() } else { at })
            })
            .max()
            .filter(|&at| at >= half)
    };
    latest(&["\n\n"], false)
        .or_else(|| latest(&["\n"], false))
        .or_else(|| latest(&["。", "！", "？", ". ", "! ", "? "], true))
        .or_else(|| latest(&[" ", "\u{3000}", "、", ", "], true))
        .unwrap_or(window.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: Option<&str>, body: &str) -> Content {
        Content {
            subject: subject.map(str::to_owned),
            body: body.to_owned(),
            locale: "ja".into(),
            buttons: Vec::new(),
            quick_replies: Vec::new(),
        }
    }

    fn assert_within_limits(parts: &[String]) {
        assert!(parts.len() <= MAX_MESSAGES, "{} parts", parts.len());
        for part in parts {
            assert!(!part.is_empty());
            assert!(units(part) <= MAX_TEXT_UNITS, "{} units", units(part));
        }
    }

    #[test]
    fn short_text_is_one_message_with_the_subject_first() {
        let parts = messages(&content(Some("妊娠14週"), "こんにちは\r\nきずなです")).unwrap();
        assert_eq!(parts, ["妊娠14週\n\nこんにちは\nきずなです"]);
        let parts = messages(&content(Some("  "), "本文だけ")).unwrap();
        assert_eq!(parts, ["本文だけ"]);
    }

    #[test]
    fn empty_content_is_refused() {
        assert_eq!(messages(&content(None, " \n ")), Err(TextError::Empty));
    }

    #[test]
    fn exactly_the_limit_is_one_message() {
        let text = "あ".repeat(MAX_TEXT_UNITS);
        assert_eq!(split(&text).unwrap(), [text]);
    }

    #[test]
    fn emoji_count_two_as_line_counts_them() {
        // 2,501 emoji are 5,002 units: over the limit although 2,501 chars.
        let text = "😀".repeat(2_501);
        let parts = split(&text).unwrap();
        assert_eq!(parts.len(), 2);
        assert_within_limits(&parts);
        assert_eq!(parts.concat(), text, "no character is cut or lost");
    }

    #[test]
    fn long_text_splits_at_paragraphs() {
        let paragraph = "赤ちゃんの成長について。".repeat(150); // 1,800 units
        let text = vec![paragraph.clone(); 4].join("\n\n"); // 7,206 units
        let parts = split(&text).unwrap();
        assert_eq!(parts.len(), 2);
        assert_within_limits(&parts);
        assert_eq!(parts[0], format!("{paragraph}\n\n{paragraph}"));
        assert_eq!(parts[1], format!("{paragraph}\n\n{paragraph}"));
    }

    #[test]
    fn long_line_splits_after_a_sentence() {
        let sentence = "今日は健診の日です。"; // 10 units
        let text = sentence.repeat(700); // 7,000 units, no line break
        let parts = split(&text).unwrap();
        assert_within_limits(&parts);
        assert!(
            parts[0].ends_with('。'),
            "{}",
            &parts[0][parts[0].len() - 9..]
        );
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn text_without_any_break_is_cut_at_the_limit() {
        let text = "x".repeat(12_000);
        let parts = split(&text).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [5_000, 5_000, 2_000]
        );
    }

    #[test]
    fn five_full_messages_fit_and_more_does_not() {
        let text = "x".repeat(MAX_MESSAGES * MAX_TEXT_UNITS);
        assert_eq!(split(&text).unwrap().len(), MAX_MESSAGES);
        let text = "x".repeat(MAX_MESSAGES * MAX_TEXT_UNITS + 1);
        assert_eq!(
            split(&text),
            Err(TextError::TooLong {
                units: MAX_MESSAGES * MAX_TEXT_UNITS + 1
            })
        );
        assert!(
            TextError::TooLong { units: 30_000 }
                .to_string()
                .contains("30000")
        );
    }

    #[test]
    fn parts_do_not_start_or_end_with_line_breaks() {
        let line = format!("{}\n", "y".repeat(99)); // 100 units per line
        let text = line.repeat(60); // 6,000 units
        let parts = split(&text).unwrap();
        assert_eq!(parts.len(), 2);
        assert_within_limits(&parts);
        for part in &parts {
            assert!(!part.starts_with('\n') && !part.ends_with('\n'));
        }
    }
}
