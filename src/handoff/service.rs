//! Handing a conversation to a person: what a chat turn calls when the bot decides to hand off,
//! and the wait estimates and queue places customers are told.

use std::collections::HashMap;

use super::{AgentNews, CustomerNews, offline};
use crate::app::App;
use crate::bot::HandoffReason;
use crate::knowledge::Priority;
use crate::storage::{NewEvent, StorageError, StoredEvent};

/// Handling times of the last conversations resolved from a queue that the median is taken of.
const HANDLING_SAMPLE: u32 = 20;

/// Why a handoff failed.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A frame could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// A conversation that was handed off.
#[derive(Debug, Clone)]
pub struct HandedOff {
    /// The handoff frame as stored.
    pub stored: StoredEvent,
    /// Place in the queue, 1 = next.
    pub position: u32,
    /// Estimated seconds until an agent takes it, when there is a basis for one.
    pub wait_secs: Option<u64>,
}

/// What a handoff is: why, where to, how urgent, and (from a chat turn) the seq of the customer
/// message it answers.
#[derive(Debug, Clone, Copy)]
pub struct Handoff<'a> {
    /// Why the bot hands off.
    pub reason: HandoffReason,
    /// The queue to wait in.
    pub queue: &'a str,
    /// Its priority there.
    pub priority: Priority,
    /// The customer message this handoff answers: the handoff happens only if nothing followed
    /// it and the bot still serves the conversation (`StorageError::TurnTaken` otherwise).
    pub turn: Option<u64>,
    /// The customer's language, for the offer to leave a message.
    pub lang: &'a str,
}

/// Queues the conversation as `handoff` says, stores the handoff event that `event` builds from
/// its place in line (and whether the offer to leave a message follows), then makes what
/// follows: the offer to leave a message when the queue is closed or
/// nobody is online, the agents' queue snapshots, auto-assignment, and the places of everyone
/// waiting (a handoff of higher priority moves them down).
///
/// The customer's session should listen to the hub before calling this: an agent may claim the
/// conversation the moment it is queued, and the offer is announced through the hub.
pub async fn hand_off(
    app: &App,
    conversation: &str,
    handoff: Handoff<'_>,
    event: impl FnOnce(u32, bool) -> Result<NewEvent, serde_json::Error>,
) -> Result<HandedOff, HandoffError> {
    let Handoff {
        reason,
        queue,
        priority,
        turn,
        lang,
    } = handoff;
    let store = &app.store;
    let position = match turn {
        Some(turn) => {
            store
                .enqueue_turn(conversation, turn, reason.as_str(), queue, priority)
                .await?
        }
        None => {
            store
                .enqueue(conversation, reason.as_str(), queue, priority)
                .await?
        }
    };
    tracing::info!(conversation, reason = reason.as_str(), queue, "handed off");
    let settings = app.bot.load().knowledge().queue(queue);
    // Known before the handoff's words are written, so that they do not promise a reply the
    // offer then takes back.
    let offer = offline::at_handoff(app, &settings, app.clock.now(), lang);
    let stored = app
        .store
        .append(conversation, event(position, offer.is_some())?)
        .await?;
    let wait_secs = wait_secs(app, queue, position).await;
    if let Some(offer) = offer {
        offline::make(app, conversation, serde_json::to_value(&offer)?).await?;
    }
    app.hub.tell_agents(AgentNews::QueueChanged);
    if settings.auto_assign {
        super::assign::run(app).await;
    }
    announce_positions(app).await;
    Ok(HandedOff {
        stored,
        position,
        wait_secs,
    })
}

/// How long each place in `queue` takes, in seconds: the median recent handling time divided
/// among the agents online for the queue. `None` when nobody is online for it or no
/// conversation was resolved from it yet: no estimate beats a made-up one.
pub async fn seconds_per_place(app: &App, queue: &str) -> Option<u64> {
    let online = u64::try_from(app.hub.online_for(queue)).unwrap_or(0);
    if online == 0 {
        return None;
    }
    let median = app
        .store
        .median_handling_secs(queue, HANDLING_SAMPLE)
        .await
        .ok()??;
    Some(median.div_ceil(online).max(1))
}

/// The estimated wait of the conversation at `position` in `queue`, when there is a basis.
pub async fn wait_secs(app: &App, queue: &str, position: u32) -> Option<u64> {
    seconds_per_place(app, queue)
        .await
        .map(|secs| secs * u64::from(position))
}

/// Tells every waiting customer their place in line (after the queue moved: a claim, a
/// transfer, a new handoff ahead of them). Sessions forward a place only when it changed.
pub async fn announce_positions(app: &App) {
    let waiting = match app.store.waiting().await {
        Ok(waiting) => waiting,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the queue to announce places");
            return;
        }
    };
    let mut places: HashMap<&str, u32> = HashMap::new();
    let mut per_place: HashMap<&str, Option<u64>> = HashMap::new();
    for entry in &waiting {
        let place = places.entry(entry.queue.as_str()).or_insert(0);
        *place += 1;
        if !per_place.contains_key(entry.queue.as_str()) {
            per_place.insert(
                entry.queue.as_str(),
                seconds_per_place(app, &entry.queue).await,
            );
        }
        let wait_secs = per_place
            .get(entry.queue.as_str())
            .copied()
            .flatten()
            .map(|secs| secs * u64::from(*place));
        app.hub.tell_customer(
            &entry.conversation_id,
            CustomerNews::Position {
                queue: entry.queue.as_str().into(),
                position: *place,
                wait_secs,
            },
        );
    }
}
