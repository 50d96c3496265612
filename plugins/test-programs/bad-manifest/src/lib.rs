//! `bad-manifest`: a plugin whose manifest the host must refuse at upload.
//!
//! Its version is not semver and its config schema is not a JSON Schema
//! (`"type": 12`); everything else about it works, so only the manifest
//! checks can be what turns it away.

use serde_json::{Value, json};
use tayori_plugin_sdk::{Batch, Manifest, Outcome, Plugin, export_plugin};

struct BadManifest;

impl Plugin for BadManifest {
    type Config = Value;

    fn manifest() -> Manifest {
        Manifest::new("bad-manifest", "not-semver")
            .name("Bad manifest")
            .vendor("Tayori test programs")
            .description("Declares a version that is not semver and an invalid schema.")
            .config_schema(json!({ "type": 12 }))
    }

    fn deliver(_config: &Value, batch: Batch) -> Vec<Outcome> {
        batch.recipients.iter().map(|r| r.accepted(None)).collect()
    }
}

export_plugin!(BadManifest);
