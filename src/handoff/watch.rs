//! The queue watchdog: once a second it looks at every conversation in human hands and
//!
//! - offers a waiting customer to leave a message when their queue closes or their wait passes
//!   the queue's `wait_timeout` ([`super::offline`]);
//! - records SLA breaches: no first agent reply, or no resolution, by the queue's target for
//!   the conversation's priority, counted from the handoff;
//! - runs auto-assignment ([`super::assign`]), which also catches capacity freed elsewhere.
//!
//! Every node runs one, and each pass first takes the watchdog duty in the store (on
//! PostgreSQL an advisory lock; a node that finds it taken skips that second), so with several
//! nodes one acts at a time. Everything it writes is conditional in the store as well (an offer
//! once per wait, a breach once per due time), so even two passes at once would act once.

use std::collections::HashSet;
use std::time::Duration;

use super::offline;
use super::sla::{breaches, queues_of, store_breach};
use crate::app::App;
use crate::storage::{Duty, StorageError};

/// How often the watchdog looks: SLA targets and timeouts are minutes, so a second is precise
/// enough, and the query reads only conversations in human hands.
const TICK: Duration = Duration::from_secs(1);

/// Why a watchdog pass failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A frame could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Breaches already stored, so that a conversation late for hours is not written every second.
type Recorded = HashSet<(String, String, i64)>;

/// Starts the watchdog; it stops when the server shuts down.
pub fn spawn(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = app.shutdown.clone();
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut recorded = Recorded::new();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.changed() => break,
            }
            match app.store.try_exclusive(Duty::Watchdog).await {
                Ok(Some(_duty)) => {
                    if let Err(e) = tick(&app, &mut recorded).await {
                        tracing::warn!(error = %e, "queue watchdog pass failed");
                    }
                }
                // Another node's watchdog is on it this second.
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take the watchdog duty"),
            }
            super::assign::run(&app).await;
        }
    })
}

async fn tick(app: &App, recorded: &mut Recorded) -> Result<(), WatchError> {
    let clocked = app.store.clocked(None).await?;
    let now = app.clock.now();
    let queues = queues_of(app, &clocked);
    let bot = app.bot.load();
    let texts = &bot.knowledge().texts;
    let mut current = Recorded::new();
    for c in &clocked {
        let Some(queue) = queues.get(&c.queue) else {
            continue;
        };
        let offered = c.offline_offered_at.is_some_and(|at| at >= c.queued_at);
        let offer = (c.waiting && !offered)
            .then(|| offline::while_waiting(queue, c.queued_at, now, texts, &c.lang))
            .flatten();
        if let Some(frame) = offer
            && offline::make(app, &c.conversation_id, serde_json::to_value(&frame)?).await?
        {
            tracing::info!(
                conversation = c.conversation_id,
                queue = c.queue,
                "offered to leave a message"
            );
        }
        for breach in breaches(c, queue, now.as_millisecond()) {
            let key = (
                breach.conversation_id.clone(),
                breach.kind.clone(),
                breach.due_at,
            );
            if !recorded.contains(&key) {
                store_breach(app, &breach).await?;
            }
            current.insert(key);
        }
    }
    // Forget conversations no longer in human hands (or breaches of an earlier handoff).
    *recorded = current;
    Ok(())
}
