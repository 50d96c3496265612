//! The audit log: a tenant's, and the operator's of everything.

use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct AuditQuery {
    before: Option<i64>,
}

pub(super) async fn render_audit(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: Option<&Tenant>,
    before: Option<i64>,
) -> Response {
    let t = r.t();
    let entries = match c
        .store()
        .audit_log(tenant.map(|t| t.id.as_str()), before, AUDIT_PER_PAGE)
        .await
    {
        Ok(e) => e,
        Err(e) => return c.failed(e),
    };
    let accounts: HashMap<String, ConsoleAccount> = match c.store().console_accounts(None).await {
        Ok(all) => all.into_iter().map(|a| (a.id.clone(), a)).collect(),
        Err(e) => return c.failed(e),
    };
    let older = (entries.len() == AUDIT_PER_PAGE as usize)
        .then(|| {
            entries
                .last()
                .map(|e| format!("{}?before={}", r.path, e.id))
        })
        .flatten();
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let who = e
                .account_id
                .as_ref()
                .and_then(|id| accounts.get(id))
                .map(|a| format!("{} <{}>", a.name, a.email))
                .unwrap_or_else(|| t.someone_unknown.to_string());
            let detail = match &e.detail {
                serde_json::Value::Object(map) if map.is_empty() => String::new(),
                serde_json::Value::Object(map) => map
                    .iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => format!("{k}: {s}"),
                        other => format!("{k}: {other}"),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            context! {
                at => local_time(e.at),
                who,
                tenant => e.tenant_id.clone().unwrap_or_default(),
                action => e.action.clone(),
                what => text::action(t, &e.action),
                detail,
            }
        })
        .collect();
    let frame = c.frame(r, Some(s), tenant, t.audit_title);
    c.render(
        r,
        StatusCode::OK,
        "audit.html",
        context! {
            tenant_name => tenant.map(|t| t.name.clone()),
            show_tenant => tenant.is_none(),
            entries => rows,
            older,
            ..frame
        },
    )
}

pub(super) async fn audit_tenant(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    Query(q): Query<AuditQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Team).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    render_audit(&c, &r, &s, Some(&tenant), q.before).await
}

pub(super) async fn audit_all(
    State(c): State<Shared>,
    Query(q): Query<AuditQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if s.account.role != ConsoleRole::Operator {
        return c.not_found(&r, Some(&s));
    }
    render_audit(&c, &r, &s, None, q.before).await
}
