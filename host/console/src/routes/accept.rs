//! An invitation's link (and the first operator's): set a name and a
//! password, then signed in.

use super::*;

/// The open invitation a link's token stands for.
pub(super) async fn open_invitation(
    c: &Inner,
    token: &str,
) -> Result<Option<ConsoleInvitation>, Response> {
    if !auth::well_formed(token) {
        return Ok(None);
    }
    let invitation = c
        .store()
        .console_invitation(&auth::digest(token))
        .await
        .map_err(|e| c.failed(e))?;
    Ok(invitation.filter(|i| i.open_at(c.now())))
}

pub(super) fn closed(c: &Inner, r: &Req) -> Response {
    let t = r.t();
    c.message(
        r,
        None,
        StatusCode::NOT_FOUND,
        t.invite_closed_title,
        vec![t.invite_closed_body.into()],
    )
}

#[derive(Default, Serialize)]
pub(super) struct AcceptErrors {
    name: Option<&'static str>,
    email: Option<&'static str>,
    password: Option<&'static str>,
    confirm: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn render_accept(
    c: &Inner,
    r: &Req,
    headers: &HeaderMap,
    invitation: &ConsoleInvitation,
    name: &str,
    email: &str,
    err: AcceptErrors,
) -> Response {
    let t = r.t();
    let intro = match &invitation.tenant_id {
        Some(tenant_id) => {
            let tenant_name = c
                .store()
                .tenant(tenant_id)
                .await
                .map(|t| t.name)
                .unwrap_or_else(|_| tenant_id.clone());
            t.accept_staff.replace("{tenant}", &tenant_name)
        }
        None => t.accept_operator.to_string(),
    };
    let mut errors = Vec::new();
    for (anchor, message) in [
        ("name", err.name),
        ("email", err.email),
        ("password", err.password),
        ("confirm", err.confirm),
    ] {
        if let Some(message) = message {
            errors.push(context! { anchor, message });
        }
    }
    let token = c.form.for_page(cookie_header(headers));
    let action = match r.lang {
        Lang::Ja => r.path.clone(),
        Lang::En => format!("{}?lang=en", r.path),
    };
    let frame = c.frame(r, None, None, t.accept_title);
    with_cookie(
        c.render(
            r,
            StatusCode::OK,
            "accept.html",
            context! {
                intro,
                action,
                csrf => token.field,
                name,
                email,
                fixed_email => invitation.email.clone(),
                error_title => !errors.is_empty(),
                errors,
                err,
                ..frame
            },
        ),
        token.set_cookie,
    )
}

pub(super) async fn accept_page(
    State(c): State<Shared>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let invitation = match open_invitation(&c, &token).await {
        Ok(Some(i)) => i,
        Ok(None) => return closed(&c, &r),
        Err(resp) => return resp,
    };
    render_accept(
        &c,
        &r,
        &headers,
        &invitation,
        "",
        "",
        AcceptErrors::default(),
    )
    .await
}

pub(super) async fn accept_post(
    State(c): State<Shared>,
    Path(token): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    if !c
        .form
        .check(cookie_header(&headers), field(&pairs, csrf::FIELD))
    {
        return c.forbidden_form(&r, None);
    }
    let invitation = match open_invitation(&c, &token).await {
        Ok(Some(i)) => i,
        Ok(None) => return closed(&c, &r),
        Err(resp) => return resp,
    };
    let t = r.t();
    let name = field(&pairs, "name").unwrap_or_default().trim().to_string();
    let typed_email = field(&pairs, "email").unwrap_or_default();
    let password = field(&pairs, "password").unwrap_or_default().to_string();
    let confirm = field(&pairs, "confirm").unwrap_or_default();
    let mut err = AcceptErrors::default();
    if name.is_empty() || name.chars().count() > 100 {
        err.name = Some(t.name_missing);
    }
    let email = match &invitation.email {
        Some(e) => Some(e.clone()),
        None => email_of(typed_email),
    };
    if email.is_none() {
        err.email = Some(t.email_invalid);
    }
    let chars = password.chars().count();
    if chars < auth::MIN_PASSWORD_CHARS {
        err.password = Some(t.password_short);
    } else if chars > auth::MAX_PASSWORD_CHARS {
        err.password = Some(t.password_long);
    } else if confirm != password {
        err.confirm = Some(t.password_mismatch);
    }
    let (Some(email), None, None, None, None) =
        (email, err.name, err.email, err.password, err.confirm)
    else {
        return render_accept(&c, &r, &headers, &invitation, &name, typed_email, err).await;
    };
    let password_hash = auth::hash_password_blocking(password).await;
    let account = match c
        .store()
        .accept_console_invitation(
            &invitation.token_hash,
            &NewConsoleAccount {
                email: email.clone(),
                name: name.clone(),
                password_hash,
            },
            c.now(),
        )
        .await
    {
        Ok(a) => a,
        Err(StoreError::NotFound(_)) => return closed(&c, &r),
        Err(StoreError::Conflict(_)) => {
            let err = AcceptErrors {
                email: Some(t.email_taken),
                ..AcceptErrors::default()
            };
            return render_accept(&c, &r, &headers, &invitation, &name, typed_email, err).await;
        }
        Err(e) => return c.failed(e),
    };
    if let Err(resp) = c
        .audit(
            Some(&account.id),
            account.tenant_id.as_deref(),
            "invitation_used",
            serde_json::json!({ "invitation": invitation.id, "role": account.role }),
        )
        .await
    {
        return resp;
    }
    let cookie = match c.start_session(&account).await {
        Ok(cookie) => cookie,
        Err(resp) => return resp,
    };
    if let Err(resp) = c
        .audit(
            Some(&account.id),
            account.tenant_id.as_deref(),
            "sign_in",
            serde_json::json!({}),
        )
        .await
    {
        return resp;
    }
    with_cookie(see_other(&home_of(&account)), Some(cookie))
}
