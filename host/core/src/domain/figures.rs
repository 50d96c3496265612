//! The monthly figures (DESIGN.md, "The console"): monthly active users,
//! the service's headline, are households not stopped with a child inside
//! its delivery window on the month's last day (today for the current
//! month), by stage and by channel; with the month's registrations, stops,
//! blocks and deliveries. Pure: the store gives the rows, this counts them,
//! and the API, the CSV and the console show the same numbers.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::{ChildStatus, DeliverySpan, Tenant, string_enum};
use crate::domain::Anchor;
use crate::schedule::{self, DayAnchor, TrackRules};

string_enum! {
    /// Where a child stands in its delivery window on a day.
    pub enum Stage ("stage") {
        /// From pregnancy week 4 to the birth (or the due date's day 14).
        Pregnancy = "pregnancy",
        /// Before the first birthday.
        Year0 = "0-1",
        /// The second year.
        Year1 = "1-2",
        /// The third year.
        Year2 = "2-3",
        /// Past the third birthday, within a longer span.
        Later = "later",
    }
}

/// The first day of pregnancy messages: week 4 day 0.
const PREGNANCY_FIRST_DAY: i64 = 28;

/// A child as the figures see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildDates {
    pub due_date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    pub status: ChildStatus,
}

/// The stage of a child on `day` under the tenant's rules, or `None` when
/// it is outside its delivery window (stopped, too early in the pregnancy,
/// past the tenant's longest span, paused because its birth was never
/// reported).
pub fn stage_on(child: &ChildDates, day: NaiveDate, tenant: &Tenant) -> Option<Stage> {
    if child.status == ChildStatus::Stopped {
        return None;
    }
    let rules = TrackRules {
        unreported_birth: tenant.unreported_birth,
        corrected_age: tenant.corrected_age,
    };
    let birth = match schedule::day_anchor(child.due_date, child.birth_date, day, rules) {
        DayAnchor::Silent => return None,
        DayAnchor::One(Anchor::Due(due)) => {
            let gestation = schedule::gestational_day(due, day);
            return (gestation >= PREGNANCY_FIRST_DAY).then_some(Stage::Pregnancy);
        }
        DayAnchor::One(Anchor::Birth(b)) => b,
        DayAnchor::Corrected { birth, .. } => birth,
    };
    if day < birth || day > schedule::span_end(birth, tenant.longest_span()) {
        return None;
    }
    let years = full_years(birth, day);
    Some(match years {
        0 => Stage::Year0,
        1 => Stage::Year1,
        2 => Stage::Year2,
        _ => Stage::Later,
    })
}

/// Whole years from `birth` to `day` (a birthday on 29 February comes on
/// 28 February in other years).
fn full_years(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut years = (day.year() - birth.year()).max(0) as u32;
    while years > 0 && schedule::add_months(birth, 12 * years).is_none_or(|b| b > day) {
        years -= 1;
    }
    years
}

/// A household as the figures see it: active ones only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdRow {
    pub children: Vec<ChildDates>,
    /// The channels of its valid contacts.
    pub channels: Vec<String>,
}

/// The month's figures of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MonthlyFigures {
    /// `YYYY-MM`.
    pub month: String,
    /// The day the active users are counted on: the month's last day, or
    /// today for the current month.
    pub counted_on: NaiveDate,
    /// Households not stopped with a child inside its delivery window.
    pub active_users: u64,
    /// Active households by the stage of their children (a household with
    /// children in two stages counts in both).
    pub active_by_stage: BTreeMap<String, u64>,
    /// Active households by the channel of their valid contacts (a
    /// household on two channels counts on both).
    pub active_by_channel: BTreeMap<String, u64>,
    /// Households parents registered themselves in the month (the chat,
    /// the form, a confirmed email).
    pub registrations: u64,
    /// The same by channel.
    pub registrations_by_channel: BTreeMap<String, u64>,
    /// Households created in the month whatever the way (the API and CSV
    /// imports too), by the store's clock.
    pub households_created: u64,
    /// Email addresses confirmed by their link.
    pub confirmations: u64,
    /// Contacts stopped by the parent (a stop link, one-click, the chat).
    pub stops: u64,
    /// Registered contacts that blocked the account.
    pub blocks: u64,
    /// Deliveries due in the month, by channel and status.
    pub deliveries: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The day active users are counted on for `month` (its first day) seen
/// on `today`: the month's last day, or today within the current month.
pub fn counted_on(month: NaiveDate, today: NaiveDate) -> NaiveDate {
    let last = schedule::add_months(month, 1)
        .and_then(|next| next.pred_opt())
        .unwrap_or(month);
    if today >= month && today < last {
        today
    } else {
        last
    }
}

/// Counts the active households on `day`.
pub fn count_active(
    households: &[HouseholdRow],
    day: NaiveDate,
    tenant: &Tenant,
    figures: &mut MonthlyFigures,
) {
    for h in households {
        let mut stages: Vec<Stage> = h
            .children
            .iter()
            .filter_map(|c| stage_on(c, day, tenant))
            .collect();
        if stages.is_empty() {
            continue;
        }
        figures.active_users += 1;
        stages.sort();
        stages.dedup();
        for s in stages {
            *figures
                .active_by_stage
                .entry(s.as_str().to_string())
                .or_default() += 1;
        }
        let mut channels = h.channels.clone();
        channels.sort();
        channels.dedup();
        for c in channels {
            *figures.active_by_channel.entry(c).or_default() += 1;
        }
    }
    for s in Stage::ALL {
        figures
            .active_by_stage
            .entry(s.as_str().to_string())
            .or_default();
    }
}

/// The longest span a tenant follows children for (for the store's reads).
pub fn window_years(tenant: &Tenant) -> u32 {
    match tenant.longest_span() {
        DeliverySpan::ToThirdBirthday => 3,
        DeliverySpan::ToSixthBirthday => 6,
        DeliverySpan::EndOfSchoolYearAge7 => 8,
        DeliverySpan::ToEighteenthBirthday => 18,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UnreportedBirth;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tenant() -> Tenant {
        let new = crate::domain::NewTenant::new("t", "T");
        Tenant {
            id: new.id,
            name: new.name,
            time_zone: new.time_zone,
            send_time: new.send_time,
            span: new.span,
            programs: vec!["standard".into()],
            lateness_window_minutes: new.lateness_window_minutes,
            quiet_hours: None,
            program_spans: Default::default(),
            unreported_birth: Default::default(),
            corrected_age: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn due(s: &str) -> ChildDates {
        ChildDates {
            due_date: Some(d(s)),
            birth_date: None,
            status: ChildStatus::Expecting,
        }
    }

    fn born(s: &str) -> ChildDates {
        ChildDates {
            due_date: None,
            birth_date: Some(d(s)),
            status: ChildStatus::Born,
        }
    }

    #[test]
    fn stages_follow_the_window_on_its_edge_days() {
        let t = tenant();
        let day = d("2027-01-31");
        // Week 4 day 0 is 252 days before the due date.
        assert_eq!(
            stage_on(&due("2027-10-10"), day, &t),
            Some(Stage::Pregnancy)
        );
        assert_eq!(stage_on(&due("2027-10-11"), day, &t), None, "week 3 day 6");
        // Born today; the day before the first birthday; the first birthday.
        assert_eq!(stage_on(&born("2027-01-31"), day, &t), Some(Stage::Year0));
        assert_eq!(stage_on(&born("2026-02-01"), day, &t), Some(Stage::Year0));
        assert_eq!(stage_on(&born("2026-01-31"), day, &t), Some(Stage::Year1));
        assert_eq!(stage_on(&born("2024-02-01"), day, &t), Some(Stage::Year2));
        // The third birthday is the span's last day; the day after is out.
        assert_eq!(stage_on(&born("2024-01-31"), day, &t), Some(Stage::Later));
        assert_eq!(stage_on(&born("2024-01-30"), day, &t), None);
        // Stopped: out.
        let mut stopped = born("2026-06-01");
        stopped.status = ChildStatus::Stopped;
        assert_eq!(stage_on(&stopped, day, &t), None);
        // A birth never reported: counted from the due date (continue) or
        // out (pause) past the 14th day.
        assert_eq!(stage_on(&due("2027-01-10"), day, &t), Some(Stage::Year0));
        let mut paused = tenant();
        paused.unreported_birth = UnreportedBirth::Pause;
        assert_eq!(stage_on(&due("2027-01-10"), day, &paused), None);
        assert_eq!(
            stage_on(&due("2027-01-20"), day, &paused),
            Some(Stage::Pregnancy)
        );
        // 29 February: the birthday is 28 February in other years.
        assert_eq!(full_years(d("2024-02-29"), d("2025-02-28")), 1);
        assert_eq!(full_years(d("2024-02-29"), d("2025-02-27")), 0);
    }

    #[test]
    fn households_are_counted_once_and_by_each_stage_and_channel() {
        let t = tenant();
        let rows = vec![
            HouseholdRow {
                children: vec![due("2027-06-01"), born("2025-05-01")],
                channels: vec!["line".into(), "email".into(), "line".into()],
            },
            HouseholdRow {
                children: vec![born("2026-12-01")],
                channels: vec!["line".into()],
            },
            HouseholdRow {
                children: vec![born("2020-01-01")],
                channels: vec!["email".into()],
            },
        ];
        let mut f = MonthlyFigures::default();
        count_active(&rows, d("2027-01-31"), &t, &mut f);
        assert_eq!(f.active_users, 2, "the third is past its span");
        assert_eq!(f.active_by_stage["pregnancy"], 1);
        assert_eq!(f.active_by_stage["0-1"], 1);
        assert_eq!(f.active_by_stage["1-2"], 1);
        assert_eq!(f.active_by_stage["2-3"], 0);
        assert_eq!(f.active_by_channel["line"], 2);
        assert_eq!(f.active_by_channel["email"], 1);
    }

    #[test]
    fn the_count_is_on_the_months_last_day_or_today() {
        assert_eq!(
            counted_on(d("2027-02-01"), d("2027-05-03")),
            d("2027-02-28")
        );
        assert_eq!(
            counted_on(d("2028-02-01"), d("2028-02-10")),
            d("2028-02-10")
        );
        assert_eq!(
            counted_on(d("2028-02-01"), d("2028-02-29")),
            d("2028-02-29")
        );
        assert_eq!(
            counted_on(d("2027-12-01"), d("2027-11-30")),
            d("2027-12-31")
        );
    }
}
