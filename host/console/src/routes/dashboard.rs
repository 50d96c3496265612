//! A tenant's dashboard: the month's figures of the reports API, with the
//! chart and its table.

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

pub(super) async fn dashboard(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.reach(&r, &s, &tenant_id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !s.account.may(&tenant.id, Permission::Dashboard) {
        return c.no_permission(&r, &s);
    }
    let t = r.t();
    let today = tayori_api::front_door::today(&tenant, c.now());
    let this_month = today.with_day(1).expect("a first day");
    let month = month_of(r.query("month")).unwrap_or(this_month);
    let f = match tayori_api::reports::figures(c.store(), &tenant, month, today).await {
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
            by.iter()
                .map(move |(status, value)| context! { channel, status, value })
        })
        .collect();
    let frame = c.frame(&r, Some(&s), Some(&tenant), t.dashboard_title);
    c.render(
        &r,
        StatusCode::OK,
        "dashboard.html",
        context! {
            tenant_name => tenant.name.clone(),
            action => format!("/t/{}", tenant.id),
            lang_param => (r.lang == Lang::En).then_some("en"),
            months,
            active_users => f.active_users,
            counted_on => t.counted_on.replace("{date}", &f.counted_on.to_string()),
            stage_chart => Value::from_safe_string(chart),
            stages => stage_rows,
            channels,
            month_figures,
            deliveries,
            same_as_api => t.same_as_api.replace("{tenant}", &tenant.id),
            ..frame
        },
    )
}
