//! A channel's config form, made from its plugin's JSON Schema: one field
//! per top-level property, typed as the schema types it, and the posted
//! form read back into the config object the API's put takes.
//!
//! Secrets (`"writeOnly": true`) are password fields that are never
//! filled in: left empty they keep the stored value (the put leaves the
//! field out), and a "remove" box sends `null`. Every other field is
//! filled with the stored value; left empty it is left out, so the
//! plugin's default applies.

use serde::Serialize;
use serde_json::{Map, Value};

/// The form field of a config property `name` is `cfg.{name}`.
pub const PREFIX: &str = "cfg.";
/// The remove box of a secret `name` is `remove.{name}`.
pub const REMOVE_PREFIX: &str = "remove.";

/// How a property is typed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One line of text (`input_type`: text, url or email).
    Text,
    /// Long text (base64 content, a long string).
    Long,
    /// A secret: a password field, never filled in.
    Secret,
    /// A number.
    Number,
    /// One of a list (an `enum`, or a boolean as yes / no).
    Choice,
    /// Anything else, as JSON.
    Json,
}

/// One field of the form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// The property's name.
    pub name: String,
    /// The form field's name and id (`cfg.{name}`).
    pub input: String,
    pub label: String,
    pub hint: Option<String>,
    pub kind: Kind,
    /// `text`, `url` or `email` for [`Kind::Text`].
    pub input_type: &'static str,
    pub required: bool,
    /// The schema's default, as shown.
    pub default: Option<String>,
    /// For [`Kind::Choice`]: the values, as posted.
    pub choices: Vec<String>,
    /// The value shown (never a secret's).
    pub value: String,
    /// For a secret: a value is stored.
    pub stored: bool,
    pub error: Option<String>,
}

fn types(property: &Value) -> Vec<&str> {
    match &property["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The fields of `schema`, filled with `config` (the stored config
/// without its secrets); `secrets_set` are the secrets stored.
pub fn fields(schema: &Value, config: &Value, secrets_set: &[String]) -> Vec<Field> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    let mut out: Vec<Field> = properties
        .iter()
        .map(|(name, p)| {
            let ts = types(p);
            let secret = p["writeOnly"] == true;
            let choices: Vec<String> = if let Some(values) = p["enum"].as_array() {
                values.iter().map(shown).filter(|v| !v.is_empty()).collect()
            } else if ts.contains(&"boolean") {
                vec!["true".into(), "false".into()]
            } else {
                Vec::new()
            };
            let kind = if secret {
                Kind::Secret
            } else if !choices.is_empty() {
                Kind::Choice
            } else if ts.contains(&"string") {
                if p.get("contentEncoding").is_some()
                    || p["maxLength"].as_u64().is_some_and(|m| m > 500)
                {
                    Kind::Long
                } else {
                    Kind::Text
                }
            } else if ts.contains(&"integer") || ts.contains(&"number") {
                Kind::Number
            } else {
                Kind::Json
            };
            let input_type = match p["format"].as_str() {
                Some("uri") => "url",
                Some("email") => "email",
                _ => "text",
            };
            let value = if secret {
                String::new()
            } else {
                config.get(name).map(shown).unwrap_or_default()
            };
            Field {
                name: name.clone(),
                input: format!("{PREFIX}{name}"),
                label: p["title"].as_str().unwrap_or(name).to_string(),
                hint: p["description"].as_str().map(str::to_string),
                kind,
                input_type,
                required: required.contains(&name.as_str()),
                default: p.get("default").map(shown).filter(|d| !d.is_empty()),
                choices,
                value,
                stored: secret && secrets_set.iter().any(|s| s == name),
                error: None,
            }
        })
        .collect();
    // What must be filled in first; then by name (the schema's order is
    // not kept by the JSON reader).
    out.sort_by_key(|f| !f.required);
    out
}

/// What a field was given that is not what its type takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misread {
    NotANumber,
    NotAChoice,
    NotJson,
}

/// The config the posted form gives, as the API's put takes it (a secret
/// left empty is left out, so the stored one is kept; one to remove is
/// `null`), or the fields that could not be read, with why.
pub fn read(
    fields: &[Field],
    form: &[(String, String)],
) -> Result<Map<String, Value>, Vec<(String, Misread)>> {
    let last = |name: &str| {
        form.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut config = Map::new();
    let mut misread = Vec::new();
    for f in fields {
        let typed = last(&f.input).unwrap_or_default();
        let trimmed = typed.trim();
        if f.kind == Kind::Secret {
            if last(&format!("{REMOVE_PREFIX}{}", f.name)).is_some() {
                config.insert(f.name.clone(), Value::Null);
            } else if !typed.is_empty() {
                // A secret is taken as typed: a token's spaces are its own.
                config.insert(f.name.clone(), Value::String(typed.to_string()));
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let value = match f.kind {
            Kind::Text | Kind::Long => Value::String(trimmed.to_string()),
            Kind::Number => match trimmed.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => match trimmed
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(n) => Value::Number(n),
                    None => {
                        misread.push((f.name.clone(), Misread::NotANumber));
                        continue;
                    }
                },
            },
            Kind::Choice => {
                if !f.choices.iter().any(|c| c == trimmed) {
                    misread.push((f.name.clone(), Misread::NotAChoice));
                    continue;
                }
                match trimmed {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    other => Value::String(other.to_string()),
                }
            }
            Kind::Json => match serde_json::from_str(trimmed) {
                Ok(v) => v,
                Err(_) => {
                    misread.push((f.name.clone(), Misread::NotJson));
                    continue;
                }
            },
            Kind::Secret => unreachable!("secrets are read above"),
        };
        config.insert(f.name.clone(), value);
    }
    if misread.is_empty() {
        Ok(config)
    } else {
        Err(misread)
    }
}

/// Puts what was typed back into the fields (never a secret's value).
pub fn refill(fields: &mut [Field], form: &[(String, String)]) {
    for f in fields.iter_mut().filter(|f| f.kind != Kind::Secret) {
        if let Some((_, v)) = form.iter().rev().find(|(k, _)| *k == f.input) {
            f.value = v.trim().to_string();
        }
    }
}

/// The property an API message is about: `config/NAME...: ...`, or
/// `config: "NAME" is a required property`; `None` for the whole config.
pub fn field_of(message: &str) -> Option<String> {
    let rest = message.strip_prefix("config")?;
    if let Some(path) = rest.strip_prefix('/') {
        let end = path.find([':', '/']).unwrap_or(path.len());
        return Some(path[..end].to_string());
    }
    let rest = rest.strip_prefix(": \"")?;
    let (name, tail) = rest.split_once('"')?;
    tail.starts_with(" is a required property")
        .then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["token", "endpoint"],
            "properties": {
                "token": {"type": "string", "writeOnly": true},
                "secret": {"type": "string", "writeOnly": true},
                "endpoint": {"type": "string", "format": "uri", "description": "Where"},
                "mode": {"type": "string", "enum": ["full", "push_only"], "default": "full"},
                "min": {"type": ["integer", "null"], "default": 50},
                "image": {"type": "string", "contentEncoding": "base64"},
                "on": {"type": "boolean"},
                "extra": {"type": "array"}
            }
        })
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_type_gets_its_field_and_no_secret_is_filled_in() {
        let fs = fields(
            &schema(),
            &json!({"endpoint": "http://x", "min": 60, "token": "leaked?"}),
            &["token".into()],
        );
        let by = |n: &str| fs.iter().find(|f| f.name == n).unwrap();
        let names: Vec<&str> = fs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "endpoint", "token", "extra", "image", "min", "mode", "on", "secret"
            ],
            "the required first"
        );
        assert_eq!(by("token").kind, Kind::Secret);
        assert_eq!(by("token").value, "", "a secret is never shown");
        assert!(by("token").stored && by("token").required);
        assert!(!by("secret").stored);
        assert_eq!(
            (by("endpoint").kind, by("endpoint").input_type),
            (Kind::Text, "url")
        );
        assert_eq!(by("endpoint").value, "http://x");
        assert_eq!(by("endpoint").hint.as_deref(), Some("Where"));
        assert_eq!(by("mode").kind, Kind::Choice);
        assert_eq!(by("mode").default.as_deref(), Some("full"));
        assert_eq!(
            (by("min").kind, by("min").value.as_str()),
            (Kind::Number, "60")
        );
        assert_eq!(by("image").kind, Kind::Long);
        assert_eq!(by("on").choices, vec!["true", "false"]);
        assert_eq!(by("extra").kind, Kind::Json);
    }

    #[test]
    fn a_form_reads_back_into_the_config_the_put_takes() {
        let fs = fields(&schema(), &json!({}), &["token".into(), "secret".into()]);
        let config = read(
            &fs,
            &form(&[
                ("cfg.token", ""),
                ("remove.secret", "1"),
                ("cfg.endpoint", " http://y "),
                ("cfg.mode", "push_only"),
                ("cfg.min", "70"),
                ("cfg.on", "false"),
                ("cfg.extra", "[1]"),
                ("cfg.image", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(config),
            json!({"secret": null, "endpoint": "http://y", "mode": "push_only", "min": 70, "on": false, "extra": [1]}),
            "an empty secret is left out (kept), an empty field is left out (its default)"
        );
        let config = read(&fs, &form(&[("cfg.token", " new token ")])).unwrap();
        assert_eq!(config["token"], " new token ", "a secret is taken as typed");

        let wrong = read(
            &fs,
            &form(&[
                ("cfg.min", "many"),
                ("cfg.mode", "half"),
                ("cfg.extra", "["),
            ]),
        )
        .unwrap_err();
        assert_eq!(
            wrong,
            vec![
                ("extra".to_string(), Misread::NotJson),
                ("min".to_string(), Misread::NotANumber),
                ("mode".to_string(), Misread::NotAChoice),
            ]
        );
    }

    #[test]
    fn api_messages_name_their_field() {
        assert_eq!(
            field_of("config/endpoint: must be an http(s) URL").as_deref(),
            Some("endpoint")
        );
        assert_eq!(
            field_of("config/extra/0: 1 is not a string").as_deref(),
            Some("extra")
        );
        assert_eq!(
            field_of("config: \"token\" is a required property").as_deref(),
            Some("token")
        );
        assert_eq!(field_of("config: must be a JSON object"), None);
        assert_eq!(field_of("plugin: no plugin"), None);
    }
}
