//! What checking a subscriber's data needs from its tenant (the time zone
//! that says what "today" is there, and the names of its channels), cached
//! briefly on each node.
//!
//! Every registration, added child and birth report is checked against
//! them. Read from the store each time, they cost two queries per request,
//! more than the registration's own share of its group-committed
//! transaction: on SQLite each query waits for one of a few reader
//! connections and is a round trip to that connection's thread. With 50
//! clients registering without pause, those reads were a third of the time
//! spent per request.
//!
//! A node forgets a tenant's entry as soon as it changes the tenant or its
//! channels itself, so on one node (SQLite) what it checks against is always
//! current; a change made through another node (PostgreSQL) is seen within
//! [`TTL`]. Only the checks read the cache: the registration's transaction
//! still finds the tenant itself (a deleted tenant is still not found), and
//! a contact on a channel removed by another node in that second is what a
//! registration racing the removal leaves behind anyway. Tenants that do not
//! exist are not cached, so a new tenant is usable at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tayori_core::{Store, Tenant};

use crate::error::ApiResult;

/// How long an entry is used before the store is read again.
pub const TTL: Duration = Duration::from_secs(1);

/// The most tenants kept (Japan has 1,741 municipalities); past it, expired
/// entries are dropped, then all of them.
const MAX_TENANTS: usize = 10_000;

/// A tenant's settings and channel names, per tenant id.
#[derive(Debug, Default)]
pub struct TenantCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_tenant: HashMap<String, Entry>,
    /// Counts [`TenantCache::forget`] calls: an entry read from the store
    /// while a change was forgotten is not kept (it may predate the change).
    forgotten: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    tenant: Arc<Tenant>,
    channels: Arc<[String]>,
    loaded: Instant,
}

impl TenantCache {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        // Entries are replaced whole: a panic elsewhere cannot leave one half
        // written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tenant and its channels' names, from the cache while fresh.
    pub(crate) async fn get(
        &self,
        store: &dyn Store,
        tenant_id: &str,
    ) -> ApiResult<(Arc<Tenant>, Arc<[String]>)> {
        let forgotten = {
            let entries = self.entries();
            if let Some(e) = entries.by_tenant.get(tenant_id)
                && e.loaded.elapsed() < TTL
            {
                return Ok((e.tenant.clone(), e.channels.clone()));
            }
            entries.forgotten
        };
        let loaded = Instant::now();
        let tenant = Arc::new(store.tenant(tenant_id).await?);
        let channels: Arc<[String]> = store
            .channels(tenant_id)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let mut entries = self.entries();
        if entries.forgotten == forgotten {
            if entries.by_tenant.len() >= MAX_TENANTS {
                entries.by_tenant.retain(|_, e| e.loaded.elapsed() < TTL);
                if entries.by_tenant.len() >= MAX_TENANTS {
                    entries.by_tenant.clear();
                }
            }
            entries.by_tenant.insert(
                tenant_id.to_string(),
                Entry {
                    tenant: tenant.clone(),
                    channels: channels.clone(),
                    loaded,
                },
            );
        }
        Ok((tenant, channels))
    }

    /// Forgets a tenant (its settings or channels changed, or it was deleted).
    pub fn forget(&self, tenant_id: &str) {
        let mut entries = self.entries();
        entries.by_tenant.remove(tenant_id);
        entries.forgotten += 1;
    }
}
