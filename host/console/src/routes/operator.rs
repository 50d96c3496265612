//! The operator's page: every tenant, paged.

use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    page: Option<usize>,
}

pub(super) async fn operator(
    State(c): State<Shared>,
    Query(q): Query<PageQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if s.account.role != ConsoleRole::Operator {
        return c.not_found(&r, Some(&s));
    }
    let t = r.t();
    let tenants = match c.store().tenants().await {
        Ok(t) => t,
        Err(e) => return c.failed(e),
    };
    let pages = tenants.len().div_ceil(TENANTS_PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let now = c.now();
    let mut rows = Vec::new();
    for tenant in tenants
        .iter()
        .skip((page - 1) * TENANTS_PER_PAGE)
        .take(TENANTS_PER_PAGE)
    {
        let today = tayori_api::front_door::today(tenant, now);
        let month = today.with_day(1).expect("a first day");
        let active = match tayori_api::reports::figures(c.store(), tenant, month, today).await {
            Ok(f) => f.active_users,
            Err(e) => {
                tracing::error!(error = ?e, tenant = %tenant.id, "console: cannot compute the figures");
                return c.failed(StoreError::Backend("figures".into()));
            }
        };
        rows.push(context! {
            href => format!("/t/{}", tenant.id),
            name => tenant.name.clone(),
            id => tenant.id.clone(),
            active,
        });
    }
    let link = |p: usize| format!("/operator?page={p}");
    let frame = c.frame(&r, Some(&s), None, t.operator_title);
    c.render(
        &r,
        StatusCode::OK,
        "operator.html",
        context! {
            tenants => rows,
            pages,
            page_of => t.page_of.replace("{page}", &page.to_string()).replace("{pages}", &pages.to_string()),
            previous => (page > 1).then(|| link(page - 1)),
            next => (page < pages).then(|| link(page + 1)),
            ..frame
        },
    )
}
