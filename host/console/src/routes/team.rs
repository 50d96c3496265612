//! A tenant's team: its members and invitations, and inviting someone.

use super::*;

pub(super) fn permission_list(t: &Texts, set: &BTreeSet<Permission>) -> String {
    let words: Vec<&str> = Permission::ALL
        .into_iter()
        .filter(|p| set.contains(p))
        .map(|p| text::permission(t, p))
        .collect();
    if words.is_empty() {
        "—".into()
    } else {
        words.join(match t.html_lang {
            "ja" => "、",
            _ => ", ",
        })
    }
}

/// What the team page shows besides its frame.
pub(super) struct TeamForm<'a> {
    email: &'a str,
    error: Option<&'static str>,
    checked: BTreeSet<Permission>,
    made: Option<(String, String)>,
}

pub(super) async fn render_team(
    c: &Inner,
    r: &Req,
    s: &Signed,
    tenant: &Tenant,
    form: TeamForm<'_>,
) -> Response {
    let t = r.t();
    let (members, invitations) = match (
        c.store().console_accounts(Some(&tenant.id)).await,
        c.store().console_invitations(Some(&tenant.id)).await,
    ) {
        (Ok(m), Ok(i)) => (m, i),
        (Err(e), _) | (_, Err(e)) => return c.failed(e),
    };
    let now = c.now();
    let members: Vec<Value> = members
        .iter()
        .map(|m| {
            context! {
                name => m.name.clone(),
                email => m.email.clone(),
                permissions => permission_list(t, &m.permissions),
            }
        })
        .collect();
    let pending: Vec<Value> = invitations
        .iter()
        .filter(|i| i.open_at(now))
        .map(|i: &ConsoleInvitation| {
            context! {
                email => i.email.clone().unwrap_or_default(),
                permissions => permission_list(t, &i.permissions),
                expires => local_time(i.expires_at),
            }
        })
        .collect();
    let choices: Vec<Value> = Permission::ALL
        .into_iter()
        .map(|p| {
            context! {
                value => p.as_str(),
                label => text::permission(t, p),
                checked => form.checked.contains(&p),
            }
        })
        .collect();
    let made = form.made.map(|(email, link)| {
        context! { body => t.invite_made_body.replace("{email}", &email), link }
    });
    let action = match r.lang {
        Lang::Ja => format!("/t/{}/team", tenant.id),
        Lang::En => format!("/t/{}/team?lang=en", tenant.id),
    };
    let frame = c.frame(r, Some(s), Some(tenant), t.team_title);
    c.render(
        r,
        StatusCode::OK,
        "team.html",
        context! {
            tenant_name => tenant.name.clone(),
            members,
            pending,
            can_invite => true,
            action,
            csrf => s.session.csrf_secret.clone(),
            email => form.email,
            error => form.error,
            error_title => form.error.is_some(),
            permission_choices => choices,
            made,
            ..frame
        },
    )
}

pub(super) async fn team_page(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c.tenant_get(&r, &s, &tenant_id, Permission::Team).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let form = TeamForm {
        email: "",
        error: None,
        checked: BTreeSet::from([Permission::Dashboard]),
        made: None,
    };
    render_team(&c, &r, &s, &tenant, form).await
}

pub(super) async fn team_post(
    State(c): State<Shared>,
    Path(tenant_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    let tenant = match c
        .tenant_post(&r, &s, &tenant_id, &pairs, Permission::Team)
        .await
    {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let t = r.t();
    let typed = field(&pairs, "email").unwrap_or_default();
    let checked: BTreeSet<Permission> = pairs
        .iter()
        .filter(|(k, _)| k == "permission")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let refuse = |error: &'static str| TeamForm {
        email: typed,
        error: Some(error),
        checked: checked.clone(),
        made: None,
    };
    let Some(email) = email_of(typed) else {
        return render_team(&c, &r, &s, &tenant, refuse(t.email_invalid)).await;
    };
    match c.store().console_account_by_email(&email).await {
        Ok(Some(_)) => return render_team(&c, &r, &s, &tenant, refuse(t.email_taken)).await,
        Ok(None) => {}
        Err(e) => return c.failed(e),
    }
    let token = auth::new_token();
    let now = c.now();
    let invitation = match c
        .store()
        .create_console_invitation(&NewConsoleInvitation {
            token_hash: auth::digest(&token),
            role: ConsoleRole::Staff,
            tenant_id: Some(tenant.id.clone()),
            email: Some(email.clone()),
            permissions: checked.clone(),
            invited_by: Some(s.account.id.clone()),
            created_at: now,
            expires_at: now + Duration::hours(INVITE_HOURS),
        })
        .await
    {
        Ok(i) => i,
        Err(e) => return c.failed(e),
    };
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            Some(&tenant.id),
            "invitation_made",
            serde_json::json!({
                "invitation": invitation.id,
                "email": email,
                "permissions": checked,
            }),
        )
        .await
    {
        return resp;
    }
    let link = format!("{}/invite/{token}", c.base);
    let form = TeamForm {
        email: "",
        error: None,
        checked: BTreeSet::from([Permission::Dashboard]),
        made: Some((email, link)),
    };
    render_team(&c, &r, &s, &tenant, form).await
}
