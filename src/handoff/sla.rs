//! SLA targets: when a conversation's first agent reply and its resolution are due, which
//! targets it has missed, and recording a breach once.

use std::collections::HashMap;
use std::time::Duration;

use crate::app::App;
use crate::knowledge::Queue;
use crate::storage::{Breach, Clocked, StorageError};

/// Records the targets a conversation missed by now, before it leaves the watchdog's view
/// (an agent resolves it).
pub async fn check_one(app: &App, conversation_id: &str) -> Result<(), StorageError> {
    let clocked = app.store.clocked(Some(conversation_id)).await?;
    let queues = queues_of(app, &clocked);
    let now = app.clock.now_ms();
    for c in &clocked {
        if let Some(queue) = queues.get(&c.queue) {
            for breach in breaches(c, queue, now) {
                store_breach(app, &breach).await?;
            }
        }
    }
    Ok(())
}

pub(super) async fn store_breach(app: &App, breach: &Breach) -> Result<(), StorageError> {
    if app.store.record_breach(breach).await? {
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
pub(super) fn queues_of(app: &App, clocked: &[Clocked]) -> HashMap<String, Queue> {
    let bot = app.bot.load();
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
            lang: "en".to_owned(),
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
