//! Live chat over a websocket at `/ws/chat`.
//!
//! - [`protocol`]: the JSON frames both sides send, versioned ([`protocol::PROTOCOL_VERSION`]);
//!   specified for widget authors in `docs/protocol.md`.
//! - [`identity`]: customer identities signed by the company's backend (HMAC-SHA256).
//! - [`session`]: one customer's connection: hello/resume, store-then-ack, the bot's turn.
//! - [`topics`]: the most asked FAQ entries, for the greeting's quick replies.

pub mod identity;
pub mod protocol;
pub mod session;
pub mod topics;

pub use identity::{Identity, verify_identity};
pub use protocol::{
    Choice, ClientFrame, ErrorCode, FrameError, HandoffReason, OfflineReason, PROTOCOL_VERSION,
    ServerFrame, Typist,
};
