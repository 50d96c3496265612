//! Changing a channel: the checks and the store call of a put, and a
//! pause or resume. The API's handlers and the console call these same
//! functions, so a config the console saves is checked exactly as one put
//! through the API.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use tayori_core::{Channel, ChannelSpec, Manifest, PutChannel, StoreError, parse_host_entry};
use tayori_runtime::{CallContext, LoadedPlugin};

use super::PutChannelBody;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::secrets::REDACTED;

/// At most this many schema errors are listed in one answer.
const MAX_SCHEMA_ERRORS: usize = 10;
/// The longest pause reason.
pub const MAX_PAUSE_REASON: usize = 200;

/// Creates or replaces the tenant's channel `name` as `principal` may:
/// checked the whole way (plugin and pin, the schema, the hosts, the
/// plugin's own `validate-config`) before anything is stored; secrets are
/// sealed; the platform side is set up. Errors name the field.
pub async fn put(
    state: &AppState,
    principal: &Principal,
    tenant: &str,
    name: &str,
    body: PutChannelBody,
) -> ApiResult<PutChannel> {
    let (tenant, name) = (tenant.to_string(), name.to_string());
    principal.require_tenant(&tenant)?;
    state.store.tenant(&tenant).await?;
    if !tayori_core::is_valid_channel_name(&name) {
        return Err(ApiError::invalid(
            "channel",
            format!(
                "`{name}` is not a channel name: use lower-case letters, digits and `-`, at most 63"
            ),
        ));
    }
    let (pin, plugin) = plugin_for(&state, &tenant, &body.plugin, body.version.as_deref())?;
    let manifest = &plugin.record.manifest;
    let Value::Object(mut config) = body.config else {
        return Err(ApiError::invalid("config", "must be a JSON object"));
    };

    let existing = match state.store.channel(&tenant, &name).await {
        Ok(c) => Some(c),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let stored_secrets = match &existing {
        Some(c) if c.plugin_id == body.plugin => state
            .secrets
            .open(&tenant, &name, &c.secrets_ciphertext)
            .unwrap_or_else(|e| {
                tracing::warn!(%tenant, channel = %name, "stored secrets ignored: {e}");
                Map::new()
            }),
        _ => Map::new(),
    };
    let secret_fields = manifest.secret_fields();
    merge_secrets(&mut config, &secret_fields, &stored_secrets)?;
    let secrets: Map<String, Value> = secret_fields
        .iter()
        .filter_map(|f| config.get(f).map(|v| (f.clone(), v.clone())))
        .collect();
    let config = Value::Object(config);
    check_schema(manifest, &config, &secrets)?;

    let allowed_hosts = match &body.allowed_hosts {
        Some(hosts) => check_hosts(principal, manifest, hosts)?,
        None => existing
            .as_ref()
            .map(|c| c.allowed_hosts.clone())
            .unwrap_or_default(),
    };
    let rate_per_second = check_override(
        principal,
        "rate_per_second",
        body.rate_per_second,
        Some(manifest.rate_per_second),
    )?;
    let daily_quota = check_override(
        principal,
        "daily_quota",
        body.daily_quota,
        manifest.daily_quota,
    )?;

    let ctx = CallContext {
        tenant: Some(tenant.clone()),
        channel: Some(name.clone()),
        approved_hosts: allowed_hosts.clone(),
        capture: false,
    };
    let called = state
        .plugins
        .runtime()
        .validate_config(&plugin, &ctx, &config.to_string())
        .await;
    match called.result {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => {
            return Err(ApiError::invalid(
                &format!("config{}", refusal.field),
                redact(refusal.message, &secrets),
            ));
        }
        Err(e) => {
            let e = redact(e.to_string(), &secrets);
            tracing::warn!(%tenant, channel = %name, "validate-config failed: {e}");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "plugin_failed",
                format!("the plugin could not validate the config: {e}"),
            ));
        }
    }

    let Value::Object(mut plain) = config.clone() else {
        unreachable!("the config was checked to be an object")
    };
    for field in &secret_fields {
        plain.remove(field);
    }
    let spec = ChannelSpec {
        name: name.clone(),
        plugin_id: body.plugin,
        version: pin,
        config: Value::Object(plain),
        secrets_ciphertext: state.secrets.seal(&tenant, &name, &secrets),
        allowed_hosts,
        rate_per_second,
        daily_quota,
    };
    let mut put = state.store.put_channel(&tenant, &spec).await?;
    // The platform side (LINE's rich menu), with the whole config.
    if let Some(outcome) = crate::channel_setup::run(&state, &plugin, &put.channel, &config).await?
    {
        put.channel.setup = Some(outcome);
    }
    state.tenant_cache.forget(&tenant);
    state.scheduler.changed(Some(&tenant));
    state.scheduler.dispatcher().wake();
    tracing::info!(%tenant, channel = %name, plugin = %spec.plugin_id, created = put.created, "channel put");
    Ok(put)
}

/// Pauses the channel (`Some(reason)`) or resumes it (`None`): while it is
/// paused its deliveries wait, held, and resume with it.
pub async fn set_pause(
    state: &AppState,
    principal: &Principal,
    tenant: &str,
    name: &str,
    reason: Option<&str>,
) -> ApiResult<Channel> {
    principal.require_tenant(tenant)?;
    let reason = match reason.map(str::trim) {
        Some("") => return Err(ApiError::invalid("reason", "must not be empty")),
        Some(r) if r.chars().count() > MAX_PAUSE_REASON => {
            return Err(ApiError::invalid(
                "reason",
                format!("must be at most {MAX_PAUSE_REASON} characters"),
            ));
        }
        r => r,
    };
    let channel = state.store.set_channel_pause(tenant, name, reason).await?;
    state.tenant_cache.forget(tenant);
    state.scheduler.changed(Some(tenant));
    state.scheduler.dispatcher().wake();
    tracing::info!(%tenant, channel = %name, paused = reason.is_some(), "channel pause set");
    Ok(channel)
}

/// The plugin a put names, at its pinned version or the one the tenant uses.
fn plugin_for(
    state: &AppState,
    tenant: &str,
    plugin: &str,
    version: Option<&str>,
) -> ApiResult<(Option<semver::Version>, std::sync::Arc<LoadedPlugin>)> {
    let listing = state.plugins.list();
    let Some(entry) = listing.iter().find(|p| p.id == plugin) else {
        let known: Vec<&str> = listing.iter().map(|p| p.id.as_str()).collect();
        return Err(ApiError::invalid(
            "plugin",
            format!(
                "no plugin `{plugin}` is published; published: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    let pin = version
        .map(|v| {
            semver::Version::parse(v).map_err(|e| {
                ApiError::invalid("version", format!("`{v}` is not a semantic version: {e}"))
            })
        })
        .transpose()?;
    let loaded = match &pin {
        Some(v) => state.plugins.version(plugin, v).ok_or_else(|| {
            let published: Vec<String> = entry
                .versions
                .iter()
                .map(|r| r.version.to_string())
                .collect();
            ApiError::invalid(
                "version",
                format!(
                    "plugin `{plugin}` has no version {v}; published: {}",
                    published.join(", ")
                ),
            )
        })?,
        None => state
            .plugins
            .resolve(plugin, Some(tenant), None)
            .ok_or_else(|| {
                ApiError::invalid(
                    "plugin",
                    format!(
                        "plugin `{plugin}` has no active version; activate one or pin `version`"
                    ),
                )
            })?,
    };
    Ok((pin, loaded))
}

/// Fills in the secrets a put leaves out, or sends as `"<redacted>"`, from
/// the stored ones; drops those sent as `null`.
fn merge_secrets(
    config: &mut Map<String, Value>,
    secret_fields: &[String],
    stored: &Map<String, Value>,
) -> ApiResult<()> {
    for field in secret_fields {
        match config.get(field) {
            None => {
                if let Some(v) = stored.get(field) {
                    config.insert(field.clone(), v.clone());
                }
            }
            Some(Value::Null) => {
                config.remove(field);
            }
            Some(Value::String(s)) if s == REDACTED => match stored.get(field) {
                Some(v) => {
                    config.insert(field.clone(), v.clone());
                }
                None => {
                    return Err(ApiError::invalid(
                        &format!("config/{field}"),
                        format!(
                            "`{REDACTED}` stands for the stored secret, but none is stored; send the value"
                        ),
                    ));
                }
            },
            Some(_) => {}
        }
    }
    Ok(())
}

/// Replaces every secret value in `message` (as text and as JSON) by
/// `<redacted>`: schema and plugin messages may quote the value they refuse.
fn redact(message: String, secrets: &Map<String, Value>) -> String {
    let mut out = message;
    for value in secrets.values() {
        let mut forms = vec![value.to_string()];
        if let Value::String(s) = value {
            forms.push(s.clone());
        }
        for form in forms {
            if !form.is_empty() && form != "\"\"" {
                out = out.replace(&form, REDACTED);
            }
        }
    }
    out
}

fn check_schema(
    manifest: &Manifest,
    config: &Value,
    secrets: &Map<String, Value>,
) -> ApiResult<()> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&manifest.config_schema)
        .map_err(|e| {
            ApiError::internal(format!(
                "plugin `{}` {}: its config schema does not compile: {e}",
                manifest.id, manifest.version
            ))
        })?;
    let errors: Vec<String> = validator
        .iter_errors(config)
        .take(MAX_SCHEMA_ERRORS)
        .map(|e| redact(format!("config{}: {e}", e.instance_path.as_str()), secrets))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            errors.join("; "),
        ))
    }
}

fn check_hosts(
    principal: &Principal,
    manifest: &Manifest,
    hosts: &[String],
) -> ApiResult<Vec<String>> {
    let manifest_hosts: Vec<(String, Option<u16>)> = manifest
        .hosts
        .iter()
        .filter_map(|h| parse_host_entry(h).ok())
        .collect();
    let mut out = Vec::with_capacity(hosts.len());
    for (i, entry) in hosts.iter().enumerate() {
        let field = format!("allowed_hosts[{i}]");
        let parsed = parse_host_entry(entry).map_err(|e| ApiError::invalid(&field, e))?;
        if *principal != Principal::Operator && !manifest_hosts.contains(&parsed) {
            return Err(ApiError::forbidden(format!(
                "{field}: `{entry}` is not in the plugin's manifest ({}); only an operator can approve other hosts",
                manifest.hosts.join(", ")
            )));
        }
        out.push(entry.trim().to_string());
    }
    Ok(out)
}

fn check_override(
    principal: &Principal,
    field: &str,
    value: Option<u32>,
    manifest_value: Option<u32>,
) -> ApiResult<Option<u32>> {
    match value {
        Some(0) => Err(ApiError::invalid(
            field,
            "must be at least 1 (delete the channel to stop it)",
        )),
        Some(v) if *principal != Principal::Operator && manifest_value.is_some_and(|m| v > m) => {
            Err(ApiError::forbidden(format!(
                "{field}: a tenant admin may lower the plugin's {} but not raise it to {v}; ask an operator",
                manifest_value.unwrap_or_default()
            )))
        }
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_kept_replaced_or_removed() {
        let fields = vec!["token".to_string(), "secret".to_string()];
        let stored = json!({"token": "old-token", "secret": "old-secret"});
        let stored = stored.as_object().unwrap();
        let mut config = json!({"endpoint": "x", "token": "<redacted>", "secret": null});
        let map = config.as_object_mut().unwrap();
        merge_secrets(map, &fields, stored).unwrap();
        assert_eq!(
            *map,
            *json!({"endpoint": "x", "token": "old-token"})
                .as_object()
                .unwrap()
        );

        let mut config = json!({"token": "new"});
        let map = config.as_object_mut().unwrap();
        merge_secrets(map, &fields, stored).unwrap();
        assert_eq!(map["token"], "new");
        assert_eq!(map["secret"], "old-secret");

        let mut config = json!({"token": "<redacted>"});
        let err = merge_secrets(config.as_object_mut().unwrap(), &fields, &Map::new()).unwrap_err();
        assert!(err.message.starts_with("config/token:"), "{}", err.message);
    }

    #[test]
    fn messages_never_quote_a_secret() {
        let secrets = json!({"token": "hunter2\"x"});
        let secrets = secrets.as_object().unwrap();
        let msg = redact(
            r#"config/token: "hunter2\"x" is not a "uri" (hunter2"x)"#.to_string(),
            secrets,
        );
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
