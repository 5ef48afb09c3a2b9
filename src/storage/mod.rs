//! The conversation store: conversations, the numbered events in each one, and feedback.
//!
//! Every frame the server sends that belongs to a conversation is an *event* with a
//! per-conversation sequence number (`seq`, 1, 2, 3, ...). The store assigns that number and
//! writes the complete frame in the same transaction, so replaying a conversation after a
//! reconnect is "send every stored frame with `seq` greater than what the client has seen".
//!
//! The database is SQLite (a file in the data folder, the default) or PostgreSQL (shared by
//! several nodes); `connect.rs` opens either. Durability: SQLite in WAL mode with `synchronous =
//! FULL`, PostgreSQL with its default synchronous commit, so a commit has reached the disk when
//! [`Store::append`] returns; the session acknowledges a customer message only after that, and
//! an acknowledged message survives a SIGKILL or a power cut. Migrations live in `migrations/` at
//! the crate root and run on open, the same files on both databases: the schema and the SQL
//! (`$1` placeholders, `ON CONFLICT`, `RETURNING`, flags read as 0/1) are portable, and the one
//! difference in how transactions begin is [`Store::begin_write`].

mod agents;
mod analytics;
mod connect;
mod events;
mod handoff;
mod nodes;
mod queue;
pub mod seal;
mod sla;
mod store;
mod tickets;

#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
pub(crate) mod test_db;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::knowledge::Priority;

pub use agents::{Agent, NewAgent, Role};
pub use analytics::{ConversationFacts, FaqUse, TurnEvent};
pub use connect::{Backend, DB_FILE, Location, create_postgres_database, redacted};
pub use handoff::{Note, Waiting};
pub use nodes::{CHANNEL, ConsoleRecord, Duty, Exclusive, Heard, Listener, NodeRecord};
pub use sla::{Breach, Clocked};
pub use store::{Store, private_dir};
pub use tickets::Ticket;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The data folder does not exist and cannot be created.
    #[error("cannot create the data folder {}: {source}", path.display())]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database cannot be opened or created.
    #[error("cannot open the database {location}: {source}")]
    Open {
        /// The file or URL.
        location: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A migration in `migrations/` failed (or the database is newer than this build).
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An agent with this email exists already.
    #[error("an agent with email {0} exists already")]
    Duplicate(String),
    /// No agent has this email.
    #[error("no agent with email {0}")]
    UnknownAgent(String),
    /// No conversation has this id.
    #[error("no conversation with id {0}")]
    UnknownConversation(String),
    /// The conversation has no event with this sequence number.
    #[error("conversation {conversation_id} has no event {seq}")]
    UnknownEvent {
        /// The conversation.
        conversation_id: String,
        /// The sequence number asked for.
        seq: u64,
    },
    /// The bot's turn on a message was taken: since the message was stored, something else was
    /// appended to the conversation or it left the bot (another connection to the same
    /// conversation answered it first). Nothing was stored.
    #[error("conversation {0} moved on since the message this turn answers")]
    TurnTaken(String),
    /// An event's frame is not a JSON object with a string `type`.
    #[error("an event frame must be a JSON object with a string \"type\", got {0}")]
    InvalidFrame(String),
    /// A stored value is not one the schema allows (the database was edited by hand?).
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
    /// The operating system could not provide random bytes for a resume token.
    #[error("no randomness for a resume token: {0}")]
    Random(getrandom::Error),
    /// `database_url` names no database tandem can use.
    #[error("unsupported database URL {0}")]
    BadUrl(String),
    /// Any other database error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Who is talking to the customer, which decides what the bot may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationState {
    /// The bot answers.
    Bot,
    /// Handed off and waiting for an agent; the bot stays silent.
    Queued,
    /// An agent has taken the conversation; the bot stays silent.
    Agent,
    /// Over; nothing more is appended.
    Closed,
}

/// Who an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The customer (messages, choices, requests for a person).
    Customer,
    /// The bot (answers, clarifications, handoffs).
    Bot,
    /// A human agent.
    Agent,
    /// tandem itself (notices such as "an agent joined").
    System,
}

/// Both enums are stored as their lower-case names; this keeps the mapping in one place.
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = StorageError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(StorageError::Corrupt(format!(
                        concat!("unknown ", stringify!($ty), " {:?}"),
                        other
                    ))),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(ConversationState {
    Bot => "bot",
    Queued => "queued",
    Agent => "agent",
    Closed => "closed",
});
text_enum!(Sender {
    Customer => "customer",
    Bot => "bot",
    Agent => "agent",
    System => "system",
});

/// What is known about a customer when their conversation starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewConversation {
    /// The customer's id in the company's systems, from a verified identity only.
    pub customer_id: Option<String>,
    /// The rest of the verified identity (name, email, plan...), as a JSON object.
    pub customer_attributes: Option<serde_json::Value>,
    /// The widget's language, e.g. `en` or `zh-CN`.
    pub locale: Option<String>,
    /// The page the widget was opened on.
    pub page_url: Option<String>,
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Random id (a UUID), safe to show agents; not a credential.
    pub id: String,
    /// See [`NewConversation::customer_id`].
    pub customer_id: Option<String>,
    /// See [`NewConversation::customer_attributes`].
    pub customer_attributes: Option<serde_json::Value>,
    /// See [`NewConversation::locale`].
    pub locale: Option<String>,
    /// See [`NewConversation::page_url`].
    pub page_url: Option<String>,
    /// Who is talking to the customer.
    pub state: ConversationState,
    /// Why the conversation left the bot (a `HandoffReason` name); `None` while the bot has it.
    pub handoff_reason: Option<String>,
    /// The sequence number of the latest event, 0 before the first.
    pub last_seq: u64,
    /// Milliseconds since the Unix epoch (UTC).
    pub created_at: i64,
    /// Milliseconds since the Unix epoch (UTC) of the latest event or state change.
    pub updated_at: i64,
    /// Milliseconds since the Unix epoch (UTC) when it was closed.
    pub closed_at: Option<i64>,
    /// The queue it was last handed off to.
    pub queue: Option<String>,
    /// How urgent its handoff is (normal until handed off).
    pub priority: Priority,
    /// Milliseconds since the Unix epoch (UTC) of its latest handoff.
    pub queued_at: Option<i64>,
    /// The language the customer writes in, from their latest message (`None` before the
    /// first; see [`Conversation::language`]).
    pub lang: Option<String>,
}

impl Conversation {
    /// The language to write to the customer in: that of their latest message, else the
    /// widget's locale (`zh-CN` → `zh`), else English.
    pub fn language(&self) -> String {
        crate::knowledge::texts::language_code(self.lang.as_deref().or(self.locale.as_deref()))
    }
}

/// An event to append: a server frame plus what the bot knew when it produced it.
///
/// Build it with [`NewEvent::new`] and fill in the analytics fields with struct update syntax:
/// `NewEvent { intent: Some(..), ..NewEvent::new(Sender::Bot, frame) }`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Who it comes from.
    pub sender: Sender,
    /// The complete server frame. Its `type` becomes the stored `kind`; its `seq` is set by the
    /// store, so whatever value it has here is replaced.
    pub frame: serde_json::Value,
    /// Plain text, for transcripts and repeat detection (defaults to the frame's `text`).
    pub text: Option<String>,
    /// The intent the model chose.
    pub intent: Option<String>,
    /// The model's confidence in that intent, 0 to 1.
    pub confidence: Option<f64>,
    /// The FAQ entry answered with.
    pub faq_id: Option<String>,
    /// What the bot decided (`answer`, `clarify`, `handoff`...).
    pub decision: Option<String>,
    /// Why, in words or as a reason code.
    pub reason: Option<String>,
}

impl NewEvent {
    /// An event for `frame` with its text taken from the frame's `text` field, if any.
    pub fn new(sender: Sender, frame: serde_json::Value) -> Self {
        let text = frame
            .get("text")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        NewEvent {
            sender,
            frame,
            text,
            intent: None,
            confidence: None,
            faq_id: None,
            decision: None,
            reason: None,
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The conversation it belongs to.
    pub conversation_id: String,
    /// Its place in the conversation, from 1, without gaps.
    pub seq: u64,
    /// Who it comes from.
    pub sender: Sender,
    /// The widget's id for a customer message.
    pub client_id: Option<String>,
    /// The frame type, e.g. `answer`.
    pub kind: String,
    /// Plain text.
    pub text: Option<String>,
    /// The frame as JSON text with `seq` set: what a replay sends.
    pub frame: String,
    /// See [`NewEvent::intent`].
    pub intent: Option<String>,
    /// See [`NewEvent::confidence`].
    pub confidence: Option<f64>,
    /// See [`NewEvent::faq_id`].
    pub faq_id: Option<String>,
    /// See [`NewEvent::decision`].
    pub decision: Option<String>,
    /// See [`NewEvent::reason`].
    pub reason: Option<String>,
    /// Milliseconds since the Unix epoch (UTC).
    pub created_at: i64,
}

/// The outcome of [`Store::append_customer_message`].
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "returned once and matched at once; a Box would only add an allocation"
)]
pub enum Appended {
    /// Stored now.
    New(StoredEvent),
    /// A message with this client id was stored before, with this seq; nothing was stored now.
    /// The session acknowledges it again, since the first ack was evidently lost.
    Duplicate(u64),
}
