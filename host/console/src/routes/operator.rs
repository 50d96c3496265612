//! The operator's page: every tenant's figures of its month side by side
//! (`tayori_api::reports::all_tenants`, a few reads over all tenants), the
//! whole country's totals above, sortable by any column through links
//! (`?sort=active&dir=desc&page=1`, no script; the sorted header carries
//! `aria-sort`), paged.

use tayori_core::domain::figures::TenantFigures;

use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct OperatorQuery {
    page: Option<usize>,
    sort: Option<String>,
    dir: Option<String>,
}

/// The sortable columns: key, text, whether it is a number (numbers sort
/// largest first when first chosen, names from A).
const COLUMNS: [(&str, fn(&Texts) -> &'static str, bool); 7] = [
    ("name", |t| t.tenant, false),
    ("active", |t| t.op_active, true),
    ("registrations", |t| t.op_registrations, true),
    ("stops", |t| t.op_stops, true),
    ("blocks", |t| t.op_blocks, true),
    ("deliveries", |t| t.op_sent, true),
    ("failures", |t| t.op_failed, true),
];

/// The value a numeric column sorts by.
fn value(f: &TenantFigures, column: &str) -> u64 {
    match column {
        "active" => f.active_users,
        "registrations" => f.registrations,
        "stops" => f.stops,
        "blocks" => f.blocks,
        "deliveries" => f.sent,
        "failures" => f.failed,
        _ => 0,
    }
}

/// Sorts the rows by `column` (ties by name, then id, ascending).
pub(crate) fn sort_rows(rows: &mut [TenantFigures], column: &str, descending: bool) {
    rows.sort_by(|a, b| {
        let by_name = a
            .name
            .cmp(&b.name)
            .then_with(|| a.tenant_id.cmp(&b.tenant_id));
        if column == "name" {
            return if descending {
                by_name.reverse()
            } else {
                by_name
            };
        }
        let by_value = value(a, column).cmp(&value(b, column));
        let by_value = if descending {
            by_value.reverse()
        } else {
            by_value
        };
        by_value.then(by_name)
    });
}

pub(super) async fn operator(
    State(c): State<Shared>,
    Query(q): Query<OperatorQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if s.account.role != ConsoleRole::Operator {
        return c.not_found(&r, Some(&s));
    }
    let t = r.t();
    let mut rows = match tayori_api::reports::all_tenants(c.store(), c.now()).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = ?e, "console: cannot compute the figures of every tenant");
            return c.failed(StoreError::Backend("figures".into()));
        }
    };
    let (column, text, numeric) = COLUMNS
        .iter()
        .find(|(key, _, _)| Some(*key) == q.sort.as_deref())
        .copied()
        .unwrap_or(COLUMNS[0]);
    let descending = match q.dir.as_deref() {
        Some("desc") => true,
        Some("asc") => false,
        _ => numeric,
    };
    sort_rows(&mut rows, column, descending);
    let totals = context! {
        tenants => rows.len(),
        active => rows.iter().map(|f| f.active_users).sum::<u64>(),
        registrations => rows.iter().map(|f| f.registrations).sum::<u64>(),
        stops => rows.iter().map(|f| f.stops).sum::<u64>(),
        blocks => rows.iter().map(|f| f.blocks).sum::<u64>(),
        sent => rows.iter().map(|f| f.sent).sum::<u64>(),
        failed => rows.iter().map(|f| f.failed).sum::<u64>(),
        channels => rows.iter().map(|f| f.active_channels).sum::<u64>(),
    };
    let pages = rows.len().div_ceil(TENANTS_PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let dir = |d: bool| if d { "desc" } else { "asc" };
    let link =
        |sort: &str, d: bool, p: usize| format!("/operator?sort={sort}&dir={}&page={p}", dir(d));
    // Each header: a link that sorts by it (the sorted one, the other way).
    let columns: Vec<Value> = COLUMNS
        .iter()
        .map(|&(key, label, num)| {
            let sorted = key == column;
            let next = if sorted { !descending } else { num };
            context! {
                key => key,
                label => label(t),
                num => num,
                href => link(key, next, 1),
                aria_sort => sorted.then(|| if descending { "descending" } else { "ascending" }),
            }
        })
        .collect();
    let sorted = if descending {
        t.op_sorted_desc
    } else {
        t.op_sorted_asc
    }
    .replace("{column}", text(t));
    let shown: Vec<Value> = rows
        .iter()
        .skip((page - 1) * TENANTS_PER_PAGE)
        .take(TENANTS_PER_PAGE)
        .map(|f| {
            context! {
                href => format!("/t/{}", f.tenant_id),
                name => f.name.clone(),
                id => f.tenant_id.clone(),
                active => f.active_users,
                registrations => f.registrations,
                stops => f.stops,
                blocks => f.blocks,
                sent => f.sent,
                failed => f.failed,
                channels => f.active_channels,
            }
        })
        .collect();
    let frame = c.frame(&r, Some(&s), None, t.operator_title);
    c.render(
        &r,
        StatusCode::OK,
        "operator.html",
        context! {
            tenants => shown,
            totals,
            columns,
            caption => t.op_table_caption.replace("{sorted}", &sorted),
            pages,
            page_of => t.page_of.replace("{page}", &page.to_string()).replace("{pages}", &pages.to_string()),
            previous => (page > 1).then(|| link(column, descending, page - 1)),
            next => (page < pages).then(|| link(column, descending, page + 1)),
            ..frame
        },
    )
}
