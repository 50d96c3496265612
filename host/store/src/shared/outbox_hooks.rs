//! Where the delivery outbox joins the subscriber lifecycle.
//!
//! Each function here is called inside the transaction that causes it, after
//! the subscriber rows have been changed and before the commit, so that the
//! outbox and the subscriber can never disagree ("enqueue in the same
//! transaction as the state that causes it", CONVENTIONS.md). Deliveries
//! already in flight are left to their dispatcher, which checks the child,
//! contact and subscriber again when it completes its claim's rendering.

use tayori_core::StoreResult;

use super::Conn;
use super::outbox::cancel_open;

/// Children were stopped (or erased): their pending deliveries are cancelled.
pub(super) async fn children_stopped(
    conn: &mut Conn,
    tenant_id: &str,
    child_ids: &[String],
) -> StoreResult<()> {
    cancel_open(
        conn,
        tenant_id,
        "child_id",
        child_ids,
        "",
        "the child was stopped",
    )
    .await?;
    Ok(())
}

/// Contacts were removed, erased or marked invalid: their pending
/// deliveries are cancelled.
pub(super) async fn contacts_removed(
    conn: &mut Conn,
    tenant_id: &str,
    contact_ids: &[String],
) -> StoreResult<()> {
    cancel_open(
        conn,
        tenant_id,
        "contact_id",
        contact_ids,
        "",
        "the contact was removed or marked invalid",
    )
    .await?;
    Ok(())
}

/// A child's anchor moved from its due date to its birth date: its pending
/// pregnancy-track deliveries are cancelled, and the planner plans the child
/// track from the day of the report (the subscriber was touched). When the
/// child was already counted on the child track from its due date (a birth
/// never reported past the ask day, `UnreportedBirth::Continue`) and the
/// birth date is another day, that track's pending rows go too
/// (`whole_track`): the real birth date replaces them.
pub(super) async fn birth_reported(
    conn: &mut Conn,
    tenant_id: &str,
    child_id: &str,
    whole_track: bool,
) -> StoreResult<()> {
    cancel_open(
        conn,
        tenant_id,
        "child_id",
        &[child_id.to_string()],
        if whole_track {
            " AND broadcast_id IS NULL"
        } else {
            " AND pregnancy = TRUE"
        },
        "the birth was reported",
    )
    .await?;
    Ok(())
}
