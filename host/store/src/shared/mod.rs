//! The store traits, implemented once for both engines.
//!
//! This directory is compiled twice: `sqlite.rs` and `postgres.rs` each
//! include it as their own `shared` module (`#[path]`), after defining `Db`
//! (the sqlx database), `Pools` (its connections, with `reader()`,
//! `begin_write()` and `begin_read()`), `Engine` (the store type, with the
//! same three methods and `registrar()`), `MAX_BIND_PARAMS`,
//! `PERSIST_BULK_STATEMENTS`, `AGG_ORDER`, `CLAIM_LOCK`, `ONE_HOST`, `CHANGE_CURSOR`, `lock_plugin_changes` and `lock_batch_claims`. The SQL here is the dialect both engines accept
//! (`$n` parameters, `ON CONFLICT`, `RETURNING`, `TRUE`/`FALSE`), and every
//! value is read and bound as a Rust type both engines map (see `rows.rs`).
//! Each copy is checked against its engine's concrete types, without the
//! `Any` driver's lowest-common-denominator typing and without a generic
//! maze of sqlx trait bounds.

use sqlx::{Database, FromRow, QueryBuilder};
use tayori_core::{StoreError, StoreResult};

use super::{
    AGG_ORDER, CHANGE_CURSOR, CLAIM_LOCK, Db, Engine, MAX_BIND_PARAMS, ONE_HOST,
    PERSIST_BULK_STATEMENTS, Pools, lock_batch_claims, lock_plan, lock_plugin_changes,
    wait_plugin_change,
};
use crate::error::DbResultExt;

mod catalog;
mod channels;
mod console;
mod conversations;
mod import;
mod inbound;
mod outbox;
mod outbox_hooks;
mod plugins;
mod registration;
mod report_codes;
mod reports;
mod subscribers;
mod tenants;
mod tokens;

pub(super) use registration::Registrar;

/// A connection of this engine (what a transaction dereferences to).
type Conn = <Db as Database>::Connection;
/// A row of this engine.
type Row = <Db as Database>::Row;

/// The most rows one multi-row `INSERT` carries. Larger statements stop
/// paying off well before the bind-parameter limit and cost more to prepare.
const MAX_ROWS_PER_INSERT: usize = 1_000;
/// The most keys one `IN (...)` list carries.
const MAX_KEYS_PER_IN: usize = 1_000;

/// Whether to keep a prepared statement for a chunk of `n` rows or keys. Each
/// chunk length is its own statement text: small ones (single registrations,
/// patches) recur and are cheap to plan; full bulk chunks recur too, and
/// are kept where the engine allows (`PERSIST_BULK_STATEMENTS`); the
/// odd-sized tail of a bulk operation never recurs.
fn worth_caching(n: usize, full: usize) -> bool {
    n <= 8 || (n == full && PERSIST_BULK_STATEMENTS)
}

/// `NotFound` for a tenant.
fn tenant_not_found(tenant_id: &str) -> StoreError {
    StoreError::NotFound(format!("tenant `{tenant_id}`"))
}

/// Fails with `NotFound` unless the tenant exists.
async fn require_tenant(conn: &mut Conn, tenant_id: &str) -> StoreResult<()> {
    sqlx::query_scalar::<_, String>("SELECT id FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(conn)
        .await
        .db()?
        .map(|_| ())
        .ok_or_else(|| tenant_not_found(tenant_id))
}

/// Inserts `rows` with multi-row `INSERT`s of at most
/// [`MAX_ROWS_PER_INSERT`] rows (and within the bind limit). `head` is
/// `INSERT INTO t (c1, .., cn) `; `push` binds one row's `columns` values.
/// A unique violation is `Conflict(conflict())`.
async fn insert_chunked<'a, T: Sync>(
    conn: &mut Conn,
    head: &'static str,
    columns: usize,
    rows: &'a [T],
    mut push: impl FnMut(sqlx::query_builder::Separated<'_, 'a, Db, &'static str>, &'a T) + Send,
    conflict: impl Fn() -> String + Send,
) -> StoreResult<()> {
    let per_statement = (MAX_BIND_PARAMS / columns).min(MAX_ROWS_PER_INSERT);
    for chunk in rows.chunks(per_statement) {
        let mut builder = QueryBuilder::<Db>::new(head);
        builder.push_values(chunk, &mut push);
        builder
            .build()
            .persistent(worth_caching(chunk.len(), per_statement))
            .execute(&mut *conn)
            .await
            .conflict(&conflict)?;
    }
    Ok(())
}

/// Runs `select` (`SELECT .. FROM t WHERE `) for every key, in chunks:
/// `select` + `f1 = $ AND .. ` (one per filter) + `column IN (...)`. Filters
/// should make, with `column`, a prefix of an index.
async fn fetch_in<R>(
    conn: &mut Conn,
    select: &'static str,
    filters: &[(&'static str, &str)],
    column: &'static str,
    keys: &[&str],
) -> StoreResult<Vec<R>>
where
    R: for<'r> FromRow<'r, Row> + Send + Unpin,
{
    let mut out = Vec::new();
    for chunk in keys.chunks(MAX_KEYS_PER_IN) {
        let mut builder = QueryBuilder::<Db>::new(select);
        for (filter, value) in filters {
            builder
                .push(filter)
                .push(" = ")
                .push_bind(*value)
                .push(" AND ");
        }
        builder.push(column).push(" IN (");
        let mut list = builder.separated(", ");
        for key in chunk {
            list.push_bind(*key);
        }
        builder.push(")");
        let rows = builder
            .build_query_as::<R>()
            .persistent(worth_caching(chunk.len(), MAX_KEYS_PER_IN))
            .fetch_all(&mut *conn)
            .await
            .db()?;
        out.extend(rows);
    }
    Ok(out)
}
