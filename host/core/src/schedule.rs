//! Schedule rules: on which date a catalog message falls for a child, and
//! when a child's delivery span ends. Pure date arithmetic on the tenant's
//! calendar (callers convert "now" into the tenant's zone first).
//!
//! The rules follow DESIGN.md: gestational age = 280 − (due date − day);
//! child months and years keep the calendar day, clamped to the month's end;
//! school entry is 1 April of the year after the school year of the 6th
//! birthday, with Japan's rule that a child born on 1 April counts with those
//! born before it (born 2 April – 31 December of Y: 1 April Y+7; born
//! 1 January – 1 April of Y: 1 April Y+6).

use chrono::{Datelike, Months, NaiveDate};

use crate::domain::{Anchor, DeliverySpan, ScheduleRule};

/// Gestational age, in days, on the due date.
pub const TERM_DAYS: i64 = 280;

/// The date `months` calendar months after `date`, clamped to the month's end.
pub fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// 1 April of the year a child born on `birth` enters primary school.
pub fn school_entry(birth: NaiveDate) -> NaiveDate {
    let y = birth.year();
    let entry_year = if (birth.month(), birth.day()) >= (4, 2) {
        y + 7
    } else {
        y + 6
    };
    NaiveDate::from_ymd_opt(entry_year, 4, 1).expect("1 April exists")
}

/// The last day (inclusive) on which a child born on `birth` receives messages.
pub fn span_end(birth: NaiveDate, span: DeliverySpan) -> NaiveDate {
    let years = |n: u32| add_months(birth, 12 * n).unwrap_or(NaiveDate::MAX);
    match span {
        DeliverySpan::ToThirdBirthday => years(3),
        DeliverySpan::ToSixthBirthday => years(6),
        DeliverySpan::ToEighteenthBirthday => years(18),
        // The school year (1 April – 31 March) in which the child turns 7 is
        // its first school year, by the same 1 April rule as school entry.
        DeliverySpan::EndOfSchoolYearAge7 => {
            let entry = school_entry(birth);
            NaiveDate::from_ymd_opt(entry.year() + 1, 3, 31).expect("31 March exists")
        }
    }
}

/// Gestational age in days on `day` for a due date.
pub fn gestational_day(due: NaiveDate, day: NaiveDate) -> i64 {
    TERM_DAYS - (due - day).num_days()
}

impl ScheduleRule {
    /// The date this rule falls on for a child, or `None` when the rule does
    /// not apply to the child's track (a pregnancy rule for a born child, a
    /// child rule for one still expected) or the date does not exist.
    pub fn date_for(&self, anchor: Anchor) -> Option<NaiveDate> {
        match (*self, anchor) {
            (ScheduleRule::PregnancyDay(n), Anchor::Due(due)) => {
                due.checked_sub_signed(chrono::Duration::days(TERM_DAYS - i64::from(n)))
            }
            (ScheduleRule::ChildDay(n), Anchor::Birth(b)) => {
                b.checked_add_signed(chrono::Duration::days(i64::from(n)))
            }
            (ScheduleRule::ChildMonth(n), Anchor::Birth(b)) => add_months(b, n),
            (ScheduleRule::ChildYear(n), Anchor::Birth(b)) => add_months(b, n.checked_mul(12)?),
            (ScheduleRule::SchoolEntry { offset_days }, Anchor::Birth(b)) => {
                school_entry(b).checked_add_signed(chrono::Duration::days(i64::from(offset_days)))
            }
            _ => None,
        }
    }
}

/// Where `day` stands for a child: the values each kind of rule is looked up
/// by. A planner indexes the catalog by these keys and asks, per child and
/// day, only the rules that can match (instead of evaluating every rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayKeys {
    /// `PregnancyDay(n)` that falls on the day, for an expected child.
    pub pregnancy_day: Option<i64>,
    /// `ChildDay(n)` that falls on the day, for a born child.
    pub child_day: Option<i64>,
    /// `ChildMonth(n)` that falls on the day (a multiple of 12 is also `ChildYear(n / 12)`).
    pub child_month: Option<u32>,
    /// `SchoolEntry { offset_days }` that falls on the day.
    pub school_entry_offset: Option<i64>,
}

impl DayKeys {
    /// The keys of `day` for a child with `anchor`.
    pub fn of(anchor: Anchor, day: NaiveDate) -> Self {
        match anchor {
            Anchor::Due(due) => Self {
                pregnancy_day: Some(gestational_day(due, day)),
                child_day: None,
                child_month: None,
                school_entry_offset: None,
            },
            Anchor::Birth(b) => {
                let child_day = (day - b).num_days();
                let child_month = if child_day < 0 {
                    None
                } else {
                    let m = (day.year() - b.year()) * 12 + day.month() as i32 - b.month() as i32;
                    u32::try_from(m)
                        .ok()
                        .filter(|&m| add_months(b, m) == Some(day))
                };
                Self {
                    pregnancy_day: None,
                    child_day: Some(child_day),
                    child_month,
                    school_entry_offset: Some((day - school_entry(b)).num_days()),
                }
            }
        }
    }

    /// Whether `rule` falls on the day these keys describe.
    pub fn matches(&self, rule: &ScheduleRule) -> bool {
        match *rule {
            ScheduleRule::PregnancyDay(n) => self.pregnancy_day == Some(i64::from(n)),
            ScheduleRule::ChildDay(n) => self.child_day == Some(i64::from(n)),
            ScheduleRule::ChildMonth(n) => self.child_month == Some(n),
            ScheduleRule::ChildYear(n) => n
                .checked_mul(12)
                .is_some_and(|m| self.child_month == Some(m)),
            ScheduleRule::SchoolEntry { offset_days } => {
                self.school_entry_offset == Some(i64::from(offset_days))
            }
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
    fn rule_dates() {
        use ScheduleRule::*;
        let cases: &[(ScheduleRule, Anchor, Option<&str>)] = &[
            // Gestational day 280 is the due date; week 4 day 0 is 252 days before it.
            (
                PregnancyDay(280),
                Anchor::Due(d("2027-05-01")),
                Some("2027-05-01"),
            ),
            (
                PregnancyDay(28),
                Anchor::Due(d("2027-05-01")),
                Some("2026-08-22"),
            ),
            (
                PregnancyDay(293),
                Anchor::Due(d("2027-05-01")),
                Some("2027-05-14"),
            ),
            // Across a leap day.
            (
                PregnancyDay(279),
                Anchor::Due(d("2028-03-01")),
                Some("2028-02-29"),
            ),
            (
                ChildDay(0),
                Anchor::Birth(d("2027-04-28")),
                Some("2027-04-28"),
            ),
            (
                ChildDay(100),
                Anchor::Birth(d("2027-04-28")),
                Some("2027-08-06"),
            ),
            (
                ChildDay(1000),
                Anchor::Birth(d("2024-02-29")),
                Some("2026-11-25"),
            ),
            // Month ends clamp.
            (
                ChildMonth(1),
                Anchor::Birth(d("2027-01-31")),
                Some("2027-02-28"),
            ),
            (
                ChildMonth(1),
                Anchor::Birth(d("2028-01-31")),
                Some("2028-02-29"),
            ),
            (
                ChildMonth(1),
                Anchor::Birth(d("2027-01-29")),
                Some("2027-02-28"),
            ),
            (
                ChildMonth(1),
                Anchor::Birth(d("2027-01-30")),
                Some("2027-02-28"),
            ),
            (
                ChildMonth(2),
                Anchor::Birth(d("2027-01-31")),
                Some("2027-03-31"),
            ),
            (
                ChildMonth(3),
                Anchor::Birth(d("2027-05-31")),
                Some("2027-08-31"),
            ),
            (
                ChildMonth(4),
                Anchor::Birth(d("2027-05-31")),
                Some("2027-09-30"),
            ),
            // Leap-day birthdays.
            (
                ChildYear(1),
                Anchor::Birth(d("2024-02-29")),
                Some("2025-02-28"),
            ),
            (
                ChildYear(4),
                Anchor::Birth(d("2024-02-29")),
                Some("2028-02-29"),
            ),
            // School entry: 1 April against 2 April.
            (
                SchoolEntry { offset_days: 0 },
                Anchor::Birth(d("2020-04-01")),
                Some("2026-04-01"),
            ),
            (
                SchoolEntry { offset_days: 0 },
                Anchor::Birth(d("2020-04-02")),
                Some("2027-04-01"),
            ),
            (
                SchoolEntry { offset_days: 0 },
                Anchor::Birth(d("2020-01-01")),
                Some("2026-04-01"),
            ),
            (
                SchoolEntry { offset_days: 0 },
                Anchor::Birth(d("2020-12-31")),
                Some("2027-04-01"),
            ),
            (
                SchoolEntry { offset_days: -7 },
                Anchor::Birth(d("2020-12-31")),
                Some("2027-03-25"),
            ),
            // Rules of the other track do not apply.
            (ChildDay(3), Anchor::Due(d("2027-05-01")), None),
            (PregnancyDay(100), Anchor::Birth(d("2027-05-01")), None),
        ];
        for (rule, anchor, want) in cases {
            assert_eq!(
                rule.date_for(*anchor),
                want.map(d),
                "{rule:?} for {anchor:?}"
            );
            if let Some(day) = want {
                assert!(
                    DayKeys::of(*anchor, d(day)).matches(rule),
                    "keys of {day} should match {rule:?}"
                );
            }
        }
    }

    #[test]
    fn keys_match_exactly_the_dates_of_rules() {
        // For every day of four years after several tricky births, the day
        // keys match a month rule exactly when date_for says so.
        for birth in [
            "2024-02-29",
            "2027-01-31",
            "2027-03-30",
            "2027-08-31",
            "2027-12-31",
        ] {
            let b = d(birth);
            for offset in 0..(4 * 366) {
                let day = b + chrono::Duration::days(offset);
                let keys = DayKeys::of(Anchor::Birth(b), day);
                for m in 0..48 {
                    let rule = ScheduleRule::ChildMonth(m);
                    assert_eq!(
                        keys.matches(&rule),
                        rule.date_for(Anchor::Birth(b)) == Some(day),
                        "{birth} +{m} months on {day}"
                    );
                }
            }
        }
    }

    #[test]
    fn span_ends() {
        assert_eq!(
            span_end(d("2027-04-28"), DeliverySpan::ToThirdBirthday),
            d("2030-04-28")
        );
        assert_eq!(
            span_end(d("2024-02-29"), DeliverySpan::ToThirdBirthday),
            d("2027-02-28")
        );
        assert_eq!(
            span_end(d("2027-04-28"), DeliverySpan::ToSixthBirthday),
            d("2033-04-28")
        );
        assert_eq!(
            span_end(d("2027-04-28"), DeliverySpan::ToEighteenthBirthday),
            d("2045-04-28")
        );
        // Born 2 April: enters 1 April +7, first school year ends 31 March +8.
        assert_eq!(
            span_end(d("2020-04-02"), DeliverySpan::EndOfSchoolYearAge7),
            d("2028-03-31")
        );
        // Born 1 April: a year earlier.
        assert_eq!(
            span_end(d("2020-04-01"), DeliverySpan::EndOfSchoolYearAge7),
            d("2027-03-31")
        );
    }

    #[test]
    fn gestational_days() {
        assert_eq!(gestational_day(d("2027-05-01"), d("2027-05-01")), 280);
        assert_eq!(gestational_day(d("2027-05-01"), d("2026-08-22")), 28);
    }
}
