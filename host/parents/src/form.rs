//! The registration form: what the parent typed, exactly as typed (so that
//! a page with errors shows it again), and the checks that turn it into
//! [`Answers`] or a list of [`FieldError`]s in the order of the page.
//!
//! The date is three number fields. Digits typed with a Japanese input
//! method come full-width (`２０２７`) and are read as digits; anything else
//! that is not a number, a missing part, a year that is not four digits or
//! a day that does not exist (30 February) is said so; a real date is then
//! checked against the domain's [`DateRules`] (the same rules as the API).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tayori_core::registration::{DateProblem, DateRules};
use tayori_core::{Locale, NewChild};

use crate::text::Texts;

/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// The longest value kept from any field (a form is small; anything longer
/// is cut before it is shown again).
const MAX_FIELD_LEN: usize = 320;

/// Expecting or born.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Expecting,
    Born,
}

/// The fields as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Typed {
    pub stage: String,
    pub year: String,
    pub month: String,
    pub day: String,
    pub locale: String,
    pub consent: bool,
    pub email: String,
}

impl Typed {
    /// The fields of a posted form (unknown names ignored, the last of a
    /// repeated name kept).
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut typed = Self::default();
        for (name, value) in pairs {
            let value: String = value.chars().take(MAX_FIELD_LEN).collect();
            match name.as_str() {
                "stage" => typed.stage = value,
                "year" => typed.year = value,
                "month" => typed.month = value,
                "day" => typed.day = value,
                "locale" => typed.locale = value,
                "consent" => typed.consent = value == "yes",
                "email" => typed.email = value,
                _ => {}
            }
        }
        typed
    }
}

/// What a valid form says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    /// The language of the messages.
    #[serde(rename = "l")]
    pub locale: Locale,
    #[serde(rename = "s")]
    pub stage: Stage,
    /// The due date or the birth date.
    #[serde(rename = "d")]
    pub date: NaiveDate,
}

impl Answers {
    pub fn child(&self) -> NewChild {
        match self.stage {
            Stage::Expecting => NewChild::due(self.date),
            Stage::Born => NewChild::born(self.date),
        }
    }
}

/// Which input an error is about (its id on the page, for the summary's
/// link and `aria-invalid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Stage,
    Date,
    Locale,
    Consent,
    Email,
}

impl Field {
    /// The id of the first input of the question (the summary links there).
    pub fn anchor(self) -> &'static str {
        match self {
            Field::Stage => "stage-expecting",
            Field::Date => "date-year",
            Field::Locale => "locale-ja",
            Field::Consent => "consent",
            Field::Email => "email",
        }
    }
}

/// Which of the date's parts are wrong (each gets `aria-invalid`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DateParts {
    pub year: bool,
    pub month: bool,
    pub day: bool,
}

impl DateParts {
    const ALL: Self = Self {
        year: true,
        month: true,
        day: true,
    };
}

/// One problem, said in the page's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: Field,
    pub anchor: &'static str,
    pub message: String,
}

/// Every problem of a form, in the order of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    pub list: Vec<FieldError>,
    /// The date's wrong parts.
    pub date_parts: DateParts,
}

impl Errors {
    fn add(&mut self, field: Field, message: impl Into<String>) {
        // The summary links to where the first wrong part is.
        let anchor = match field {
            Field::Date if !self.date_parts.year && self.date_parts.month => "date-month",
            Field::Date if !self.date_parts.year && !self.date_parts.month => "date-day",
            other => other.anchor(),
        };
        self.list.push(FieldError {
            field,
            anchor,
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The message about a field, if any (for the template).
    pub fn about(&self, field: Field) -> Option<&str> {
        self.list
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// A number typed by a person: ASCII or full-width digits, spaces around.
pub fn typed_number(text: &str) -> Option<u32> {
    let digits: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_digit(c as u32 - '０' as u32, 10).unwrap_or(c),
            c => c,
        })
        .collect();
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Why three parts are not a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateEntry {
    /// Nothing typed.
    Empty,
    /// Some parts left empty.
    Missing(DateParts),
    /// Some parts are not numbers.
    NotNumbers(DateParts),
    /// The year is not four digits.
    YearDigits,
    /// No such day (a month above 12, 30 February).
    Impossible,
}

/// The date three fields say.
pub fn parse_date(year: &str, month: &str, day: &str) -> Result<NaiveDate, DateEntry> {
    let empty = DateParts {
        year: year.trim().is_empty(),
        month: month.trim().is_empty(),
        day: day.trim().is_empty(),
    };
    if empty == DateParts::ALL {
        return Err(DateEntry::Empty);
    }
    if empty != DateParts::default() {
        return Err(DateEntry::Missing(empty));
    }
    let (y, m, d) = (typed_number(year), typed_number(month), typed_number(day));
    let not_numbers = DateParts {
        year: y.is_none(),
        month: m.is_none(),
        day: d.is_none(),
    };
    if not_numbers != DateParts::default() {
        return Err(DateEntry::NotNumbers(not_numbers));
    }
    let (y, m, d) = (y.unwrap_or(0), m.unwrap_or(0), d.unwrap_or(0));
    if !(1000..=9999).contains(&y) {
        return Err(DateEntry::YearDigits);
    }
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(DateEntry::Impossible)
}

/// A plausible email address: one `@`, something before it, a domain with
/// a dot after it, no spaces, within [`MAX_EMAIL_LEN`]. The confirmation
/// mail is the real check. Answered lower-cased, as the email channel
/// writes the addresses of mail it receives.
pub fn email_address(text: &str) -> Option<String> {
    let address = text.trim();
    let (local, domain) = address.split_once('@')?;
    let ok = address.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && address
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>' && c != ',');
    ok.then(|| address.to_lowercase())
}

/// Why three date fields were refused: the message, in the page's
/// language, and the parts to mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongDate {
    pub parts: DateParts,
    pub message: String,
}

impl DateParts {
    /// The first wrong part (`year`, `month` or `day`): the error summary
    /// links to it.
    pub fn first(self) -> &'static str {
        if self.year || !(self.month || self.day) {
            "year"
        } else if self.month {
            "month"
        } else {
            "day"
        }
    }
}

/// The date three fields (year, month, day) say, checked by `rule` (one of
/// the domain's [`DateRules`]); `empty` is said when nothing was typed.
/// Every page that asks for a date reads it here.
pub fn checked_date(
    (year, month, day): (&str, &str, &str),
    rule: impl FnOnce(NaiveDate) -> Result<(), DateProblem>,
    empty: &str,
    t: &Texts,
    locale_of_page: Locale,
) -> Result<NaiveDate, WrongDate> {
    let wrong = |parts, message: String| WrongDate { parts, message };
    match parse_date(year, month, day) {
        Ok(date) => rule(date)
            .map(|()| date)
            .map_err(|problem| wrong(DateParts::ALL, problem.message(locale_of_page))),
        Err(DateEntry::Empty) => Err(wrong(DateParts::ALL, empty.to_string())),
        Err(DateEntry::Missing(parts)) => {
            let names: Vec<String> = [
                (parts.year, t.year),
                (parts.month, t.month),
                (parts.day, t.day),
            ]
            .into_iter()
            .filter(|(missing, _)| *missing)
            .map(|(_, name)| name.to_lowercase())
            .collect();
            Err(wrong(
                parts,
                t.err_date_missing
                    .replace("{parts}", &names.join(t.list_separator)),
            ))
        }
        Err(DateEntry::NotNumbers(parts)) => Err(wrong(parts, t.err_date_numbers.to_string())),
        Err(DateEntry::YearDigits) => Err(wrong(
            DateParts {
                year: true,
                ..DateParts::default()
            },
            t.err_date_year.to_string(),
        )),
        Err(DateEntry::Impossible) => Err(wrong(DateParts::ALL, t.err_date_impossible.to_string())),
    }
}

/// The form checked on `rules`' day. `wants_email`: the form asks for an
/// email address (no register link). Errors are in `t`'s language.
pub fn check(
    typed: &Typed,
    rules: &DateRules,
    wants_email: bool,
    t: &Texts,
    locale_of_page: Locale,
) -> Result<(Answers, Option<String>), Errors> {
    let mut errors = Errors::default();
    let stage = match typed.stage.as_str() {
        "expecting" => Some(Stage::Expecting),
        "born" => Some(Stage::Born),
        _ => {
            errors.add(Field::Stage, t.err_stage);
            None
        }
    };
    let empty = match stage {
        Some(Stage::Expecting) => t.err_date_empty_due,
        Some(Stage::Born) => t.err_date_empty_birth,
        None => t.err_date_empty,
    };
    let date = match checked_date(
        (&typed.year, &typed.month, &typed.day),
        |date| match stage {
            Some(Stage::Expecting) => rules.due(date),
            Some(Stage::Born) => rules.birth(date),
            None => Ok(()),
        },
        empty,
        t,
        locale_of_page,
    ) {
        Ok(date) => Some(date),
        Err(wrong) => {
            errors.date_parts = wrong.parts;
            errors.add(Field::Date, wrong.message);
            None
        }
    };
    let locale = match typed.locale.parse::<Locale>() {
        Ok(locale) => Some(locale),
        Err(_) => {
            errors.add(Field::Locale, t.err_locale);
            None
        }
    };
    let email = if wants_email {
        if typed.email.trim().is_empty() {
            errors.add(Field::Email, t.err_email_empty);
            None
        } else {
            let address = email_address(&typed.email);
            if address.is_none() {
                errors.add(Field::Email, t.err_email_invalid);
            }
            address
        }
    } else {
        None
    };
    if !typed.consent {
        errors.add(Field::Consent, t.err_consent);
    }
    match (stage, date, locale) {
        (Some(stage), Some(date), Some(locale)) if errors.is_empty() => Ok((
            Answers {
                locale,
                stage,
                date,
            },
            email,
        )),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::texts;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn typed(stage: &str, y: &str, m: &str, day: &str) -> Typed {
        Typed {
            stage: stage.into(),
            year: y.into(),
            month: m.into(),
            day: day.into(),
            locale: "ja".into(),
            consent: true,
            email: String::new(),
        }
    }

    #[test]
    fn dates_as_people_type_them() {
        assert_eq!(parse_date("2027", "5", "1"), Ok(d("2027-05-01")));
        assert_eq!(parse_date(" 2027 ", "05", "01"), Ok(d("2027-05-01")));
        assert_eq!(parse_date("２０２７", "５", "１"), Ok(d("2027-05-01")));
        assert_eq!(parse_date("", " ", ""), Err(DateEntry::Empty));
        assert_eq!(
            parse_date("2027", "", "1"),
            Err(DateEntry::Missing(DateParts {
                month: true,
                ..DateParts::default()
            }))
        );
        assert_eq!(
            parse_date("2027", "May", "1"),
            Err(DateEntry::NotNumbers(DateParts {
                month: true,
                ..DateParts::default()
            }))
        );
        assert_eq!(
            parse_date("2027", "-5", "1"),
            Err(DateEntry::NotNumbers(DateParts {
                month: true,
                ..DateParts::default()
            }))
        );
        assert_eq!(parse_date("27", "5", "1"), Err(DateEntry::YearDigits));
        assert_eq!(parse_date("2027", "2", "30"), Err(DateEntry::Impossible));
        assert_eq!(parse_date("2027", "13", "1"), Err(DateEntry::Impossible));
        assert_eq!(parse_date("2028", "2", "29"), Ok(d("2028-02-29")));
    }

    #[test]
    fn a_good_form_gives_its_answers() {
        let rules = DateRules::new(d("2027-01-04"));
        let (answers, email) = check(
            &typed("expecting", "2027", "5", "1"),
            &rules,
            false,
            texts(Locale::Ja),
            Locale::Ja,
        )
        .expect("valid");
        assert_eq!(
            answers,
            Answers {
                locale: Locale::Ja,
                stage: Stage::Expecting,
                date: d("2027-05-01")
            }
        );
        assert_eq!(answers.child(), NewChild::due(d("2027-05-01")));
        assert_eq!(email, None);

        let mut with_email = typed("born", "2026", "12", "24");
        with_email.email = " Hanako@Example.JP ".into();
        with_email.locale = "ja-easy".into();
        let (answers, email) =
            check(&with_email, &rules, true, texts(Locale::En), Locale::En).expect("valid");
        assert_eq!(answers.locale, Locale::JaEasy);
        assert_eq!(answers.child(), NewChild::born(d("2026-12-24")));
        assert_eq!(email.as_deref(), Some("hanako@example.jp"));
    }

    #[test]
    fn every_problem_is_named_in_the_order_of_the_page() {
        let rules = DateRules::new(d("2027-01-04"));
        let blank = Typed::default();
        let errors = check(&blank, &rules, true, texts(Locale::En), Locale::En).unwrap_err();
        let fields: Vec<Field> = errors.list.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                Field::Stage,
                Field::Date,
                Field::Locale,
                Field::Email,
                Field::Consent
            ]
        );
        assert_eq!(errors.list[0].anchor, "stage-expecting");
        assert_eq!(
            errors.about(Field::Consent),
            Some(texts(Locale::En).err_consent)
        );
    }

    #[test]
    fn dates_follow_the_domains_rules_in_the_pages_language() {
        let rules = DateRules::new(d("2027-01-04"));
        let cases = [
            ("expecting", "2028", "1", "1", "11月4日", "4 November 2027"),
            (
                "expecting",
                "2026",
                "12",
                "1",
                "12月21日",
                "21 December 2026",
            ),
            ("born", "2027", "1", "5", "2027年1月4日", "4 January 2027"),
            ("born", "2008", "1", "3", "2009年1月4日", "4 January 2009"),
        ];
        for (stage, y, m, day, ja, en) in cases {
            let form = typed(stage, y, m, day);
            let errors = check(&form, &rules, false, texts(Locale::Ja), Locale::Ja).unwrap_err();
            assert!(errors.list[0].message.contains(ja), "{:?}", errors.list);
            assert_eq!(errors.date_parts, DateParts::ALL);
            let errors = check(&form, &rules, false, texts(Locale::En), Locale::En).unwrap_err();
            assert!(errors.list[0].message.contains(en), "{:?}", errors.list);
        }
        let impossible = check(
            &typed("expecting", "2027", "2", "30"),
            &rules,
            false,
            texts(Locale::JaEasy),
            Locale::JaEasy,
        )
        .unwrap_err();
        assert_eq!(
            impossible.about(Field::Date),
            Some(texts(Locale::JaEasy).err_date_impossible)
        );
        let missing_day = check(
            &typed("born", "2026", "12", ""),
            &rules,
            false,
            texts(Locale::En),
            Locale::En,
        )
        .unwrap_err();
        assert_eq!(missing_day.list[0].anchor, "date-day");
        assert_eq!(
            missing_day.about(Field::Date),
            Some("The date must include a day")
        );
    }

    #[test]
    fn email_addresses() {
        assert_eq!(email_address("a@b.jp").as_deref(), Some("a@b.jp"));
        for bad in [
            "", "a", "a@b", "@b.jp", "a@b..jp", "a b@c.jp", "a@b.jp>", "a@@b.jp",
        ] {
            assert_eq!(email_address(bad), None, "{bad}");
        }
        let long = format!("{}@example.jp", "a".repeat(250));
        assert_eq!(email_address(&long), None);
    }

    #[test]
    fn the_first_wrong_part_of_a_date() {
        let parts = |year, month, day| DateParts { year, month, day };
        assert_eq!(parts(true, true, true).first(), "year");
        assert_eq!(parts(false, true, true).first(), "month");
        assert_eq!(parts(false, false, true).first(), "day");
        let rules = DateRules::new(d("2027-01-04"));
        let t = texts(Locale::En);
        let future = checked_date(
            ("2027", "1", "5"),
            |d| rules.birth(d),
            "empty",
            t,
            Locale::En,
        )
        .unwrap_err();
        assert_eq!(future.parts, DateParts::ALL);
        assert!(
            future.message.contains("4 January 2027"),
            "{}",
            future.message
        );
        let empty = checked_date(("", "", ""), |d| rules.birth(d), "empty", t, Locale::En);
        assert_eq!(empty.unwrap_err().message, "empty");
        assert_eq!(
            checked_date(
                ("２０２７", "1", "3"),
                |d| rules.birth(d),
                "empty",
                t,
                Locale::En
            ),
            Ok(d("2027-01-03"))
        );
    }
}
