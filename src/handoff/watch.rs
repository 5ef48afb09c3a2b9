//! The queue watchdog: once a second it looks at every conversation in human hands and
//!
//! - offers a waiting customer to leave a message when their queue closes or their wait passes
//!   the queue's `wait_timeout` ([`super::offline`]);
//! - records SLA breaches: no first agent reply, or no resolution, by the queue's target for
//!   the conversation's priority, counted from the handoff;
//! - runs auto-assignment ([`super::assign`]), which also catches capacity freed elsewhere.
//!
//! Everything it writes is conditional in the store (an offer once per wait, a breach once per
//! due time), so several servers on one database may each run a watchdog.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use jiff::Timestamp;

use super::offline;
use crate::http::AppState;
use crate::knowledge::Queue;
use crate::storage::{Breach, Clocked, StorageError};

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
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = state.shutdown.clone();
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut recorded = Recorded::new();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = shutdown.changed() => break,
            }
            if let Err(e) = tick(&state, &mut recorded).await {
                tracing::warn!(error = %e, "queue watchdog pass failed");
            }
            super::assign::run(&state).await;
        }
    })
}

async fn tick(state: &AppState, recorded: &mut Recorded) -> Result<(), WatchError> {
    let clocked = state.store.clocked(None).await?;
    let now = Timestamp::now();
    let queues = queues_of(state, &clocked);
    let mut current = Recorded::new();
    for c in &clocked {
        let Some(queue) = queues.get(&c.queue) else {
            continue;
        };
        let offered = c.offline_offered_at.is_some_and(|at| at >= c.queued_at);
        let offer = (c.waiting && !offered)
            .then(|| offline::while_waiting(queue, c.queued_at, now))
            .flatten();
        if let Some(frame) = offer
            && offline::make(state, &c.conversation_id, serde_json::to_value(&frame)?).await?
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
                store_breach(state, &breach).await?;
            }
            current.insert(key);
        }
    }
    // Forget conversations no longer in human hands (or breaches of an earlier handoff).
    *recorded = current;
    Ok(())
}

/// Records the targets a conversation missed by now, before it leaves the watchdog's view
/// (an agent resolves it).
pub async fn check_one(state: &AppState, conversation_id: &str) -> Result<(), StorageError> {
    let clocked = state.store.clocked(Some(conversation_id)).await?;
    let queues = queues_of(state, &clocked);
    let now = Timestamp::now().as_millisecond();
    for c in &clocked {
        if let Some(queue) = queues.get(&c.queue) {
            for breach in breaches(c, queue, now) {
                store_breach(state, &breach).await?;
            }
        }
    }
    Ok(())
}

async fn store_breach(state: &AppState, breach: &Breach) -> Result<(), StorageError> {
    if state.store.record_breach(breach).await? {
        tracing::warn!(
            conversation = breach.conversation_id,
            queue = breach.queue,
            kind = breach.kind,
            target_secs = breach.target_secs,
            "SLA target missed"
        );
    }
    Ok(())
}

/// The settings of each queue the conversations are in, from the current knowledge base.
fn queues_of(state: &AppState, clocked: &[Clocked]) -> HashMap<String, Queue> {
    let bot = state.bot.load();
    let knowledge = bot.knowledge();
    let mut queues = HashMap::new();
    for c in clocked {
        // Once per queue, not per conversation: a queue's settings are cloned.
        if !queues.contains_key(&c.queue) {
            queues.insert(c.queue.clone(), knowledge.queue(&c.queue));
        }
    }
    queues
}

const FIRST_RESPONSE: &str = "first_response";
const RESOLUTION: &str = "resolution";

/// When the conversation's first agent reply and its resolution are due (ms since the epoch).
pub fn due(c: &Clocked, queue: &Queue) -> (i64, i64) {
    let target = queue.sla_for(c.priority);
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    (
        c.sla_started_at.saturating_add(ms(target.first_response)),
        c.sla_started_at.saturating_add(ms(target.resolution)),
    )
}

/// The targets `c` has missed at `now`: a first reply that came after its due time or has not
/// come by it; a resolution not made by its due time (the conversation is still open).
pub fn breaches(c: &Clocked, queue: &Queue, now: i64) -> Vec<Breach> {
    let target = queue.sla_for(c.priority);
    let (first_due, resolution_due) = due(c, queue);
    let breach = |kind: &str, target: Duration, due_at: i64| Breach {
        conversation_id: c.conversation_id.clone(),
        kind: kind.to_owned(),
        queue: c.queue.clone(),
        priority: c.priority,
        target_secs: i64::try_from(target.as_secs()).unwrap_or(i64::MAX),
        due_at,
    };
    let mut missed = Vec::new();
    let first_late = match c.first_agent_reply_at {
        Some(at) => at > first_due,
        None => now > first_due,
    };
    if first_late {
        missed.push(breach(FIRST_RESPONSE, target.first_response, first_due));
    }
    if now > resolution_due {
        missed.push(breach(RESOLUTION, target.resolution, resolution_due));
    }
    missed
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn clocked(priority: i64, first_reply_after: Option<i64>) -> Clocked {
        Clocked {
            conversation_id: "c1".to_owned(),
            waiting: first_reply_after.is_none(),
            queue: "escalations".to_owned(),
            priority,
            queued_at: 0,
            sla_started_at: 0,
            first_agent_reply_at: first_reply_after,
            offline_offered_at: None,
        }
    }

    #[test]
    fn a_complaint_breaches_first_response_after_ten_minutes() {
        let queue = Queue::named("escalations");
        let high = clocked(2, None);
        assert!(
            breaches(&high, &queue, 10 * MIN).is_empty(),
            "due, not late"
        );
        let late = breaches(&high, &queue, 10 * MIN + 1);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].kind, "first_response");
        assert_eq!(late[0].target_secs, 600);
        assert_eq!(late[0].due_at, 10 * MIN);
        assert!(
            breaches(&clocked(1, None), &queue, 10 * MIN + 1).is_empty(),
            "a normal conversation has 30 minutes"
        );
    }

    #[test]
    fn a_reply_in_time_stops_the_first_response_clock_but_not_resolution() {
        let queue = Queue::named("escalations");
        let answered = clocked(2, Some(9 * MIN));
        assert!(breaches(&answered, &queue, 23 * 60 * MIN).is_empty());
        let day_later = breaches(&answered, &queue, 24 * 60 * MIN + 1);
        assert_eq!(day_later.len(), 1);
        assert_eq!(day_later[0].kind, "resolution");
        let answered_late = clocked(2, Some(11 * MIN));
        assert_eq!(
            breaches(&answered_late, &queue, 12 * MIN)[0].kind,
            "first_response"
        );
    }
}
