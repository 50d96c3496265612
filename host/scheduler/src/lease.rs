//! Lease renewal: a claim's rows stay in flight under a short lease, which
//! a task extends while the claim's calls run.
//!
//! A lease says how long other dispatchers must wait before they may
//! rescue rows whose dispatcher died. A long lease makes a crash cost that
//! long (with 300 s, an urgent broadcast waited five minutes after a
//! `kill -9`); a short lease that is not renewed lets a slow call (a
//! channel's rate limit, a platform taking its time) lose its rows to
//! another node mid-call. So the lease is short ([`DEFAULT_LEASE`]) and
//! renewed every [`renew_every`] while the claim is being worked on: a
//! live dispatcher never loses its rows, a dead one's are free within a
//! lease and a rescue interval.
//!
//! With the defaults: renewed every 5 s to 20 s ahead, rescued by a check
//! every 5 s, so a dead PostgreSQL node's claims go to the others within
//! 25 s of its last renewal. A restarted SQLite host does not wait at all
//! (`OutboxStore::take_over_claims`).

use std::sync::Arc;
use std::time::Duration;

use tayori_core::Store;

use crate::clock::Clock;

/// The default lease of a claim (`tayori serve --lease-seconds`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(20);

/// How often a lease of `lease` is renewed, and how often expired leases
/// are looked for: a quarter of it, so that three renewals in a row may
/// fail (a busy database) before the rows are at risk.
pub fn renew_every(lease: Duration) -> Duration {
    (lease / 4).max(Duration::from_millis(100))
}

/// Keeps a claim's leases renewed until dropped.
#[derive(Debug)]
pub struct Renewal {
    task: tokio::task::JoinHandle<()>,
}

impl Renewal {
    /// Renews the leases of `claims` (`(id, fence)`) to `lease` from now,
    /// every [`renew_every`], until the returned guard is dropped.
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        lease: Duration,
        claims: Vec<(i64, i64)>,
    ) -> Self {
        let every = renew_every(lease);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = clock.now_ms() + lease.as_millis() as i64;
                if let Err(e) = store.renew_leases(&claims, until).await {
                    tracing::warn!(error = %e, "cannot renew the leases of a claim");
                }
            }
        });
        Self { task }
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        self.task.abort();
    }
}
