//! The message catalog: programs of professionally written messages, each on
//! a schedule rule counted from a child's anchor date, with content per locale;
//! and what a tenant adds to it: local inserts appended to a message or to
//! every message of a stage, and its own extra messages.
//!
//! Content is template text (minijinja) kept exactly as written; rendering
//! happens when a delivery is made, not here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Locale;

pub mod file;

/// When a message is due, counted from a child's anchor date (DESIGN.md,
/// "Schedule rule"). Written in JSON and YAML as `{"pregnancy_day": 28}`,
/// `{"child_month": 4}`, `{"school_entry": {"offset_days": -7}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleRule {
    /// The day the gestational age is N days (280 − days until the due date);
    /// week 4 day 0 is day 28.
    PregnancyDay(u32),
    /// N days after the birth date.
    ChildDay(u32),
    /// The same calendar day N months after birth, clamped to the month's end.
    ChildMonth(u32),
    /// The same calendar day N years after birth, clamped to the month's end.
    ChildYear(u32),
    /// 1 April of the year the child enters primary school, plus an offset.
    SchoolEntry {
        /// Days after (positive) or before (negative) 1 April.
        offset_days: i32,
    },
}

/// One locale's content of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageContent {
    /// The subject (a template); platforms without subjects ignore it.
    pub subject: String,
    /// The body (a template).
    pub body: String,
}

/// A program: a named set of catalog messages a tenant can enable
/// (`standard`, `school-entry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// The slug id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// What the program is for.
    pub description: String,
}

/// A message of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogMessage {
    /// A stable id, unique in the whole catalog (deliveries refer to it).
    pub id: String,
    /// The program it belongs to.
    pub program: String,
    /// The stage it belongs to (e.g. `pregnancy`, `month-4`), which tenants'
    /// local inserts can target.
    pub stage: Option<String>,
    /// When it is due.
    pub rule: ScheduleRule,
    /// Its content per locale.
    pub content: BTreeMap<Locale, MessageContent>,
}

/// A whole program to import: it replaces the stored program and all of its
/// messages. Every message's `program` must be the program's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramImport {
    /// The program.
    pub program: Program,
    /// All of its messages, in catalog order.
    pub messages: Vec<CatalogMessage>,
}

/// What a catalog import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogImported {
    /// Programs written.
    pub programs: u64,
    /// Messages written.
    pub messages: u64,
    /// Messages of those programs that the import no longer contains.
    pub removed: u64,
}

/// What a local insert is appended to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InsertTarget {
    /// One message, by id.
    Message(String),
    /// Every message of a stage.
    Stage(String),
}

impl InsertTarget {
    /// `message` or `stage`.
    pub fn kind(&self) -> &'static str {
        match self {
            InsertTarget::Message(_) => "message",
            InsertTarget::Stage(_) => "stage",
        }
    }

    /// The message id or stage name.
    pub fn key(&self) -> &str {
        match self {
            InsertTarget::Message(k) | InsertTarget::Stage(k) => k,
        }
    }
}

/// A tenant's own information appended to catalog messages (e.g. "4-month
/// health check at the ward office").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalInsert {
    /// What it is appended to.
    pub target: InsertTarget,
    /// The text per locale (a template).
    pub content: BTreeMap<Locale, String>,
}

/// A tenant's own extra message, on the same schedule rules as the catalog's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantMessage {
    /// A stable id, unique in the tenant and distinct from every catalog id.
    pub id: String,
    /// Its stage, if any.
    pub stage: Option<String>,
    /// When it is due.
    pub rule: ScheduleRule,
    /// Its content per locale.
    pub content: BTreeMap<Locale, MessageContent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_written_as_documented() {
        let cases = [
            (ScheduleRule::PregnancyDay(28), r#"{"pregnancy_day":28}"#),
            (ScheduleRule::ChildMonth(4), r#"{"child_month":4}"#),
            (
                ScheduleRule::SchoolEntry { offset_days: -7 },
                r#"{"school_entry":{"offset_days":-7}}"#,
            ),
        ];
        for (rule, json) in cases {
            assert_eq!(serde_json::to_string(&rule).unwrap(), json);
            assert_eq!(serde_json::from_str::<ScheduleRule>(json).unwrap(), rule);
        }
    }

    #[test]
    fn content_is_keyed_by_locale() {
        let content: BTreeMap<Locale, MessageContent> = serde_json::from_str(
            r#"{"ja": {"subject": "件名", "body": "本文"}, "ja-easy": {"subject": "", "body": "ほんぶん"}}"#,
        )
        .unwrap();
        assert_eq!(content[&Locale::JaEasy].body, "ほんぶん");
        assert!(
            serde_json::from_str::<BTreeMap<Locale, MessageContent>>(
                r#"{"fr": {"subject": "", "body": ""}}"#
            )
            .is_err()
        );
    }
}
