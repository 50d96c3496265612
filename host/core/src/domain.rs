//! Tayori's domain model: tenants, channels, subscribers, the message catalog
//! and API tokens, as DESIGN.md ("Domain model") describes them.
//!
//! These are plain values. They know their own invariants where a type can
//! carry them (an enum for a status, `Option` for what may be missing), and
//! offer the format checks the layers above share (slugs, `HH:MM` times), but
//! they do no I/O: the stores persist them, the API parses into them, the
//! scheduler reads them.
//!
//! Enumerations that are stored or sent as text (`ja-easy`, `to_3rd_birthday`,
//! `tenant_admin`) are declared once with [`string_enum!`], which gives each the
//! same `as_str`, `FromStr`, `Display` and serde forms, so the database, the
//! JSON API and the CSV import cannot disagree on a spelling.

pub mod catalog;
pub mod channel;
pub mod conversation;
pub mod delivery;
pub mod figures;
pub mod inbound;
pub mod link;
pub mod registration;
pub mod subscriber;
pub mod subscriber_rules;
pub mod tenant;
pub mod token;

pub use catalog::*;
pub use channel::*;
pub use delivery::*;
pub use inbound::*;
pub use link::{LinkClaims, LinkError, LinkPurpose, LinkSigner};
pub use subscriber::*;
pub use tenant::*;
pub use token::*;

use serde::{Deserialize, Serialize};

/// A text value that is not one of an enumeration's spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`; expected one of: {}", expected.join(", "))]
pub struct UnknownValue {
    /// What was being parsed, e.g. `locale`.
    pub kind: &'static str,
    /// The text that was given.
    pub value: String,
    /// Every accepted spelling.
    pub expected: &'static [&'static str],
}

/// Declares a fieldless enum whose values are stored and sent as fixed text.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every accepted spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The value's stored and transmitted spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::UnknownValue {
                        kind: $kind,
                        value: s.to_string(),
                        expected: Self::NAMES,
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_enum;

/// Whether `s` is a slug: `[a-z0-9][a-z0-9-]{0,62}` (tenant ids, channel
/// names, program ids).
pub fn is_slug(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Serde for a wall-clock time written `HH:MM` (seconds are accepted on input
/// and dropped: send times and quiet hours are minute-grained).
pub mod hhmm {
    use chrono::{NaiveTime, Timelike};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats `t` as `HH:MM`.
    pub fn format(t: NaiveTime) -> String {
        format!("{:02}:{:02}", t.hour(), t.minute())
    }

    /// Parses `HH:MM` (or `HH:MM:SS`), naming the problem on failure.
    pub fn parse(s: &str) -> Result<NaiveTime, String> {
        let t = NaiveTime::parse_from_str(s, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
            .map_err(|_| format!("`{s}` is not a time of day written HH:MM"))?;
        Ok(t.with_second(0)
            .unwrap_or(t)
            .with_nanosecond(0)
            .unwrap_or(t))
    }

    /// Serializes as `HH:MM`.
    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    /// Deserializes from `HH:MM`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The largest page a list call returns.
pub const MAX_PAGE_LIMIT: u32 = 1000;
/// The page size when the caller does not choose one.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;

/// Which page of a list to read: the items after a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// The `next_cursor` of the previous page; `None` for the first page.
    pub after: Option<String>,
    /// At most this many items (clamped to 1..=[`MAX_PAGE_LIMIT`]).
    pub limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            after: None,
            limit: DEFAULT_PAGE_LIMIT,
        }
    }
}

impl PageRequest {
    /// The limit actually applied.
    pub fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, MAX_PAGE_LIMIT)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as [`PageRequest::after`] to read the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["a", "tokyo-minato", "0", &"a".repeat(63)] {
            assert!(is_slug(good), "{good}");
        }
        for bad in ["", "-a", "A", "a_b", "a.b", "日本", &"a".repeat(64)] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn times_of_day() {
        let t = hhmm::parse("09:05").unwrap();
        assert_eq!(hhmm::format(t), "09:05");
        assert_eq!(hhmm::format(hhmm::parse("23:59:30").unwrap()), "23:59");
        for bad in ["9", "24:00", "12:60", "noon", ""] {
            assert!(hhmm::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn string_enums_round_trip() {
        for l in Locale::ALL {
            assert_eq!(l.as_str().parse::<Locale>().unwrap(), *l);
            let json = serde_json::to_string(l).unwrap();
            assert_eq!(serde_json::from_str::<Locale>(&json).unwrap(), *l);
        }
        let err = "fr".parse::<Locale>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown locale `fr`; expected one of: ja, ja-easy, en"
        );
    }
}
