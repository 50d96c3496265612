//! `/v1/catalog` and `/v1/tenants/{tenant}/catalog`: the message catalog as
//! a file (import and export, docs/catalog.md), and what each tenant adds to
//! it: local inserts per message or per stage, and its own extra messages.
//!
//! The catalog is the service's whole content, so an import is checked
//! completely before the store replaces anything, by the domain's checks
//! (`tayori_core::domain::catalog::file`: ids, schedule rules in range, a
//! `ja` text for every message) with the renderer's check of every subject
//! and body (`tayori_scheduler::render::Renderer::check`, whose variables
//! are [`TEMPLATE_VARIABLES`]). Errors name the message id and locale.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tayori_core::{InsertTarget, LocalInsert, Locale, ProgramImport, ScheduleRule, TenantMessage};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_catalog))
        .routes(routes!(list_programs))
        .routes(routes!(get_program, delete_program))
        .routes(routes!(list_inserts))
        .routes(routes!(put_insert, delete_insert))
        .routes(routes!(list_tenant_messages))
        .routes(routes!(put_tenant_message, delete_tenant_message))
}

/// The import route, on its own for its body limit.
pub(crate) fn import_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_catalog))
}

/// The largest catalog file: ten times the standard catalog in three locales.
pub const MAX_CATALOG_BODY: usize = 16 << 20;

use tayori_core::domain::catalog::file::{self as catalog_file, Problem};
pub use tayori_core::domain::catalog::file::{
    CatalogFile, ContentFile, MessageFile, ProgramFile, TEMPLATE_VARIABLES, file_content,
};

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError::invalid(&p.field, p.message)
    }
}

/// Whether `text` would render in a delivery (the renderer's own check).
#[cfg(test)]
pub(crate) fn template(what: &str, text: &str) -> ApiResult<()> {
    tayori_scheduler::render::Renderer::default()
        .check(text)
        .map_err(|e| ApiError::invalid(what, e))
}

/// A whole file, checked by the domain with the renderer's template
/// check, as the store's imports.
pub fn check_file(file: &CatalogFile) -> ApiResult<Vec<ProgramImport>> {
    let renderer = tayori_scheduler::render::Renderer::default();
    Ok(catalog_file::check_file(file, &|t| renderer.check(t))?)
}

fn rule_value(rule: &ScheduleRule) -> Value {
    serde_json::to_value(rule).expect("a rule serializes")
}

// ---- the catalog -----------------------------------------------------------

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedView {
    /// Programs written.
    pub programs: u64,
    /// Messages written.
    pub messages: u64,
    /// Messages of those programs that the file no longer has.
    pub removed: u64,
}

/// A program and how many messages it has.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub messages: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramList {
    pub programs: Vec<ProgramView>,
}

/// A catalog message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub program: String,
    pub stage: Option<String>,
    /// e.g. `{"pregnancy_day": 28}`.
    #[schema(value_type = Object)]
    pub rule: Value,
    /// Locale → subject and body templates.
    pub content: BTreeMap<String, ContentFile>,
}

/// A program with its messages, in catalog order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramDetail {
    pub id: String,
    pub name: String,
    pub description: String,
    pub messages: Vec<MessageView>,
}

fn can_read_catalog(principal: &Principal) -> ApiResult<()> {
    match principal {
        Principal::Partner { .. } => Err(ApiError::forbidden(
            "partner tokens do not read the catalog",
        )),
        _ => Ok(()),
    }
}

/// Import a catalog file (YAML or JSON, docs/catalog.md): each program in it
/// replaces the stored program and all of its messages, all or nothing.
#[utoipa::path(
    post, path = "/v1/catalog/import", tag = "catalog",
    request_body(content = String, content_type = "application/yaml", description = "A catalog file (docs/catalog.md); JSON of the same shape is accepted too"),
    responses(
        (status = 200, body = ImportedView),
        (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "The file is invalid; the message names the message id, locale and field", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn import_catalog(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportedView>> {
    principal.require_operator()?;
    let mime = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_string();
    if !matches!(
        mime.as_str(),
        "application/yaml"
            | "application/x-yaml"
            | "text/yaml"
            | "text/x-yaml"
            | "application/json"
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the catalog as `Content-Type: application/yaml` (or application/json)",
        ));
    }
    let programs = tokio::task::spawn_blocking(move || {
        let file: CatalogFile = serde_yaml::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                format!("catalog file: {e}"),
            )
        })?;
        // YAML's "\0" escape makes a NUL no database keeps as text.
        if let Ok(value) = serde_yaml::from_slice::<serde_json::Value>(&body)
            && let Some(field) = crate::input::nul_in_json(&value)
        {
            return Err(ApiError::invalid(
                &format!("catalog file {field}"),
                crate::input::NUL_MESSAGE,
            ));
        }
        check_file(&file)
    })
    .await
    .map_err(ApiError::internal)??;
    let done = state.store.import_catalog(&programs).await?;
    state.scheduler.changed_all();
    tracing::info!(
        programs = done.programs,
        messages = done.messages,
        removed = done.removed,
        "catalog imported"
    );
    Ok(Json(ImportedView {
        programs: done.programs,
        messages: done.messages,
        removed: done.removed,
    }))
}

/// Which program to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// One program; absent: every program.
    pub program: Option<String>,
}

/// Export the catalog (or one program) as a YAML file that imports back as it is.
#[utoipa::path(
    get, path = "/v1/catalog/export", tag = "catalog",
    params(ExportQuery),
    responses((status = 200, description = "A catalog file (docs/catalog.md)", content_type = "application/yaml", body = Object), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn export_catalog(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    can_read_catalog(&principal)?;
    let mut programs = state.store.programs().await?;
    if let Some(id) = &query.program {
        programs.retain(|p| &p.id == id);
        if programs.is_empty() {
            return Err(ApiError::not_found(format!("program `{id}`")));
        }
    }
    let messages = state
        .store
        .catalog_messages(query.program.as_deref())
        .await?;
    let file = CatalogFile {
        programs: programs
            .into_iter()
            .map(|p| ProgramFile {
                messages: messages
                    .iter()
                    .filter(|m| m.program == p.id)
                    .map(|m| MessageFile {
                        id: m.id.clone(),
                        stage: m.stage.clone(),
                        rule: rule_value(&m.rule),
                        content: file_content(&m.content),
                    })
                    .collect(),
                id: p.id,
                name: p.name,
                description: p.description,
            })
            .collect(),
    };
    let text = serde_yaml::to_string(&file).map_err(ApiError::internal)?;
    Ok((
        [(
            http::header::CONTENT_TYPE,
            "application/yaml; charset=utf-8",
        )],
        text,
    ))
}

/// The catalog's programs.
#[utoipa::path(
    get, path = "/v1/catalog/programs", tag = "catalog",
    responses((status = 200, body = ProgramList)),
    security(("bearer" = []))
)]
async fn list_programs(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ProgramList>> {
    can_read_catalog(&principal)?;
    let programs = state.store.programs().await?;
    let messages = state.store.catalog_messages(None).await?;
    Ok(Json(ProgramList {
        programs: programs
            .into_iter()
            .map(|p| ProgramView {
                messages: messages.iter().filter(|m| m.program == p.id).count() as u64,
                id: p.id,
                name: p.name,
                description: p.description,
            })
            .collect(),
    }))
}

/// A program with its messages.
#[utoipa::path(
    get, path = "/v1/catalog/programs/{program}", tag = "catalog",
    params(("program" = String, Path)),
    responses((status = 200, body = ProgramDetail), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn get_program(
    State(state): State<AppState>,
    principal: Principal,
    Path(program): Path<String>,
) -> ApiResult<Json<ProgramDetail>> {
    can_read_catalog(&principal)?;
    let p = state
        .store
        .programs()
        .await?
        .into_iter()
        .find(|p| p.id == program)
        .ok_or_else(|| ApiError::not_found(format!("program `{program}`")))?;
    let messages = state.store.catalog_messages(Some(&program)).await?;
    Ok(Json(ProgramDetail {
        id: p.id,
        name: p.name,
        description: p.description,
        messages: messages
            .into_iter()
            .map(|m| MessageView {
                rule: rule_value(&m.rule),
                content: file_content(&m.content),
                id: m.id,
                program: m.program,
                stage: m.stage,
            })
            .collect(),
    }))
}

/// Delete a program and its messages (operators).
#[utoipa::path(
    delete, path = "/v1/catalog/programs/{program}", tag = "catalog",
    params(("program" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn delete_program(
    State(state): State<AppState>,
    principal: Principal,
    Path(program): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_operator()?;
    state.store.delete_program(&program).await?;
    tracing::info!(%program, "catalog program deleted");
    Ok(StatusCode::NO_CONTENT)
}

// ---- a tenant's additions ---------------------------------------------------

/// A local insert: the tenant's text appended to a message or to every
/// message of a stage.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsertView {
    /// `message` or `stage`.
    pub kind: String,
    /// The message id or stage name.
    pub key: String,
    /// Locale → text (a template).
    pub content: BTreeMap<String, String>,
}

impl From<LocalInsert> for InsertView {
    fn from(i: LocalInsert) -> Self {
        Self {
            kind: i.target.kind().to_string(),
            key: i.target.key().to_string(),
            content: i
                .content
                .into_iter()
                .map(|(l, t)| (l.to_string(), t))
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InsertList {
    pub inserts: Vec<InsertView>,
}

/// A local insert's text per locale.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertBody {
    /// Locale → text, e.g. `{"ja": "4か月児健診は区役所で..."}`.
    pub content: BTreeMap<String, String>,
}

/// A tenant's extra message.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantMessageView {
    pub id: String,
    pub stage: Option<String>,
    #[schema(value_type = Object)]
    pub rule: Value,
    pub content: BTreeMap<String, ContentFile>,
}

impl From<TenantMessage> for TenantMessageView {
    fn from(m: TenantMessage) -> Self {
        Self {
            rule: rule_value(&m.rule),
            content: file_content(&m.content),
            id: m.id,
            stage: m.stage,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantMessageList {
    pub messages: Vec<TenantMessageView>,
}

/// A tenant's extra message to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantMessageBody {
    pub stage: Option<String>,
    /// e.g. `{"child_month": 4}`.
    #[schema(value_type = Object)]
    pub rule: Value,
    pub content: BTreeMap<String, ContentFile>,
}

/// An insert's target from its path: `message` or `stage` and the key.
pub fn insert_target(kind: &str, key: &str) -> Option<InsertTarget> {
    match kind {
        "message" => Some(InsertTarget::Message(key.to_string())),
        "stage" => Some(InsertTarget::Stage(key.to_string())),
        _ => None,
    }
}

fn target(kind: &str, key: &str) -> ApiResult<InsertTarget> {
    insert_target(kind, key).ok_or_else(|| {
        ApiError::not_found(format!("insert kind `{kind}` (use `message` or `stage`)"))
    })
}

/// A local insert as every front takes it (the API's PUT and the
/// console's editor): its target is a catalog message, or a stage of the
/// catalog or of the tenant's own messages; each locale's text is a
/// template the renderer takes; at least one locale. `Ok(Err(_))`: what
/// is wrong, nothing stored.
pub async fn checked_insert(
    store: &dyn tayori_core::Store,
    tenant: &str,
    target: InsertTarget,
    written: &BTreeMap<String, String>,
) -> Result<Result<LocalInsert, Problem>, tayori_core::StoreError> {
    let catalog = store.catalog_messages(None).await?;
    let exists = match &target {
        InsertTarget::Message(id) => catalog.iter().any(|m| &m.id == id),
        InsertTarget::Stage(stage) => {
            catalog.iter().any(|m| m.stage.as_ref() == Some(stage))
                || store
                    .tenant_messages(tenant)
                    .await?
                    .iter()
                    .any(|m| m.stage.as_ref() == Some(stage))
        }
    };
    let (kind, key) = (target.kind(), target.key());
    if !exists {
        return Ok(Err(Problem::new(
            kind,
            format!("no catalog {kind} `{key}`"),
        )));
    }
    let renderer = tayori_scheduler::render::Renderer::default();
    let mut content = BTreeMap::new();
    for (locale, text) in written {
        let parsed: Locale = match locale.parse() {
            Ok(l) => l,
            Err(e) => return Ok(Err(Problem::new("content", format!("{e}")))),
        };
        if let Err(e) = renderer.check(text) {
            return Ok(Err(Problem::new(format!("content.{locale}"), e)));
        }
        content.insert(parsed, text.clone());
    }
    if content.is_empty() {
        return Ok(Err(Problem::new(
            "content",
            "give the text in at least one locale",
        )));
    }
    Ok(Ok(LocalInsert { target, content }))
}

/// A tenant's own message as every front takes it (the API's PUT and the
/// console's editor): the domain's check with the renderer's.
pub fn checked_tenant_message(
    id: &str,
    stage: Option<&str>,
    rule: &Value,
    content: &BTreeMap<String, ContentFile>,
) -> Result<TenantMessage, Problem> {
    let renderer = tayori_scheduler::render::Renderer::default();
    let (rule, content) =
        catalog_file::tenant_message(id, stage, rule, content, &|t| renderer.check(t))?;
    Ok(TenantMessage {
        rule,
        content,
        id: id.to_string(),
        stage: stage.map(str::to_string),
    })
}

/// A tenant's local inserts.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/catalog/inserts", tag = "catalog",
    params(("tenant" = String, Path)),
    responses((status = 200, body = InsertList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_inserts(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<InsertList>> {
    crate::tenants::visible_tenant(&state, &principal, &tenant).await?;
    let inserts = state.store.local_inserts(&tenant).await?;
    Ok(Json(InsertList {
        inserts: inserts.into_iter().map(Into::into).collect(),
    }))
}

/// Create or replace a local insert for one catalog message
/// (`kind` = `message`) or every message of a stage (`kind` = `stage`).
#[utoipa::path(
    put, path = "/v1/tenants/{tenant}/catalog/inserts/{kind}/{key}", tag = "catalog",
    params(("tenant" = String, Path), ("kind" = String, Path, description = "`message` or `stage`"), ("key" = String, Path, description = "The message id or stage")),
    request_body = InsertBody,
    responses((status = 200, body = InsertView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn put_insert(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, kind, key)): Path<(String, String, String)>,
    Json422(body): Json422<InsertBody>,
) -> ApiResult<Json<InsertView>> {
    crate::tenants::visible_tenant(&state, &principal, &tenant).await?;
    let target = target(&kind, &key)?;
    let insert = checked_insert(state.store.as_ref(), &tenant, target, &body.content).await??;
    state.store.put_local_insert(&tenant, &insert).await?;
    state.scheduler.changed(Some(&tenant));
    Ok(Json(insert.into()))
}

/// Delete a local insert.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/catalog/inserts/{kind}/{key}", tag = "catalog",
    params(("tenant" = String, Path), ("kind" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn delete_insert(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, kind, key)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    principal.require_tenant(&tenant)?;
    let target = target(&kind, &key)?;
    state.store.delete_local_insert(&tenant, &target).await?;
    state.scheduler.changed(Some(&tenant));
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's extra messages.
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/catalog/messages", tag = "catalog",
    params(("tenant" = String, Path)),
    responses((status = 200, body = TenantMessageList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn list_tenant_messages(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TenantMessageList>> {
    crate::tenants::visible_tenant(&state, &principal, &tenant).await?;
    let messages = state.store.tenant_messages(&tenant).await?;
    Ok(Json(TenantMessageList {
        messages: messages.into_iter().map(Into::into).collect(),
    }))
}

/// Create or replace one of the tenant's own messages, on the catalog's
/// schedule rules (e.g. a school-entry message of its own).
#[utoipa::path(
    put, path = "/v1/tenants/{tenant}/catalog/messages/{id}", tag = "catalog",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = TenantMessageBody,
    responses((status = 200, body = TenantMessageView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The id is a catalog message's", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn put_tenant_message(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
    Json422(body): Json422<TenantMessageBody>,
) -> ApiResult<Json<TenantMessageView>> {
    crate::tenants::visible_tenant(&state, &principal, &tenant).await?;
    let message = checked_tenant_message(&id, body.stage.as_deref(), &body.rule, &body.content)?;
    state.store.put_tenant_message(&tenant, &message).await?;
    state.scheduler.changed(Some(&tenant));
    Ok(Json(message.into()))
}

/// Delete one of the tenant's own messages.
#[utoipa::path(
    delete, path = "/v1/tenants/{tenant}/catalog/messages/{id}", tag = "catalog",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn delete_tenant_message(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    principal.require_tenant(&tenant)?;
    state.store.delete_tenant_message(&tenant, &id).await?;
    state.scheduler.changed(Some(&tenant));
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(yaml: &str) -> ApiResult<Vec<ProgramImport>> {
        let file: CatalogFile = serde_yaml::from_str(yaml).expect("yaml");
        check_file(&file)
    }

    #[test]
    fn a_file_imports_with_rules_and_locales() {
        let programs = file(
            r#"
programs:
  - id: standard
    name: Standard
    messages:
      - id: p028
        stage: pregnancy
        rule: {pregnancy_day: 28}
        content:
          ja: {subject: "妊娠4週", body: "{{ tenant_name }}からのお知らせ: {{ age }}"}
          en: {subject: "Week 4", body: "From {{ tenant_name }}"}
      - id: school
        rule: {school_entry: {offset_days: -7}}
        content:
          ja: {body: "就学"}
"#,
        )
        .unwrap();
        assert_eq!(programs[0].messages.len(), 2);
        assert_eq!(programs[0].messages[0].rule, ScheduleRule::PregnancyDay(28));
        assert_eq!(
            programs[0].messages[1].rule,
            ScheduleRule::SchoolEntry { offset_days: -7 }
        );
    }

    #[test]
    fn unknown_filters_and_tests_are_refused_at_import() {
        for (text, found) in [
            ("{{ tenant_name | nosuchfilter }}", "unknown filter"),
            ("{% if age is nosuchtest %}x{% endif %}", "unknown test"),
            ("{{ child_day + tenant_name }}", "does not render"),
        ] {
            let err = template("message `m1` ja body", text).unwrap_err();
            assert!(
                err.message.starts_with("message `m1` ja body: "),
                "{}",
                err.message
            );
            assert!(err.message.contains(found), "{text}: {}", err.message);
        }
        for fine in [
            "{{ tenant_name | upper }}",
            "{% if birth_date is defined %}{{ child_day + 1 }}{% endif %}",
            "{{ age }} {{ due_date }} {{ days_to_due | abs }}",
        ] {
            template("m", fine).unwrap_or_else(|e| panic!("{fine}: {}", e.message));
        }
    }

    #[test]
    fn errors_name_the_message_and_locale() {
        let cases = [
            (
                "{ja: {body: \"{% if %}\"}}",
                "{pregnancy_day: 28}",
                "message `m1` ja body: template syntax error",
            ),
            (
                "{ja: {body: ok}, en: {body: \"{{ tenat_name }}\"}}",
                "{pregnancy_day: 28}",
                "message `m1` en body: unknown template variable `tenat_name`",
            ),
            (
                "{en: {body: ok}}",
                "{pregnancy_day: 28}",
                "message `m1` content: needs a `ja` text",
            ),
            (
                "{ja: {body: ok}, fr: {body: ok}}",
                "{pregnancy_day: 28}",
                "message `m1` content: unknown locale `fr`",
            ),
            (
                "{ja: {body: ok}}",
                "{pregnancy_week: 4}",
                "message `m1` rule: ",
            ),
            (
                "{ja: {body: ok}}",
                "{pregnancy_day: 400}",
                "message `m1` rule: pregnancy_day must be at most 300",
            ),
        ];
        for (content, rule, expected) in cases {
            let yaml = format!(
                "programs: [{{id: standard, name: S, messages: [{{id: m1, rule: {rule}, content: {content}}}]}}]"
            );
            let err = file(&yaml).unwrap_err();
            assert!(err.message.starts_with(expected), "{yaml}\n{}", err.message);
        }
    }
}
