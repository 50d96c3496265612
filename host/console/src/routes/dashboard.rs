//! A tenant's dashboard: the month's figures of the reports API, each
//! chart with its table; and the tenant's settings the figures read (the
//! yearly births), for staff who manage channels and settings.

use super::*;

/// `?month=YYYY-MM` (2000-01 to 2100-12), the first day.
pub(super) fn month_of(text: Option<&str>) -> Option<NaiveDate> {
    let (y, m) = text?.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    if !(2000..=2100).contains(&y) {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, 1)
}

pub(super) fn month_label(lang: Lang, month: NaiveDate) -> String {
    match lang {
        Lang::Ja => format!("{}年{}月", month.year(), month.month()),
        Lang::En => month.format("%B %Y").to_string(),
    }
}

/// What the settings form shows beyond the stored settings.
#[derive(Default)]
struct SettingsForm<'a> {
    /// What was typed, shown again with `error`.
    typed: Option<&'a str>,
    error: Option<&'static str>,
}

pub(super) async fn dashboard(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_get(&r, &s, &tenant_id, Permission::Dashboard)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let month = month_of(r.query("month"));
    render_dashboard(
        &c,
        &r,
        &s,
        &tenant,
        month,
        StatusCode::OK,
        SettingsForm::default(),
    )
    .await
}

/// The yearly births as typed: empty (none), or 1 to 1,000,000 (digits,
/// full-width too, with `,` between thousands).
fn births_of(typed: &str) -> Result<Option<u32>, ()> {
    let digits: String = typed
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '\u{3000}'))
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            c => c,
        })
        .collect();
    if digits.is_empty() {
        return Ok(None);
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 7 {
        return Err(());
    }
    match digits.parse::<u32>() {
        Ok(n) if (1..=tayori_core::MAX_YEARLY_BIRTHS).contains(&n) => Ok(Some(n)),
        _ => Err(()),
    }
}

/// `POST /t/{tenant}/settings`: the yearly births (manage channels and
/// settings), audited; back to the dashboard's month.
pub(super) async fn settings_post(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Channels)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let month = month_of(field(&pairs, "month"));
    let typed = field(&pairs, "yearly_births").unwrap_or_default();
    let Ok(births) = births_of(typed) else {
        let form = SettingsForm {
            typed: Some(typed),
            error: Some(r.t().db_births_invalid),
        };
        return render_dashboard(
            &c,
            &r,
            &s,
            &tenant,
            month,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
        )
        .await;
    };
    let patch = tayori_core::TenantPatch {
        yearly_births: Some(births),
        ..Default::default()
    };
    if let Err(e) = c.store().update_tenant(&tenant.id, &patch).await {
        return c.failed(e);
    }
    c.app.tenant_cache.forget(&tenant.id);
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "tenant_settings_saved",
            serde_json::json!({
                "yearly_births": {"from": tenant.yearly_births, "to": births},
            }),
        )
        .await
    {
        return resp;
    }
    let mut to = format!("/t/{}?saved=settings", tenant.id);
    if let Some(m) = month {
        to.push_str(&format!("&month={}", m.format("%Y-%m")));
    }
    if r.lang == Lang::En {
        to.push_str("&lang=en");
    }
    see_other(&to)
}

/// The statuses of deliveries in a table's order: sent, then failures,
/// then the rest.
const STATUS_ORDER: [&str; 8] = [
    "sent",
    "failed",
    "dead",
    "expired",
    "cancelled",
    "pending",
    "held",
    "in_flight",
];

/// Which of the chart's three parts a status is in: sent, failed, other.
fn part_of(status: &str) -> usize {
    match status {
        "sent" => 0,
        "failed" | "dead" => 1,
        _ => 2,
    }
}

/// A share as staff read it: `0.2083` is `20.8`.
fn percent(rate: f64) -> String {
    format!("{:.1}", rate * 100.0)
}

/// The births per month as shown: `58.3`, or `58` when whole.
fn per_month(births: u32) -> (f64, String) {
    let v = f64::from(births) / 12.0;
    let shown = if births % 12 == 0 {
        (births / 12).to_string()
    } else {
        format!("{v:.1}")
    };
    (v, shown)
}

async fn render_dashboard(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    month: Option<NaiveDate>,
    status: StatusCode,
    form: SettingsForm<'_>,
) -> Response {
    let t = r.t();
    let today = tayori_api::front_door::today(tenant, c.now());
    let this_month = today.with_day(1).expect("a first day");
    let month = month.unwrap_or(this_month);
    let f = match tayori_api::reports::figures(c.store(), tenant, month, today).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = ?e, "console: cannot compute the figures");
            return c.failed(StoreError::Backend("figures".into()));
        }
    };
    // The month picker: the two years to this month, and the month shown.
    let mut months: Vec<NaiveDate> = (0..24)
        .filter_map(|back| this_month.checked_sub_months(chrono::Months::new(back)))
        .collect();
    if !months.contains(&month) {
        months.push(month);
        months.sort_by(|a, b| b.cmp(a));
    }
    let months: Vec<Value> = months
        .into_iter()
        .map(|m| {
            context! {
                value => m.format("%Y-%m").to_string(),
                label => month_label(r.lang, m),
                selected => m == month,
            }
        })
        .collect();
    let stage_keys = ["pregnancy", "0-1", "1-2", "2-3", "later"];
    let stages: Vec<(String, String, u64)> = stage_keys
        .iter()
        .map(|k| {
            (
                k.to_string(),
                text::stage(t, k),
                f.active_by_stage.get(*k).copied().unwrap_or(0),
            )
        })
        .collect();
    let chart = crate::chart::bars(
        "stage-chart-title",
        t.stage_chart,
        &stages
            .iter()
            .map(|(_, label, v)| (label.clone(), *v))
            .collect::<Vec<_>>(),
    );
    let stage_rows: Vec<Value> = stages
        .iter()
        .map(|(key, label, value)| context! { key, label, value })
        .collect();
    let channels: Vec<Value> = f
        .active_by_channel
        .iter()
        .map(|(key, value)| context! { key, value })
        .collect();
    let month_figures: Vec<Value> = [
        ("registrations", t.registrations, f.registrations),
        (
            "households_created",
            t.households_created,
            f.households_created,
        ),
        ("confirmations", t.confirmations, f.confirmations),
        ("stops", t.stops, f.stops),
        ("blocks", t.blocks, f.blocks),
    ]
    .into_iter()
    .map(|(key, label, value)| context! { key, label, value })
    .collect();
    let deliveries: Vec<Value> = f
        .deliveries
        .iter()
        .flat_map(|(channel, by)| {
            by.iter().map(move |(status, value)| {
                context! { channel, status, label => text::status(t, status), value }
            })
        })
        .collect();

    // Registrations by month against the births.
    let level = f.yearly_births.map(|b| {
        let (v, shown) = per_month(b);
        (v, t.db_births_per_month.replace("{n}", &shown))
    });
    let reg_months: Vec<(NaiveDate, u64)> = f
        .registrations_by_month
        .iter()
        .filter_map(|(k, v)| Some((month_of(Some(k.as_str()))?, *v)))
        .collect();
    let registrations_chart = crate::chart::columns_with_level(
        "registrations-chart-title",
        t.db_registrations_chart,
        &reg_months
            .iter()
            .map(|(m, v)| {
                let short = match r.lang {
                    Lang::Ja => format!("{}月", m.month()),
                    Lang::En => m.format("%b").to_string(),
                };
                (short, *v)
            })
            .collect::<Vec<_>>(),
        level,
    );
    let births_per_month = f.yearly_births.map(|b| per_month(b).1);
    let registration_rows: Vec<Value> = reg_months
        .iter()
        .map(|(m, v)| {
            context! {
                key => m.format("%Y-%m").to_string(),
                label => month_label(r.lang, *m),
                value => v,
            }
        })
        .collect();
    let rate = match (f.registration_rate(), f.yearly_births) {
        (Some(rate), Some(births)) => t
            .db_rate
            .replace("{registrations}", &f.registrations_in_year().to_string())
            .replace("{births}", &births.to_string())
            .replace("{rate}", &percent(rate)),
        _ => t.db_rate_unset.to_string(),
    };

    // Deliveries by day: the chart (sent, failed, other) and the table.
    let last_day = f.deliveries_by_day.len();
    let day_bars: Vec<(String, [u64; 3])> = f
        .deliveries_by_day
        .iter()
        .enumerate()
        .map(|(i, (day, by))| {
            let mut parts = [0u64; 3];
            for statuses in by.values() {
                for (status, n) in statuses {
                    parts[part_of(status)] += n;
                }
            }
            let d = day.rsplit('-').next().unwrap_or("").trim_start_matches('0');
            let n = i + 1;
            let shown = n == 1 || (n % 5 == 0 && n + 2 < last_day) || n == last_day;
            (if shown { d.to_string() } else { String::new() }, parts)
        })
        .collect();
    let any_by_day = day_bars.iter().any(|(_, p)| p.iter().any(|n| *n > 0));
    let day_chart = crate::chart::stacked_days(
        "by-day-chart-title",
        t.db_by_day_chart,
        &day_bars,
        [t.db_sent, t.db_failed, t.db_other],
    );
    let day_statuses: Vec<&str> = STATUS_ORDER
        .iter()
        .copied()
        .filter(|st| {
            f.deliveries_by_day
                .values()
                .flat_map(|by| by.values())
                .any(|m| m.contains_key(*st))
        })
        .collect();
    let status_columns: Vec<Value> = day_statuses
        .iter()
        .map(|st| context! { key => st, label => text::status(t, st) })
        .collect();
    let day_rows: Vec<Value> = f
        .deliveries_by_day
        .iter()
        .flat_map(|(day, by)| {
            let statuses = &day_statuses;
            by.iter().map(move |(channel, counts)| {
                let cells: Vec<Value> = statuses
                    .iter()
                    .map(
                        |st| context! { key => st, value => counts.get(*st).copied().unwrap_or(0) },
                    )
                    .collect();
                context! { day, channel, cells }
            })
        })
        .collect();
    let failures: Vec<Value> = f
        .failures
        .iter()
        .map(|(key, value)| context! { key, label => text::failure(t, key), value })
        .collect();

    let may_set = s.account.may(&tenant.id, Permission::Channels);
    let births_value = form
        .typed
        .map(str::to_string)
        .or_else(|| tenant.yearly_births.map(|n| n.to_string()))
        .unwrap_or_default();
    let births_now = match tenant.yearly_births {
        Some(n) => t.db_births_now.replace("{n}", &n.to_string()),
        None => t.db_births_none.to_string(),
    };
    let frame = c.frame(r, Some(s), Some(tenant), t.dashboard_title);
    c.render(
        r,
        status,
        "dashboard.html",
        context! {
            tenant_name => tenant.name.clone(),
            action => format!("/t/{}", tenant.id),
            settings_action => format!("/t/{}/settings", tenant.id),
            lang_param => (r.lang == Lang::En).then_some("en"),
            month_value => month.format("%Y-%m").to_string(),
            months,
            active_users => f.active_users,
            counted_on => t.counted_on.replace("{date}", &f.counted_on.to_string()),
            stage_chart => Value::from_safe_string(chart),
            stages => stage_rows,
            channels,
            month_figures,
            deliveries,
            registrations_chart => Value::from_safe_string(registrations_chart),
            registration_rows,
            births_per_month,
            rate,
            rate_set => f.yearly_births.is_some(),
            day_chart => any_by_day.then(|| Value::from_safe_string(day_chart)),
            status_columns,
            day_rows,
            failures,
            may_set,
            births_value,
            births_now,
            settings_error => form.error,
            saved => r.query("saved") == Some("settings"),
            same_as_api => t.same_as_api.replace("{tenant}", &tenant.id),
            ..frame
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn births_are_read_as_people_type_them() {
        assert_eq!(births_of(""), Ok(None));
        assert_eq!(births_of("  "), Ok(None));
        assert_eq!(births_of("700"), Ok(Some(700)));
        assert_eq!(births_of("1,200"), Ok(Some(1200)));
        assert_eq!(births_of("１２００"), Ok(Some(1200)));
        assert_eq!(births_of("1000000"), Ok(Some(1_000_000)));
        for bad in ["0", "1000001", "-5", "12.5", "abc", "99999999999"] {
            assert_eq!(births_of(bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn births_per_month_and_shares_read_plainly() {
        assert_eq!(per_month(720).1, "60");
        assert_eq!(per_month(700).1, "58.3");
        assert_eq!(percent(0.2083), "20.8");
        assert_eq!(percent(0.2), "20.0");
    }
}
