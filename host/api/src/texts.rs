//! `/v1/tenants/{tenant}/texts`: the chat's texts a tenant writes itself
//! (the greeting after a follow, the welcome after registering), in each
//! locale; what it leaves out is the default. Operators and the tenant's
//! admins.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use tayori_core::Locale;
use tayori_core::domain::conversation::{ChatTexts, EDITABLE_TEXTS, MAX_TEXT_CHARS, default_text};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, Json422};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_texts, put_texts))
}

/// One text in each locale; a locale left out (or `null`) is the default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocaleTexts {
    /// Japanese.
    #[schema(min_length = 1, max_length = 1000)]
    pub ja: Option<String>,
    /// やさしい日本語.
    #[serde(rename = "ja-easy")]
    #[schema(min_length = 1, max_length = 1000)]
    pub ja_easy: Option<String>,
    /// English.
    #[schema(min_length = 1, max_length = 1000)]
    pub en: Option<String>,
}

impl LocaleTexts {
    fn entries(&self) -> [(Locale, Option<&String>); 3] {
        [
            (Locale::Ja, self.ja.as_ref()),
            (Locale::JaEasy, self.ja_easy.as_ref()),
            (Locale::En, self.en.as_ref()),
        ]
    }
}

/// The tenant's own words. A text left out is the default in every locale.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutTexts {
    /// The first message after a parent adds the account; `{tenant}` is
    /// the tenant's name.
    pub greeting: Option<LocaleTexts>,
    /// Said when a household has registered in the chat.
    pub welcome: Option<LocaleTexts>,
}

/// One text in one locale, as the chat says it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextView {
    /// `greeting` or `welcome`.
    pub key: String,
    /// What it is.
    pub description: String,
    /// `ja`, `ja-easy` or `en`.
    pub locale: String,
    pub text: String,
    /// Written by the tenant (else the default).
    pub custom: bool,
}

/// Every editable text in every locale.
#[derive(Debug, Serialize, ToSchema)]
pub struct TextsView {
    pub texts: Vec<TextView>,
}

fn view(custom: &ChatTexts) -> TextsView {
    let mut texts = Vec::new();
    for (key, description) in EDITABLE_TEXTS {
        for locale in Locale::ALL {
            let own = custom.get(key).and_then(|by| by.get(locale.as_str()));
            texts.push(TextView {
                key: key.to_string(),
                description: description.to_string(),
                locale: locale.as_str().to_string(),
                text: own
                    .cloned()
                    .unwrap_or_else(|| default_text(key, *locale).unwrap_or_default().to_string()),
                custom: own.is_some(),
            });
        }
    }
    TextsView { texts }
}

/// The chat's editable texts as the chat says them (operators, or the
/// tenant's admins).
#[utoipa::path(
    get, path = "/v1/tenants/{tenant}/texts", tag = "tenants",
    params(("tenant" = String, Path)),
    responses((status = 200, body = TextsView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
async fn get_texts(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> ApiResult<Json<TextsView>> {
    principal.require_tenant(&tenant)?;
    Ok(Json(view(&state.store.chat_texts(&tenant).await?)))
}

/// Replace the tenant's own words (operators, or the tenant's admins):
/// what the body leaves out is the default again.
#[utoipa::path(
    put, path = "/v1/tenants/{tenant}/texts", tag = "tenants",
    params(("tenant" = String, Path)),
    request_body = PutTexts,
    responses(
        (status = 200, body = TextsView),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A text is empty or too long; the message names it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn put_texts(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<String>,
    Json422(body): Json422<PutTexts>,
) -> ApiResult<Json<TextsView>> {
    principal.require_tenant(&tenant)?;
    let mut texts = ChatTexts::new();
    for (key, given) in [("greeting", &body.greeting), ("welcome", &body.welcome)] {
        let Some(given) = given else { continue };
        for (locale, text) in given.entries() {
            let Some(text) = text else { continue };
            let field = format!("{key}.{locale}", locale = locale.as_str());
            let chars = text.chars().count();
            if chars == 0 {
                return Err(ApiError::invalid(&field, "must not be empty"));
            }
            if chars > MAX_TEXT_CHARS {
                return Err(ApiError::invalid(
                    &field,
                    format!("is {chars} characters; at most {MAX_TEXT_CHARS}"),
                ));
            }
            texts
                .entry(key.to_string())
                .or_default()
                .insert(locale.as_str().to_string(), text.clone());
        }
    }
    state.store.put_chat_texts(&tenant, &texts).await?;
    Ok(Json(view(&texts)))
}
