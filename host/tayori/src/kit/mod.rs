//! The partner kit: `tayori plugin new`, `tayori plugin check`,
//! `tayori plugin test` and `tayori plugin fake`.
//!
//! A partner goes from nothing to a tested plugin without a running host and
//! without asking us: `new` writes a ready crate from a template, `check`
//! runs the upload checks offline, and `test` runs the component in the
//! production sandbox (the same [`tayori_runtime::Runtime`], limits and
//! outbound rules) against a fake platform, shows every request and outcome,
//! and turns every violation into what to change; `fake` serves the same
//! scripted platform over HTTP for a running host. docs/plugins.md is the
//! partner's guide to all three.

mod fake;
mod report;
mod run;
mod scaffold;

pub(crate) use fake::{FakeArgs, serve_fake};
pub(crate) use run::{CheckArgs, TestArgs, check_plugin, test_plugin};
pub(crate) use scaffold::{NewArgs, new_plugin};
