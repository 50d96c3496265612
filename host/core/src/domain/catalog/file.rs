//! The catalog as a file (docs/catalog.md) and its checks, shared by every
//! front that takes catalog text (the API's import and a tenant's inserts
//! and own messages; the console's editors): ids, schedule rules in range,
//! a `ja` text for every message, and every subject and body a template
//! whose variables are the ones the renderer provides
//! ([`TEMPLATE_VARIABLES`]). A file is checked completely before anything
//! is replaced; a [`Problem`] names the message id and locale.
//!
//! Compiling and trying a template is the renderer's job (minijinja, in the
//! scheduler): the checks take it as a function, so that what is refused
//! here is exactly what would fail a delivery.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CatalogMessage, MessageContent, Program, ProgramImport, ScheduleRule};
use crate::{Locale, is_slug};

/// The variables a message template may use, and what the renderer puts in
/// them. A template naming any other variable is refused.
pub const TEMPLATE_VARIABLES: &[(&str, &str)] = &[
    ("tenant_name", "the tenant's display name, e.g. 小樽市"),
    (
        "age",
        "the child's age in words in the message's locale: 妊娠12週3日 / 生後3か月 / 1歳2か月; 12 weeks 3 days pregnant / 3 months old",
    ),
    (
        "pregnancy_week",
        "completed weeks of pregnancy (0 after birth)",
    ),
    (
        "pregnancy_day",
        "gestational age in days (280 − days to the due date)",
    ),
    ("days_to_due", "days until the due date (negative past it)"),
    ("child_day", "days since birth (0 on the birth date)"),
    ("child_month", "completed months since birth"),
    ("child_year", "completed years since birth"),
    ("due_date", "the due date, YYYY-MM-DD, if known"),
    ("birth_date", "the birth date, YYYY-MM-DD, once born"),
    ("locale", "the message's locale: ja, ja-easy or en"),
];

/// The largest day or month counts a rule may name: 19 years, past the
/// longest span (to age 18).
const MAX_CHILD_DAY: u32 = 19 * 366;
const MAX_CHILD_MONTH: u32 = 19 * 12;
const MAX_CHILD_YEAR: u32 = 19;
/// Pregnancy day 300 is 42 weeks 6 days.
const MAX_PREGNANCY_DAY: u32 = 300;
/// A school-entry offset within a year either side of 1 April.
const MAX_SCHOOL_OFFSET: i32 = 366;

/// What is wrong, and where (`message `m1` en body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The renderer's check of one template: `Err` with why it would not
/// render.
pub type TemplateCheck<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// A catalog file: docs/catalog.md.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// The programs it replaces.
    pub programs: Vec<ProgramFile>,
}

/// A program in a file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramFile {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub messages: Vec<MessageFile>,
}

/// A message in a file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageFile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `{pregnancy_day: N}`, `{child_day: N}`, `{child_month: N}`,
    /// `{child_year: N}` or `{school_entry: {offset_days: N}}`.
    pub rule: Value,
    /// Locale → subject and body.
    pub content: BTreeMap<String, ContentFile>,
}

/// One locale's text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContentFile {
    /// The subject (a template); platforms without subjects ignore it.
    #[serde(default)]
    pub subject: String,
    /// The body (a template).
    pub body: String,
}

fn slug(field: &str, kind: &str, id: &str) -> Result<(), Problem> {
    if is_slug(id) {
        Ok(())
    } else {
        Err(Problem::new(
            field,
            format!("{kind} `{id}` must be lower-case letters, digits and `-`, at most 63"),
        ))
    }
}

fn message_id(field: &str, id: &str) -> Result<(), Problem> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            field,
            format!(
                "message id `{id}` must be lower-case letters, digits, `-`, `_` and `.`, at most 128"
            ),
        ))
    }
}

/// A schedule rule from its written form, with its numbers in range.
pub fn rule(field: &str, value: &Value) -> Result<ScheduleRule, Problem> {
    let rule: ScheduleRule = serde_json::from_value(value.clone()).map_err(|_| {
        Problem::new(
            field,
            format!(
                "`{value}` is not a rule; write one of {{pregnancy_day: N}}, {{child_day: N}}, {{child_month: N}}, {{child_year: N}}, {{school_entry: {{offset_days: N}}}}"
            ),
        )
    })?;
    let out_of_range =
        |what: &str, max: String| Err(Problem::new(field, format!("{what} must be at most {max}")));
    match rule {
        ScheduleRule::PregnancyDay(n) if n > MAX_PREGNANCY_DAY => out_of_range(
            "pregnancy_day",
            format!("{MAX_PREGNANCY_DAY} (42 weeks 6 days), not {n}"),
        ),
        ScheduleRule::ChildDay(n) if n > MAX_CHILD_DAY => {
            out_of_range("child_day", format!("{MAX_CHILD_DAY}, not {n}"))
        }
        ScheduleRule::ChildMonth(n) if n > MAX_CHILD_MONTH => {
            out_of_range("child_month", format!("{MAX_CHILD_MONTH}, not {n}"))
        }
        ScheduleRule::ChildYear(n) if n > MAX_CHILD_YEAR => {
            out_of_range("child_year", format!("{MAX_CHILD_YEAR}, not {n}"))
        }
        ScheduleRule::SchoolEntry { offset_days } if offset_days.abs() > MAX_SCHOOL_OFFSET => {
            out_of_range(
                "school_entry offset_days",
                format!("{MAX_SCHOOL_OFFSET} either side of 1 April, not {offset_days}"),
            )
        }
        r => Ok(r),
    }
}

/// The names among `variables` (a template's undeclared variables) that
/// the renderer does not provide; the problem names the first.
pub fn known_variables<'v>(
    what: &str,
    variables: impl IntoIterator<Item = &'v str>,
) -> Result<(), Problem> {
    let known: HashSet<&str> = TEMPLATE_VARIABLES.iter().map(|(n, _)| *n).collect();
    let mut unknown: Vec<&str> = variables
        .into_iter()
        .filter(|v| !known.contains(v))
        .collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(first) => Err(Problem::new(
            what,
            format!(
                "unknown template variable `{first}`; known: {}",
                TEMPLATE_VARIABLES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Content per locale, every template checked; `ja` is required.
fn content(
    at: &str,
    content: &BTreeMap<String, ContentFile>,
    check: TemplateCheck<'_>,
) -> Result<BTreeMap<Locale, MessageContent>, Problem> {
    let mut out = BTreeMap::new();
    for (locale, text) in content {
        let parsed: Locale = locale.parse().map_err(|e: crate::domain::UnknownValue| {
            Problem::new(format!("{at} content"), e.to_string())
        })?;
        for (part, template) in [("subject", &text.subject), ("body", &text.body)] {
            check(template).map_err(|e| Problem::new(format!("{at} {locale} {part}"), e))?;
        }
        if text.body.trim().is_empty() {
            return Err(Problem::new(format!("{at} {locale} body"), "is empty"));
        }
        out.insert(
            parsed,
            MessageContent {
                subject: text.subject.clone(),
                body: text.body.clone(),
            },
        );
    }
    if !out.contains_key(&Locale::Ja) {
        return Err(Problem::new(
            format!("{at} content"),
            "needs a `ja` text (the other locales fall back to it)",
        ));
    }
    Ok(out)
}

/// A whole file, checked, as the store's imports.
pub fn check_file(
    file: &CatalogFile,
    check: TemplateCheck<'_>,
) -> Result<Vec<ProgramImport>, Problem> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(file.programs.len());
    for (i, p) in file.programs.iter().enumerate() {
        slug(&format!("programs[{i}].id"), "program id", &p.id)?;
        if p.name.trim().is_empty() {
            return Err(Problem::new(format!("program `{}` name", p.id), "is empty"));
        }
        let mut messages = Vec::with_capacity(p.messages.len());
        for (j, m) in p.messages.iter().enumerate() {
            message_id(&format!("programs[{i}].messages[{j}].id"), &m.id)?;
            let at = format!("message `{}`", m.id);
            if !seen.insert(m.id.as_str()) {
                return Err(Problem::new(&at, "the id is used twice in the file"));
            }
            if let Some(stage) = &m.stage {
                slug(&format!("{at} stage"), "stage", stage)?;
            }
            messages.push(CatalogMessage {
                id: m.id.clone(),
                program: p.id.clone(),
                stage: m.stage.clone(),
                rule: rule(&format!("{at} rule"), &m.rule)?,
                content: content(&at, &m.content, check)?,
            });
        }
        out.push(ProgramImport {
            program: Program {
                id: p.id.clone(),
                name: p.name.trim().to_string(),
                description: p.description.trim().to_string(),
            },
            messages,
        });
    }
    Ok(out)
}

/// A tenant's own message (`PUT .../catalog/messages/{id}`): its id, its
/// stage, its rule and its content checked as a file's message is.
pub fn tenant_message(
    id: &str,
    stage: Option<&str>,
    written_rule: &Value,
    written: &BTreeMap<String, ContentFile>,
    check: TemplateCheck<'_>,
) -> Result<(ScheduleRule, BTreeMap<Locale, MessageContent>), Problem> {
    message_id("id", id)?;
    if let Some(stage) = stage {
        slug("stage", "stage", stage)?;
    }
    let rule = rule("rule", written_rule)?;
    let content = content("content", written, check).map_err(|mut p| {
        if p.field == "content content" {
            p.field = "content".into();
        }
        p
    })?;
    Ok((rule, content))
}

/// A message's content as a file writes it.
pub fn file_content(content: &BTreeMap<Locale, MessageContent>) -> BTreeMap<String, ContentFile> {
    content
        .iter()
        .map(|(locale, c)| {
            (
                locale.to_string(),
                ContentFile {
                    subject: c.subject.clone(),
                    body: c.body.clone(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_template(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn file(yaml: &str) -> CatalogFile {
        serde_json::from_value(serde_json::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn ids_rules_and_locales_are_named_when_wrong() {
        let cases = [
            (
                r#"{"programs":[{"id":"Bad","name":"S","messages":[]}]}"#,
                "programs[0].id: program id `Bad`",
            ),
            (
                r#"{"programs":[{"id":"s","name":" ","messages":[]}]}"#,
                "program `s` name: is empty",
            ),
            (
                r#"{"programs":[{"id":"s","name":"S","messages":[{"id":"m1","rule":{"pregnancy_day":400},"content":{"ja":{"body":"x"}}}]}]}"#,
                "message `m1` rule: pregnancy_day must be at most 300",
            ),
            (
                r#"{"programs":[{"id":"s","name":"S","messages":[{"id":"m1","rule":{"child_day":1},"content":{"en":{"body":"x"}}}]}]}"#,
                "message `m1` content: needs a `ja` text",
            ),
            (
                r#"{"programs":[{"id":"s","name":"S","messages":[{"id":"m1","rule":{"child_day":1},"content":{"ja":{"body":"x"}}},{"id":"m1","rule":{"child_day":2},"content":{"ja":{"body":"y"}}}]}]}"#,
                "message `m1`: the id is used twice",
            ),
        ];
        for (json, expected) in cases {
            let problem = check_file(&file(json), &any_template).unwrap_err();
            assert!(problem.to_string().starts_with(expected), "{problem}");
        }
    }

    #[test]
    fn the_renderers_refusal_names_the_message_locale_and_part() {
        let json = r#"{"programs":[{"id":"s","name":"S","messages":[{"id":"m1","rule":{"child_day":1},"content":{"ja":{"body":"ok"},"en":{"subject":"bad","body":"ok"}}}]}]}"#;
        let refuse_bad = |t: &str| {
            if t == "bad" {
                Err("does not render".to_string())
            } else {
                Ok(())
            }
        };
        let problem = check_file(&file(json), &refuse_bad).unwrap_err();
        assert_eq!(
            problem.to_string(),
            "message `m1` en subject: does not render"
        );
        let fine = check_file(&file(&json.replace("bad", "good")), &refuse_bad).unwrap();
        assert_eq!(fine[0].messages[0].content.len(), 2);
    }

    #[test]
    fn only_the_renderers_variables_are_known() {
        assert!(known_variables("m", ["tenant_name", "age"]).is_ok());
        let problem = known_variables("m", ["tenat_name", "age", "zzz"]).unwrap_err();
        assert!(
            problem
                .message
                .starts_with("unknown template variable `tenat_name`; known: tenant_name, age"),
            "{problem}"
        );
    }
}
