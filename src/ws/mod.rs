//! The websockets, part of the web layer: each parses frames, calls the application, and writes
//! frames back.
//!
//! - [`chat`]: `/ws/chat`, a customer's connection (the protocol is [`crate::protocol`], the
//!   conversation is [`crate::chat`]);
//! - [`agent`]: `/ws/agent`, an agent console's connection (the protocol is
//!   [`crate::protocol::agent`], the actions are [`crate::handoff`]).

pub mod agent;
pub mod chat;
