//! Adding a child on the page of what is registered (`POST
//! /m/{token}/children`): a new pregnancy or a brother or sister, asked as
//! the registration form asks (expecting or born, then the date as three
//! number fields), read by [`form::checked_date`] and checked by the
//! domain's [`DateRules`] (`due` or `birth`), never by rules of its own.
//! A good answer is one store call (`add_child`, which makes a stopped
//! household active again) and a 303 back with a banner naming the child;
//! a wrong one shows the page again (422) with the error summary, and
//! changes nothing.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tayori_core::NewChild;
use tayori_core::registration::{DateRules, written_date};

use super::{Found, ManageQuery, Wrong, typed};
use crate::Inner;
use crate::form::{self, Stage};
use crate::pages::{AddChildForm, ErrorLink};
use crate::routes::{Shared, see_other};
use crate::text::texts;

/// The ids of the question's inputs (the error summary links to them).
const STAGE_ANCHOR: &str = "add-stage-expecting";
const DATE_PREFIX: &str = "add-date";

impl Inner {
    /// The question as shown: empty, or as typed with what was wrong
    /// (each problem also put in the page's error summary).
    pub(super) fn add_child_form(
        &self,
        f: &Found,
        token: &str,
        wrong: &Wrong,
        errors: &mut Vec<ErrorLink>,
    ) -> AddChildForm {
        let (locale, t) = (f.locale, texts(f.locale));
        let rules = DateRules::new(self.today(&f.tenant));
        let ((due_from, due_to), (birth_from, _)) = (rules.due_range(), rules.birth_range());
        let w = |d| written_date(d, locale);
        let mut view = match wrong {
            Wrong::AddChild(typed) => {
                if let Some(message) = &typed.stage_error {
                    errors.push(ErrorLink {
                        anchor: STAGE_ANCHOR.into(),
                        message: message.clone(),
                    });
                }
                if let Some(message) = &typed.date_error {
                    errors.push(ErrorLink {
                        anchor: format!("{DATE_PREFIX}-{}", typed.parts.first()),
                        message: message.clone(),
                    });
                }
                (**typed).clone()
            }
            _ => AddChildForm::default(),
        };
        view.action = self.link(&format!("/m/{token}/children?lang={locale}"));
        view.date_range = t
            .date_range
            .replace("{due_from}", &w(due_from))
            .replace("{due_to}", &w(due_to))
            .replace("{birth_from}", &w(birth_from));
        view
    }
}

/// The answer checked on `rules`' day: the child to add, or the question
/// as typed with its problems.
fn checked(
    pairs: &[(String, String)],
    rules: &DateRules,
    f: &Found,
) -> Result<NewChild, Box<AddChildForm>> {
    let t = texts(f.locale);
    let mut typed_form = AddChildForm {
        stage: typed(pairs, "stage"),
        year: typed(pairs, "year"),
        month: typed(pairs, "month"),
        day: typed(pairs, "day"),
        ..AddChildForm::default()
    };
    let stage = match typed_form.stage.as_str() {
        "expecting" => Some(Stage::Expecting),
        "born" => Some(Stage::Born),
        _ => {
            typed_form.stage_error = Some(t.err_stage.to_string());
            None
        }
    };
    let empty = match stage {
        Some(Stage::Expecting) => t.err_date_empty_due,
        Some(Stage::Born) => t.err_date_empty_birth,
        None => t.err_date_empty,
    };
    let date = form::checked_date(
        (&typed_form.year, &typed_form.month, &typed_form.day),
        |date| match stage {
            Some(Stage::Expecting) => rules.due(date),
            Some(Stage::Born) => rules.birth(date),
            None => Ok(()),
        },
        empty,
        t,
        f.locale,
    );
    match (stage, date) {
        (Some(Stage::Expecting), Ok(date)) => Ok(NewChild::due(date)),
        (Some(Stage::Born), Ok(date)) => Ok(NewChild::born(date)),
        (_, date) => {
            if let Err(wrong) = date {
                typed_form.date_error = Some(wrong.message);
                typed_form.parts = wrong.parts;
            }
            Err(Box::new(typed_form))
        }
    }
}

pub(crate) async fn post(
    State(p): State<Shared>,
    Path(token): Path<String>,
    Query(q): Query<ManageQuery>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let f = match p.manage_link(&token, q.lang.as_deref()).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    if let Some(refused) = p.manage_csrf(&headers, &pairs, &f, &token) {
        return refused;
    }
    let rules = DateRules::new(p.today(&f.tenant));
    let child = match checked(&pairs, &rules, &f) {
        Ok(child) => child,
        Err(typed) => {
            return p.manage_view(&headers, &f, &token, None, Wrong::AddChild(typed));
        }
    };
    let (tenant, sid) = (&f.tenant.id, &f.subscriber.id);
    match p.app.store.add_child(tenant, sid, &child).await {
        Ok(added) => {
            tracing::info!(tenant = %tenant, subscriber = %sid, "a parent added a child on the web");
            p.app.scheduler.subscribers_changed(tenant);
            see_other(&p.manage_path(&token, &f, &format!("&done=child&child={}", added.id)))
        }
        Err(tayori_core::StoreError::Conflict(_)) => {
            // Erased meanwhile: the link names no registration any more.
            let t = texts(f.locale);
            p.back_page(&f, &token, StatusCode::CONFLICT, t.link_title, t.link_body)
        }
        Err(e) => p.failed(f.locale, Some(&f.tenant), &e),
    }
}
