//! Human handoff, the application side: the live hub between customers and agents, the
//! handoff service a chat turn calls, and what each agent action does to a conversation. The
//! agent socket that calls these is in the web layer (`ws::agent`).
//!
//! - [`hub`]: in-memory fan-out of live news (the store stays the truth).
//! - `service.rs`: handing a conversation to a person: queue it, store the handoff frame, offer
//!   to leave a message, assign, tell everyone waiting their place; the wait estimate.
//! - `publish.rs`: store an event, then tell the customer and the agents.
//! - `actions.rs`: claim, reply, note, transfer, resolve, hand back; checked against the agent's
//!   rights, stored first, then announced.
//! - `assign.rs`: auto-assignment to the least-loaded online agent with the skill.
//! - [`offline`]: offering a waiting customer to leave a message (closed, nobody online,
//!   waited too long).
//! - `sla.rs`: SLA due times and breaches.
//! - [`views`]: the queue snapshot and the conversation view a console is shown.
//! - [`watch`]: the once-a-second watchdog: timeouts, SLA breaches, auto-assignment.
//! - [`relay`]: the hub across nodes on one PostgreSQL (`NOTIFY`, presence heartbeats).
//!
//! The console is in `console/`; its protocol in `docs/agent-protocol.md`.

pub mod actions;
mod assign;
pub mod hub;
pub mod offline;
mod publish;
pub mod relay;
mod service;
mod sla;
pub mod views;
pub mod watch;

pub use actions::ActionError;
pub use assign::run as auto_assign;
pub use hub::{AgentNews, CustomerNews, Hub};
pub use publish::{publish, transcript_entry};
pub use service::{
    HandedOff, Handoff, HandoffError, announce_positions, hand_off, seconds_per_place, wait_secs,
};
