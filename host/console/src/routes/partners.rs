//! The operator's partner accounts: API tokens of role `partner`, scoped
//! to plugin ids (a partner may upload new versions of its plugins and
//! see them). Listed without their text (only a token's SHA-256 is
//! stored), made with a label and plugins ticked (the token shown once,
//! on the page that makes it), revoked after a confirmation. Every call is
//! the tokens API's own function (`tayori_api::tokens::create`, `list`,
//! `revoke`), and each change is in the audit log, never the token.
//! Operators only: staff get the same 404 as a missing page.

use super::*;

use tayori_api::auth::Principal;
use tayori_api::plugins as plugins_api;
use tayori_api::tokens::{self as api, CreateToken, TokenView};
use tayori_core::MAX_TOKEN_LABEL;

use super::plugins::{op_api_failed, op_encode, op_with_lang, operator_only, operator_post};

/// The partner tokens, newest first.
async fn partner_tokens(c: &Inner) -> Result<Vec<TokenView>, Response> {
    let mut tokens: Vec<TokenView> = api::list(&c.app, &Principal::Operator)
        .await
        .map_err(op_api_failed)?
        .into_iter()
        .filter(|t| t.role == "partner")
        .collect();
    tokens.reverse();
    Ok(tokens)
}

fn label_of(t: &Texts, token: &TokenView) -> String {
    token
        .label
        .clone()
        .unwrap_or_else(|| t.pt_no_label.to_string())
}

/// What the list shows besides the tokens.
#[derive(Default)]
struct PartnerForm {
    label: String,
    plugins: Vec<String>,
    /// The field's id and the message.
    error: Option<(String, String)>,
    done: Option<String>,
    /// A token just made: its label and text, shown this once.
    made: Option<(String, String)>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PartnerDoneQuery {
    done: Option<String>,
    id: Option<String>,
}

pub(super) async fn partners_page(
    State(c): State<Shared>,
    Query(q): Query<PartnerDoneQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_only(&c, &r, &s) {
        return resp;
    }
    let mut form = PartnerForm::default();
    if q.done.as_deref() == Some("revoked") {
        let tokens = match partner_tokens(&c).await {
            Ok(t) => t,
            Err(resp) => return resp,
        };
        if let Some(token) = tokens.iter().find(|t| Some(&t.id) == q.id.as_ref()) {
            form.done = Some(
                r.t()
                    .pt_done_revoked
                    .replace("{l}", &label_of(r.t(), token)),
            );
        }
    }
    render_list(&c, &r, &s, form, StatusCode::OK).await
}

async fn render_list(
    c: &Inner,
    r: &Req,
    s: &Signed,
    form: PartnerForm,
    status: StatusCode,
) -> Response {
    let t = r.t();
    let tokens = match partner_tokens(c).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let rows: Vec<Value> = tokens
        .iter()
        .map(|token| {
            let label = label_of(t, token);
            context! {
                id => token.id.clone(),
                label => label.clone(),
                plugins => token.plugins.join(", "),
                created => local_time(token.created_at),
                revoked => token.revoked_at.map(|at| t.pt_revoked.replace("{at}", &local_time(at))),
                revoke_href => op_with_lang(r, format!("/operator/partners/{}/revoke", token.id)),
                revoke_label => t.pt_revoke_link.replace("{l}", &label),
            }
        })
        .collect();
    let plugin_choices: Vec<Value> = plugins_api::list(&c.app, &Principal::Operator)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            context! {
                i,
                id => p.id.clone(),
                checked => form.plugins.contains(&p.id),
            }
        })
        .collect();
    let has_error = form.error.is_some();
    let frame = c.frame(r, Some(s), None, t.pt_title);
    c.render(
        r,
        status,
        "partners.html",
        context! {
            list => true,
            tokens => rows,
            plugin_choices,
            label => form.label,
            max_label => MAX_TOKEN_LABEL,
            action => op_with_lang(r, "/operator/partners".into()),
            csrf => s.session.csrf_secret.clone(),
            done => form.done,
            made => form.made.map(|(label, token)| context! {
                body => t.pt_made_body.replace("{l}", &label),
                token,
            }),
            error => form.error.map(|(field, message)| context! {
                field => field.clone(),
                href => format!("#{field}"),
                message,
            }),
            error_title => has_error,
            ..frame
        },
    )
}

pub(super) async fn partner_create(
    State(c): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_post(&c, &r, &s, &pairs) {
        return resp;
    }
    let t = r.t();
    let label = field(&pairs, "label")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mut plugins: Vec<String> = Vec::new();
    for (_, p) in pairs.iter().filter(|(n, _)| n == "plugin") {
        if !plugins.contains(p) {
            plugins.push(p.clone());
        }
    }
    let known: Vec<String> = plugins_api::list(&c.app, &Principal::Operator)
        .into_iter()
        .map(|p| p.id)
        .collect();
    let problem: Option<(&str, String)> = if label.is_empty() {
        Some(("label", t.pt_label_missing.to_string()))
    } else if label.chars().count() > MAX_TOKEN_LABEL {
        Some(("label", t.pt_label_long.to_string()))
    } else if plugins.is_empty() {
        Some(("plugin-0", t.pt_plugins_missing.to_string()))
    } else {
        plugins
            .iter()
            .find(|p| !known.contains(p))
            .map(|p| ("plugin-0", t.pt_plugin_unknown.replace("{p}", p)))
    };
    if let Some((field_id, message)) = problem {
        let form = PartnerForm {
            label,
            plugins,
            error: Some((field_id.to_string(), message)),
            ..PartnerForm::default()
        };
        return render_list(&c, &r, &s, form, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let body = CreateToken {
        role: "partner".into(),
        tenant: None,
        plugins: plugins.clone(),
        label: Some(label.clone()),
    };
    let made = match api::create(&c.app, &Principal::Operator, body).await {
        Ok(made) => made,
        Err(e) if e.status.is_client_error() => {
            let field_id = if e.message.starts_with("label") {
                "label"
            } else {
                "plugin-0"
            };
            let form = PartnerForm {
                label,
                plugins,
                error: Some((field_id.to_string(), e.message)),
                ..PartnerForm::default()
            };
            return render_list(&c, &r, &s, form, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Err(e) => return op_api_failed(e),
    };
    // The token's id, label and plugins: never its text.
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            None,
            "partner_token_created",
            serde_json::json!({
                "token": made.id,
                "label": made.label,
                "plugins": made.plugins,
            }),
        )
        .await
    {
        return resp;
    }
    let form = PartnerForm {
        made: Some((label, made.token)),
        ..PartnerForm::default()
    };
    render_list(&c, &r, &s, form, StatusCode::OK).await
}

/// A partner token that still works, or the 404 page.
async fn live_token(c: &Inner, r: &Req, s: &Signed, id: &str) -> Result<TokenView, Response> {
    partner_tokens(c)
        .await?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .ok_or_else(|| c.not_found(r, Some(s)))
}

pub(super) async fn partner_revoke_page(
    State(c): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_only(&c, &r, &s) {
        return resp;
    }
    let t = r.t();
    let token = match live_token(&c, &r, &s, &id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let label = label_of(t, &token);
    let title = t.pt_revoke_title.replace("{l}", &label);
    let frame = c.frame(&r, Some(&s), None, &title);
    c.render(
        &r,
        StatusCode::OK,
        "partners.html",
        context! {
            revoke => true,
            id => token.id.clone(),
            plugins => token.plugins.join(", "),
            created => local_time(token.created_at),
            action => op_with_lang(&r, format!("/operator/partners/{}/revoke", token.id)),
            back => op_with_lang(&r, "/operator/partners".into()),
            csrf => s.session.csrf_secret.clone(),
            ..frame
        },
    )
}

pub(super) async fn partner_revoke(
    State(c): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> Response {
    let r = Req::new(&uri, &headers);
    let s = signed_or_sign_in!(c, headers);
    if let Err(resp) = operator_post(&c, &r, &s, &pairs) {
        return resp;
    }
    let token = match live_token(&c, &r, &s, &id).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let revoked = match api::revoke(&c.app, &Principal::Operator, &token.id).await {
        Ok(t) => t,
        Err(e) if e.status == StatusCode::NOT_FOUND => return c.not_found(&r, Some(&s)),
        Err(e) => return op_api_failed(e),
    };
    if let Err(resp) = c
        .audit(
            Some(&s.account.id),
            None,
            "partner_token_revoked",
            serde_json::json!({
                "token": revoked.id,
                "label": revoked.label,
                "plugins": revoked.plugins,
            }),
        )
        .await
    {
        return resp;
    }
    see_other(&op_with_lang(
        &r,
        format!(
            "/operator/partners?done=revoked&id={}",
            op_encode(&revoked.id)
        ),
    ))
}
