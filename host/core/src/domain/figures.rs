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
    /// Registrations by parents in each of the 12 months ending with this
    /// one (`YYYY-MM`).
    pub registrations_by_month: BTreeMap<String, u64>,
    /// Children born in the municipality a year, if the tenant said.
    pub yearly_births: Option<u32>,
    /// Deliveries due on each day of the month (the tenant's days,
    /// `YYYY-MM-DD`, every day present), by channel and status.
    pub deliveries_by_day: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Deliveries due in the month that failed for good, by reason
    /// (`refused`, `recipient_gone`, `gave_up`, `not_made`).
    pub failures: BTreeMap<String, u64>,
}

/// How many months [`MonthlyFigures::registrations_by_month`] covers.
pub const REGISTRATION_MONTHS: u32 = 12;

impl MonthlyFigures {
    /// Registrations over the 12 months ending with this one.
    pub fn registrations_in_year(&self) -> u64 {
        self.registrations_by_month.values().sum()
    }

    /// Registrations over the 12 months divided by the yearly births
    /// (rounded to 4 places: 0.0001 is 0.01 %), or `None` when the births
    /// are not set.
    pub fn registration_rate(&self) -> Option<f64> {
        registration_rate(self.registrations_in_year(), self.yearly_births)
    }

    /// Fills [`MonthlyFigures::deliveries_by_day`] from `(day index,
    /// channel, status, count)` rows, `days` the month's days.
    pub fn count_by_day(&mut self, days: &[NaiveDate], rows: Vec<(usize, String, String, u64)>) {
        for day in days {
            self.deliveries_by_day.entry(day.to_string()).or_default();
        }
        for (i, channel, status, n) in rows {
            let Some(day) = days.get(i) else { continue };
            *self
                .deliveries_by_day
                .entry(day.to_string())
                .or_default()
                .entry(channel)
                .or_default()
                .entry(status)
                .or_default() += n;
        }
    }
}

/// `registrations` over `births`, rounded to 4 places; `None` without
/// births.
pub fn registration_rate(registrations: u64, births: Option<u32>) -> Option<f64> {
    let births = births.filter(|b| *b > 0)?;
    let rate = registrations as f64 / f64::from(births);
    Some((rate * 10_000.0).round() / 10_000.0)
}

/// The first days of the `n` months ending with `month` (its first day),
/// oldest first.
pub fn months_ending(month: NaiveDate, n: u32) -> Vec<NaiveDate> {
    (0..n)
        .rev()
        .filter_map(|back| month.checked_sub_months(chrono::Months::new(back)))
        .collect()
}

/// The days of `month` (its first day).
pub fn days_of(month: NaiveDate) -> Vec<NaiveDate> {
    let next = schedule::add_months(month, 1).unwrap_or(month);
    month.iter_days().take_while(|d| *d < next).collect()
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
        if !is_active(&h.children, day, tenant) {
            continue;
        }
        let mut stages: Vec<Stage> = h
            .children
            .iter()
            .filter_map(|c| stage_on(c, day, tenant))
            .collect();
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

/// Whether a household (not stopped) whose children are `children` is
/// active on `day`: a child inside its delivery window. The one rule of
/// monthly active users, for one tenant's figures ([`count_active`]) and
/// every tenant's ([`count_active_households`]).
pub fn is_active(children: &[ChildDates], day: NaiveDate, tenant: &Tenant) -> bool {
    children.iter().any(|c| stage_on(c, day, tenant).is_some())
}

/// One tenant's households that are not stopped, as the all-tenant
/// figures read them: their children in one flat list, household `i`
/// being `children[ends[i - 1]..ends[i]]` (no allocation per household,
/// for the whole country's 2.6 million).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantHouseholds {
    pub tenant_id: String,
    pub children: Vec<ChildDates>,
    /// Where each household's children end in `children`.
    pub ends: Vec<u32>,
}

impl TenantHouseholds {
    /// Each household's children.
    pub fn households(&self) -> impl Iterator<Item = &[ChildDates]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let end = end as usize;
            let h = &self.children[start..end];
            start = end;
            h
        })
    }
}

/// The active households among `households` on `day`: the rule of
/// [`count_active`] ([`is_active`]).
pub fn count_active_households(
    households: &TenantHouseholds,
    day: NaiveDate,
    tenant: &Tenant,
) -> u64 {
    households
        .households()
        .filter(|h| is_active(h, day, tenant))
        .count() as u64
}

/// One tenant's headline figures of a month, for the operator's table of
/// every tenant (`tayori_api::reports::all_tenants`): the same numbers as
/// the tenant's own [`MonthlyFigures`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TenantFigures {
    pub tenant_id: String,
    pub name: String,
    /// `YYYY-MM`: the tenant's current month, in its time zone.
    pub month: String,
    /// Today in the tenant's zone.
    pub counted_on: NaiveDate,
    /// [`MonthlyFigures::active_users`].
    pub active_users: u64,
    /// [`MonthlyFigures::registrations`].
    pub registrations: u64,
    /// [`MonthlyFigures::stops`].
    pub stops: u64,
    /// [`MonthlyFigures::blocks`].
    pub blocks: u64,
    /// Deliveries due in the month that went out (`sent`, every channel).
    pub sent: u64,
    /// Deliveries due in the month that failed: refused for good
    /// (`failed`) or given up after the last attempt (`dead`).
    pub failed: u64,
    /// The tenant's channels that are not paused.
    pub active_channels: u64,
}

/// The delivery statuses [`TenantFigures::failed`] counts.
pub const FAILED_STATUSES: [&str; 2] = ["failed", "dead"];

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
            yearly_births: None,
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
    fn every_tenants_count_is_the_tenants_own() {
        let t = tenant();
        let rows = vec![
            vec![due("2027-06-01"), born("2020-01-01")],
            vec![born("2020-01-01"), born("2019-01-01")],
            vec![due("2027-10-11")],
            vec![born("2026-12-01")],
        ];
        let flat = TenantHouseholds {
            tenant_id: "t".into(),
            children: rows.iter().flatten().copied().collect(),
            ends: vec![2, 4, 5, 6],
        };
        assert_eq!(flat.households().count(), 4);
        let households: Vec<HouseholdRow> = rows
            .into_iter()
            .map(|children| HouseholdRow {
                children,
                channels: vec![],
            })
            .collect();
        for day in ["2027-01-31", "2027-01-18", "2020-06-01"] {
            let mut f = MonthlyFigures::default();
            count_active(&households, d(day), &t, &mut f);
            assert_eq!(
                count_active_households(&flat, d(day), &t),
                f.active_users,
                "{day}"
            );
        }
        assert_eq!(count_active_households(&flat, d("2027-01-31"), &t), 2);
    }

    #[test]
    fn registrations_are_read_against_the_yearly_births() {
        // The 12 months ending with January 2027 start in February 2026.
        let months = months_ending(d("2027-01-01"), REGISTRATION_MONTHS);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], d("2026-02-01"));
        assert_eq!(months[11], d("2027-01-01"));
        let mut f = MonthlyFigures::default();
        for (i, m) in months.iter().enumerate() {
            // 1 + 2 + … + 12 = 78 registrations.
            f.registrations_by_month
                .insert(m.format("%Y-%m").to_string(), i as u64 + 1);
        }
        assert_eq!(f.registrations_in_year(), 78);
        assert_eq!(f.registration_rate(), None, "births unset");
        f.yearly_births = Some(390);
        assert_eq!(f.registration_rate(), Some(0.2), "78 of 390 is 20 %");
        f.yearly_births = Some(700);
        assert_eq!(f.registration_rate(), Some(0.1114), "78 / 700 = 0.111428…");
        assert_eq!(registration_rate(5, Some(0)), None);
        assert_eq!(registration_rate(0, Some(10)), Some(0.0));
    }

    #[test]
    fn deliveries_are_counted_on_each_day_of_the_month() {
        let feb = days_of(d("2028-02-01"));
        assert_eq!(feb.len(), 29, "a leap year");
        assert_eq!(feb[28], d("2028-02-29"));
        assert_eq!(days_of(d("2027-02-01")).len(), 28);
        assert_eq!(days_of(d("2027-12-01")).len(), 31);
        let mut f = MonthlyFigures::default();
        f.count_by_day(
            &feb,
            vec![
                (0, "line".into(), "sent".into(), 3),
                (0, "line".into(), "failed".into(), 1),
                (28, "email".into(), "sent".into(), 2),
                (29, "email".into(), "sent".into(), 9),
            ],
        );
        assert_eq!(f.deliveries_by_day.len(), 29, "every day, with or without");
        assert_eq!(f.deliveries_by_day["2028-02-01"]["line"]["sent"], 3);
        assert_eq!(f.deliveries_by_day["2028-02-01"]["line"]["failed"], 1);
        assert!(f.deliveries_by_day["2028-02-02"].is_empty());
        assert_eq!(f.deliveries_by_day["2028-02-29"]["email"]["sent"], 2);
        assert!(!f.deliveries_by_day.contains_key("2028-03-01"));
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
