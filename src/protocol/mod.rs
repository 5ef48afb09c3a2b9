//! The chat protocol's frames: JSON objects tagged by `type`, one per websocket text message.
//!
//! `docs/protocol.md` is the specification for widget authors; `tests/api/protocol_doc.rs` parses
//! every example in it with these types, so the two cannot drift apart. Within a protocol version
//! changes are additive: the server may add fields to its frames (clients ignore what they do not
//! know), while client frames are checked strictly so that a typo is reported, not ignored.

use serde::{Deserialize, Serialize};

/// The protocol version this server speaks, sent in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Websocket close codes the server uses ([RFC 6455 §7.4.1]).
///
/// [RFC 6455 §7.4.1]: https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
pub mod close_code {
    /// The conversation or the connection ended normally (`close`, idle timeout).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down; reconnect and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke the websocket protocol (an unmasked frame, a reserved opcode or bit).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text message was not valid UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The client broke the rules past the point of error frames (e.g. kept flooding).
    pub const POLICY: u16 = 1008;
    /// A frame was larger than the frame limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server has as many connections as it takes; reconnect later, with backoff.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// The longest value, in characters, a client may send in each field that has no setting of its
/// own (the texts a customer types are limited by `max_message_chars`). Every field is stored
/// or echoed, so none may be left unbounded; a longer one is refused with `too_large`, nothing
/// stored. `docs/protocol.md` lists the same numbers.
pub mod limits {
    /// `client_id` of `message`, `choose`, `request_human`, `leave_message` (a widget sends a
    /// UUID or a counter).
    pub const CLIENT_ID: usize = 64;
    /// `choice_id` of `choose` (an FAQ entry id).
    pub const CHOICE_ID: usize = 128;
    /// `resume_token` of `hello` (the server's tokens are 43 characters).
    pub const RESUME_TOKEN: usize = 128;
    /// `locale` of `hello`: the longest BCP 47 tag worth keeping (RFC 5646 §4.4.1).
    pub const LOCALE: usize = 35;
    /// `page_url` of `hello`: what browsers and CDNs commonly accept.
    pub const PAGE_URL: usize = 2048;
    /// `identity` of `hello`: a signed token of a few attributes.
    pub const IDENTITY: usize = 4096;
    /// `email` of `leave_message` (RFC 5321's limit on a path).
    pub const EMAIL: usize = 254;
    /// `comment` of `rate`.
    pub const COMMENT: usize = 2000;
}

/// A frame from the widget to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// The first frame on every connection: starts a conversation or resumes one.
    Hello(Hello),
    /// Something the customer typed.
    Message {
        /// The widget's unique id for this message; resending it never stores it twice.
        client_id: String,
        /// The text.
        text: String,
    },
    /// The customer started or stopped typing.
    Typing {
        /// Whether they are typing now.
        active: bool,
    },
    /// Helpful / not helpful on an answer.
    Feedback {
        /// The seq of the `answer` frame.
        seq: u64,
        /// The verdict.
        helpful: bool,
    },
    /// The customer picked a quick reply, a related entry or a clarify choice.
    Choose {
        /// As for `message`.
        client_id: String,
        /// The `id` of the choice (usually an FAQ entry id).
        choice_id: String,
        /// The choice's label, shown in the transcript as the customer's message.
        label: String,
    },
    /// The customer asked for a person (the button, not typed text).
    RequestHuman {
        /// As for `message`, so a resent request is acknowledged once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// The customer ended the conversation. (Braces rather than a unit variant so that
    /// `deny_unknown_fields` applies to it too.)
    Close {},
    /// The customer leaves a message for the team when nobody can take the chat (`offline`).
    LeaveMessage {
        /// As for `message`.
        client_id: String,
        /// Where the team replies.
        email: String,
        /// The message.
        text: String,
    },
    /// The customer rates the conversation after an agent resolved it (`csat_request`).
    Rate {
        /// 1 (bad) to 5 (great).
        score: u8,
        /// Optional words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
}

/// What a `hello` frame says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// The protocol version the widget speaks ([`PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// The token from an earlier `welcome`, to resume that conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// The highest seq the widget has everything up to; the server replays what follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// The widget's language, e.g. `en` or `zh-CN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The page the widget is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    /// A customer identity signed by the company's backend (see [`crate::chat::identity`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl ClientFrame {
    /// Every `type` a client may send.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "message",
        "typing",
        "feedback",
        "choose",
        "request_human",
        "close",
        "leave_message",
        "rate",
    ];

    /// Parses one websocket text message, telling an unknown `type` (`unknown_type`) from a frame
    /// that is malformed (`bad_frame`), with a message that says what to fix.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| FrameError::Malformed(format!("not valid JSON: {e}")))?;
        let Some(kind) = value.get("type") else {
            return Err(FrameError::Malformed(
                "a frame must be a JSON object with a string \"type\"".to_owned(),
            ));
        };
        let Some(kind) = kind.as_str() else {
            return Err(FrameError::Malformed(
                "\"type\" must be a string".to_owned(),
            ));
        };
        if !ClientFrame::TYPES.contains(&kind) {
            return Err(FrameError::UnknownType(kind.to_owned()));
        }
        let kind = kind.to_owned();
        let frame: ClientFrame = serde_json::from_value(value)
            .map_err(|e| FrameError::Malformed(format!("{kind}: {e}")))?;
        frame.check_lengths()?;
        Ok(frame)
    }

    /// Refuses a field longer than its limit in [`limits`].
    fn check_lengths(&self) -> Result<(), FrameError> {
        let check = |field: &'static str, value: Option<&str>, max: usize| match value {
            Some(value) if value.chars().count() > max => Err(FrameError::TooLong { field, max }),
            _ => Ok(()),
        };
        match self {
            ClientFrame::Hello(hello) => {
                check(
                    "resume_token",
                    hello.resume_token.as_deref(),
                    limits::RESUME_TOKEN,
                )?;
                check("locale", hello.locale.as_deref(), limits::LOCALE)?;
                check("page_url", hello.page_url.as_deref(), limits::PAGE_URL)?;
                check("identity", hello.identity.as_deref(), limits::IDENTITY)
            }
            ClientFrame::Message { client_id, .. } => {
                check("client_id", Some(client_id.as_str()), limits::CLIENT_ID)
            }
            ClientFrame::Choose {
                client_id,
                choice_id,
                ..
            } => {
                check("client_id", Some(client_id.as_str()), limits::CLIENT_ID)?;
                check("choice_id", Some(choice_id.as_str()), limits::CHOICE_ID)
            }
            ClientFrame::RequestHuman { client_id } => {
                check("client_id", client_id.as_deref(), limits::CLIENT_ID)
            }
            ClientFrame::LeaveMessage {
                client_id, email, ..
            } => {
                check("client_id", Some(client_id.as_str()), limits::CLIENT_ID)?;
                check("email", Some(email.as_str()), limits::EMAIL)
            }
            ClientFrame::Rate { comment, .. } => {
                check("comment", comment.as_deref(), limits::COMMENT)
            }
            ClientFrame::Typing { .. } | ClientFrame::Feedback { .. } | ClientFrame::Close {} => {
                Ok(())
            }
        }
    }
}

pub mod agent;
mod server;

pub use server::ServerFrame;

/// Why the bot handed off; the policy decides it, the `handoff` frame carries it.
pub use crate::bot::HandoffReason;

/// One button: a quick reply, a related question or a clarify candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Sent back in `choose` (usually an FAQ entry id).
    pub id: String,
    /// What the button says.
    pub label: String,
}

/// Why an `offline` frame offers to leave a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineReason {
    /// Outside the queue's business hours.
    Closed,
    /// No agent with the queue's skill is online.
    NobodyOnline,
    /// The customer has waited longer than the queue's `wait_timeout`.
    Timeout,
}

/// Who serves a conversation, in a `notice` that changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Serving {
    /// The bot answers (again).
    Bot,
    /// Waiting for a person (after a transfer to a queue).
    Queued,
    /// A person answers (`agent_name` says who).
    Agent,
    /// Resolved: nobody, until the customer writes again.
    Closed,
}

/// Who is typing, in a server `typing` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Typist {
    /// The bot is working on a reply.
    Bot,
    /// The agent is writing.
    Agent,
}

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not an object, a missing or mistyped field, an unknown field.
    BadFrame,
    /// A `type` this server does not know.
    UnknownType,
    /// The message text, or another field, is longer than the server accepts; nothing was
    /// stored.
    TooLarge,
    /// Too many frames too fast; this one was dropped.
    RateLimited,
    /// Not allowed now: a frame before `hello`, a second `hello`, feedback on a seq that is not
    /// an answer.
    BadState,
    /// The `hello` asks for a protocol version this server does not speak.
    UnsupportedProtocol,
    /// The assistant is busy: the message is stored (it has its `ack`) and its answer follows
    /// shortly. Nothing to resend.
    Busy,
    /// The server failed. A message that got this instead of an ack was not stored: resend it;
    /// one that has its ack is stored, and its answer is given when the widget resumes.
    Internal,
}

impl ErrorCode {
    /// The name on the wire, e.g. `bad_frame`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::BadState => "bad_state",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Why a client frame could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, not an object, or not the shape its `type` needs.
    #[error("{0}")]
    Malformed(String),
    /// A field is longer than its limit (see [`limits`]).
    #[error("{field} may have at most {max} characters")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its limit.
        max: usize,
    },
    /// The `type` is not one of [`ClientFrame::TYPES`].
    #[error(
        "unknown frame type {0:?}; expected one of: {types}",
        types = ClientFrame::TYPES.join(", ")
    )]
    UnknownType(String),
}

impl FrameError {
    /// The error code to answer with.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::Malformed(_) => ErrorCode::BadFrame,
            FrameError::TooLong { .. } => ErrorCode::TooLarge,
            FrameError::UnknownType(_) => ErrorCode::UnknownType,
        }
    }

    /// The `error` frame to answer with.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::error(self.code(), self.to_string())
    }
}

#[cfg(test)]
mod tests;
