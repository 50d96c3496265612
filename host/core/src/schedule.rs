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

use crate::domain::{
    Anchor, CorrectedAge, DeliverySpan, ScheduleRule, UNREPORTED_BIRTH_ASK_DAYS, UnreportedBirth,
};

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

/// How a child's days are counted on one day, under the tenant's rules for
/// births never reported and for preterm children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayAnchor {
    /// Nothing is sent that day: no dates, or a pregnancy past
    /// [`UNREPORTED_BIRTH_ASK_DAYS`] after its due date under
    /// [`UnreportedBirth::Pause`].
    Silent,
    /// Every message counts from this anchor. A pregnancy past the ask day
    /// under [`UnreportedBirth::Continue`] is `Birth(due date)`.
    One(Anchor),
    /// A preterm child counted by corrected age: the messages
    /// [`counts_corrected`] names count from `corrected` (the due date),
    /// the rest from `birth`. The span is always measured from `birth`.
    Corrected {
        birth: NaiveDate,
        corrected: NaiveDate,
        months: u32,
    },
}

/// The tenant's rules that change how a child's days are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackRules {
    pub unreported_birth: UnreportedBirth,
    pub corrected_age: Option<CorrectedAge>,
}

/// How `day` is counted for a child with these dates.
pub fn day_anchor(
    due: Option<NaiveDate>,
    birth: Option<NaiveDate>,
    day: NaiveDate,
    rules: TrackRules,
) -> DayAnchor {
    match (due, birth) {
        (due, Some(b)) => match (rules.corrected_age, due) {
            (Some(c), Some(d)) if c.applies(d, b) => DayAnchor::Corrected {
                birth: b,
                corrected: d,
                months: c.months,
            },
            _ => DayAnchor::One(Anchor::Birth(b)),
        },
        (Some(d), None) => {
            if (day - d).num_days() <= UNREPORTED_BIRTH_ASK_DAYS {
                DayAnchor::One(Anchor::Due(d))
            } else {
                match rules.unreported_birth {
                    UnreportedBirth::Continue => DayAnchor::One(Anchor::Birth(d)),
                    UnreportedBirth::Pause => DayAnchor::Silent,
                }
            }
        }
        (None, None) => DayAnchor::Silent,
    }
}

/// Whether a child-track message counts from the due date for a preterm
/// child counted by corrected age for `months` months: its date, counted
/// from the due date, falls within those months. The day of birth
/// (`child_day: 0`) always counts from the birth.
pub fn counts_corrected(rule: &ScheduleRule, corrected: NaiveDate, months: u32) -> bool {
    if matches!(
        rule,
        ScheduleRule::PregnancyDay(_) | ScheduleRule::ChildDay(0)
    ) {
        return false;
    }
    let Some(until) = add_months(corrected, months) else {
        return true;
    };
    rule.date_for(Anchor::Birth(corrected))
        .is_some_and(|date| date < until)
}

/// The birth dates a check of [`span_reach`] tries: four years from 1
/// January 2024, which hold every leap-day, month-end and 1 April case.
pub const REACH_BIRTHS: usize = 4 * 365 + 1;

/// For how many of [`REACH_BIRTHS`] birth dates a message with `rule` falls
/// inside `span` (from the birth to the span's last day). Pregnancy
/// messages reach every child. `0` means the message can never send on
/// that span; less than [`REACH_BIRTHS`], that it misses some children.
pub fn span_reach(rule: &ScheduleRule, span: DeliverySpan) -> usize {
    if matches!(rule, ScheduleRule::PregnancyDay(_)) {
        return REACH_BIRTHS;
    }
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
    // A date more than 400 days inside (or outside) the span for one birth
    // is inside (outside) it for every birth: month ends, leap days and the
    // 1 April rule move a date against the span's end by less than that.
    let margin = chrono::Duration::days(400);
    if let Some(date) = rule.date_for(Anchor::Birth(first)) {
        let end = span_end(first, span);
        if date >= first && date + margin < end {
            return REACH_BIRTHS;
        }
        if date > end + margin || date + margin < first {
            return 0;
        }
    }
    first
        .iter_days()
        .take(REACH_BIRTHS)
        .filter(|&b| {
            rule.date_for(Anchor::Birth(b))
                .is_some_and(|date| date >= b && date <= span_end(b, span))
        })
        .count()
}

/// How many messages of one program can send on the span they run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramReach {
    pub program: String,
    pub span: DeliverySpan,
    pub messages: usize,
    /// Messages that can never send on the span.
    pub never: usize,
    /// Messages that send for some birth dates only.
    pub partly: usize,
}

impl ProgramReach {
    /// What to tell the tenant, if anything.
    pub fn warning(&self) -> Option<String> {
        let (p, span, n) = (&self.program, self.span, self.messages);
        if n > 0 && self.never == n {
            Some(format!(
                "program `{p}` can never send on the span `{span}`: every one of its {n} messages falls after the span ends; give it a span of its own (program_spans)"
            ))
        } else if self.never > 0 {
            Some(format!(
                "program `{p}`: {} of its {n} messages can never send on the span `{span}` (they fall after it ends)",
                self.never
            ))
        } else if self.partly > 0 {
            Some(format!(
                "program `{p}`: {} of its {n} messages reach only some children on the span `{span}` (for the rest they fall after it ends)",
                self.partly
            ))
        } else {
            None
        }
    }
}

/// The reach of one program's messages (in `catalog`, the messages of
/// every program) on `span`.
pub fn reach_of(
    program: &str,
    span: DeliverySpan,
    catalog: &[crate::domain::CatalogMessage],
) -> ProgramReach {
    let mut reach = ProgramReach {
        program: program.to_string(),
        span,
        messages: 0,
        never: 0,
        partly: 0,
    };
    for m in catalog.iter().filter(|m| m.program == program) {
        reach.messages += 1;
        match span_reach(&m.rule, span) {
            0 => reach.never += 1,
            REACH_BIRTHS => {}
            _ => reach.partly += 1,
        }
    }
    reach
}

/// The reach of each program `tenant` runs, on the span each runs on.
pub fn program_reach(
    tenant: &crate::domain::Tenant,
    catalog: &[crate::domain::CatalogMessage],
) -> Vec<ProgramReach> {
    tenant
        .programs
        .iter()
        .map(|p| reach_of(p, tenant.program_span(p), catalog))
        .collect()
}

/// The warnings of [`program_reach`]: one per program that cannot send all
/// of its messages.
pub fn program_warnings(
    tenant: &crate::domain::Tenant,
    catalog: &[crate::domain::CatalogMessage],
) -> Vec<String> {
    program_reach(tenant, catalog)
        .iter()
        .filter_map(ProgramReach::warning)
        .collect()
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
    fn school_year_age_7_by_the_legal_age_reading() {
        // A child attains an age on the day before its birthday (年齢計算ニ
        // 関スル法律), so one born on 1 April turns 7 on 31 March and its
        // first school year ends that day; one born on 2 April a year later.
        let cases = [
            ("2019-04-02", "2027-03-31"),
            ("2020-01-01", "2027-03-31"),
            ("2020-02-29", "2027-03-31"),
            ("2020-03-31", "2027-03-31"),
            ("2020-04-01", "2027-03-31"),
            ("2020-04-02", "2028-03-31"),
            ("2020-12-31", "2028-03-31"),
        ];
        for (birth, end) in cases {
            assert_eq!(
                span_end(d(birth), DeliverySpan::EndOfSchoolYearAge7),
                d(end),
                "born {birth}"
            );
        }
        // The last day is in the span; school entry falls inside it.
        let b = d("2020-04-01");
        let entry = ScheduleRule::SchoolEntry { offset_days: 0 };
        assert!(
            entry.date_for(Anchor::Birth(b)).unwrap()
                <= span_end(b, DeliverySpan::EndOfSchoolYearAge7)
        );
    }

    #[test]
    fn spans_are_ordered_by_length_for_every_birth() {
        for b in d("2024-01-01").iter_days().take(4 * 366) {
            for pair in DeliverySpan::BY_LENGTH.windows(2) {
                assert!(span_end(b, pair[0]) < span_end(b, pair[1]), "{b} {pair:?}");
            }
        }
        assert_eq!(
            DeliverySpan::ToThirdBirthday.longer(DeliverySpan::EndOfSchoolYearAge7),
            DeliverySpan::EndOfSchoolYearAge7
        );
        assert_eq!(
            DeliverySpan::ToEighteenthBirthday.longer(DeliverySpan::ToSixthBirthday),
            DeliverySpan::ToEighteenthBirthday
        );
    }

    #[test]
    fn how_many_children_a_rule_reaches_on_a_span() {
        use ScheduleRule::*;
        let all = REACH_BIRTHS;
        // Births of 2 March - 1 April: 31 a year.
        let march = 31 * 4;
        let cases = [
            (
                SchoolEntry { offset_days: -30 },
                DeliverySpan::ToThirdBirthday,
                0,
            ),
            // 1 April of the 6th birthday's year is the entry of those born
            // on 1 April only; 30 days before it, of those born from 2 March.
            (
                SchoolEntry { offset_days: 0 },
                DeliverySpan::ToSixthBirthday,
                4,
            ),
            (
                SchoolEntry { offset_days: -30 },
                DeliverySpan::ToSixthBirthday,
                march,
            ),
            (
                SchoolEntry { offset_days: -30 },
                DeliverySpan::EndOfSchoolYearAge7,
                all,
            ),
            (
                SchoolEntry { offset_days: 0 },
                DeliverySpan::EndOfSchoolYearAge7,
                all,
            ),
            (ChildYear(3), DeliverySpan::ToThirdBirthday, all),
            (ChildYear(4), DeliverySpan::ToThirdBirthday, 0),
            (ChildDay(1095), DeliverySpan::ToThirdBirthday, all),
            (ChildDay(1200), DeliverySpan::ToThirdBirthday, 0),
            (PregnancyDay(28), DeliverySpan::ToThirdBirthday, all),
        ];
        for (rule, span, want) in cases {
            assert_eq!(span_reach(&rule, span), want, "{rule:?} on {span}");
        }
    }

    #[test]
    fn a_program_that_cannot_send_on_the_span_is_named() {
        use crate::domain::{CatalogMessage, Tenant};
        let message = |id: &str, program: &str, rule| CatalogMessage {
            id: id.into(),
            program: program.into(),
            stage: None,
            rule,
            content: Default::default(),
        };
        let catalog = [
            message("c0", "standard", ScheduleRule::ChildDay(0)),
            message("y3", "standard", ScheduleRule::ChildYear(3)),
            message(
                "s",
                "school-entry",
                ScheduleRule::SchoolEntry { offset_days: -30 },
            ),
        ];
        let new = crate::domain::NewTenant::new("t", "T");
        let mut tenant = Tenant {
            id: new.id,
            name: new.name,
            time_zone: new.time_zone,
            send_time: new.send_time,
            span: new.span,
            programs: vec!["standard".into(), "school-entry".into()],
            lateness_window_minutes: new.lateness_window_minutes,
            quiet_hours: None,
            program_spans: Default::default(),
            unreported_birth: Default::default(),
            corrected_age: None,
            yearly_births: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let warnings = program_warnings(&tenant, &catalog);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("program `school-entry` can never send on the span `to_3rd_birthday`"),
            "{warnings:?}"
        );
        tenant.span = DeliverySpan::ToSixthBirthday;
        let warnings = program_warnings(&tenant, &catalog);
        assert!(
            warnings[0].contains("reach only some children"),
            "{warnings:?}"
        );
        tenant
            .program_spans
            .insert("school-entry".into(), DeliverySpan::EndOfSchoolYearAge7);
        assert!(program_warnings(&tenant, &catalog).is_empty());
    }

    #[test]
    fn day_anchors_follow_the_tenant_rules() {
        let due = d("2027-05-01");
        let cont = TrackRules::default();
        let pause = TrackRules {
            unreported_birth: UnreportedBirth::Pause,
            corrected_age: None,
        };
        // Up to 14 days after the due date, the pregnancy track.
        for rules in [cont, pause] {
            assert_eq!(
                day_anchor(Some(due), None, d("2027-05-15"), rules),
                DayAnchor::One(Anchor::Due(due))
            );
        }
        // From the 15th day: the child track from the due date, or nothing.
        assert_eq!(
            day_anchor(Some(due), None, d("2027-05-16"), cont),
            DayAnchor::One(Anchor::Birth(due))
        );
        assert_eq!(
            day_anchor(Some(due), None, d("2027-05-16"), pause),
            DayAnchor::Silent
        );
        // A reported birth is the anchor whatever the rule.
        assert_eq!(
            day_anchor(Some(due), Some(d("2027-05-20")), d("2027-06-01"), pause),
            DayAnchor::One(Anchor::Birth(d("2027-05-20")))
        );
        assert_eq!(day_anchor(None, None, due, cont), DayAnchor::Silent);
        // Corrected age: 4 weeks early or more, with the setting.
        let preterm = TrackRules {
            unreported_birth: UnreportedBirth::Continue,
            corrected_age: Some(CorrectedAge {
                weeks_early: 4,
                months: 12,
            }),
        };
        assert_eq!(
            day_anchor(Some(due), Some(d("2027-04-03")), due, preterm),
            DayAnchor::Corrected {
                birth: d("2027-04-03"),
                corrected: due,
                months: 12
            }
        );
        // 27 days early is not 4 weeks.
        assert_eq!(
            day_anchor(Some(due), Some(d("2027-04-04")), due, preterm),
            DayAnchor::One(Anchor::Birth(d("2027-04-04")))
        );
        // Without the setting, the birth date.
        assert_eq!(
            day_anchor(Some(due), Some(d("2027-04-03")), due, cont),
            DayAnchor::One(Anchor::Birth(d("2027-04-03")))
        );
    }

    #[test]
    fn corrected_age_counts_the_first_months_only() {
        use ScheduleRule::*;
        let due = d("2027-05-01");
        assert!(!counts_corrected(&ChildDay(0), due, 12));
        assert!(counts_corrected(&ChildDay(1), due, 12));
        assert!(counts_corrected(&ChildMonth(11), due, 12));
        assert!(!counts_corrected(&ChildMonth(12), due, 12));
        assert!(!counts_corrected(&ChildYear(1), due, 12));
        assert!(counts_corrected(&ChildDay(364), due, 12));
        assert!(!counts_corrected(&ChildDay(366), due, 12));
        assert!(!counts_corrected(&PregnancyDay(200), due, 12));
    }

    #[test]
    fn gestational_days() {
        assert_eq!(gestational_day(d("2027-05-01"), d("2027-05-01")), 280);
        assert_eq!(gestational_day(d("2027-05-01"), d("2026-08-22")), 28);
    }
}
