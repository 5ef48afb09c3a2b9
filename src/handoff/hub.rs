//! The live fan-out between customer sessions and agent sessions, in memory.
//!
//! The store is the truth; the hub only tells the sessions that hold a socket that something
//! changed, so they can forward it at once:
//!
//! - per conversation, a broadcast channel the customer's session(s) listen on: stored frames
//!   written by someone else (an agent's reply, a notice), queue position updates, and whether
//!   the bot serves the conversation (an agent took it, or handed it back);
//! - one channel every agent session listens on: the queues changed, a conversation got a new
//!   event or note, a customer is typing, a conversation was assigned.
//!
//! Frames carry their `seq`, so a customer session that replays from the store while a live
//! frame arrives forwards each frame once (it skips seqs it has sent). Channels of a conversation
//! nobody listens to are removed when its last session ends, so idle conversations cost nothing.
//!
//! With several nodes on one PostgreSQL, everything told here is also handed to the relay
//! ([`super::relay`]), which passes it to the other nodes; what they relay back is delivered
//! here with the `*_here` methods, which do not relay again. Agents online count the consoles of
//! every node: this node's, and the other nodes' as their heartbeats last recorded them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use crate::storage::ConsoleRecord;

use crate::protocol::ServerFrame;
use crate::protocol::agent::{NoteView, TranscriptEntry};

/// Messages a customer session may miss before it lags: far more than a conversation produces
/// between two reads of a live socket.
const CONVERSATION_BUFFER: usize = 16;
/// Messages an agent session may miss before it lags (it then reloads its snapshot).
const AGENT_BUFFER: usize = 256;

/// What a customer session is told.
#[derive(Debug, Clone)]
pub enum CustomerNews {
    /// A stored frame (JSON, `seq` set) to forward.
    Frame {
        /// The frame's seq.
        seq: u64,
        /// The frame as sent.
        json: Arc<str>,
    },
    /// The store holds the conversation's events up to this seq, written on another node:
    /// send what was not sent yet, from the store (`u64::MAX`: whatever there is, after news
    /// may have been lost).
    Stored(u64),
    /// A frame that is not stored (typing).
    Transient(ServerFrame),
    /// The conversation's place in its queue (sessions send it when it changed).
    Position {
        /// The queue.
        queue: Arc<str>,
        /// Place in it, 1 = next.
        position: u32,
        /// Estimated seconds until an agent takes it, when there is a basis for one.
        wait_secs: Option<u64>,
    },
    /// The bot serves the conversation again (true) or a person does (false).
    BotActive(bool),
}

/// What agent sessions are told.
#[derive(Debug, Clone)]
pub enum AgentNews {
    /// Waiting or assigned conversations changed: reload the queue snapshot.
    QueueChanged,
    /// A new transcript entry in a conversation (the JSON of a transcript entry).
    Event {
        /// The conversation.
        conversation_id: Arc<str>,
        /// The entry, as in the `event` frame of the agent protocol.
        entry: Arc<TranscriptEntry>,
    },
    /// A new internal note.
    Note {
        /// The conversation.
        conversation_id: Arc<str>,
        /// The note, as in the `note` frame.
        note: Arc<NoteView>,
    },
    /// The customer started or stopped typing.
    CustomerTyping {
        /// The conversation.
        conversation_id: Arc<str>,
        /// Typing or not.
        active: bool,
    },
    /// A conversation was given to this agent: assigned automatically, or transferred to them.
    Assigned {
        /// The agent.
        agent_id: Arc<str>,
        /// The conversation.
        conversation_id: Arc<str>,
        /// The agent who transferred it; `None` for an automatic assignment.
        by: Option<Arc<str>>,
    },
}

/// The hub; one per server, shared through [`App`](crate::app::App).
#[derive(Debug)]
pub struct Hub {
    conversations: Mutex<HashMap<String, broadcast::Sender<CustomerNews>>>,
    agents: broadcast::Sender<AgentNews>,
    /// Connected agent consoles: connection number → who, with what skills, whether online
    /// rather than away (as the heartbeat records them for the other nodes).
    present: Mutex<HashMap<u64, ConsoleRecord>>,
    next_console: std::sync::atomic::AtomicU64,
    /// Held while conversations are assigned automatically, so that two passes at once (a
    /// handoff and the watchdog) do not both give an agent their last free place.
    pub assigning: tokio::sync::Mutex<()>,
    /// The consoles the other nodes hold (empty with one node).
    remote: Mutex<Vec<ConsoleRecord>>,
    /// Where news for the other nodes goes, once the relay runs (PostgreSQL only).
    relay: std::sync::OnceLock<mpsc::Sender<Outbound>>,
}

/// What this node's hub hands to the relay for the other nodes.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// News for a conversation's customer sessions.
    Customer(Arc<str>, CustomerNews),
    /// News for agent sessions.
    Agents(AgentNews),
    /// This node's consoles changed (arrived, left, online or away).
    Presence,
    /// An admin reloaded the knowledge here: the other nodes reload too.
    Reload,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            conversations: Mutex::new(HashMap::new()),
            agents: broadcast::channel(AGENT_BUFFER).0,
            present: Mutex::new(HashMap::new()),
            next_console: std::sync::atomic::AtomicU64::new(0),
            assigning: tokio::sync::Mutex::new(()),
            remote: Mutex::new(Vec::new()),
            relay: std::sync::OnceLock::new(),
        }
    }
}

impl Hub {
    /// Listens to a conversation (a customer session after `hello`).
    pub fn listen(&self, conversation_id: &str) -> broadcast::Receiver<CustomerNews> {
        let mut map = self.lock();
        map.entry(conversation_id.to_owned())
            .or_insert_with(|| broadcast::channel(CONVERSATION_BUFFER).0)
            .subscribe()
    }

    /// Stops listening (drop the receiver first): removes the channel when nobody listens.
    pub fn forget(&self, conversation_id: &str) {
        let mut map = self.lock();
        if map
            .get(conversation_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            map.remove(conversation_id);
        }
    }

    /// Tells the customer session(s) of a conversation, on every node; nothing happens when
    /// none is connected (they will replay from the store when they come back).
    pub fn tell_customer(&self, conversation_id: &str, news: CustomerNews) {
        self.relay(|| Outbound::Customer(conversation_id.into(), news.clone()));
        self.tell_customer_here(conversation_id, news);
    }

    /// Tells the customer session(s) of a conversation connected to this node.
    pub fn tell_customer_here(&self, conversation_id: &str, news: CustomerNews) {
        if let Some(sender) = self.lock().get(conversation_id) {
            let _ = sender.send(news);
        }
    }

    /// Tells every customer session on this node (after news from other nodes may have been
    /// lost: each catches up from the store).
    pub fn tell_every_customer_here(&self, news: &CustomerNews) {
        for sender in self.lock().values() {
            let _ = sender.send(news.clone());
        }
    }

    /// Whether an agent session on this node listens.
    pub fn agents_here(&self) -> bool {
        self.agents.receiver_count() > 0
    }

    /// From now on, also hands everything told to `relay` (once; later calls change nothing).
    pub fn relay_to(&self, relay: mpsc::Sender<Outbound>) {
        let _ = self.relay.set(relay);
    }

    /// Hands news to the relay, if one runs. A full relay drops it with a warning rather than
    /// slow the caller: the store has what matters, and other nodes catch up on their next
    /// news for that conversation.
    fn relay(&self, news: impl FnOnce() -> Outbound) {
        if let Some(relay) = self.relay.get()
            && let Err(mpsc::error::TrySendError::Full(_)) = relay.try_send(news())
        {
            tracing::warn!("the relay to other nodes is behind; news dropped");
        }
    }

    /// Asks the other nodes to reload their knowledge (an admin reloaded it on this one); each
    /// reads its own copy of the files.
    pub fn reload_elsewhere(&self) {
        self.relay(|| Outbound::Reload);
    }

    /// Records the consoles the other nodes hold; true when that changed what they were.
    pub fn set_remote(&self, consoles: Vec<ConsoleRecord>) -> bool {
        let mut remote = lock(&self.remote);
        let changed = *remote != consoles;
        *remote = consoles;
        changed
    }

    /// This node's consoles, for its heartbeat.
    pub fn consoles_here(&self) -> Vec<ConsoleRecord> {
        let mut consoles: Vec<ConsoleRecord> = lock(&self.present).values().cloned().collect();
        consoles.sort_by_key(|c| c.console);
        consoles
    }

    /// Listens to what agents are told (an agent session).
    pub fn listen_agents(&self) -> broadcast::Receiver<AgentNews> {
        self.agents.subscribe()
    }

    /// Tells every agent session, on every node.
    pub fn tell_agents(&self, news: AgentNews) {
        self.relay(|| Outbound::Agents(news.clone()));
        self.tell_agents_here(news);
    }

    /// Tells the agent sessions on this node.
    pub fn tell_agents_here(&self, news: AgentNews) {
        // An error only means no agent is connected.
        let _ = self.agents.send(news);
    }

    /// Registers a connected console (online) with its agent and their skills; returns its
    /// number.
    pub fn arrive(&self, agent_id: &str, skills: Vec<String>) -> u64 {
        let id = self
            .next_console
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let console = ConsoleRecord {
            console: id,
            agent_id: agent_id.to_owned(),
            skills,
            online: true,
        };
        lock(&self.present).insert(id, console);
        self.relay(|| Outbound::Presence);
        id
    }

    /// Marks a console online or away.
    pub fn set_online(&self, console: u64, online: bool) {
        if let Some(entry) = lock(&self.present).get_mut(&console) {
            entry.online = online;
        }
        self.relay(|| Outbound::Presence);
    }

    /// Forgets a console that disconnected.
    pub fn leave(&self, console: u64) {
        lock(&self.present).remove(&console);
        self.relay(|| Outbound::Presence);
    }

    /// Agents online (in at least one console) who take `queue`; an agent with two consoles
    /// counts once.
    pub fn online_for(&self, queue: &str) -> usize {
        self.online_where(|c| c.skills.iter().any(|s| s == queue))
            .len()
    }

    /// Agents with at least one online console, each once, sorted.
    pub fn online_agents(&self) -> Vec<String> {
        self.online_where(|_| true)
    }

    /// The agents with an online console, on this node or another, that `keep` keeps; each
    /// once, sorted.
    fn online_where(&self, keep: impl Fn(&ConsoleRecord) -> bool) -> Vec<String> {
        let (present, remote) = (lock(&self.present), lock(&self.remote));
        let mut agents: Vec<String> = present
            .values()
            .chain(remote.iter())
            .filter(|c| c.online && keep(c))
            .map(|c| c.agent_id.clone())
            .collect();
        agents.sort_unstable();
        agents.dedup();
        agents
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<CustomerNews>>> {
        lock(&self.conversations)
    }
}

/// A panic while holding one of the hub's locks leaves its map consistent (every operation on
/// it is a single insert, get, update or remove), so a poisoned lock is safe to use.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
