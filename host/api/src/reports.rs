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
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use tayori_core::domain::conversation::FrontDoorKind;
use tayori_core::domain::figures::{MonthlyFigures, count_active, counted_on};
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
}

impl From<MonthlyFigures> for MonthlyReport {
    fn from(f: MonthlyFigures) -> Self {
        Self {
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
    Ok(f)
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
