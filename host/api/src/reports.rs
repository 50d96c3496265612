//! `GET /v1/tenants/{tenant}/reports/monthly?month=YYYY-MM`: the month's
//! figures (`tayori_core::domain::figures`): monthly active users by stage
//! and channel, registrations, confirmations, stops, blocks and
//! deliveries. JSON, or CSV with `Accept: text/csv`; the console shows the
//! same numbers. Months are the tenant's, in its time zone.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::domain::figures::{self, MonthlyFigures, count_active, counted_on};
use tayori_core::{Tenant, schedule};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::front_door;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(monthly_report))
}

/// Which month.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// `YYYY-MM`, 2000-01 to 2100-12.
    #[param(pattern = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$", example = "2027-01")]
    pub month: String,
}

/// A month's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyReport {
    /// `YYYY-MM`.
    pub month: String,
    /// The day active users are counted on: the month's last day, or today
    /// within the current month (`YYYY-MM-DD`).
    pub counted_on: String,
    /// Households not stopped with a child inside its delivery window.
    pub active_users: u64,
    /// Active households by stage: pregnancy, 0-1, 1-2, 2-3, later (a
    /// household with children in two stages counts in both).
    pub active_by_stage: BTreeMap<String, u64>,
    /// Active households by the channel of their valid contacts.
    pub active_by_channel: BTreeMap<String, u64>,
    /// Households parents registered themselves in the month (the chat,
    /// the form, a confirmed email).
    pub registrations: u64,
    /// The same by channel.
    pub registrations_by_channel: BTreeMap<String, u64>,
    /// Households created in the month whatever the way (the API and CSV
    /// imports too).
    pub households_created: u64,
    /// Email addresses confirmed by their link.
    pub confirmations: u64,
    /// Contacts stopped by the parent.
    pub stops: u64,
    /// Registered contacts that blocked the account.
    pub blocks: u64,
    /// Deliveries due in the month: channel → status → count.
    pub deliveries: BTreeMap<String, BTreeMap<String, u64>>,
    /// Registrations by parents in each of the 12 months ending with this
    /// one: `YYYY-MM` → count (the month's is `registrations`).
    pub registrations_by_month: BTreeMap<String, u64>,
    /// Children born in the municipality a year (the tenant's setting),
    /// `null` when not set.
    #[schema(value_type = Option<u32>)]
    pub yearly_births: Option<u32>,
    /// Registrations over those 12 months divided by `yearly_births`
    /// (0.2 is 20 %, rounded to 4 places); `null` when the births are not
    /// set.
    #[schema(value_type = Option<f64>, example = 0.2)]
    pub registration_rate: Option<f64>,
    /// Deliveries due on each day of the month (the tenant's days, every
    /// day present): `YYYY-MM-DD` → channel → status → count.
    pub deliveries_by_day: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Deliveries due in the month that failed for good, by reason:
    /// `refused` (the platform refused it), `recipient_gone` (blocked,
    /// left, no such address), `gave_up` (kept failing to its last
    /// attempt), `not_made` (its message could not be made).
    pub failures: BTreeMap<String, u64>,
}

impl From<MonthlyFigures> for MonthlyReport {
    fn from(f: MonthlyFigures) -> Self {
        let registration_rate = f.registration_rate();
        Self {
            registrations_by_month: f.registrations_by_month,
            yearly_births: f.yearly_births,
            registration_rate,
            deliveries_by_day: f.deliveries_by_day,
            failures: f.failures,
            month: f.month,
            counted_on: f.counted_on.to_string(),
            active_users: f.active_users,
            active_by_stage: f.active_by_stage,
            active_by_channel: f.active_by_channel,
            registrations: f.registrations,
            registrations_by_channel: f.registrations_by_channel,
            households_created: f.households_created,
            confirmations: f.confirmations,
            stops: f.stops,
            blocks: f.blocks,
            deliveries: f.deliveries,
        }
    }
}

/// The first day of `YYYY-MM`.
fn parse_month(month: &str) -> ApiResult<NaiveDate> {
    let bad = || {
        ApiError::invalid(
            "month",
            format!("`{month}` is not a month (YYYY-MM, 2000-01 to 2100-12)"),
        )
    };
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=2100).contains(&y) {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)
}

/// Midnight starting `day` in the tenant's zone.
fn midnight(tenant: &Tenant, day: NaiveDate) -> DateTime<Utc> {
    let tz = tenant.tz().unwrap_or(chrono_tz::Asia::Tokyo);
    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .map_or_else(
            || day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// Computes the figures of `month` (its first day) for `tenant`, seen on
/// `today` (the tenant's day).
pub async fn figures(
    store: &dyn tayori_core::Store,
    tenant: &Tenant,
    month: NaiveDate,
    today: NaiveDate,
) -> ApiResult<MonthlyFigures> {
    let next =
        schedule::add_months(month, 1).ok_or_else(|| ApiError::invalid("month", "out of range"))?;
    let (from, to) = (midnight(tenant, month), midnight(tenant, next));
    let mut f = MonthlyFigures {
        month: month.format("%Y-%m").to_string(),
        counted_on: counted_on(month, today),
        ..MonthlyFigures::default()
    };
    let households = store.report_households(&tenant.id).await?;
    count_active(&households, f.counted_on, tenant, &mut f);
    f.households_created = store.subscribers_created(&tenant.id, from, to).await?;
    for (channel, kind, n) in store.front_door_counts(&tenant.id, from, to).await? {
        match kind {
            FrontDoorKind::Registered => {
                f.registrations += n;
                *f.registrations_by_channel.entry(channel).or_default() += n;
            }
            FrontDoorKind::Confirmed => f.confirmations += n,
            FrontDoorKind::Stopped => f.stops += n,
            FrontDoorKind::Blocked => f.blocks += n,
        }
    }
    for (channel, status, n) in store.delivery_counts(&tenant.id, from, to).await? {
        f.deliveries.entry(channel).or_default().insert(status, n);
    }
    dashboard_figures(store, tenant, month, &mut f).await?;
    Ok(f)
}

/// The dashboard's figures beyond the month's counts: registrations in
/// each of the 12 months against the yearly births, deliveries by day, and
/// failures by reason.
async fn dashboard_figures(
    store: &dyn tayori_core::Store,
    tenant: &Tenant,
    month: NaiveDate,
    f: &mut MonthlyFigures,
) -> ApiResult<()> {
    let out_of_range = || ApiError::invalid("month", "out of range");
    let next = schedule::add_months(month, 1).ok_or_else(out_of_range)?;
    let months = figures::months_ending(month, figures::REGISTRATION_MONTHS);
    let bounds: Vec<DateTime<Utc>> = months
        .iter()
        .chain(std::iter::once(&next))
        .map(|m| midnight(tenant, *m))
        .collect();
    let counts = store
        .front_door_by_range(&tenant.id, FrontDoorKind::Registered, &bounds)
        .await?;
    for (m, n) in months.iter().zip(counts) {
        f.registrations_by_month
            .insert(m.format("%Y-%m").to_string(), n);
    }
    f.yearly_births = tenant.yearly_births;
    let days = figures::days_of(month);
    let bounds: Vec<DateTime<Utc>> = days
        .iter()
        .chain(std::iter::once(&next))
        .map(|d| midnight(tenant, *d))
        .collect();
    let rows = store.delivery_counts_by_range(&tenant.id, &bounds).await?;
    f.count_by_day(&days, rows);
    let (from, to) = (midnight(tenant, month), midnight(tenant, next));
    for (reason, n) in store.failure_counts(&tenant.id, from, to).await? {
        f.failures.insert(reason.as_str().to_string(), n);
    }
    Ok(())
}

/// Every tenant's figures of its current month (the month of `now` in
/// its zone), for the operator's table: active users (the rule of
/// [`figures`], [`figures::is_active`]), registrations, stops, blocks,
/// deliveries sent and failed, and channels not paused, by tenant name.
/// A few reads over all tenants at once (one per distinct month range for
/// the counts, normally one), never [`figures`] per tenant.
pub async fn all_tenants(
    store: &dyn tayori_core::Store,
    now: DateTime<Utc>,
) -> ApiResult<Vec<figures::TenantFigures>> {
    let mut tenants = store.tenants().await?;
    tenants.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let mut rows = Vec::with_capacity(tenants.len());
    // Tenants by their month's range (one range for tenants in one zone).
    let mut ranges = std::collections::BTreeSet::new();
    let mut range_of = Vec::with_capacity(tenants.len());
    let mut index = std::collections::HashMap::with_capacity(tenants.len());
    for (i, tenant) in tenants.iter().enumerate() {
        let today = crate::front_door::today(tenant, now);
        let month = today.with_day(1).expect("a first day");
        let next = schedule::add_months(month, 1)
            .ok_or_else(|| ApiError::invalid("month", "out of range"))?;
        let range = (midnight(tenant, month), midnight(tenant, next));
        ranges.insert(range);
        range_of.push(range);
        index.insert(tenant.id.as_str(), i);
        rows.push(figures::TenantFigures {
            tenant_id: tenant.id.clone(),
            name: tenant.name.clone(),
            month: month.format("%Y-%m").to_string(),
            counted_on: counted_on(month, today),
            ..Default::default()
        });
    }
    // Every read at once, each on a reader of its own: the households
    // (the long one, itself in parts), the channels, and each month
    // range's events and deliveries.
    let by_range = futures::future::join_all(ranges.iter().map(|&(from, to)| async move {
        let (events, deliveries) = tokio::join!(
            store.front_door_counts_all(from, to),
            store.delivery_counts_all(from, to)
        );
        ((from, to), events, deliveries)
    }));
    let (households, channels, by_range) = tokio::join!(
        store.report_households_all(),
        store.active_channel_counts(),
        by_range
    );
    for h in households? {
        if let Some(&i) = index.get(h.tenant_id.as_str()) {
            rows[i].active_users =
                figures::count_active_households(&h, rows[i].counted_on, &tenants[i]);
        }
    }
    for (tenant, n) in channels? {
        if let Some(&i) = index.get(tenant.as_str()) {
            rows[i].active_channels = n;
        }
    }
    for ((from, to), events, deliveries) in by_range {
        let of_range = |tenant: &str| {
            index
                .get(tenant)
                .copied()
                .filter(|&i| range_of[i] == (from, to))
        };
        for (tenant, kind, n) in events? {
            let Some(i) = of_range(&tenant) else { continue };
            match kind {
                FrontDoorKind::Registered => rows[i].registrations += n,
                FrontDoorKind::Stopped => rows[i].stops += n,
                FrontDoorKind::Blocked => rows[i].blocks += n,
                FrontDoorKind::Confirmed => {}
            }
        }
        for (tenant, status, n) in deliveries? {
            let Some(i) = of_range(&tenant) else { continue };
            if status == "sent" {
                rows[i].sent += n;
            } else if figures::FAILED_STATUSES.contains(&status.as_str()) {
                rows[i].failed += n;
            }
        }
    }
    Ok(rows)
}

/// The figures as CSV: `figure,dimension,value`, one line each.
pub fn csv(r: &MonthlyReport) -> String {
    let mut out = String::from("figure,dimension,value\n");
    let mut line = |figure: &str, dimension: &str, value: &str| {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        out.push_str(&format!(
            "{},{},{}\n",
            quote(figure),
            quote(dimension),
            quote(value)
        ));
    };
    line("month", "", &r.month);
    line("counted_on", "", &r.counted_on);
    line("active_users", "", &r.active_users.to_string());
    for (k, v) in &r.active_by_stage {
        line("active_by_stage", k, &v.to_string());
    }
    for (k, v) in &r.active_by_channel {
        line("active_by_channel", k, &v.to_string());
    }
    line("registrations", "", &r.registrations.to_string());
    for (k, v) in &r.registrations_by_channel {
        line("registrations_by_channel", k, &v.to_string());
    }
    line("households_created", "", &r.households_created.to_string());
    line("confirmations", "", &r.confirmations.to_string());
    line("stops", "", &r.stops.to_string());
    line("blocks", "", &r.blocks.to_string());
    for (channel, by) in &r.deliveries {
        for (status, v) in by {
            line("deliveries", &format!("{channel}/{status}"), &v.to_string());
        }
    }
    for (month, v) in &r.registrations_by_month {
        line("registrations_by_month", month, &v.to_string());
    }
    let or_empty = |v: Option<String>| v.unwrap_or_default();
    line(
        "yearly_births",
        "",
        &or_empty(r.yearly_births.map(|n| n.to_string())),
    );
    line(
        "registration_rate",
        "",
        &or_empty(r.registration_rate.map(|n| n.to_string())),
    );
    for (day, by) in &r.deliveries_by_day {
        for (channel, by) in by {
            for (status, v) in by {
                line(
                    "deliveries_by_day",
                    &format!("{day}/{channel}/{status}"),
                    &v.to_string(),
                );
            }
        }
    }
    for (reason, v) in &r.failures {
        line("failures", reason, &v.to_string());
    }
    out
}

/// A month's figures (operators, or the tenant's admins). JSON, or CSV
/// (`figure,dimension,value`) with `Accept: text/csv`.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/reports/monthly", tag = "tenants",
    params(("tenant" = String, Path), MonthQuery),
    responses(
        (status = 200, description = "The figures: JSON, or CSV (`figure,dimension,value`) with `Accept: text/csv`", content(
            (MonthlyReport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "`month` is not YYYY-MM", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn monthly_report(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Query(q): Query<MonthQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    principal.require_tenant(&tenant)?;
    let month = parse_month(&q.month)?;
    let tenant = state.store.tenant(&tenant).await?;
    let today = front_door::today(&tenant, state.scheduler.clock().now());
    let report = MonthlyReport::from(figures(state.store.as_ref(), &tenant, month, today).await?);
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if wants_csv {
        let mut response = csv(&report).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(response);
    }
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly() {
        assert_eq!(
            parse_month("2027-01").unwrap(),
            "2027-01-01".parse().unwrap()
        );
        for bad in [
            "2027-1",
            "2027-13",
            "27-01",
            "2027-01-01",
            "",
            "1999-12",
            "2101-01",
            "２０２７-01",
        ] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }
}
