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
    /// The client broke the rules past the point of error frames (e.g. kept flooding).
    pub const POLICY: u16 = 1008;
    /// A frame was larger than the frame limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server has as many connections as it takes; reconnect later, with backoff.
    pub const TRY_AGAIN_LATER: u16 = 1013;
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
        serde_json::from_value(value).map_err(|e| FrameError::Malformed(format!("{kind}: {e}")))
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
    /// The message text is longer than the server accepts; nothing was stored.
    TooLarge,
    /// Too many frames too fast; this one was dropped.
    RateLimited,
    /// Not allowed now: a frame before `hello`, a second `hello`, feedback on a seq that is not
    /// an answer.
    BadState,
    /// The `hello` asks for a protocol version this server does not speak.
    UnsupportedProtocol,
    /// The server failed; a message that got this instead of an ack was not stored: resend it.
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
