//! A customer's conversation: the application service behind the chat socket.
//!
//! The web layer (`ws::chat`) reads frames off the socket and calls one method of [`Chat`] per
//! frame; everything the conversation does happens here, through the store, the bot and the
//! handoff service, and reaches the customer through the socket's [`Outbox`]. Every frame that
//! belongs to the conversation is stored before it is sent, so a reconnecting client gets exactly
//! what it missed from the store.
//!
//! - `start.rs`: `hello`: starting or resuming a conversation, identity, the replay;
//! - `turn.rs`: the customer's message and the bot's turn (store, read, decide, record);
//! - `human.rs`: the conversation in a person's hands: what the hub says, typing, the offline
//!   form, the rating;
//! - `owed.rs`: replies owed to acknowledged messages (a busy model, a crash, two tabs);
//! - `reply.rs`: the frame for each decision;
//! - [`identity`]: customer identities signed by the company's backend;
//! - [`topics`]: the most asked FAQ entries, for the greeting's quick replies.

mod human;
pub mod identity;
mod owed;
mod reply;
mod start;
pub mod topics;
mod turn;

use std::future::Future;

use tokio::sync::broadcast;

pub use identity::{Identity, verify_identity};

use crate::app::App;
use crate::bot::ReadError;
use crate::bot::policy::Memory;
use crate::handoff::{CustomerNews, HandoffError};
use crate::model::ModelError;
use crate::protocol::{ErrorCode, ServerFrame};
use crate::storage::StorageError;

/// What the chat service sends to the customer's connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// A frame that is not stored (ack, error, queue update, typing).
    Frame(ServerFrame),
    /// A stored frame, serialised as stored (its `seq` set).
    Stored(String),
    /// Close the connection with this code and reason.
    Close(u16, &'static str),
}

/// The customer's connection, as the chat service sees it: somewhere to send frames.
pub trait Outbox: Send {
    /// Queues `out` for the customer; `Err(Gone)` once the connection is closed.
    fn send(&mut self, out: Out) -> impl Future<Output = Result<(), Gone>> + Send;
}

/// The customer's connection closed while frames were queued for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection is closed")]
pub struct Gone;

/// What can go wrong while handling a frame; the customer gets an `internal` error frame.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The encoder failed or is overloaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Reading the message (embedding, retrieval, classification) failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Handing the conversation to a person failed.
    #[error(transparent)]
    Handoff(#[from] HandoffError),
    /// A frame could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Personal data could not be sealed.
    #[error("cannot seal personal data: {0}")]
    Seal(String),
    /// The connection went away.
    #[error(transparent)]
    Gone(#[from] Gone),
}

/// One connection's conversation, from `hello` on.
pub struct Chat {
    app: App,
    /// The conversation's id.
    id: String,
    /// Whether the bot still talks in this conversation (false once handed off).
    bot_active: bool,
    memory: Memory,
    /// The embedding of the customer's previous message, for repeat detection.
    previous: Option<Vec<f32>>,
    /// The previous message's text when resuming, embedded when the next message arrives.
    previous_text: Option<String>,
    /// The hub's channel, from the moment a person is involved until the socket loop takes it.
    news: Option<broadcast::Receiver<CustomerNews>>,
    /// Whether this conversation listens to the hub (see [`Chat::listen`]).
    listening: bool,
    /// The highest seq sent on this connection, so a frame the hub announces after the replay
    /// sent it is not sent twice.
    sent_seq: u64,
    /// The queue and place last told to the customer.
    place: Option<(String, u32)>,
    /// The language of the customer's latest message (`en` or `zh`), for quick replies in it.
    lang: &'static str,
    /// Counts this conversation in `tandem_active_conversations`.
    _active: crate::metrics::Counted,
}

impl Chat {
    /// The conversation's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the bot serves the conversation (rather than a person, or nobody yet).
    pub fn bot_active(&self) -> bool {
        self.bot_active
    }

    /// The hub's channel for this conversation, once a person is involved; the socket loop
    /// takes it to wait on news next to the customer's frames.
    pub fn take_news(&mut self) -> Option<broadcast::Receiver<CustomerNews>> {
        self.news.take()
    }

    /// Starts listening to the hub for this conversation, once. Only conversations a person is
    /// involved in need it, so the thousands of customers talking to the bot cost the hub
    /// nothing.
    fn listen(&mut self) {
        if !self.listening {
            self.listening = true;
            self.news = Some(self.app.hub.listen(&self.id));
        }
    }

    /// Sends a stored frame unless this connection has it already.
    async fn deliver(
        &mut self,
        out: &mut impl Outbox,
        seq: u64,
        json: String,
    ) -> Result<(), ChatError> {
        if seq > self.sent_seq {
            self.sent_seq = seq;
            out.send(Out::Stored(json)).await?;
        }
        Ok(())
    }

    /// Ends the conversation at the customer's request (`close`).
    pub async fn close(&mut self, out: &mut impl Outbox) -> Result<(), ChatError> {
        self.app
            .store
            .set_state(&self.id, crate::storage::ConversationState::Closed, None)
            .await?;
        out.send(Out::Close(
            crate::protocol::close_code::NORMAL,
            "conversation closed",
        ))
        .await?;
        Ok(())
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        // The receiver may still be held by the socket loop, which drops it before the chat; a
        // channel nobody listens to any more is removed.
        self.news = None;
        if self.listening {
            self.app.hub.forget(&self.id);
        }
    }
}

/// An error frame for the customer.
fn error(code: ErrorCode, message: impl Into<String>) -> Out {
    Out::Frame(ServerFrame::error(code, message))
}
