//! Shared helpers: the real server on port 0 with a fresh database, and
//! loopback HTTP servers that stand in for platforms.

pub mod api;
/// A real Chromium over WebDriver, with axe-core.
pub mod browser;
/// A parent in the LINE chat: webhooks in, the host's answers out.
pub mod chat;
/// The console over plain HTTP: an agent with cookies, the first operator, invitations.
pub mod console;
pub mod fake;
/// The host end to end: a manual clock, a tenant with the demo catalog.
pub mod host;
/// What the suites of the parents' pages share.
pub mod parents;
/// Faithful fakes of LINE, SendGrid, X and a municipal app backend.
pub mod platforms;
/// `tayori serve` as a child process, for crash and multi-node tests.
pub mod process;
pub mod server;
