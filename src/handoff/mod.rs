//! Human handoff: the live hub between customers and agents, the agent websocket, and what each
//! agent action does to a conversation.
//!
//! - [`hub`]: in-memory fan-out of live news (the store stays the truth).
//! - `agent_ws.rs`: `/ws/agent`, authenticated by the session cookie, origin checked.
//! - `views.rs`: the queue snapshot and the conversation view a console is shown.
//! - `actions.rs`: claim, reply, note, transfer, resolve, hand back; each stores first, then
//!   tells the customer and the other agents through the hub.
//! - `assign.rs`: auto-assignment to the least-loaded online agent with the skill.
//! - [`offline`]: offering a waiting customer to leave a message (closed, nobody online,
//!   waited too long).
//! - [`watch`]: the once-a-second watchdog: timeouts, SLA breaches, auto-assignment.
//!
//! The console is in `console/`; its protocol in `docs/agent-protocol.md`.

mod actions;
mod agent_ws;
pub mod assign;
pub mod hub;
pub mod offline;
mod views;
pub mod watch;

pub use agent_ws::agent_socket;
pub use hub::{AgentNews, CustomerNews, Hub};

use serde_json::{Value, json};

use crate::http::AppState;
use crate::storage::StoredEvent;
use crate::ws::ServerFrame;

/// A stored event as agents see it in a transcript: the text and what the bot made of it.
/// `helpful` is the customer's verdict on an answer, when they gave one.
pub fn transcript_entry(event: &StoredEvent, helpful: Option<bool>) -> Value {
    let mut entry = json!({
        "seq": event.seq,
        "sender": event.sender.as_str(),
        "kind": event.kind,
        "text": event.text,
        "created_at": event.created_at,
    });
    let fields = [
        ("intent", event.intent.clone().map(Value::from)),
        ("confidence", event.confidence.map(Value::from)),
        ("faq_id", event.faq_id.clone().map(Value::from)),
        ("decision", event.decision.clone().map(Value::from)),
        ("reason", event.reason.clone().map(Value::from)),
        ("helpful", helpful.map(Value::from)),
        ("agent_name", agent_name(&event.frame).map(Value::from)),
    ];
    if let Some(object) = entry.as_object_mut() {
        for (key, value) in fields {
            if let Some(value) = value {
                object.insert(key.to_owned(), value);
            }
        }
    }
    entry
}

fn agent_name(frame: &str) -> Option<String> {
    match serde_json::from_str::<ServerFrame>(frame).ok()? {
        ServerFrame::AgentMessage { agent_name, .. } => Some(agent_name),
        _ => None,
    }
}

/// Stores an event in the conversation, then tells its customer session(s) and the agents.
pub async fn publish(
    state: &AppState,
    conversation_id: &str,
    event: crate::storage::NewEvent,
) -> Result<StoredEvent, crate::storage::StorageError> {
    let stored = state.store.append(conversation_id, event).await?;
    state.hub.tell_customer(
        conversation_id,
        CustomerNews::Frame {
            seq: stored.seq,
            json: stored.frame.as_str().into(),
        },
    );
    state.hub.tell_agents(AgentNews::Event {
        conversation_id: conversation_id.into(),
        entry: std::sync::Arc::new(transcript_entry(&stored, None)),
    });
    Ok(stored)
}

/// Handling times of the last conversations resolved from a queue that the median is taken of.
const HANDLING_SAMPLE: u32 = 20;

/// How long each place in `queue` takes, in seconds: the median recent handling time divided
/// among the agents online for the queue. `None` when nobody is online for it or no
/// conversation was resolved from it yet: no estimate beats a made-up one.
pub async fn seconds_per_place(state: &AppState, queue: &str) -> Option<u64> {
    let online = u64::try_from(state.hub.online_for(queue)).unwrap_or(0);
    if online == 0 {
        return None;
    }
    let median = state
        .store
        .median_handling_secs(queue, HANDLING_SAMPLE)
        .await
        .ok()??;
    Some(median.div_ceil(online).max(1))
}

/// Tells every waiting customer their place in line (after the queue moved: a claim, a
/// transfer, a new handoff ahead of them). Sessions forward a place only when it changed.
pub async fn announce_positions(state: &AppState) {
    let waiting = match state.store.waiting().await {
        Ok(waiting) => waiting,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the queue to announce places");
            return;
        }
    };
    let mut places: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let mut per_place: std::collections::HashMap<&str, Option<u64>> =
        std::collections::HashMap::new();
    for entry in &waiting {
        let place = places.entry(entry.queue.as_str()).or_insert(0);
        *place += 1;
        if !per_place.contains_key(entry.queue.as_str()) {
            per_place.insert(
                entry.queue.as_str(),
                seconds_per_place(state, &entry.queue).await,
            );
        }
        let wait_secs = per_place
            .get(entry.queue.as_str())
            .copied()
            .flatten()
            .map(|secs| secs * u64::from(*place));
        state.hub.tell_customer(
            &entry.conversation_id,
            CustomerNews::Position {
                queue: entry.queue.as_str().into(),
                position: *place,
                wait_secs,
            },
        );
    }
}
