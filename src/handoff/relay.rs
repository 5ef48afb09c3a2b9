//! The hub across nodes: with several nodes on one PostgreSQL, what one node's hub is told
//! reaches the sessions of every other node through `NOTIFY`, and each node's agent consoles are
//! counted by all of them through a heartbeat.
//!
//! The store stays the truth. A stored event travels as (conversation, seq) and the receiving
//! node reads it from the store; a customer session that gets a seq beyond what it sent catches
//! up from the store, so a lost notification is repaired by the next one, and after the
//! listener's connection dropped every session catches up at once. What is not stored (typing,
//! queue places, notes shown live) travels whole, being small. Payloads are JSON; PostgreSQL
//! caps them at 8000 bytes, and the rare larger one (a long note) is not relayed: agents see it
//! when they open the conversation.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::hub::Outbound;
use super::{AgentNews, CustomerNews, transcript_entry};
use crate::app::App;
use crate::protocol::ServerFrame;
use crate::protocol::agent::NoteView;
use crate::storage::{Heard, StorageError};

/// How often a node records that it is up, with its consoles; other nodes forget it after
/// [`EXPIRY`] without one (a node killed without a goodbye).
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a heartbeat counts: a few missed beats, so a slow moment does not drop a node.
const EXPIRY: Duration = Duration::from_secs(10);
/// News waiting for the relay; beyond that it is dropped (see [`super::hub`]).
const BACKLOG: usize = 4096;
/// PostgreSQL's limit for a notification payload is 8000 bytes.
const MAX_PAYLOAD: usize = 7900;
/// How long to wait before listening again after the database could not be reached: there is
/// nothing to wait for but time, and retrying at once would spin while it is down.
const RETRY: Duration = Duration::from_secs(1);

/// One notification: from which node, and what.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: String,
    #[serde(flatten)]
    news: Wire,
}

/// News as it travels between nodes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Wire {
    /// The conversation's customer sessions: the store has events up to `seq`.
    Stored { c: String, seq: u64 },
    /// A frame that is not stored, for the customer.
    Transient { c: String, frame: ServerFrame },
    /// The customer's place in the queue.
    Position {
        c: String,
        queue: String,
        position: u32,
        wait_secs: Option<u64>,
    },
    /// Whether the bot serves the conversation.
    BotActive { c: String, active: bool },
    /// A stored event for agents, read from the store by the receiver.
    Event { c: String, seq: u64 },
    /// Queues changed.
    QueueChanged,
    /// A note, shown live.
    Note { c: String, note: NoteView },
    /// The customer is typing.
    Typing { c: String, active: bool },
    /// A conversation was given to an agent.
    Assigned {
        agent: String,
        c: String,
        by: Option<String>,
    },
    /// The sender's consoles changed: read the presence table again.
    Presence,
    /// An admin reloaded the knowledge on the sender: reload here too.
    Reload,
}

impl Wire {
    fn from_outbound(news: Outbound) -> Option<Wire> {
        Some(match news {
            Outbound::Customer(c, news) => {
                let c = c.to_string();
                match news {
                    CustomerNews::Frame { seq, .. } => Wire::Stored { c, seq },
                    // Catching up is the receiver's own business.
                    CustomerNews::Stored(_) => return None,
                    CustomerNews::Transient(frame) => Wire::Transient { c, frame },
                    CustomerNews::Position {
                        queue,
                        position,
                        wait_secs,
                    } => Wire::Position {
                        c,
                        queue: queue.to_string(),
                        position,
                        wait_secs,
                    },
                    CustomerNews::BotActive(active) => Wire::BotActive { c, active },
                }
            }
            Outbound::Agents(news) => match news {
                AgentNews::QueueChanged => Wire::QueueChanged,
                AgentNews::Event {
                    conversation_id,
                    entry,
                } => Wire::Event {
                    c: conversation_id.to_string(),
                    seq: entry.seq,
                },
                AgentNews::Note {
                    conversation_id,
                    note,
                } => Wire::Note {
                    c: conversation_id.to_string(),
                    note: (*note).clone(),
                },
                AgentNews::CustomerTyping {
                    conversation_id,
                    active,
                } => Wire::Typing {
                    c: conversation_id.to_string(),
                    active,
                },
                AgentNews::Assigned {
                    agent_id,
                    conversation_id,
                    by,
                } => Wire::Assigned {
                    agent: agent_id.to_string(),
                    c: conversation_id.to_string(),
                    by: by.map(|b| b.to_string()),
                },
            },
            Outbound::Presence => Wire::Presence,
            Outbound::Reload => Wire::Reload,
        })
    }
}

/// This node's id and when it started, for the heartbeat.
#[derive(Debug, Clone)]
struct Node {
    id: Arc<str>,
    started_at: i64,
}

/// Starts the relay when the store is shared (PostgreSQL): news out, news in, heartbeats. On
/// SQLite (one node) nothing starts.
pub fn spawn(app: &App) {
    if app.store.backend() != crate::storage::Backend::Postgres {
        return;
    }
    let node = Node {
        id: Arc::clone(&app.node),
        started_at: wall_ms(),
    };
    let (sender, receiver) = mpsc::channel(BACKLOG);
    app.hub.relay_to(sender);
    tokio::spawn(send(app.clone(), node.clone(), receiver));
    tokio::spawn(receive(app.clone(), node.id));
}

/// The nodes that are up now (PostgreSQL; empty on SQLite, where this is the only one).
pub async fn nodes(app: &App) -> Result<Vec<crate::storage::NodeRecord>, StorageError> {
    app.store.nodes(wall_ms()).await
}

/// Milliseconds since the epoch by the wall clock: heartbeats are compared across processes, so
/// they do not follow the server's own (test-adjustable) clock.
fn wall_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// Notifies the other nodes of this node's news, and beats.
async fn send(app: App, node: Node, mut news: mpsc::Receiver<Outbound>) {
    let mut shutdown = app.shutdown.clone();
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let result = tokio::select! {
            _ = shutdown.changed() => break,
            _ = beat.tick() => heartbeat(&app, &node).await,
            next = news.recv() => match next {
                None => break,
                Some(Outbound::Presence) => match heartbeat(&app, &node).await {
                    Ok(()) => publish(&app, &node, Wire::Presence).await,
                    Err(e) => Err(e),
                },
                Some(other) => match Wire::from_outbound(other) {
                    Some(wire) => publish(&app, &node, wire).await,
                    None => Ok(()),
                },
            },
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "relay to other nodes failed");
        }
    }
    if let Err(e) = app.store.leave_nodes(&node.id).await {
        tracing::warn!(error = %e, "cannot remove this node from the node list");
    }
}

async fn publish(app: &App, node: &Node, news: Wire) -> Result<(), StorageError> {
    let envelope = Envelope {
        node: node.id.to_string(),
        news,
    };
    let payload = serde_json::to_string(&envelope)
        .map_err(|e| StorageError::Corrupt(format!("relayed news: {e}")))?;
    if payload.len() > MAX_PAYLOAD {
        tracing::debug!(bytes = payload.len(), "news too large to relay; skipped");
        return Ok(());
    }
    app.store.notify(&payload).await
}

/// Records this node and its consoles, and reads the other nodes' consoles.
async fn heartbeat(app: &App, node: &Node) -> Result<(), StorageError> {
    let now = wall_ms();
    let expires = now + i64::try_from(EXPIRY.as_millis()).unwrap_or(i64::MAX);
    let version = app.bot.load().version().to_owned();
    let consoles = app.hub.consoles_here();
    app.store
        .heartbeat(&node.id, node.started_at, now, expires, &version, &consoles)
        .await?;
    refresh_presence(app, &node.id).await
}

async fn refresh_presence(app: &App, node: &str) -> Result<(), StorageError> {
    let remote = app.store.remote_consoles(node, wall_ms()).await?;
    if app.hub.set_remote(remote) {
        // The agents online changed: consoles here show the counts per queue.
        app.hub.tell_agents_here(AgentNews::QueueChanged);
    }
    Ok(())
}

/// Listens to the other nodes and delivers their news here.
async fn receive(app: App, node: Arc<str>) {
    let mut shutdown = app.shutdown.clone();
    'connect: loop {
        let mut listener = match app.store.listen().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to other nodes; retrying");
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(RETRY) => continue 'connect,
                }
            }
        };
        // Anything sent before this point was missed.
        caught_up(&app, &node).await;
        loop {
            let heard = tokio::select! {
                _ = shutdown.changed() => return,
                heard = listener.next() => heard,
            };
            match heard {
                Ok(Heard::Payload(payload)) => deliver(&app, &node, &payload).await,
                Ok(Heard::Reconnected) => caught_up(&app, &node).await,
                Err(e) => {
                    // Listening again at once: if the database is still out of reach, the
                    // connect above fails and waits there (the one back-off, which shutdown
                    // interrupts).
                    tracing::warn!(error = %e, "lost the other nodes' news; listening again");
                    continue 'connect;
                }
            }
        }
    }
}

/// After news may have been lost: every session here reads the store again.
async fn caught_up(app: &App, node: &str) {
    app.hub
        .tell_every_customer_here(&CustomerNews::Stored(u64::MAX));
    app.hub.tell_agents_here(AgentNews::QueueChanged);
    if let Err(e) = refresh_presence(app, node).await {
        tracing::warn!(error = %e, "cannot read the other nodes' consoles");
    }
}

async fn deliver(app: &App, node: &str, payload: &str) {
    let envelope: Envelope = match serde_json::from_str(payload) {
        Ok(envelope) => envelope,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable news from another node; ignored");
            return;
        }
    };
    if envelope.node == node {
        return;
    }
    if let Err(e) = deliver_here(app, node, envelope.news).await {
        tracing::warn!(error = %e, "cannot deliver news from another node");
    }
}

async fn deliver_here(app: &App, node: &str, news: Wire) -> Result<(), StorageError> {
    let hub = &app.hub;
    match news {
        Wire::Stored { c, seq } => hub.tell_customer_here(&c, CustomerNews::Stored(seq)),
        Wire::Transient { c, frame } => hub.tell_customer_here(&c, CustomerNews::Transient(frame)),
        Wire::Position {
            c,
            queue,
            position,
            wait_secs,
        } => hub.tell_customer_here(
            &c,
            CustomerNews::Position {
                queue: queue.into(),
                position,
                wait_secs,
            },
        ),
        Wire::BotActive { c, active } => {
            hub.tell_customer_here(&c, CustomerNews::BotActive(active))
        }
        Wire::Event { c, seq } if hub.agents_here() => {
            let events = app.store.events_after(&c, seq.saturating_sub(1)).await?;
            if let Some(event) = events.iter().find(|e| e.seq == seq) {
                hub.tell_agents_here(AgentNews::Event {
                    conversation_id: c.into(),
                    entry: Arc::new(transcript_entry(event, None)),
                });
            }
        }
        Wire::Event { .. } => {}
        Wire::QueueChanged => hub.tell_agents_here(AgentNews::QueueChanged),
        Wire::Note { c, note } => hub.tell_agents_here(AgentNews::Note {
            conversation_id: c.into(),
            note: Arc::new(note),
        }),
        Wire::Typing { c, active } => hub.tell_agents_here(AgentNews::CustomerTyping {
            conversation_id: c.into(),
            active,
        }),
        Wire::Assigned { agent, c, by } => hub.tell_agents_here(AgentNews::Assigned {
            agent_id: agent.into(),
            conversation_id: c.into(),
            by: by.map(Into::into),
        }),
        Wire::Presence => refresh_presence(app, node).await?,
        Wire::Reload => {
            // Not on the listener's task: a reload takes seconds.
            let reloader = Arc::clone(&app.reloader);
            tokio::spawn(async move { reloader.reload("another node's admin request").await });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
