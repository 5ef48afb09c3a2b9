//! The frames the server sends (see `docs/protocol.md`, "Server frames").

use serde::{Deserialize, Serialize};

use super::{Choice, ErrorCode, HandoffReason, OfflineReason, Serving, Typist};

/// A frame from the server to the widget. Frames that are part of the conversation carry `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerFrame {
    /// The answer to `hello`: which conversation this connection is in.
    Welcome {
        /// The protocol version the server speaks ([`PROTOCOL_VERSION`]).
        protocol: u32,
        /// The conversation's id.
        conversation_id: String,
        /// Keep this (e.g. in `sessionStorage`) and send it in the next `hello` to resume.
        resume_token: String,
        /// The conversation's latest seq now. Named apart from `seq` on purpose: it is not a
        /// frame the client has received, and replayed frames (seq up to this) follow.
        last_seq: u64,
        /// Whether an existing conversation was resumed (false: a new one was started).
        resumed: bool,
        /// Whether the conversation has a verified customer identity. False after a `hello`
        /// with an identity means it did not verify (wrong secret, expired): the customer is
        /// anonymous.
        #[serde(default)]
        identified: bool,
        /// For a new conversation, the most asked questions (in the widget's language) to offer
        /// before the customer types anything; absent when resuming.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        quick_replies: Vec<Choice>,
    },
    /// The bot answers from an FAQ entry (or small talk).
    Answer {
        /// Place in the conversation.
        seq: u64,
        /// The answer as plain text.
        text: String,
        /// The answer as HTML that is safe to insert into the page.
        html: String,
        /// The FAQ entry answered with; none for small talk.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        faq_id: Option<String>,
        /// The other entries this reply also answers, when the customer asked several things
        /// in one message: their questions and answers follow the first one's in `text` and
        /// `html`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<String>,
        /// Buttons to offer right away (a greeting offers the most asked topics).
        #[serde(default)]
        quick_replies: Vec<Choice>,
        /// Related questions worth offering as follow-ups.
        #[serde(default)]
        related: Vec<Choice>,
        /// Whether to ask "was this helpful?".
        feedback: bool,
    },
    /// The bot is unsure which of a few entries was meant and asks.
    Clarify {
        /// Place in the conversation.
        seq: u64,
        /// The question to the customer.
        text: String,
        /// Two or three candidates.
        choices: Vec<Choice>,
    },
    /// The conversation goes to a person; the bot is silent from here on.
    Handoff {
        /// Place in the conversation.
        seq: u64,
        /// Why.
        reason: HandoffReason,
        /// What to tell the customer.
        text: String,
        /// The queue it waits in.
        queue: String,
        /// Place in that queue (1 = next), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<u32>,
    },
    /// A human agent writes.
    AgentMessage {
        /// Place in the conversation.
        seq: u64,
        /// The agent's display name.
        agent_name: String,
        /// The text as the agent wrote it: Markdown, like FAQ answers.
        text: String,
        /// The text rendered to HTML safe to insert into a page (the same sanitiser as
        /// answers). Absent in messages stored before agents' replies were rendered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        html: Option<String>,
    },
    /// The bot or the agent started or stopped typing (not stored, never replayed).
    Typing {
        /// Who.
        who: Typist,
        /// Whether they are typing now.
        active: bool,
    },
    /// A system message ("an agent joined", "the conversation was closed").
    Notice {
        /// Place in the conversation; absent for notices that are not stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// The text.
        text: String,
        /// Who serves the conversation from this notice on, when it changed (a claim, a
        /// transfer, a resolution, a hand-back): the widget's status line follows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serving: Option<Serving>,
        /// The agent who now serves it, with `serving: "agent"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_name: Option<String>,
    },
    /// A client frame was refused; the connection stays open.
    Error {
        /// What went wrong, for programs.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
    },
    /// A customer message is stored durably under this seq.
    Ack {
        /// The `client_id` the widget gave the message.
        client_id: String,
        /// Its place in the conversation.
        seq: u64,
    },
    /// The customer's `feedback` on the answer `seq` is stored (not stored as a frame itself).
    FeedbackAck {
        /// The answer voted on.
        seq: u64,
        /// The verdict stored.
        helpful: bool,
    },
    /// The customer's `rate` is stored (not stored as a frame itself).
    RateAck {
        /// The score stored.
        score: u8,
    },
    /// The customer's place in the queue changed (not stored, never replayed).
    QueueUpdate {
        /// The queue.
        queue: String,
        /// Place in it (1 = next).
        position: u32,
        /// Estimated seconds until an agent takes the conversation, when there is history to
        /// estimate from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_secs: Option<u64>,
    },
    /// Nobody can take the conversation now: offer the form for a message (`leave_message`).
    Offline {
        /// Place in the conversation.
        seq: u64,
        /// What to tell the customer.
        text: String,
        /// Why: the queue is closed, nobody is online, or the wait ran too long.
        reason: OfflineReason,
        /// When the queue next opens (ms since the epoch), for `closed`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opens_at: Option<i64>,
    },
    /// An agent resolved the conversation: ask the customer for a 1–5 rating (`rate`).
    CsatRequest {
        /// Place in the conversation.
        seq: u64,
        /// The question to show.
        text: String,
    },
    /// The customer's own message, as stored: replays carry it so a reloaded page can show the
    /// whole transcript.
    CustomerMessage {
        /// Place in the conversation.
        seq: u64,
        /// The `client_id` the widget gave it.
        client_id: String,
        /// The text (for a `choose`, its label).
        text: String,
        /// For a `choose`, the id that was chosen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        choice_id: Option<String>,
    },
}

impl ServerFrame {
    /// Every `type` the server may send.
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "answer",
        "clarify",
        "handoff",
        "agent_message",
        "typing",
        "notice",
        "error",
        "ack",
        "feedback_ack",
        "rate_ack",
        "customer_message",
        "queue_update",
        "offline",
        "csat_request",
    ];

    /// The frame's place in the conversation, for frames that have one (`ack` refers to a seq
    /// rather than having one, and `welcome` reports the latest).
    pub fn seq(&self) -> Option<u64> {
        match self {
            ServerFrame::Answer { seq, .. }
            | ServerFrame::Clarify { seq, .. }
            | ServerFrame::Handoff { seq, .. }
            | ServerFrame::AgentMessage { seq, .. }
            | ServerFrame::CustomerMessage { seq, .. }
            | ServerFrame::CsatRequest { seq, .. }
            | ServerFrame::Offline { seq, .. } => Some(*seq),
            ServerFrame::Notice { seq, .. } => *seq,
            ServerFrame::Welcome { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::QueueUpdate { .. }
            | ServerFrame::Ack { .. }
            | ServerFrame::FeedbackAck { .. }
            | ServerFrame::RateAck { .. } => None,
        }
    }

    /// An `error` frame.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerFrame {
        ServerFrame::Error {
            code,
            message: message.into(),
        }
    }
}
