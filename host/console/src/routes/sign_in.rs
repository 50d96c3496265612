//! Signing in and out: the sign-in page and its POST (the lockout, the
//! session cookie), and sign-out.

use super::*;

pub(super) async fn sign_in_page(
    State(c): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    match c.signed(&headers).await {
        Err(resp) => return resp,
        Ok(Some(s)) => return see_other(&home_of(&s.account)),
        Ok(None) => {}
    }
    render_sign_in(&c, &r, &headers, "", None)
}

pub(super) fn render_sign_in(
    c: &Inner,
    r: &Req,
    headers: &HeaderMap,
    email: &str,
    error: Option<&str>,
) -> Response {
    let t = r.t();
    let token = c.form.for_page(cookie_header(headers));
    let frame = c.frame(r, None, None, t.sign_in_title);
    let action = match r.lang {
        Lang::Ja => "/sign-in".to_string(),
        Lang::En => "/sign-in?lang=en".to_string(),
    };
    with_cookie(
        c.render(
            r,
            StatusCode::OK,
            "sign_in.html",
            context! { action, csrf => token.field, email, error, error_title => error.is_some(), ..frame },
        ),
        token.set_cookie,
    )
}

pub(super) async fn sign_in_post(
    State(c): State<Shared>,
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
    let typed = field(&pairs, "email").unwrap_or_default();
    let email = typed.trim().to_lowercase();
    let password = field(&pairs, "password").unwrap_or_default().to_string();
    let now = c.now();
    let account = match c.store().console_account_by_email(&email).await {
        Ok(a) => a,
        Err(e) => return c.failed(e),
    };
    let right =
        auth::verify_password_blocking(password, account.as_ref().map(|a| a.password_hash.clone()))
            .await;
    let t = r.t();
    let Some(account) = account else {
        // No account: logged without the address typed (it may be
        // anything, a password typed in the wrong box too).
        if let Err(resp) = c
            .audit(None, None, "sign_in_failed", serde_json::json!({}))
            .await
        {
            return resp;
        }
        return render_sign_in(&c, &r, &headers, typed.trim(), Some(t.sign_in_failed));
    };
    let tenant = account.tenant_id.as_deref();
    if account.locked_at(now) {
        if let Err(resp) = c
            .audit(
                Some(&account.id),
                tenant,
                "sign_in_failed",
                serde_json::json!({ "locked": true }),
            )
            .await
        {
            return resp;
        }
        return render_sign_in(&c, &r, &headers, typed.trim(), Some(t.sign_in_failed));
    }
    if !right {
        let outcome = match c
            .store()
            .record_failed_sign_in(
                &account.id,
                now,
                MAX_FAILURES,
                now + Duration::minutes(LOCK_MINUTES),
            )
            .await
        {
            Ok(o) => o,
            Err(e) => return c.failed(e),
        };
        let (count, locked) = match outcome {
            FailedSignIn::Counted(n) => (n, None),
            FailedSignIn::Locked(until) => (MAX_FAILURES, Some(until)),
        };
        if let Err(resp) = c
            .audit(
                Some(&account.id),
                tenant,
                "sign_in_failed",
                serde_json::json!({ "attempt": count }),
            )
            .await
        {
            return resp;
        }
        if let Some(until) = locked
            && let Err(resp) = c
                .audit(
                    Some(&account.id),
                    tenant,
                    "locked",
                    serde_json::json!({ "until": until.to_rfc3339() }),
                )
                .await
        {
            return resp;
        }
        return render_sign_in(&c, &r, &headers, typed.trim(), Some(t.sign_in_failed));
    }
    if let Err(e) = c.store().record_sign_in(&account.id).await {
        return c.failed(e);
    }
    let cookie = match c.start_session(&account).await {
        Ok(cookie) => cookie,
        Err(resp) => return resp,
    };
    if let Err(resp) = c
        .audit(Some(&account.id), tenant, "sign_in", serde_json::json!({}))
        .await
    {
        return resp;
    }
    with_cookie(see_other(&home_of(&account)), Some(cookie))
}

pub(super) async fn sign_out(
    State(c): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = match c.signed(&headers).await {
        Err(resp) => return resp,
        Ok(None) => return see_other("/sign-in"),
        Ok(Some(s)) => s,
    };
    if !session_form_ok(&s, &pairs) {
        return c.forbidden_form(&r, Some(&s));
    }
    if let Err(e) = c
        .store()
        .delete_console_session(&s.session.token_hash)
        .await
    {
        return c.failed(e);
    }
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            s.account.tenant_id.as_deref(),
            "sign_out",
            serde_json::json!({}),
        )
        .await
    {
        return resp;
    }
    with_cookie(see_other("/sign-in"), Some(c.clear_session_cookie()))
}
