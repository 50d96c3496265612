//! The plugins of this repository, built to WebAssembly components.
//!
//! `build.rs` builds the `plugins/` workspace for `wasm32-wasip2` (release
//! profile) and generates what this crate exposes:
//!
//! - `BUNDLED`: the bytes of every bundled platform plugin (a plugins member
//!   with `[package.metadata.tayori] bundled = true`), which `tayori serve`
//!   uploads at start through the same path as a partner's plugin;
//! - one `&str` path constant per test plugin under `plugins/test-programs/`
//!   (`ECHO`, `ECHO_V2`, `HOSTILE`, `BAD_MANIFEST`, `FS_IMPORTER`,
//!   `OTHER_WORLD`), and `TEST_PLUGINS`, all of them as (name, path);
//! - `foreach_test_plugin!`, which expands a macro once per test plugin so
//!   that a test module can make a test plugin without a test a compile error:
//!
//! ```ignore
//! macro_rules! assert_tested {
//!     ($name:ident) => {
//!         #[allow(unused_imports)]
//!         use self::$name as _;
//!     };
//! }
//! tayori_plugin_artifacts::foreach_test_plugin!(assert_tested);
//! ```
//!
//! Test plugins are for tests only: their paths point into the target
//! directory of the machine that built them.

#![warn(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/plugin_artifacts.rs"));
