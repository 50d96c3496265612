//! What registration accepts: the dates a child may be registered with.
//!
//! Every message date follows from a child's date, so a wrong one is
//! refused before anything is stored: a due date within the pregnancy that
//! could be (at most [`DUE_DATE_MAX_AHEAD_MONTHS`] ahead, at most
//! [`DUE_DATE_MAX_PAST_DAYS`] past: later, the family reports the birth),
//! a birth date not in the future and not before the longest delivery span
//! ([`BIRTH_DATE_MAX_YEARS`]). "Today" is the tenant's, in its time zone.
//! The API, the CSV import, the chat's date picker (its `min` and `max`)
//! and the parents' form all ask these rules, so none can accept what
//! another refuses.

use chrono::{Days, Months, NaiveDate};

use super::{Locale, NewChild};

/// How far ahead a due date may be: a pregnancy lasts about 9⅓ months.
pub const DUE_DATE_MAX_AHEAD_MONTHS: u32 = 10;
/// How long past a due date a child may still be registered as expecting;
/// later, the family reports the birth date instead.
pub const DUE_DATE_MAX_PAST_DAYS: u64 = 14;
/// The oldest birth date accepted: the longest delivery span is to age 18.
pub const BIRTH_DATE_MAX_YEARS: u32 = 18;

/// Why a date is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateProblem {
    /// A due date after `latest`.
    DueTooFarAhead { latest: NaiveDate },
    /// A due date before `earliest`: report the birth instead.
    DueTooFarPast { earliest: NaiveDate },
    /// A birth date after `today`.
    BirthInFuture { today: NaiveDate },
    /// A birth date before `oldest`.
    BirthTooOld { oldest: NaiveDate },
}

/// `2027年5月1日` / `May 1, 2027`.
pub fn written_date(date: NaiveDate, locale: Locale) -> String {
    match locale {
        Locale::Ja | Locale::JaEasy => date.format("%Y年%-m月%-d日").to_string(),
        Locale::En => date.format("%-d %B %Y").to_string(),
    }
}

impl DateProblem {
    /// What to tell a parent, in their language.
    pub fn message(&self, locale: Locale) -> String {
        let w = |d: &NaiveDate| written_date(*d, locale);
        match (self, locale) {
            (Self::DueTooFarAhead { latest }, Locale::Ja) => {
                format!(
                    "出産予定日は{}までの日付を入れてください。年をご確認ください。",
                    w(latest)
                )
            }
            (Self::DueTooFarAhead { latest }, Locale::JaEasy) => {
                format!(
                    "うまれる よていの 日は {}までです。年を みてください。",
                    w(latest)
                )
            }
            (Self::DueTooFarAhead { latest }, Locale::En) => {
                format!(
                    "The due date must be on or before {}. Check the year.",
                    w(latest)
                )
            }
            (Self::DueTooFarPast { earliest }, Locale::Ja) => format!(
                "出産予定日は{}以降の日付を入れてください。お生まれの場合は「生まれた」を選んで誕生日を入れてください。",
                w(earliest)
            ),
            (Self::DueTooFarPast { earliest }, Locale::JaEasy) => format!(
                "うまれる よていの 日は {}より あとです。もう うまれたときは「うまれた」を えらんで、たんじょうびを いれてください。",
                w(earliest)
            ),
            (Self::DueTooFarPast { earliest }, Locale::En) => format!(
                "The due date must be on or after {}. If your baby is born, choose \"born\" and enter the date of birth.",
                w(earliest)
            ),
            (Self::BirthInFuture { today }, Locale::Ja) => {
                format!("誕生日は今日（{}）までの日付を入れてください。", w(today))
            }
            (Self::BirthInFuture { today }, Locale::JaEasy) => {
                format!("たんじょうびは きょう（{}）までです。", w(today))
            }
            (Self::BirthInFuture { today }, Locale::En) => {
                format!("The date of birth must be today ({}) or earlier.", w(today))
            }
            (Self::BirthTooOld { oldest }, Locale::Ja) => {
                format!("誕生日は{}以降の日付を入れてください。", w(oldest))
            }
            (Self::BirthTooOld { oldest }, Locale::JaEasy) => {
                format!("たんじょうびは {}より あとです。", w(oldest))
            }
            (Self::BirthTooOld { oldest }, Locale::En) => {
                format!("The date of birth must be on or after {}.", w(oldest))
            }
        }
    }

    /// The same for operators and the API, in English with ISO dates.
    pub fn api_message(&self, date: NaiveDate) -> String {
        match self {
            Self::DueTooFarAhead { latest } => format!(
                "{date} is more than {DUE_DATE_MAX_AHEAD_MONTHS} months ahead (the latest is {latest}); check the year"
            ),
            Self::DueTooFarPast { earliest } => format!(
                "{date} is more than {DUE_DATE_MAX_PAST_DAYS} days past (the earliest is {earliest}); report the birth_date instead"
            ),
            Self::BirthInFuture { today } => format!("{date} is in the future (today is {today})"),
            Self::BirthTooOld { .. } => {
                format!("{date} is more than {BIRTH_DATE_MAX_YEARS} years ago")
            }
        }
    }
}

/// The rules as of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRules {
    today: NaiveDate,
}

impl DateRules {
    /// The rules on `today` (the tenant's date).
    pub fn new(today: NaiveDate) -> Self {
        Self { today }
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The first and last due date accepted.
    pub fn due_range(&self) -> (NaiveDate, NaiveDate) {
        let earliest = self
            .today
            .checked_sub_days(Days::new(DUE_DATE_MAX_PAST_DAYS))
            .unwrap_or(NaiveDate::MIN);
        let latest = self
            .today
            .checked_add_months(Months::new(DUE_DATE_MAX_AHEAD_MONTHS))
            .unwrap_or(NaiveDate::MAX);
        (earliest, latest)
    }

    /// The first and last birth date accepted.
    pub fn birth_range(&self) -> (NaiveDate, NaiveDate) {
        let oldest = self
            .today
            .checked_sub_months(Months::new(12 * BIRTH_DATE_MAX_YEARS))
            .unwrap_or(NaiveDate::MIN);
        (oldest, self.today)
    }

    pub fn due(&self, date: NaiveDate) -> Result<(), DateProblem> {
        let (earliest, latest) = self.due_range();
        if date > latest {
            Err(DateProblem::DueTooFarAhead { latest })
        } else if date < earliest {
            Err(DateProblem::DueTooFarPast { earliest })
        } else {
            Ok(())
        }
    }

    pub fn birth(&self, date: NaiveDate) -> Result<(), DateProblem> {
        let (oldest, today) = self.birth_range();
        if date > today {
            Err(DateProblem::BirthInFuture { today })
        } else if date < oldest {
            Err(DateProblem::BirthTooOld { oldest })
        } else {
            Ok(())
        }
    }

    /// A child expecting on `date` or born on it, checked.
    pub fn child(&self, born: bool, date: NaiveDate) -> Result<NewChild, DateProblem> {
        if born {
            self.birth(date).map(|()| NewChild::born(date))
        } else {
            self.due(date).map(|()| NewChild::due(date))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn due_dates_from_two_weeks_past_to_ten_months_ahead() {
        let rules = DateRules::new(d("2026-12-07"));
        assert_eq!(rules.due_range(), (d("2026-11-23"), d("2027-10-07")));
        assert!(rules.due(d("2026-11-23")).is_ok());
        assert!(rules.due(d("2027-10-07")).is_ok());
        assert_eq!(
            rules.due(d("2026-11-22")),
            Err(DateProblem::DueTooFarPast {
                earliest: d("2026-11-23")
            })
        );
        assert_eq!(
            rules.due(d("2027-10-08")),
            Err(DateProblem::DueTooFarAhead {
                latest: d("2027-10-07")
            })
        );
    }

    #[test]
    fn birth_dates_from_eighteen_years_ago_to_today() {
        let rules = DateRules::new(d("2024-02-29"));
        assert_eq!(rules.birth_range(), (d("2006-02-28"), d("2024-02-29")));
        assert!(rules.birth(d("2024-02-29")).is_ok());
        assert_eq!(
            rules.birth(d("2024-03-01")),
            Err(DateProblem::BirthInFuture {
                today: d("2024-02-29")
            })
        );
        assert!(matches!(
            rules.birth(d("2006-02-27")),
            Err(DateProblem::BirthTooOld { .. })
        ));
    }

    #[test]
    fn problems_are_said_in_each_language() {
        let p = DateProblem::DueTooFarAhead {
            latest: d("2027-10-07"),
        };
        assert!(p.message(Locale::Ja).contains("2027年10月7日"));
        assert!(p.message(Locale::JaEasy).contains("2027年10月7日"));
        assert!(p.message(Locale::En).contains("7 October 2027"));
        assert!(p.api_message(d("2028-01-01")).contains("10 months ahead"));
    }
}
