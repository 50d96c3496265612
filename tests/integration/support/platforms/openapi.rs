//! Checking JSON against a platform's published OpenAPI document.
//!
//! The LINE fake checks what it receives, and what it sends as webhooks,
//! against LINE's own OpenAPI (`../shared/reference/line-openapi/`) rather
//! than against rules restated here. An OpenAPI 3.0 schema is JSON Schema
//! (draft 4 style) plus `discriminator`, which JSON Schema validators ignore:
//! [`OpenApi::check`] validates against the named schema with `jsonschema`,
//! then follows the discriminator mappings of message objects and webhook
//! events itself, so a text message is also checked as a `TextMessage`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// One violation: where (LINE's property notation, `messages[0].text`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: String,
    pub message: String,
}

/// A loaded OpenAPI document, with compiled validators cached per schema.
pub struct OpenApi {
    doc: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

impl OpenApi {
    /// Loads a YAML OpenAPI document.
    pub fn load(path: &Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        Self {
            doc: yaml_to_json(yaml),
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The schema of header parameter `header` of `POST path`.
    pub fn header_schema(&self, path: &str, header: &str) -> &Value {
        self.doc["paths"][path]["post"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["in"] == "header" && p["name"] == header)
            .map(|p| &p["schema"])
            .unwrap_or_else(|| panic!("no header parameter {header} on POST {path}"))
    }

    /// The schema of the JSON request body of `POST path`, by name.
    pub fn request_schema_name(&self, path: &str) -> String {
        let reference =
            self.doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("POST {path} has no JSON request body schema"));
        reference
            .rsplit('/')
            .next()
            .expect("a $ref has a last segment")
            .to_owned()
    }

    /// Every violation of `value` against schema `name`, following
    /// discriminators below it.
    pub fn check(&self, name: &str, value: &Value) -> Vec<Violation> {
        let mut violations = self.check_plain(name, value, "");
        violations.extend(self.check_discriminated(value, ""));
        violations
    }

    fn check_plain(&self, name: &str, value: &Value, at: &str) -> Vec<Violation> {
        let validator = self.validator(name);
        validator
            .iter_errors(value)
            .map(|error| Violation {
                property: property(&format!("{at}{}", error.instance_path)),
                message: error.to_string(),
            })
            .collect()
    }

    /// Walks `value` and checks every object whose shape names a
    /// discriminated schema: LINE message objects (`type` + `text`...) in a
    /// `messages` array, webhook events in `events`, and an event's `message`.
    fn check_discriminated(&self, value: &Value, at: &str) -> Vec<Violation> {
        let mut violations = Vec::new();
        let Value::Object(map) = value else {
            return violations;
        };
        for (key, base) in [("messages", "Message"), ("events", "Event")] {
            if let Some(items) = map.get(key).and_then(Value::as_array) {
                for (i, item) in items.iter().enumerate() {
                    let here = format!("{at}/{key}/{i}");
                    violations.extend(self.check_mapped(base, item, &here));
                    if base == "Event"
                        && let Some(message) = item.get("message")
                    {
                        violations.extend(self.check_mapped(
                            "MessageContent",
                            message,
                            &format!("{here}/message"),
                        ));
                    }
                }
            }
        }
        violations
    }

    /// Checks `value` against the schema its `type` maps to under `base`'s
    /// discriminator (when the document has `base`).
    fn check_mapped(&self, base: &str, value: &Value, at: &str) -> Vec<Violation> {
        let Some(mapping) =
            self.doc["components"]["schemas"][base]["discriminator"]["mapping"].as_object()
        else {
            return Vec::new();
        };
        let Some(kind) = value["type"].as_str() else {
            return vec![Violation {
                property: property(&format!("{at}/type")),
                message: "must be a string".into(),
            }];
        };
        match mapping.get(kind).and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.rsplit('/').next().expect("a $ref has segments");
                self.check_plain(name, value, at)
            }
            None => vec![Violation {
                property: property(&format!("{at}/type")),
                message: format!("`{kind}` is not a known {base} type"),
            }],
        }
    }

    fn validator(&self, name: &str) -> std::sync::Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().expect("validator cache");
        if let Some(validator) = cache.get(name) {
            return validator.clone();
        }
        let root = json!({
            "$ref": format!("#/components/schemas/{name}"),
            "components": { "schemas": self.doc["components"]["schemas"].clone() }
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&root)
            .unwrap_or_else(|e| panic!("compiling schema {name}: {e}"));
        let validator = std::sync::Arc::new(validator);
        cache.insert(name.to_owned(), validator.clone());
        validator
    }
}

/// `/messages/0/text` → `messages[0].text`, as LINE names properties.
pub fn property(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// YAML to JSON, with every mapping key as a string (OpenAPI has `200:`).
fn yaml_to_json(value: serde_yaml::Value) -> Value {
    match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            serde_json::to_value(&n).expect("a YAML number is a JSON number")
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    serde_yaml::Value::String(s) => s,
                    other => serde_yaml::to_string(&other)
                        .expect("a YAML key serialises")
                        .trim()
                        .to_owned(),
                };
                map.insert(key, yaml_to_json(value));
            }
            Value::Object(map)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}
