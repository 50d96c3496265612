//! `tayori plugin new NAME`: a ready plugin crate from the template in
//! `template/`, depending on the SDK by path (it is not on crates.io), with
//! the SDK workspace's lock file so that the first build uses the dependency
//! versions the SDK is tested with.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `tayori plugin new NAME`.
#[derive(clap::Args)]
pub(crate) struct NewArgs {
    /// The plugin id and crate name: lower-case letters, digits and `-`,
    /// starting with a letter (e.g. `acme-notify`).
    name: String,
    /// Where to create the crate (default: `./NAME`); it must not exist or
    /// be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The Tayori plugin SDK: `plugins/sdk` of a Tayori checkout or source
    /// release. Default: found above the current directory, or in the
    /// checkout this binary was built from.
    #[arg(long, env = "TAYORI_SDK_PATH")]
    sdk_path: Option<PathBuf>,
    /// The vendor named in the manifest.
    #[arg(long, default_value = "Example Inc.")]
    vendor: String,
}

/// The template's files: (path in the new crate, text).
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("template/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("template/lib.rs.tmpl")),
    ("README.md", include_str!("template/README.md.tmpl")),
    (
        "rust-toolchain.toml",
        include_str!("template/rust-toolchain.toml.tmpl"),
    ),
    (".gitignore", include_str!("template/gitignore.tmpl")),
    (
        "testdata/config.json",
        include_str!("template/config.json.tmpl"),
    ),
    (
        "testdata/responses.json",
        include_str!("template/responses.json.tmpl"),
    ),
    (
        "testdata/responses-failures.json",
        include_str!("template/responses-failures.json.tmpl"),
    ),
    (
        "testdata/batch.json",
        include_str!("template/batch.json.tmpl"),
    ),
];

/// Names a crate may not take (they shadow the standard crates).
const RESERVED: &[&str] = &["core", "std", "alloc", "proc-macro", "test", "self"];

pub(crate) fn new_plugin(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.as_str();
    check_name(name)?;
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        anyhow::bail!(
            "{} already exists and is not empty: choose another --dir",
            dir.display()
        );
    }
    let sdk = find_sdk(args.sdk_path.as_deref())?;
    if args.vendor.contains(['"', '\\', '\n']) {
        anyhow::bail!("--vendor: quotes, backslashes and line breaks are not allowed");
    }
    let sdk_text = sdk
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the SDK path {} is not valid UTF-8", sdk.display()))?;
    let vars = [
        ("{{name}}", name.to_string()),
        ("{{crate}}", name.replace('-', "_")),
        ("{{type}}", type_name(name)),
        ("{{title}}", title(name)),
        ("{{vendor}}", args.vendor.clone()),
        ("{{sdk}}", toml_escape(sdk_text)),
    ];
    for (path, template) in FILES {
        let mut text = template.to_string();
        for (key, value) in &vars {
            text = text.replace(key, value);
        }
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", target.display()))?;
    }
    // The SDK workspace's lock file: cargo keeps the versions it needs and
    // drops the rest, so the new crate builds with what the SDK is tested with.
    if let Some(lock) = sdk.parent().map(|p| p.join("Cargo.lock"))
        && lock.is_file()
    {
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .map_err(|e| anyhow::anyhow!("copying {}: {e}", lock.display()))?;
    }
    let crate_file = name.replace('-', "_");
    println!(
        "Created plugin `{name}` in {dir} (SDK: {sdk}).\n\n\
         Next:\n  \
         cd {dir}\n  \
         cargo build --release --target wasm32-wasip2\n  \
         cargo test\n  \
         tayori plugin test target/wasm32-wasip2/release/{crate_file}.wasm --config testdata/config.json --responses testdata/responses.json\n\n\
         Then change src/lib.rs to your platform's API; docs/plugins.md describes the contract.",
        dir = dir.display(),
        sdk = sdk.display(),
    );
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = tayori_core::is_valid_plugin_id(name)
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !RESERVED.contains(&name);
    if ok {
        Ok(())
    } else {
        anyhow::bail!(
            "`{name}` cannot be a plugin id and crate name: use 1 to 64 lower-case letters, digits and `-`, starting with a letter and not ending with `-` (e.g. `acme-notify`)"
        )
    }
}

/// The SDK: the given path, one above the current directory, or the one of
/// the checkout this binary was built from.
fn find_sdk(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return if is_sdk(path) {
            Ok(std::fs::canonicalize(path)?)
        } else {
            anyhow::bail!(
                "--sdk-path {}: no tayori-plugin-sdk there (give the `plugins/sdk` folder of a Tayori checkout or source release)",
                path.display()
            )
        };
    }
    let here = std::env::current_dir()?;
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk");
    here.ancestors()
        .map(|dir| dir.join("plugins/sdk"))
        .chain(std::iter::once(built_from))
        .find(|p| is_sdk(p))
        .map(|p| std::fs::canonicalize(&p).map_err(Into::into))
        .unwrap_or_else(|| {
            anyhow::bail!(
                "the Tayori plugin SDK was not found: it is not on crates.io yet, so get a Tayori checkout or source release and pass --sdk-path PATH/TO/tayori/plugins/sdk (or set TAYORI_SDK_PATH)"
            )
        })
}

fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.contains("name = \"tayori-plugin-sdk\""))
}

/// `acme-notify` → `AcmeNotify`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|first| first.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `acme-notify` → `Acme Notify`.
fn title(name: &str) -> String {
    name.split('-')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|first| first.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A path inside a TOML basic string.
fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_crate_type_and_title() {
        assert_eq!(type_name("acme-notify"), "AcmeNotify");
        assert_eq!(title("acme-notify"), "Acme Notify");
        assert_eq!(type_name("sms2go"), "Sms2go");
    }

    #[test]
    fn bad_names_are_refused_with_the_rule() {
        for bad in ["", "Acme", "3d", "-a", "a-", "a_b", "test", "a b"] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains("starting with a letter"), "{bad}: {e}");
        }
        assert!(check_name("acme-notify").is_ok());
    }

    #[test]
    fn every_placeholder_is_known() {
        let known = [
            "{{name}}",
            "{{crate}}",
            "{{type}}",
            "{{title}}",
            "{{vendor}}",
            "{{sdk}}",
        ];
        for (path, text) in FILES {
            let mut rest = *text;
            while let Some(i) = rest.find("{{") {
                let end = rest[i..]
                    .find("}}")
                    .map(|e| i + e + 2)
                    .unwrap_or(rest.len());
                assert!(
                    known.contains(&&rest[i..end]),
                    "{path}: unknown placeholder {}",
                    &rest[i..end]
                );
                rest = &rest[end..];
            }
        }
    }
}
