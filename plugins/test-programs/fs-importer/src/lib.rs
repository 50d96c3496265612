//! `fs-importer`: a plugin that imports `wasi:filesystem`.
//!
//! The sandbox grants no filesystem, and the host refuses at upload any
//! component that even imports it. Listing `/` through `std::fs` makes the
//! component import `wasi:filesystem/types` and `wasi:filesystem/preopens`;
//! the manifest is otherwise valid, so the import is the only reason to refuse.

use serde_json::Value;
use tayori_plugin_sdk::{Batch, Failure, Manifest, Outcome, Plugin, export_plugin};

struct FsImporter;

impl Plugin for FsImporter {
    type Config = Value;

    fn manifest() -> Manifest {
        Manifest::new("fs-importer", env!("CARGO_PKG_VERSION"))
            .name("Filesystem importer")
            .vendor("Tayori test programs")
            .description("Reads the filesystem, which no plugin may do.")
    }

    fn deliver(_config: &Value, batch: Batch) -> Vec<Outcome> {
        let listing = std::fs::read_dir("/").map(|entries| entries.count());
        batch
            .recipients
            .iter()
            .map(|r| match &listing {
                Ok(n) => r.accepted(Some(format!("{n} entries in /"))),
                Err(e) => r.failed(Failure::permanent(format!("cannot list /: {e}"))),
            })
            .collect()
    }
}

export_plugin!(FsImporter);
