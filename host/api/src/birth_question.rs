//! Fourteen days after a due date with no birth reported, the parents are
//! asked once, in their chat, whether the baby was born: the question with
//! a date picker of birth dates, answered as the menu's "report the birth"
//! is (the conversation's `AskBirth` step). Asked at or after the tenant's
//! send time, on the chat channels whose plugin draws date pickers; the
//! claim in the store makes it once per child, whatever the node.
//! Households without such a channel are not asked (an email has no date
//! picker; its messages go on from the due date, as the tenant's rule for
//! unreported births says).

use std::time::Duration;

use chrono::Duration as Span;
use tayori_core::domain::conversation::{self, ASK_BIRTH_AFTER_DAYS, Context};
use tayori_core::registration::DateRules;
use tayori_core::{BirthQuestion, StoreResult, Tenant};

use crate::{AppState, front_door};

/// How often `tayori serve` looks for children to ask about.
pub const EVERY: Duration = Duration::from_secs(60);

/// Asks every tenant's due questions; how many were asked.
pub async fn ask_due(state: &AppState) -> StoreResult<usize> {
    let mut asked = 0;
    for tenant in state.store.tenants().await? {
        asked += ask_tenant(state, &tenant).await?;
    }
    Ok(asked)
}

async fn ask_tenant(state: &AppState, tenant: &Tenant) -> StoreResult<usize> {
    let now = state.scheduler.clock().now();
    let tz = tenant.tz().unwrap_or(chrono_tz::Asia::Tokyo);
    let local = now.with_timezone(&tz);
    if local.time() < tenant.send_time {
        return Ok(0);
    }
    let today = front_door::today(tenant, now);
    let due_by = today - Span::days(ASK_BIRTH_AFTER_DAYS);
    let questions = state
        .store
        .claim_birth_questions(&tenant.id, due_by, now)
        .await?;
    let mut asked = 0;
    for q in questions {
        if ask_one(state, tenant, today, &q).await {
            asked += 1;
        }
    }
    Ok(asked)
}

/// Asks on the household's first chat contact whose plugin draws date
/// pickers; whether it was asked.
async fn ask_one(
    state: &AppState,
    tenant: &Tenant,
    today: chrono::NaiveDate,
    q: &BirthQuestion,
) -> bool {
    let channels = match state.store.channels(&tenant.id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(tenant = %tenant.id, error = %e, "cannot ask whether a baby was born");
            return false;
        }
    };
    let picks_dates = |channel: &str| {
        channels.iter().any(|c| {
            c.name == channel
                && c.paused.is_none()
                && state
                    .plugins
                    .resolve(&c.plugin_id, Some(&tenant.id), c.version.as_ref())
                    .is_some_and(|p| p.record.manifest.renders.date_picker)
        })
    };
    let Some((channel, address)) = q.contacts.iter().find(|(ch, _)| picks_dates(ch)) else {
        return false;
    };
    let now = state.scheduler.clock().now();
    let stored = match state.store.conversation(&tenant.id, channel, address).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(tenant = %tenant.id, error = %e, "cannot ask whether a baby was born");
            return false;
        }
    };
    let read_round = stored.as_ref().map(|c| c.round);
    let mut conv = stored.unwrap_or_default();
    conv.locale = q.locale;
    let children = [q.child.clone()];
    let ctx = Context {
        rules: DateRules::new(today),
        tenant_name: &tenant.name,
        registered: true,
        stopped: false,
        children: &children,
        texts: &Default::default(),
        form_url: None,
    };
    let turn = conversation::ask_birth_question(&conv, &q.child.id, &ctx);
    match state
        .store
        .save_conversation(&tenant.id, channel, address, read_round, &turn.next, now)
        .await
    {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            tracing::info!(tenant = %tenant.id, "the birth question was not asked: the conversation moved meanwhile");
            return false;
        }
    }
    for (i, content) in turn.say.into_iter().enumerate() {
        if let Err(e) = state
            .messenger
            .send_now(
                &tenant.id,
                channel,
                address,
                &format!("ask-birth:{}:{i}", q.child.id),
                content,
            )
            .await
        {
            tracing::warn!(tenant = %tenant.id, %channel, error = %e, "cannot ask whether a baby was born");
            return false;
        }
    }
    metrics::counter!("tayori_birth_questions_total").increment(1);
    true
}

/// Asks every [`EVERY`] until `stop` changes.
pub async fn run(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = ask_due(&state).await {
            tracing::warn!(error = %e, "asking whether babies were born failed");
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}
