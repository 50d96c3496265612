//! The planner: each tenant's day, in its time zone, materialised as
//! outbox rows (one per contact × child × message due that day) at the
//! tenant's send time.
//!
//! - Idempotent: a row's key is derived from its identity, and planning a
//!   day again adds nothing.
//! - After downtime it plans the missed days (up to [`MAX_CATCH_UP_DAYS`]):
//!   those still within the lateness window go out late; the rest are
//!   recorded as expired, never sent.
//! - During the day it plans, for the day, only the subscribers changed
//!   since its last pass (a child registered mid-span starts from today; a
//!   birth report switches tracks): the store cancels the old track's
//!   pending rows in the transaction of the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use tayori_core::{
    Anchor, CatalogMessage, DeliverySource, DeliverySpan, LateReason, Locale, MessageContent,
    NewDelivery, OutboxStatus, PlanSource, PlanState, Planned, ScheduleRule, Store, StoreResult,
    Tenant, TenantMessage, UNREPORTED_BIRTH_ASK_DAYS, UnreportedBirth,
    schedule::{DayAnchor, DayKeys, TERM_DAYS, TrackRules, counts_corrected, day_anchor, span_end},
};

use crate::clock::Clock;
use crate::keys;

/// Tenants planned at once by a pass over all of them.
const PLAN_CONCURRENCY: usize = 2;
/// The most missed days planned after downtime.
pub const MAX_CATCH_UP_DAYS: i64 = 31;
/// A message a tenant sends: a catalog message of one of its programs, or
/// one of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMessage {
    pub id: String,
    pub stage: Option<String>,
    pub rule: ScheduleRule,
    pub content: BTreeMap<Locale, MessageContent>,
    /// The span of the message's program when the tenant gave it one of its
    /// own; `None`: the tenant's span.
    pub span: Option<DeliverySpan>,
}

impl PlannedMessage {
    /// Whether the message is of the pregnancy track.
    pub fn pregnancy(&self) -> bool {
        matches!(self.rule, ScheduleRule::PregnancyDay(_))
    }
}

impl From<&CatalogMessage> for PlannedMessage {
    fn from(m: &CatalogMessage) -> Self {
        Self {
            id: m.id.clone(),
            stage: m.stage.clone(),
            rule: m.rule,
            content: m.content.clone(),
            span: None,
        }
    }
}

impl From<&TenantMessage> for PlannedMessage {
    fn from(m: &TenantMessage) -> Self {
        Self {
            id: m.id.clone(),
            stage: m.stage.clone(),
            rule: m.rule,
            content: m.content.clone(),
            span: None,
        }
    }
}

/// A tenant's messages indexed by the day keys their rules fall on, so a
/// child's day costs a few hash lookups whatever the catalog's size.
#[derive(Debug, Default, Clone)]
pub struct MessageIndex {
    messages: Vec<Arc<PlannedMessage>>,
    /// Position in `messages` by id (the dispatcher looks up every row's).
    by_id: HashMap<String, usize>,
    pregnancy_day: HashMap<i64, Vec<usize>>,
    child_day: HashMap<i64, Vec<usize>>,
    child_month: HashMap<u32, Vec<usize>>,
    school_entry: HashMap<i64, Vec<usize>>,
}

impl MessageIndex {
    /// Indexes `messages`.
    pub fn new(messages: Vec<Arc<PlannedMessage>>) -> Self {
        let mut index = Self {
            messages,
            ..Self::default()
        };
        for (i, m) in index.messages.iter().enumerate() {
            // A tenant's own message cannot take a catalog id, so ids are
            // unique; were one repeated, the first would win, as before.
            index.by_id.entry(m.id.clone()).or_insert(i);
            match m.rule {
                ScheduleRule::PregnancyDay(n) => {
                    index.pregnancy_day.entry(n.into()).or_default().push(i)
                }
                ScheduleRule::ChildDay(n) => index.child_day.entry(n.into()).or_default().push(i),
                ScheduleRule::ChildMonth(n) => index.child_month.entry(n).or_default().push(i),
                ScheduleRule::ChildYear(n) => {
                    if let Some(months) = n.checked_mul(12) {
                        index.child_month.entry(months).or_default().push(i)
                    }
                }
                ScheduleRule::SchoolEntry { offset_days } => index
                    .school_entry
                    .entry(offset_days.into())
                    .or_default()
                    .push(i),
            }
        }
        index
    }

    /// The messages due on a day with these keys.
    pub fn due(&self, keys: &DayKeys) -> impl Iterator<Item = &Arc<PlannedMessage>> {
        let lists = [
            keys.pregnancy_day.and_then(|k| self.pregnancy_day.get(&k)),
            keys.child_day.and_then(|k| self.child_day.get(&k)),
            keys.child_month.and_then(|k| self.child_month.get(&k)),
            keys.school_entry_offset
                .and_then(|k| self.school_entry.get(&k)),
        ];
        lists
            .into_iter()
            .flatten()
            .flatten()
            .map(|&i| &self.messages[i])
    }

    /// A message by id.
    pub fn get(&self, id: &str) -> Option<&Arc<PlannedMessage>> {
        self.by_id.get(id).map(|&i| &self.messages[i])
    }

    /// The days of pregnancy some message falls on.
    pub fn pregnancy_days(&self) -> impl Iterator<Item = i64> + '_ {
        self.pregnancy_day.keys().copied()
    }

    /// All messages.
    pub fn messages(&self) -> &[Arc<PlannedMessage>] {
        &self.messages
    }
}

/// The messages a tenant sends: its programs' catalog messages and its own.
pub fn tenant_messages(
    tenant: &Tenant,
    catalog: &[CatalogMessage],
    own: &[TenantMessage],
) -> Vec<Arc<PlannedMessage>> {
    catalog
        .iter()
        .filter(|m| tenant.programs.contains(&m.program))
        .map(|m| {
            Arc::new(PlannedMessage {
                span: tenant.program_spans.get(&m.program).copied(),
                ..PlannedMessage::from(m)
            })
        })
        .chain(own.iter().map(|m| Arc::new(PlannedMessage::from(m))))
        .collect()
}

/// The child's anchor: the birth date once born, else the due date.
pub fn anchor_of(due_date: Option<NaiveDate>, birth_date: Option<NaiveDate>) -> Option<Anchor> {
    birth_date
        .map(Anchor::Birth)
        .or_else(|| due_date.map(Anchor::Due))
}

/// The instant a local day's send time falls on in `tz`, moved to the end
/// of the tenant's quiet hours if it falls in them (a time skipped by a
/// daylight-saving change moves forward by the gap).
pub fn send_instant(tenant: &Tenant, tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let mut time: NaiveTime = tenant.send_time;
    if let Some(q) = tenant.quiet_hours
        && q.contains(time)
    {
        time = q.end;
    }
    let local = day.and_time(time);
    if let Some(t) = tz.from_local_datetime(&local).earliest() {
        // A time that happens twice (the autumn change) goes at the first.
        return t.with_timezone(&Utc);
    }
    // The time does not exist (the spring change skips it): read it with the
    // offset in force before the gap, which lands it as many minutes past
    // the gap's end as it was past the gap's start.
    let before = tz
        .from_local_datetime(&(local - Duration::days(1)))
        .earliest()
        .map(|t| t.offset().fix().local_minus_utc())
        .unwrap_or(0);
    Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(before))))
}

/// The tenant's rules for how a child's days are counted.
pub fn track_rules(tenant: &Tenant) -> TrackRules {
    TrackRules {
        unreported_birth: tenant.unreported_birth,
        corrected_age: tenant.corrected_age,
    }
}

/// The anchors of the children that have a message on one of `days`: birth
/// dates and due dates (for children not yet born). A child anchored
/// elsewhere has nothing due those days, so the planner reads only the
/// children anchored on these (`OutboxStore::plan_sources_anchored`): about 4
/// in 10 on a day of the standard catalog. Each date is checked with the
/// same keys and span as [`plan_day`], so the two always agree.
pub fn due_anchors(
    tenant: &Tenant,
    index: &MessageIndex,
    days: &[NaiveDate],
) -> (Vec<NaiveDate>, Vec<NaiveDate>) {
    let mut births = BTreeSet::new();
    let mut due_dates = BTreeSet::new();
    for &day in days {
        // Born on `b`: something may fall on any day from the birth to the
        // span's end. The end moves with the birth date, so going back from
        // `day`, the first birth date whose span ended before `day` ends
        // the search.
        let longest = tenant.longest_span();
        let mut b = day;
        while span_end(b, longest) >= day {
            if index
                .due(&DayKeys::of(Anchor::Birth(b), day))
                .next()
                .is_some()
            {
                births.insert(b);
                // A pregnancy never reported born counts from its due date
                // once the ask day has passed (UnreportedBirth::Continue).
                if tenant.unreported_birth == UnreportedBirth::Continue
                    && (day - b).num_days() > UNREPORTED_BIRTH_ASK_DAYS
                {
                    due_dates.insert(b);
                }
            }
            let Some(before) = b.pred_opt() else { break };
            b = before;
        }
        // Expected on `d`: `day` is a pregnancy day some message falls on.
        for n in index.pregnancy_days() {
            let Some(due) = day.checked_add_signed(Duration::days(TERM_DAYS - n)) else {
                continue;
            };
            if index
                .due(&DayKeys::of(Anchor::Due(due), day))
                .next()
                .is_some()
            {
                due_dates.insert(due);
            }
        }
    }
    (
        births.into_iter().collect(),
        due_dates.into_iter().collect(),
    )
}

/// Whether `day` is inside the span of a message for a child counted from
/// `birth`.
fn in_span(tenant: &Tenant, m: &PlannedMessage, birth: NaiveDate, day: NaiveDate) -> bool {
    day >= birth && day <= span_end(birth, m.span.unwrap_or(tenant.span))
}

/// One source's deliveries due on `day`.
#[allow(clippy::too_many_arguments)]
fn plan_source(
    tenant: &Tenant,
    index: &MessageIndex,
    source: &PlanSource,
    day: NaiveDate,
    due_at: i64,
    expires_at: i64,
    status: OutboxStatus,
    late: Option<LateReason>,
    out: &mut Vec<NewDelivery>,
) {
    let mut push = |m: &PlannedMessage| {
        out.push(NewDelivery {
            key: keys::scheduled(&tenant.id, &source.contact_id, &source.child_id, &m.id, day),
            tenant_id: tenant.id.clone(),
            subscriber_id: source.subscriber_id.clone(),
            contact_id: source.contact_id.clone(),
            channel: source.channel.clone(),
            source: DeliverySource::Scheduled {
                child_id: source.child_id.clone(),
                message_id: m.id.clone(),
                occurs_on: day,
                pregnancy: m.pregnancy(),
            },
            due_at,
            expires_at,
            status,
            late,
        });
    };
    match day_anchor(source.due_date, source.birth_date, day, track_rules(tenant)) {
        DayAnchor::Silent => {}
        DayAnchor::One(anchor @ Anchor::Due(_)) => {
            for m in index.due(&DayKeys::of(anchor, day)) {
                push(m);
            }
        }
        DayAnchor::One(anchor @ Anchor::Birth(b)) => {
            for m in index.due(&DayKeys::of(anchor, day)) {
                if in_span(tenant, m, b, day) {
                    push(m);
                }
            }
        }
        DayAnchor::Corrected {
            birth,
            corrected,
            months,
        } => {
            for m in index.due(&DayKeys::of(Anchor::Birth(birth), day)) {
                if !counts_corrected(&m.rule, corrected, months) && in_span(tenant, m, birth, day) {
                    push(m);
                }
            }
            for m in index.due(&DayKeys::of(Anchor::Birth(corrected), day)) {
                if counts_corrected(&m.rule, corrected, months) && in_span(tenant, m, birth, day) {
                    push(m);
                }
            }
        }
    }
}

/// The first instant at or after `now_ms` outside the tenant's quiet hours.
pub fn outside_quiet_hours(tenant: &Tenant, tz: Tz, now_ms: i64) -> i64 {
    let Some(q) = tenant.quiet_hours else {
        return now_ms;
    };
    let Some(local) = tz.timestamp_millis_opt(now_ms).single() else {
        return now_ms;
    };
    if !q.contains(local.time()) {
        return now_ms;
    }
    let end = local.date_naive().and_time(q.end);
    let mut end = tz
        .from_local_datetime(&end)
        .earliest()
        .map_or(now_ms, |t| t.timestamp_millis());
    if end <= now_ms {
        end += 86_400_000;
    }
    end
}

/// The deliveries of `sources` due on `day`. Rows already too late at
/// `now` are `Expired` with the reason `if_late` gives (a missed day caught
/// up), or left out when it is `None` (a preview shows only what would be
/// sent). A household registered (or changed) after the day's send time and
/// window (`RegisteredLate`) gets the day's messages now instead (or when
/// the tenant's quiet hours end), so that a family registering on the
/// evening of a birth still gets day 0; each goes once, by its key.
pub fn plan_day(
    tenant: &Tenant,
    tz: Tz,
    index: &MessageIndex,
    sources: &[PlanSource],
    day: NaiveDate,
    now_ms: i64,
    if_late: Option<LateReason>,
) -> Vec<NewDelivery> {
    let window = i64::from(tenant.lateness_window_minutes) * 60_000;
    let mut due_at = send_instant(tenant, tz, day).timestamp_millis();
    let mut expires_at = due_at + window;
    let late = now_ms > expires_at;
    if late && if_late.is_none() {
        return Vec::new();
    }
    let (status, late) = match (late, if_late) {
        (true, Some(LateReason::RegisteredLate)) => {
            due_at = outside_quiet_hours(tenant, tz, now_ms);
            expires_at = due_at + window;
            (OutboxStatus::Pending, None)
        }
        (true, reason) => (OutboxStatus::Expired, reason),
        (false, _) => (OutboxStatus::Pending, None),
    };
    let mut out = Vec::new();
    for source in sources {
        plan_source(
            tenant, index, source, day, due_at, expires_at, status, late, &mut out,
        );
    }
    out
}

/// What one pass planned for a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantPlan {
    pub days: Vec<NaiveDate>,
    pub planned: Planned,
}

/// Plans tenants' days into the outbox.
#[derive(Clone)]
pub struct Planner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("clock", &self.clock)
            .finish()
    }
}

impl Planner {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// A pass over the given tenants only (those whose data changed); a
    /// tenant that no longer exists is skipped.
    pub async fn run_tenants(&self, tenant_ids: &[String]) -> StoreResult<Planned> {
        if tenant_ids.is_empty() {
            return Ok(Planned::default());
        }
        let mut tenants = Vec::with_capacity(tenant_ids.len());
        for id in tenant_ids {
            match self.store.tenant(id).await {
                Ok(t) => tenants.push(t),
                Err(tayori_core::StoreError::NotFound { .. }) => {}
                Err(e) => tracing::error!(tenant = %id, error = %e, "planning failed"),
            }
        }
        self.plan_all(tenants).await
    }

    /// One pass over every tenant. A tenant that fails is logged and the
    /// others go on.
    pub async fn run_once(&self) -> StoreResult<Planned> {
        let tenants = self.store.tenants().await?;
        self.plan_all(tenants).await
    }

    /// Plans `tenants` with the catalog as it is now. A tenant that fails
    /// is logged and the others go on.
    async fn plan_all(&self, tenants: Vec<Tenant>) -> StoreResult<Planned> {
        use futures::StreamExt;
        let catalog: Arc<[CatalogMessage]> = self.store.catalog_messages(None).await?.into();
        // Two tenants at a time: one's rows are computed and its changes
        // read while the other's are written (on SQLite, by the single
        // writer), which keeps both cores busy.
        let mut passes = futures::stream::iter(tenants.into_iter().map(|tenant| {
            let (planner, catalog) = (self.clone(), catalog.clone());
            async move {
                let pass = planner.plan_tenant(&tenant, &catalog).await;
                (tenant, pass)
            }
        }))
        .buffer_unordered(PLAN_CONCURRENCY);
        let mut total = Planned::default();
        while let Some((tenant, pass)) = passes.next().await {
            match pass {
                Ok(plan) => add(&mut total, plan.planned),
                Err(e) => tracing::error!(tenant = %tenant.id, error = %e, "planning failed"),
            }
        }
        Ok(total)
    }

    /// Plans one tenant up to its today: the days not yet planned whole,
    /// and into today the subscribers changed since the last pass (read by
    /// their change numbers, so each change is read once, however late its
    /// transaction committed).
    pub async fn plan_tenant(
        &self,
        tenant: &Tenant,
        catalog: &[CatalogMessage],
    ) -> StoreResult<TenantPlan> {
        let Some(tz) = tenant.tz() else {
            return Err(tayori_core::StoreError::Invalid {
                field: "time_zone".into(),
                message: format!("tenant `{}` has an unknown zone", tenant.id),
            });
        };
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();
        let today = now.with_timezone(&tz).date_naive();
        let state = self.store.plan_state(&tenant.id).await?;
        let mut plan = TenantPlan::default();
        if let Some(s) = &state
            && s.day >= today
        {
            // Today is planned: only what changed since. Nothing changed is
            // one indexed read, and nothing written.
            let cursor = self.store.change_cursor().await?;
            let sources = self.store.plan_sources(&tenant.id, Some(s.changes)).await?;
            if sources.is_empty() {
                return Ok(plan);
            }
            let own = self.store.tenant_messages(&tenant.id).await?;
            let index = MessageIndex::new(tenant_messages(tenant, catalog, &own));
            // A child registered after the day's send time and window gets
            // its day recorded as expired, with that reason.
            let rows = plan_day(
                tenant,
                tz,
                &index,
                &sources,
                s.day,
                now_ms,
                Some(LateReason::RegisteredLate),
            );
            let state = PlanState {
                day: s.day,
                changes: cursor,
            };
            plan.planned = self.store.write_plan(&tenant.id, &rows, &state).await?;
            plan.days.push(s.day);
            return Ok(plan);
        }
        // Every read below comes after the cursor, so the days planned here
        // hold every change up to it.
        let cursor = self.store.change_cursor().await?;
        let own = self.store.tenant_messages(&tenant.id).await?;
        let index = MessageIndex::new(tenant_messages(tenant, catalog, &own));
        let first_full_day = match &state {
            // A tenant starts from its first day.
            None => today,
            Some(s) => {
                // Finish the last planned day's changes, then the missed days.
                let sources = self.store.plan_sources(&tenant.id, Some(s.changes)).await?;
                if !sources.is_empty() {
                    let rows = plan_day(tenant, tz, &index, &sources, s.day, now_ms, None);
                    add(
                        &mut plan.planned,
                        self.store.write_plan(&tenant.id, &rows, s).await?,
                    );
                }
                // The next day is planned whole.
                (s.day + Duration::days(1)).max(today - Duration::days(MAX_CATCH_UP_DAYS - 1))
            }
        };
        let days: Vec<NaiveDate> = first_full_day
            .iter_days()
            .take_while(|d| *d <= today)
            .collect();
        let sources = if tenant.corrected_age.is_some() {
            // A preterm child's corrected days count from its due date,
            // which the anchored read does not select by: read every child.
            self.store.plan_sources(&tenant.id, None).await?
        } else {
            let (births, due_dates) = due_anchors(tenant, &index, &days);
            self.store
                .plan_sources_anchored(&tenant.id, &births, &due_dates)
                .await?
        };
        for day in days {
            let reason = if state.is_none() {
                LateReason::TenantNew
            } else {
                LateReason::HostDown
            };
            let rows = plan_day(tenant, tz, &index, &sources, day, now_ms, Some(reason));
            let state = PlanState {
                day,
                changes: cursor,
            };
            add(
                &mut plan.planned,
                self.store.write_plan(&tenant.id, &rows, &state).await?,
            );
            plan.days.push(day);
        }
        Ok(plan)
    }
}

fn add(total: &mut Planned, p: Planned) {
    total.inserted += p.inserted;
    total.expired += p.expired;
    total.existing += p.existing;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tayori_core::{DeliverySpan, QuietHours};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tenant(zone: &str, send: &str) -> Tenant {
        Tenant {
            id: "t".into(),
            name: "T".into(),
            time_zone: zone.into(),
            send_time: NaiveTime::parse_from_str(send, "%H:%M").unwrap(),
            span: DeliverySpan::ToThirdBirthday,
            programs: vec!["standard".into()],
            lateness_window_minutes: 360,
            quiet_hours: None,
            program_spans: BTreeMap::new(),
            unreported_birth: UnreportedBirth::Continue,
            corrected_age: None,
            yearly_births: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn send_times_follow_the_zone_and_its_daylight_saving() {
        let cases = [
            // Tokyo has no daylight saving: 09:00 JST is 00:00 UTC.
            ("Asia/Tokyo", "09:00", "2027-03-14", "2027-03-14T00:00:00Z"),
            // New York before and after the spring change (14 March 2027).
            (
                "America/New_York",
                "09:00",
                "2027-03-13",
                "2027-03-13T14:00:00Z",
            ),
            (
                "America/New_York",
                "09:00",
                "2027-03-14",
                "2027-03-14T13:00:00Z",
            ),
            // 02:30 does not exist on the change day: it moves on by the gap.
            (
                "America/New_York",
                "02:30",
                "2027-03-14",
                "2027-03-14T07:30:00Z",
            ),
            // Lord Howe Island moves by 30 minutes: 02:10 is 02:40.
            (
                "Australia/Lord_Howe",
                "02:10",
                "2027-10-03",
                "2027-10-02T15:40:00Z",
            ),
            // 01:30 happens twice on the autumn change day: the first one.
            (
                "America/New_York",
                "01:30",
                "2027-11-07",
                "2027-11-07T05:30:00Z",
            ),
        ];
        for (zone, send, day, want) in cases {
            let t = tenant(zone, send);
            assert_eq!(
                send_instant(&t, t.tz().unwrap(), d(day)),
                utc(want),
                "{zone} {send} {day}"
            );
        }
    }

    #[test]
    fn quiet_hours_move_the_send_time_to_their_end() {
        let mut t = tenant("Asia/Tokyo", "07:00");
        t.quiet_hours = Some(QuietHours {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        });
        assert_eq!(
            send_instant(&t, t.tz().unwrap(), d("2027-01-04")),
            utc("2027-01-03T23:00:00Z")
        );
    }

    fn message(id: &str, rule: ScheduleRule) -> Arc<PlannedMessage> {
        Arc::new(PlannedMessage {
            id: id.into(),
            stage: None,
            rule,
            content: BTreeMap::new(),
            span: None,
        })
    }

    fn source(due: Option<&str>, birth: Option<&str>) -> PlanSource {
        PlanSource {
            subscriber_id: "s".into(),
            child_id: "k".into(),
            due_date: due.map(d),
            birth_date: birth.map(d),
            contact_id: "c".into(),
            channel: "line".into(),
        }
    }

    fn planned(t: &Tenant, index: &MessageIndex, s: &PlanSource, day: &str) -> Vec<String> {
        plan_day(
            t,
            t.tz().unwrap(),
            index,
            std::slice::from_ref(s),
            d(day),
            0,
            Some(LateReason::HostDown),
        )
        .into_iter()
        .map(|r| match r.source {
            DeliverySource::Scheduled { message_id, .. } => message_id,
            DeliverySource::Broadcast { .. } => unreachable!(),
        })
        .collect()
    }

    #[test]
    fn a_day_plans_the_rules_that_fall_on_it_within_the_span() {
        let t = tenant("Asia/Tokyo", "09:00");
        let index = MessageIndex::new(vec![
            message("p28", ScheduleRule::PregnancyDay(28)),
            message("c0", ScheduleRule::ChildDay(0)),
            message("m1", ScheduleRule::ChildMonth(1)),
            message("y3", ScheduleRule::ChildYear(3)),
            message("d1097", ScheduleRule::ChildDay(1097)),
            message("school", ScheduleRule::SchoolEntry { offset_days: 0 }),
        ]);
        let expecting = source(Some("2027-05-01"), None);
        assert_eq!(planned(&t, &index, &expecting, "2026-08-22"), ["p28"]);
        assert!(planned(&t, &index, &expecting, "2026-08-23").is_empty());
        // The birth date replaces the due date: the child track applies.
        let born = source(Some("2027-05-01"), Some("2027-01-31"));
        assert_eq!(planned(&t, &index, &born, "2027-01-31"), ["c0"]);
        assert!(planned(&t, &index, &born, "2026-08-22").is_empty());
        // Born on the 31st: one month is the last day of February.
        assert_eq!(planned(&t, &index, &born, "2027-02-28"), ["m1"]);
        // The 3rd birthday is the span's last day; the day after is out.
        assert_eq!(planned(&t, &index, &born, "2030-01-31"), ["y3"]);
        // Day 1097 falls the day after: out of the span.
        assert!(planned(&t, &index, &born, "2030-02-01").is_empty());
        // School entry is beyond a 3-year span, inside a 6-year one.
        let mut six = t.clone();
        six.span = DeliverySpan::ToSixthBirthday;
        let april_first = source(None, Some("2027-04-01"));
        assert!(planned(&t, &index, &april_first, "2033-04-01").is_empty());
        assert_eq!(
            planned(&six, &index, &april_first, "2033-04-01"),
            ["school"]
        );
        let april_second = source(None, Some("2027-04-02"));
        assert!(planned(&six, &index, &april_second, "2033-04-01").is_empty());
    }

    #[test]
    fn a_program_with_its_own_span_runs_past_the_tenants() {
        let mut t = tenant("Asia/Tokyo", "09:00");
        let mut school =
            (*message("school", ScheduleRule::SchoolEntry { offset_days: -30 })).clone();
        school.span = Some(DeliverySpan::EndOfSchoolYearAge7);
        let index = MessageIndex::new(vec![
            message("y4", ScheduleRule::ChildYear(4)),
            Arc::new(school),
        ]);
        // Born 2 April 2027: enters school 1 April 2034; 30 days before.
        let s = source(None, Some("2027-04-02"));
        assert_eq!(planned(&t, &index, &s, "2034-03-02"), ["school"]);
        // The tenant's other messages keep the tenant's 3-year span.
        assert!(planned(&t, &index, &s, "2031-04-02").is_empty());
        // The anchors a day reads reach back over the longest span.
        t.program_spans
            .insert("school-entry".into(), DeliverySpan::EndOfSchoolYearAge7);
        let (births, _) = due_anchors(&t, &index, &[d("2034-03-02")]);
        assert!(births.contains(&d("2027-04-02")), "{births:?}");
    }

    #[test]
    fn a_birth_never_reported_continues_from_the_due_date_or_pauses() {
        let mut t = tenant("Asia/Tokyo", "09:00");
        let index = MessageIndex::new(vec![
            message("p293", ScheduleRule::PregnancyDay(293)),
            message("c14", ScheduleRule::ChildDay(14)),
            message("c15", ScheduleRule::ChildDay(15)),
            message("m1", ScheduleRule::ChildMonth(1)),
        ]);
        let s = source(Some("2027-05-01"), None);
        // Day 293 of pregnancy is 13 days after the due date: still asked.
        assert_eq!(planned(&t, &index, &s, "2027-05-14"), ["p293"]);
        // The 14th day is the ask day: nothing of the child track yet.
        assert!(planned(&t, &index, &s, "2027-05-15").is_empty());
        // From the 15th, the child track counted from the due date.
        assert_eq!(planned(&t, &index, &s, "2027-05-16"), ["c15"]);
        assert_eq!(planned(&t, &index, &s, "2027-06-01"), ["m1"]);
        let (births, dues) = due_anchors(&t, &index, &[d("2027-06-01")]);
        assert!(births.contains(&d("2027-05-01")) && dues.contains(&d("2027-05-01")));
        t.unreported_birth = UnreportedBirth::Pause;
        assert!(planned(&t, &index, &s, "2027-05-16").is_empty());
        assert!(planned(&t, &index, &s, "2027-06-01").is_empty());
        let (_, dues) = due_anchors(&t, &index, &[d("2027-06-01")]);
        assert!(!dues.contains(&d("2027-05-01")));
        // A reported birth is followed whatever the rule.
        let born = source(Some("2027-05-01"), Some("2027-05-17"));
        assert_eq!(planned(&t, &index, &born, "2027-06-17"), ["m1"]);
    }

    #[test]
    fn a_preterm_child_is_counted_by_corrected_age_for_the_months_named() {
        let mut t = tenant("Asia/Tokyo", "09:00");
        t.corrected_age = Some(tayori_core::CorrectedAge {
            weeks_early: 4,
            months: 6,
        });
        let index = MessageIndex::new(vec![
            message("c0", ScheduleRule::ChildDay(0)),
            message("m1", ScheduleRule::ChildMonth(1)),
            message("m6", ScheduleRule::ChildMonth(6)),
        ]);
        // Due 1 May, born 1 March: 8 weeks early.
        let s = source(Some("2027-05-01"), Some("2027-03-01"));
        // The day of birth is the birth.
        assert_eq!(planned(&t, &index, &s, "2027-03-01"), ["c0"]);
        // One month counts from the due date, not from the birth.
        assert!(planned(&t, &index, &s, "2027-04-01").is_empty());
        assert_eq!(planned(&t, &index, &s, "2027-06-01"), ["m1"]);
        // Six months is past the corrected months: from the birth.
        assert_eq!(planned(&t, &index, &s, "2027-09-01"), ["m6"]);
        assert!(planned(&t, &index, &s, "2027-11-01").is_empty());
        // Born 3 weeks early: the birth date.
        let s = source(Some("2027-05-01"), Some("2027-04-10"));
        assert_eq!(planned(&t, &index, &s, "2027-05-10"), ["m1"]);
    }

    #[test]
    fn a_late_registration_in_quiet_hours_gets_its_day_when_they_end() {
        let mut t = tenant("Asia/Tokyo", "09:00");
        t.quiet_hours = Some(QuietHours {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        });
        let index = MessageIndex::new(vec![message("c0", ScheduleRule::ChildDay(0))]);
        let s = source(None, Some("2027-01-04"));
        // 23:00 JST on the day of birth.
        let at = utc("2027-01-04T14:00:00Z").timestamp_millis();
        let rows = plan_day(
            &t,
            t.tz().unwrap(),
            &index,
            std::slice::from_ref(&s),
            d("2027-01-04"),
            at,
            Some(LateReason::RegisteredLate),
        );
        assert_eq!(rows[0].status, OutboxStatus::Pending);
        // 08:00 JST the next morning, within its window from then.
        assert_eq!(
            rows[0].due_at,
            utc("2027-01-04T23:00:00Z").timestamp_millis()
        );
        assert!(rows[0].expires_at > rows[0].due_at);
    }

    #[test]
    fn late_days_are_expired_when_caught_up_and_skipped_otherwise() {
        let t = tenant("Asia/Tokyo", "09:00");
        let index = MessageIndex::new(vec![message("c1", ScheduleRule::ChildDay(1))]);
        let s = source(None, Some("2027-01-03"));
        let plan = |now: i64, if_late: Option<LateReason>| {
            plan_day(
                &t,
                t.tz().unwrap(),
                &index,
                std::slice::from_ref(&s),
                d("2027-01-04"),
                now,
                if_late,
            )
        };
        let after_window = utc("2027-01-04T06:00:01Z").timestamp_millis();
        let caught = plan(after_window, Some(LateReason::HostDown));
        assert_eq!(caught.len(), 1);
        assert_eq!(caught[0].status, OutboxStatus::Expired);
        assert_eq!(caught[0].late, Some(LateReason::HostDown));
        // Registered after the window: the day's message goes now.
        let registered = plan(after_window, Some(LateReason::RegisteredLate));
        assert_eq!(registered[0].status, OutboxStatus::Pending);
        assert_eq!(registered[0].due_at, after_window);
        assert_eq!(registered[0].key, caught[0].key, "one key: sent once");
        let skipped = plan(after_window, None);
        assert!(skipped.is_empty());
        let in_window = utc("2027-01-04T05:59:59Z").timestamp_millis();
        let on_time = plan(in_window, Some(LateReason::HostDown));
        assert_eq!(on_time[0].status, OutboxStatus::Pending);
        assert_eq!(on_time[0].late, None);
        assert_eq!(
            on_time[0].due_at,
            utc("2027-01-04T00:00:00Z").timestamp_millis()
        );
        // The same identity gives the same key on every plan.
        assert_eq!(on_time[0].key, caught[0].key);
    }
}
