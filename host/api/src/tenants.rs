//! `/v1/tenants`: municipalities and their delivery settings.
//!
//! Operators create tenants and own what shapes the service's guarantees
//! (the display name used in messages, the lateness window); a tenant's own
//! admins read their tenant and choose what DESIGN.md gives municipalities:
//! time zone, send time, quiet hours, delivery span and programs. Every
//! setting is checked here, with the field named in the error, before the
//! store sees it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveTime;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, HashMap};

use tayori_core::{
    CatalogMessage, CorrectedAge, DeliverySpan, MAX_CORRECTED_MONTHS, MAX_CORRECTED_WEEKS_EARLY,
    MAX_YEARLY_BIRTHS, NewTenant, QuietHours, Tenant, TenantPatch, UnreportedBirth, hhmm, schedule,
};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
}

/// The longest lateness window: a day. Later than that a "daily" message
/// is no longer today's.
pub const MAX_LATENESS_WINDOW_MINUTES: u32 = 24 * 60;

/// A daily period without sending, `HH:MM` in the tenant's zone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursView {
    /// The first quiet minute, e.g. `21:00`.
    #[schema(example = "21:00")]
    pub start: String,
    /// When sending may resume, e.g. `08:00` (before `start`: wraps midnight).
    #[schema(example = "08:00")]
    pub end: String,
}

/// Corrected age for preterm children: a child born at least `weeks_early`
/// weeks before its due date gets the child-track messages of its first
/// `months` months dated from the due date (its day of birth still counts
/// from the birth).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectedAgeView {
    /// 1 to 18.
    #[schema(minimum = 1, maximum = 18, example = 4)]
    pub weeks_early: u32,
    /// 1 to 36.
    #[schema(minimum = 1, maximum = 36, example = 12)]
    pub months: u32,
}

/// A tenant and its settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// The slug id.
    #[schema(example = "otaru")]
    pub id: String,
    /// The display name (templates show it as `tenant_name`).
    #[schema(example = "小樽市")]
    pub name: String,
    /// An IANA time zone; every date of the tenant is in it.
    #[schema(example = "Asia/Tokyo")]
    pub time_zone: String,
    /// When the day's messages go out, `HH:MM`.
    #[schema(example = "09:00")]
    pub send_time: String,
    /// How long a child is followed: `to_3rd_birthday`, `to_6th_birthday`,
    /// `to_18th_birthday` or `end_of_school_year_age_7`.
    pub span: String,
    /// The catalog programs the tenant runs.
    pub programs: Vec<String>,
    /// How late a message may still go out, in minutes.
    pub lateness_window_minutes: u32,
    /// When nothing is sent, if ever.
    pub quiet_hours: Option<QuietHoursView>,
    /// Programs on a span of their own instead of `span`, e.g.
    /// `{"school-entry": "end_of_school_year_age_7"}`.
    pub program_spans: BTreeMap<String, String>,
    /// What happens to a pregnancy whose birth is never reported, from 15
    /// days after the due date: `continue` (the child track, counted from
    /// the due date) or `pause` (nothing until the birth is reported).
    #[schema(example = "continue")]
    pub unreported_birth: String,
    /// Corrected age for preterm children, if used.
    pub corrected_age: Option<CorrectedAgeView>,
    /// Children born in the municipality a year (出生数), if set: the
    /// monthly report reads registrations against it.
    #[schema(minimum = 1, maximum = 1000000, example = 700)]
    pub yearly_births: Option<u32>,
    /// What the settings cannot do: a program with messages that can never
    /// send on its span, or that reach only some children.
    pub warnings: Vec<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl TenantView {
    /// The view of `t`, with `warnings`.
    fn new(t: Tenant, warnings: Vec<String>) -> Self {
        Self {
            id: t.id,
            name: t.name,
            time_zone: t.time_zone,
            send_time: hhmm::format(t.send_time),
            span: t.span.to_string(),
            programs: t.programs,
            lateness_window_minutes: t.lateness_window_minutes,
            quiet_hours: t.quiet_hours.map(|q| QuietHoursView {
                start: hhmm::format(q.start),
                end: hhmm::format(q.end),
            }),
            program_spans: t
                .program_spans
                .iter()
                .map(|(p, s)| (p.clone(), s.to_string()))
                .collect(),
            unreported_birth: t.unreported_birth.to_string(),
            corrected_age: t.corrected_age.map(|c| CorrectedAgeView {
                weeks_early: c.weeks_early,
                months: c.months,
            }),
            yearly_births: t.yearly_births,
            warnings,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// The views of `tenants`, each with the warnings of its programs (computed
/// once per program and span).
async fn views(state: &AppState, tenants: Vec<Tenant>) -> ApiResult<Vec<TenantView>> {
    let catalog: Vec<CatalogMessage> = state.store.catalog_messages(None).await?;
    let mut reach: HashMap<(String, DeliverySpan), Option<String>> = HashMap::new();
    Ok(tenants
        .into_iter()
        .map(|t| {
            let warnings = t
                .programs
                .iter()
                .filter_map(|p| {
                    let span = t.program_span(p);
                    reach
                        .entry((p.clone(), span))
                        .or_insert_with(|| schedule::reach_of(p, span, &catalog).warning())
                        .clone()
                })
                .collect();
            TenantView::new(t, warnings)
        })
        .collect())
}

async fn view(state: &AppState, tenant: Tenant) -> ApiResult<TenantView> {
    Ok(views(state, vec![tenant]).await?.remove(0))
}

/// Every tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
}

/// A tenant to create; absent settings take their defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The slug id: lower-case letters, digits and `-`, at most 63.
    #[schema(example = "otaru")]
    pub id: String,
    /// The display name.
    #[schema(example = "小樽市")]
    pub name: String,
    /// Default `Asia/Tokyo`.
    pub time_zone: Option<String>,
    /// Default `09:00`.
    pub send_time: Option<String>,
    /// Default `to_3rd_birthday`.
    pub span: Option<String>,
    /// Default `["standard"]`. Named programs must be in the catalog.
    pub programs: Option<Vec<String>>,
    /// Default 360 (6 hours); 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    pub lateness_window_minutes: Option<u32>,
    /// Default none.
    pub quiet_hours: Option<QuietHoursView>,
    /// Default none: every program on `span`. Keys are programs the tenant
    /// runs; values are spans.
    pub program_spans: Option<BTreeMap<String, String>>,
    /// Default `continue`; or `pause`.
    pub unreported_birth: Option<String>,
    /// Default none.
    pub corrected_age: Option<CorrectedAgeView>,
    /// Children born in the municipality a year (出生数), 1 to 1,000,000.
    /// Default none.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000, example = 700)]
    pub yearly_births: Option<i64>,
}

/// A change of settings; absent fields stay. `quiet_hours: null` removes
/// them. `name` and `lateness_window_minutes` are for operators.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub send_time: Option<String>,
    pub span: Option<String>,
    pub programs: Option<Vec<String>>,
    /// 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    pub lateness_window_minutes: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<QuietHoursView>)]
    pub quiet_hours: Option<Option<QuietHoursView>>,
    /// The new full map (`{}` removes every program's own span). A program
    /// the tenant stops running loses its span.
    pub program_spans: Option<BTreeMap<String, String>>,
    /// `continue` or `pause`.
    pub unreported_birth: Option<String>,
    /// `null` stops counting corrected age.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CorrectedAgeView>)]
    pub corrected_age: Option<Option<CorrectedAgeView>>,
    /// Children born in the municipality a year (出生数), 1 to 1,000,000;
    /// `null` forgets them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub yearly_births: Option<Option<i64>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) fn time_zone(field: &str, tz: &str) -> ApiResult<String> {
    tz.parse::<chrono_tz::Tz>()
        .map(|z| z.name().to_string())
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("`{tz}` is not an IANA time zone (e.g. `Asia/Tokyo`)"),
            )
        })
}

fn time_of_day(field: &str, s: &str) -> ApiResult<NaiveTime> {
    hhmm::parse(s).map_err(|m| ApiError::invalid(field, m))
}

fn span(s: &str) -> ApiResult<DeliverySpan> {
    s.parse().map_err(|e| ApiError::invalid("span", e))
}

fn program_spans(
    spans: &BTreeMap<String, String>,
    programs: &[String],
) -> ApiResult<BTreeMap<String, DeliverySpan>> {
    let mut out = BTreeMap::new();
    for (p, s) in spans {
        let field = format!("program_spans.{p}");
        if !programs.contains(p) {
            return Err(ApiError::invalid(
                &field,
                format!(
                    "`{p}` is not one of the tenant's programs ({})",
                    programs.join(", ")
                ),
            ));
        }
        out.insert(
            p.clone(),
            s.parse().map_err(|e| ApiError::invalid(&field, e))?,
        );
    }
    Ok(out)
}

fn unreported_birth(s: &str) -> ApiResult<UnreportedBirth> {
    s.parse()
        .map_err(|e| ApiError::invalid("unreported_birth", e))
}

fn corrected_age(c: &CorrectedAgeView) -> ApiResult<CorrectedAge> {
    if !(1..=MAX_CORRECTED_WEEKS_EARLY).contains(&c.weeks_early) {
        return Err(ApiError::invalid(
            "corrected_age.weeks_early",
            format!(
                "must be from 1 to {MAX_CORRECTED_WEEKS_EARLY} weeks, not {}",
                c.weeks_early
            ),
        ));
    }
    if !(1..=MAX_CORRECTED_MONTHS).contains(&c.months) {
        return Err(ApiError::invalid(
            "corrected_age.months",
            format!(
                "must be from 1 to {MAX_CORRECTED_MONTHS} months, not {}",
                c.months
            ),
        ));
    }
    Ok(CorrectedAge {
        weeks_early: c.weeks_early,
        months: c.months,
    })
}

/// Yearly births: 1 to [`MAX_YEARLY_BIRTHS`].
fn yearly_births(n: i64) -> ApiResult<u32> {
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_YEARLY_BIRTHS).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid(
            "yearly_births",
            format!("must be from 1 to {MAX_YEARLY_BIRTHS} (children born a year), not {n}"),
        )),
    }
}

fn lateness(minutes: u32) -> ApiResult<u32> {
    if (1..=MAX_LATENESS_WINDOW_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(ApiError::invalid(
            "lateness_window_minutes",
            format!("must be from 1 to {MAX_LATENESS_WINDOW_MINUTES} minutes, not {minutes}"),
        ))
    }
}

fn quiet_hours(q: &QuietHoursView) -> ApiResult<QuietHours> {
    let start = time_of_day("quiet_hours.start", &q.start)?;
    let end = time_of_day("quiet_hours.end", &q.end)?;
    if start == end {
        return Err(ApiError::invalid(
            "quiet_hours",
            "start and end are the same minute; to send at any time, set quiet_hours to null",
        ));
    }
    Ok(QuietHours { start, end })
}

fn send_time_outside_quiet(send: NaiveTime, quiet: Option<QuietHours>) -> ApiResult<()> {
    match quiet {
        Some(q) if q.contains(send) => Err(ApiError::invalid(
            "send_time",
            format!(
                "{} falls in the quiet hours {}–{}",
                hhmm::format(send),
                hhmm::format(q.start),
                hhmm::format(q.end)
            ),
        )),
        _ => Ok(()),
    }
}

async fn programs(state: &AppState, programs: &[String]) -> ApiResult<Vec<String>> {
    let known: Vec<String> = state
        .store
        .programs()
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(programs.len());
    for (i, p) in programs.iter().enumerate() {
        if out.contains(p) {
            return Err(ApiError::invalid(
                &format!("programs[{i}]"),
                format!("`{p}` is listed twice"),
            ));
        }
        if !known.contains(p) {
            let known = if known.is_empty() {
                "the catalog has no programs yet (tayori catalog import FILE)".to_string()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(ApiError::invalid(
                &format!("programs[{i}]"),
                format!("no catalog program `{p}`; {known}"),
            ));
        }
        out.push(p.clone());
    }
    Ok(out)
}

/// The tenant, if the caller may see it; a tenant admin of another tenant
/// and a partner are refused before the store is asked.
pub(crate) async fn visible_tenant(
    state: &AppState,
    principal: &Principal,
    tenant: &str,
) -> ApiResult<Tenant> {
    principal.require_tenant(tenant)?;
    Ok(state.store.tenant(tenant).await?)
}

/// Create a tenant (operators).
#[utoipa::path(
    post, path = "/v1/tenants", tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, body = TenantView),
        (status = 409, description = "The id is taken", body = ErrorBody),
        (status = 422, description = "A setting is invalid; the message names it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Json422(body): Json422<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    principal.require_operator()?;
    if !tayori_core::is_valid_tenant_id(&body.id) {
        return Err(ApiError::invalid(
            "id",
            format!(
                "`{}` is not a tenant id: use lower-case letters, digits and `-`, at most 63, not starting with `-`",
                body.id
            ),
        ));
    }
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "a tenant needs a name"));
    }
    let mut new = NewTenant::new(body.id, body.name.trim());
    if let Some(tz) = &body.time_zone {
        new.time_zone = time_zone("time_zone", tz)?;
    }
    if let Some(t) = &body.send_time {
        new.send_time = time_of_day("send_time", t)?;
    }
    if let Some(s) = &body.span {
        new.span = span(s)?;
    }
    if let Some(m) = body.lateness_window_minutes {
        new.lateness_window_minutes = lateness(m)?;
    }
    if let Some(q) = &body.quiet_hours {
        new.quiet_hours = Some(quiet_hours(q)?);
    }
    send_time_outside_quiet(new.send_time, new.quiet_hours)?;
    if let Some(p) = &body.programs {
        new.programs = programs(&state, p).await?;
    }
    if let Some(spans) = &body.program_spans {
        new.program_spans = program_spans(spans, &new.programs)?;
    }
    if let Some(u) = &body.unreported_birth {
        new.unreported_birth = unreported_birth(u)?;
    }
    if let Some(c) = &body.corrected_age {
        new.corrected_age = Some(corrected_age(c)?);
    }
    if let Some(n) = body.yearly_births {
        new.yearly_births = Some(yearly_births(n)?);
    }
    let tenant = state.store.create_tenant(&new).await?;
    tracing::info!(tenant = %tenant.id, "tenant created");
    Ok((StatusCode::CREATED, Json(view(&state, tenant).await?)))
}

/// List every tenant (operators).
#[utoipa::path(
    get, path = "/v1/tenants", tag = "tenants",
    responses((status = 200, body = TenantList)),
    security(("bearer" = []))
)]
async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TenantList>> {
    principal.require_operator()?;
    let tenants = state.store.tenants().await?;
    Ok(Json(TenantList {
        tenants: views(&state, tenants).await?,
    }))
}

/// Read a tenant (operators, or the tenant's admins).
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path)),
    responses((status = 200, body = TenantView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantView>> {
    let tenant = visible_tenant(&state, &principal, &tenant).await?;
    Ok(Json(view(&state, tenant).await?))
}

/// Change a tenant's settings (operators, or the tenant's admins for
/// everything but `name` and `lateness_window_minutes`).
#[utoipa::path(
    patch, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path)),
    request_body = UpdateTenant,
    responses((status = 200, body = TenantView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn update_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Json422(body): Json422<UpdateTenant>,
) -> ApiResult<Json<TenantView>> {
    let current = visible_tenant(&state, &principal, &tenant).await?;
    let operator = principal == Principal::Operator;
    let mut patch = TenantPatch::default();
    if let Some(name) = &body.name {
        let name = name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid("name", "a tenant needs a name"));
        }
        if name != current.name && !operator {
            return Err(ApiError::forbidden(
                "name: only an operator can rename a tenant",
            ));
        }
        patch.name = Some(name.to_string());
    }
    if let Some(m) = body.lateness_window_minutes {
        let m = lateness(m)?;
        if m != current.lateness_window_minutes && !operator {
            return Err(ApiError::forbidden(
                "lateness_window_minutes: only an operator can change the lateness window",
            ));
        }
        patch.lateness_window_minutes = Some(m);
    }
    if let Some(tz) = &body.time_zone {
        patch.time_zone = Some(time_zone("time_zone", tz)?);
    }
    if let Some(t) = &body.send_time {
        patch.send_time = Some(time_of_day("send_time", t)?);
    }
    if let Some(s) = &body.span {
        patch.span = Some(span(s)?);
    }
    if let Some(q) = &body.quiet_hours {
        patch.quiet_hours = Some(q.as_ref().map(quiet_hours).transpose()?);
    }
    if let Some(p) = &body.programs {
        patch.programs = Some(programs(&state, p).await?);
    }
    if let Some(u) = &body.unreported_birth {
        patch.unreported_birth = Some(unreported_birth(u)?);
    }
    if let Some(c) = &body.corrected_age {
        patch.corrected_age = Some(c.as_ref().map(corrected_age).transpose()?);
    }
    if let Some(n) = body.yearly_births {
        patch.yearly_births = Some(n.map(yearly_births).transpose()?);
    }
    let runs = patch.programs.as_ref().unwrap_or(&current.programs).clone();
    if let Some(spans) = &body.program_spans {
        patch.program_spans = Some(program_spans(spans, &runs)?);
    } else if current.program_spans.keys().any(|p| !runs.contains(p)) {
        // A program the tenant no longer runs loses its own span.
        let mut kept = current.program_spans.clone();
        kept.retain(|p, _| runs.contains(p));
        patch.program_spans = Some(kept);
    }
    let mut after = current;
    patch.apply(&mut after);
    send_time_outside_quiet(after.send_time, after.quiet_hours)?;
    let tenant = state.store.update_tenant(&tenant, &patch).await?;
    state.tenant_cache.forget(&tenant.id);
    state.scheduler.changed(Some(&tenant.id));
    tracing::info!(tenant = %tenant.id, "tenant settings changed");
    Ok(Json(view(&state, tenant).await?))
}

/// Delete a tenant with its channels, catalog additions and tokens
/// (operators). Refused (409) while it has subscribers that are not erased.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn delete_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_operator()?;
    state.store.delete_tenant(&tenant).await?;
    state.tenant_cache.forget(&tenant);
    tracing::info!(%tenant, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}
