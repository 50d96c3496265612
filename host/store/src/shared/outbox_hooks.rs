//! Where the delivery outbox (issue 4) joins the subscriber lifecycle.
//!
//! Each function here is called inside the transaction that causes it, after
//! the subscriber rows have been changed and before the commit, so that the
//! outbox and the subscriber can never disagree ("enqueue in the same
//! transaction as the state that causes it", CONVENTIONS.md). The outbox
//! tables do not exist yet, so there is nothing to change today; when they
//! do, these bodies become the `UPDATE deliveries SET status = 'cancelled'
//! WHERE tenant_id = $1 AND ... AND status = 'pending'` statements, and every
//! caller (stop, erase, contact removal or invalidation, birth report, import)
//! is already in place.

use tayori_core::StoreResult;

use super::Conn;

/// Children were stopped (or erased): their pending deliveries must be
/// cancelled.
pub(super) async fn children_stopped(
    _conn: &mut Conn,
    _tenant_id: &str,
    _child_ids: &[String],
) -> StoreResult<()> {
    Ok(())
}

/// Contacts were removed, erased or marked invalid: their pending deliveries
/// must be cancelled.
pub(super) async fn contacts_removed(
    _conn: &mut Conn,
    _tenant_id: &str,
    _contact_ids: &[String],
) -> StoreResult<()> {
    Ok(())
}

/// A child's anchor moved from its due date to its birth date: pending
/// pregnancy-track deliveries must be cancelled so the child track takes over
/// with no duplicate.
pub(super) async fn birth_reported(
    _conn: &mut Conn,
    _tenant_id: &str,
    _child_id: &str,
) -> StoreResult<()> {
    Ok(())
}
