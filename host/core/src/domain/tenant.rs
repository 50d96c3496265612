//! Tenants: the municipalities (自治体) Tayori sends for, and the settings
//! that shape every delivery of theirs: time zone, send time, how long a child
//! is followed, which programs run, how late a message may still go out, and
//! when not to send at all.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::{hhmm, string_enum};

/// The time zone of a tenant that does not choose one.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";
/// The program every tenant gets unless it chooses otherwise.
pub const DEFAULT_PROGRAM: &str = "standard";
/// How late a time-bound message may still go out by default: 6 hours.
pub const DEFAULT_LATENESS_WINDOW_MINUTES: u32 = 6 * 60;

/// The daily send time of a tenant that does not choose one: 09:00.
pub fn default_send_time() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).expect("09:00 is a time")
}

/// Whether `id` is a valid tenant id: a slug, `[a-z0-9][a-z0-9-]{0,62}`.
pub fn is_valid_tenant_id(id: &str) -> bool {
    super::is_slug(id)
}

string_enum! {
    /// How long a tenant follows a child (the end of the delivery span).
    #[derive(Default)]
    pub enum DeliverySpan ("delivery span") {
        /// To the 3rd birthday: the standard service (the default).
        #[default]
        ToThirdBirthday = "to_3rd_birthday",
        /// To the 6th birthday.
        ToSixthBirthday = "to_6th_birthday",
        /// To the 18th birthday.
        ToEighteenthBirthday = "to_18th_birthday",
        /// To the end of the school year (31 March) in which the child turns 7.
        EndOfSchoolYearAge7 = "end_of_school_year_age_7",
    }
}

impl DeliverySpan {
    /// Every span, shortest first: each ends after the one before it for
    /// any birth date (the end of the school year in which a child turns 7
    /// is after its 6th birthday and before its 18th).
    pub const BY_LENGTH: [DeliverySpan; 4] = [
        DeliverySpan::ToThirdBirthday,
        DeliverySpan::ToSixthBirthday,
        DeliverySpan::EndOfSchoolYearAge7,
        DeliverySpan::ToEighteenthBirthday,
    ];

    fn rank(self) -> usize {
        Self::BY_LENGTH.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// The longer of two spans.
    pub fn longer(self, other: DeliverySpan) -> DeliverySpan {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// The most yearly births a tenant may state: more than any municipality
/// (Japan has about 700,000 births a year in all).
pub const MAX_YEARLY_BIRTHS: u32 = 1_000_000;

/// The days after the due date at which a parent whose birth is not
/// reported is asked, and after which the tenant's [`UnreportedBirth`]
/// rule applies (gestational day 294, 42 weeks 0 days).
pub const UNREPORTED_BIRTH_ASK_DAYS: i64 = 14;

string_enum! {
    /// What happens to a pregnancy whose birth is never reported, once
    /// [`UNREPORTED_BIRTH_ASK_DAYS`] have passed since the due date.
    #[derive(Default)]
    pub enum UnreportedBirth ("unreported birth rule") {
        /// Continue on the child track, counting from the due date (the
        /// default): a family that never reports the birth still hears
        /// from the service.
        #[default]
        Continue = "continue",
        /// Send nothing more until the birth is reported.
        Pause = "pause",
    }
}

/// Corrected age for preterm children: for a child born at least
/// `weeks_early` weeks before the due date, the child-track messages of the
/// first `months` months are dated from the due date (the day of birth
/// itself still counts from the birth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectedAge {
    /// How early (in whole weeks before the due date) a child must be born.
    pub weeks_early: u32,
    /// The messages of how many months of age are dated from the due date.
    pub months: u32,
}

/// The most weeks early [`CorrectedAge::weeks_early`] may name (a child
/// born at 22 weeks is 18 weeks early).
pub const MAX_CORRECTED_WEEKS_EARLY: u32 = 18;
/// The most months [`CorrectedAge::months`] may name: corrected age is used
/// to about the 3rd birthday.
pub const MAX_CORRECTED_MONTHS: u32 = 36;

impl CorrectedAge {
    /// Whether a child with this due and birth date is counted by corrected
    /// age.
    pub fn applies(&self, due: chrono::NaiveDate, birth: chrono::NaiveDate) -> bool {
        self.weeks_early > 0 && (due - birth).num_days() >= 7 * i64::from(self.weeks_early)
    }
}

/// A daily period in which nothing is sent (in the tenant's zone). `start`
/// after `end` wraps midnight (22:00–07:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// The first quiet minute.
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// The first minute when sending may resume.
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
}

impl QuietHours {
    /// Whether `t` falls in the quiet period.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// A municipality and its delivery settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The slug id, e.g. `tokyo-minato`.
    pub id: String,
    /// The display name, e.g. `港区`.
    pub name: String,
    /// An IANA time zone name; all of the tenant's dates are in it.
    pub time_zone: String,
    /// When the day's messages go out, in the tenant's zone.
    #[serde(with = "hhmm")]
    pub send_time: NaiveTime,
    /// How long a child is followed.
    pub span: DeliverySpan,
    /// The ids of the catalog programs this tenant runs.
    pub programs: Vec<String>,
    /// How late (after its due time) a time-bound message may still go out
    /// before it expires.
    pub lateness_window_minutes: u32,
    /// When nothing is sent, if ever.
    pub quiet_hours: Option<QuietHours>,
    /// Programs that run on a span of their own instead of [`Tenant::span`]
    /// (the school-entry program to the end of the first school year).
    #[serde(default)]
    pub program_spans: BTreeMap<String, DeliverySpan>,
    /// What happens when a birth is never reported.
    #[serde(default)]
    pub unreported_birth: UnreportedBirth,
    /// Corrected age for preterm children, if the tenant uses it.
    #[serde(default)]
    pub corrected_age: Option<CorrectedAge>,
    /// How many children are born in the municipality a year (出生数), if
    /// the tenant said: the dashboard reads registrations against it.
    #[serde(default)]
    pub yearly_births: Option<u32>,
    /// When the tenant was created.
    pub created_at: DateTime<Utc>,
    /// When its settings last changed.
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    /// The tenant's time zone, if its name is one chrono-tz knows.
    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        self.time_zone.parse().ok()
    }

    /// The span a program's messages run on: its own, or the tenant's.
    pub fn program_span(&self, program: &str) -> DeliverySpan {
        self.program_spans
            .get(program)
            .copied()
            .unwrap_or(self.span)
    }

    /// The longest span any of the tenant's messages runs on.
    pub fn longest_span(&self) -> DeliverySpan {
        self.program_spans
            .values()
            .fold(self.span, |a, b| a.longer(*b))
    }
}

/// A tenant to create. [`NewTenant::new`] fills in the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTenant {
    /// The slug id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// An IANA time zone name (checked by the caller).
    pub time_zone: String,
    /// The daily send time.
    #[serde(with = "hhmm")]
    pub send_time: NaiveTime,
    /// How long a child is followed.
    pub span: DeliverySpan,
    /// The programs this tenant runs.
    pub programs: Vec<String>,
    /// How late a message may still go out, in minutes.
    pub lateness_window_minutes: u32,
    /// When nothing is sent.
    pub quiet_hours: Option<QuietHours>,
    /// Programs on a span of their own.
    #[serde(default)]
    pub program_spans: BTreeMap<String, DeliverySpan>,
    /// What happens when a birth is never reported.
    #[serde(default)]
    pub unreported_birth: UnreportedBirth,
    /// Corrected age for preterm children.
    #[serde(default)]
    pub corrected_age: Option<CorrectedAge>,
    /// Children born in the municipality a year, if known.
    #[serde(default)]
    pub yearly_births: Option<u32>,
}

impl NewTenant {
    /// A tenant with every setting at its default: Asia/Tokyo, 09:00, to the
    /// 3rd birthday, the standard program, a 6-hour lateness window, no quiet
    /// hours.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            time_zone: DEFAULT_TIME_ZONE.to_string(),
            send_time: default_send_time(),
            span: DeliverySpan::default(),
            programs: vec![DEFAULT_PROGRAM.to_string()],
            lateness_window_minutes: DEFAULT_LATENESS_WINDOW_MINUTES,
            quiet_hours: None,
            program_spans: BTreeMap::new(),
            unreported_birth: UnreportedBirth::default(),
            corrected_age: None,
            yearly_births: None,
        }
    }
}

/// A change to a tenant's settings: `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantPatch {
    /// A new display name.
    pub name: Option<String>,
    /// A new time zone.
    pub time_zone: Option<String>,
    /// A new send time.
    pub send_time: Option<NaiveTime>,
    /// A new delivery span.
    pub span: Option<DeliverySpan>,
    /// The new full list of programs.
    pub programs: Option<Vec<String>>,
    /// A new lateness window.
    pub lateness_window_minutes: Option<u32>,
    /// `Some(None)` removes the quiet hours; `Some(Some(q))` sets them.
    pub quiet_hours: Option<Option<QuietHours>>,
    /// The new full map of programs on a span of their own.
    pub program_spans: Option<BTreeMap<String, DeliverySpan>>,
    /// A new rule for births never reported.
    pub unreported_birth: Option<UnreportedBirth>,
    /// `Some(None)` stops counting corrected age; `Some(Some(c))` sets it.
    pub corrected_age: Option<Option<CorrectedAge>>,
    /// `Some(None)` forgets the yearly births; `Some(Some(n))` sets them.
    pub yearly_births: Option<Option<u32>>,
}

impl TenantPatch {
    /// Applies the change to `tenant` (not to `updated_at`).
    pub fn apply(&self, tenant: &mut Tenant) {
        if let Some(v) = &self.name {
            tenant.name.clone_from(v);
        }
        if let Some(v) = &self.time_zone {
            tenant.time_zone.clone_from(v);
        }
        if let Some(v) = self.send_time {
            tenant.send_time = v;
        }
        if let Some(v) = self.span {
            tenant.span = v;
        }
        if let Some(v) = &self.programs {
            tenant.programs.clone_from(v);
        }
        if let Some(v) = self.lateness_window_minutes {
            tenant.lateness_window_minutes = v;
        }
        if let Some(v) = self.quiet_hours {
            tenant.quiet_hours = v;
        }
        if let Some(v) = &self.program_spans {
            tenant.program_spans.clone_from(v);
        }
        if let Some(v) = self.unreported_birth {
            tenant.unreported_birth = v;
        }
        if let Some(v) = self.corrected_age {
            tenant.corrected_age = v;
        }
        if let Some(v) = self.yearly_births {
            tenant.yearly_births = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveTime {
        hhmm::parse(s).unwrap()
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let night = QuietHours {
            start: t("22:00"),
            end: t("07:00"),
        };
        assert!(night.contains(t("23:30")));
        assert!(night.contains(t("06:59")));
        assert!(!night.contains(t("07:00")));
        assert!(!night.contains(t("12:00")));
        let lunch = QuietHours {
            start: t("12:00"),
            end: t("13:00"),
        };
        assert!(lunch.contains(t("12:30")));
        assert!(!lunch.contains(t("13:00")));
    }

    #[test]
    fn spans_are_spelled_as_documented() {
        assert_eq!(DeliverySpan::default().as_str(), "to_3rd_birthday");
        assert_eq!(
            "end_of_school_year_age_7".parse::<DeliverySpan>().unwrap(),
            DeliverySpan::EndOfSchoolYearAge7
        );
    }

    #[test]
    fn new_tenant_defaults() {
        let n = NewTenant::new("x", "X");
        assert_eq!(n.time_zone, "Asia/Tokyo");
        assert_eq!(hhmm::format(n.send_time), "09:00");
        assert_eq!(n.programs, ["standard"]);
        assert_eq!(n.lateness_window_minutes, 360);
    }
}
