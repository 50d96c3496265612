//! Builds the `plugins/` workspace to WebAssembly components and generates
//! the Rust file `src/lib.rs` includes: one path constant per test plugin,
//! the list of test plugins, a `foreach_test_plugin!` macro, and the bytes of
//! every bundled platform plugin.
//!
//! The nested cargo gets a target directory of its own (beside the host's,
//! under `wasm-plugins/`) so it never waits on the lock the outer cargo holds,
//! and an environment without the variables cargo sets for build scripts: the
//! host's rustflags, target dir, jobserver and package variables describe the
//! host build, not this one.
//!
//! What gets built is read from `cargo metadata`, not listed here: every
//! package under `plugins/test-programs/` is a test plugin, and every package
//! with `[package.metadata.tayori] bundled = true` is bundled.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const WASM_TARGET: &str = "wasm32-wasip2";

/// Variables cargo sets for a build script that must not reach the nested
/// build (prefixes are matched as prefixes, the rest exactly).
const SCRUBBED_PREFIXES: &[&str] = &[
    "CARGO_FEATURE_",
    "CARGO_CFG_",
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "DEP_",
    "__CARGO",
];
const SCRUBBED: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "CARGO_RUSTC_CURRENT_DIR",
    // `cargo clippy` on the host would otherwise lint the plugins too.
    "RUSTC_WORKSPACE_WRAPPER",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "RUSTC_LINKER",
];

/// A cdylib package of the plugins workspace.
struct PluginPackage {
    /// The package name (`echo-v2`).
    name: String,
    /// Where its component lands.
    component: PathBuf,
    test: bool,
    bundled: bool,
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/plugin-artifacts sits two levels below the repository root")
        .to_path_buf();
    let plugins_dir = repo.join("plugins");
    let plugins_manifest = plugins_dir.join("Cargo.toml");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = host_target_dir(&out_dir).join("wasm-plugins");

    rerun_if_changed(&repo, &plugins_dir);

    let packages = plugin_packages(&plugins_manifest, &plugins_dir, &target_dir);
    build_plugins(&plugins_manifest, &target_dir);

    for package in &packages {
        let bytes = fs::read(&package.component).unwrap_or_else(|e| {
            panic!(
                "the plugins build did not produce {}: {e}",
                package.component.display()
            )
        });
        assert!(
            bytes.starts_with(b"\0asm\x0d\0\x01\0"),
            "{} is not a WebAssembly component",
            package.component.display()
        );
    }

    let generated = generate(&packages);
    fs::write(out_dir.join("plugin_artifacts.rs"), generated).expect("writing the generated file");
}

/// The host's target directory, from `OUT_DIR` =
/// `<target>[/<triple>]/<profile>/build/<package>-<hash>/out`.
fn host_target_dir(out_dir: &Path) -> PathBuf {
    let profile_parent = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR is <target>/<profile>/build/<package>/out");
    // With `--target <triple>`, the profile sits one level deeper.
    match profile_parent.parent() {
        Some(parent)
            if !profile_parent.join("CACHEDIR.TAG").exists()
                && parent.join("CACHEDIR.TAG").exists() =>
        {
            parent.to_path_buf()
        }
        _ => profile_parent.to_path_buf(),
    }
}

/// Rerun when anything the plugins are built from changes: the workspace's
/// Cargo files, every member directory (scanned recursively by cargo, which
/// also notices a new test plugin) and the contract. `plugins/target`, if a
/// developer built there, is left out: scanning it would be slow and would
/// rerun this script for nothing.
fn rerun_if_changed(repo: &Path, plugins_dir: &Path) {
    println!("cargo:rerun-if-changed={}", repo.join("wit").display());
    let entries = fs::read_dir(plugins_dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", plugins_dir.display()));
    for entry in entries {
        let entry = entry.expect("reading plugins/");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        println!("cargo:rerun-if-changed={}", entry.path().display());
    }
}

/// A `cargo` for the plugins workspace, without the host build's variables.
fn nested_cargo() -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if SCRUBBED.contains(&key) || SCRUBBED_PREFIXES.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key);
        }
    }
    command
}

fn plugin_packages(manifest: &Path, plugins_dir: &Path, target_dir: &Path) -> Vec<PluginPackage> {
    let output = nested_cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .expect("running cargo metadata on plugins/");
    if !output.status.success() {
        panic!(
            "cargo metadata on {} failed:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let test_programs = plugins_dir.join("test-programs");
    let artifacts = target_dir.join(WASM_TARGET).join("release");
    let mut packages = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().expect("package name").to_owned();
        let manifest_path = Path::new(package["manifest_path"].as_str().expect("manifest path"));
        let cdylib = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
            });
        let Some(cdylib) = cdylib else { continue };
        let lib_name = cdylib["name"]
            .as_str()
            .expect("target name")
            .replace('-', "_");
        packages.push(PluginPackage {
            component: artifacts.join(format!("{lib_name}.wasm")),
            test: manifest_path.starts_with(&test_programs),
            bundled: package["metadata"]["tayori"]["bundled"] == Value::Bool(true),
            name,
        });
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

fn build_plugins(manifest: &Path, target_dir: &Path) {
    let output = nested_cargo()
        .args(["build", "--release", "--workspace", "--target", WASM_TARGET])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .output()
        .expect("running cargo build on plugins/");
    if !output.status.success() {
        panic!(
            "building the plugins ({}) for {WASM_TARGET} failed \
             (is the target installed? `rustup target add {WASM_TARGET}`):\n{}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `echo-v2` → `ECHO_V2`.
fn const_name(package: &str) -> String {
    package.replace('-', "_").to_ascii_uppercase()
}

/// `echo-v2` → `echo_v2`.
fn ident_name(package: &str) -> String {
    package.replace('-', "_")
}

fn generate(packages: &[PluginPackage]) -> String {
    let tests: Vec<&PluginPackage> = packages.iter().filter(|p| p.test).collect();
    let bundled: Vec<&PluginPackage> = packages.iter().filter(|p| p.bundled).collect();
    let mut names = BTreeMap::new();
    let mut out = String::from("// Generated by host/plugin-artifacts/build.rs. Do not edit.\n\n");

    for package in &tests {
        let name = const_name(&package.name);
        if let Some(other) = names.insert(name.clone(), &package.name) {
            panic!(
                "test plugins `{other}` and `{}` both map to `{name}`",
                package.name
            );
        }
        writeln!(
            out,
            "/// Path of the `{}` test plugin's component.\n\
             pub const {name}: &str = {:?};\n",
            package.name,
            package.component.display().to_string()
        )
        .expect("writing to a String");
    }

    out.push_str("/// Every test plugin: (package name, component path).\n");
    out.push_str("pub const TEST_PLUGINS: &[(&str, &str)] = &[\n");
    for package in &tests {
        writeln!(
            out,
            "    ({:?}, {}),",
            package.name,
            const_name(&package.name)
        )
        .expect("writing to a String");
    }
    out.push_str("];\n\n");

    out.push_str(
        "/// The bundled platform plugins: (package name, component bytes).\n\
         /// The host loads them through the same upload path as a partner's.\n",
    );
    out.push_str("pub static BUNDLED: &[(&str, &[u8])] = &[\n");
    for package in &bundled {
        writeln!(
            out,
            "    ({:?}, include_bytes!({:?})),",
            package.name,
            package.component.display().to_string()
        )
        .expect("writing to a String");
    }
    out.push_str("];\n\n");

    out.push_str(
        "/// Expands `$mac!(name)` once per test plugin, `name` being its package\n\
         /// name in snake case (`echo_v2`). A test module that defines one test per\n\
         /// name makes adding a test plugin without a test a compile error.\n\
         #[macro_export]\n\
         macro_rules! foreach_test_plugin {\n    ($mac:ident) => {\n",
    );
    for package in &tests {
        writeln!(out, "        $mac!({});", ident_name(&package.name))
            .expect("writing to a String");
    }
    out.push_str("    };\n}\n");
    out
}
