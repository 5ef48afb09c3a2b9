//! The agent console's frames on `/ws/agent`, specified in `docs/agent-protocol.md`; a test
//! parses every example there with these types, so the two cannot drift apart.
//!
//! Like the customer protocol, console frames are checked strictly (a typo is reported, not
//! ignored). Server frames are only serialised by the server; their `deny_unknown_fields` is for
//! the documentation test, which then catches a documented field the server does not send.

use serde::{Deserialize, Serialize};

mod views;

pub use views::{
    AgentProfile, CustomerView, HistoryEntry, MineView, NoteView, QueueState, Sla, Suggestion,
    TicketView, TranscriptEntry, WaitingView,
};

/// A frame from the console to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConsoleFrame {
    /// Online (counts for wait estimates, gets auto-assigned chats) or away.
    Presence {
        /// The new status.
        status: Presence,
    },
    /// Read a conversation (answered with `conversation`).
    Open {
        /// The conversation.
        conversation_id: String,
    },
    /// Take a waiting conversation; exactly one agent wins a race.
    Claim {
        /// The conversation.
        conversation_id: String,
    },
    /// Write to the customer.
    Reply {
        /// The conversation.
        conversation_id: String,
        /// The console's id for this reply, echoed in the `ack`.
        client_id: String,
        /// The text.
        text: String,
    },
    /// The agent started or stopped typing.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// Typing or not.
        active: bool,
    },
    /// An internal note, for agents only.
    Note {
        /// The conversation.
        conversation_id: String,
        /// The note.
        text: String,
    },
    /// To another queue (back to waiting) or straight to another agent: exactly one of the two.
    Transfer {
        /// The conversation.
        conversation_id: String,
        /// The queue to put it in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<String>,
        /// The agent to give it to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<String>,
    },
    /// Close it; the customer is asked for a rating.
    Resolve {
        /// The conversation.
        conversation_id: String,
    },
    /// The bot answers again.
    HandBack {
        /// The conversation.
        conversation_id: String,
    },
    /// An offline ticket was dealt with.
    TicketDone {
        /// The ticket.
        ticket_id: String,
    },
}

impl ConsoleFrame {
    /// Every `type` a console may send.
    pub const TYPES: &'static [&'static str] = &[
        "presence",
        "open",
        "claim",
        "reply",
        "typing",
        "note",
        "transfer",
        "resolve",
        "hand_back",
        "ticket_done",
    ];

    /// Parses one websocket text message, telling an unknown `type` (`unknown_type`) from a
    /// malformed frame (`bad_frame`).
    pub fn parse(text: &str) -> Result<ConsoleFrame, Refused> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Refused::new("bad_frame", format!("not valid JSON: {e}")))?;
        let kind = value
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !ConsoleFrame::TYPES.contains(&kind.as_str()) {
            let message = format!(
                "unknown frame type {kind:?}; expected one of: {}",
                ConsoleFrame::TYPES.join(", ")
            );
            return Err(Refused::new("unknown_type", message));
        }
        let frame: ConsoleFrame = serde_json::from_value(value)
            .map_err(|e| Refused::new("bad_frame", format!("{kind}: {e}")))?;
        frame.check_ids()?;
        Ok(frame)
    }

    /// Refuses an id longer than [`MAX_ID_CHARS`] (the texts of replies and notes are limited
    /// by `max_message_chars` where they are handled).
    fn check_ids(&self) -> Result<(), Refused> {
        let ids: Vec<(&str, &str)> = match self {
            ConsoleFrame::Presence { .. } => Vec::new(),
            ConsoleFrame::Open { conversation_id }
            | ConsoleFrame::Claim { conversation_id }
            | ConsoleFrame::Typing {
                conversation_id, ..
            }
            | ConsoleFrame::Note {
                conversation_id, ..
            }
            | ConsoleFrame::Resolve { conversation_id }
            | ConsoleFrame::HandBack { conversation_id } => {
                vec![("conversation_id", conversation_id)]
            }
            ConsoleFrame::Reply {
                conversation_id,
                client_id,
                ..
            } => vec![
                ("conversation_id", conversation_id),
                ("client_id", client_id),
            ],
            ConsoleFrame::Transfer {
                conversation_id,
                queue,
                agent_id,
            } => {
                let mut ids = vec![("conversation_id", conversation_id.as_str())];
                ids.extend(queue.as_deref().map(|q| ("queue", q)));
                ids.extend(agent_id.as_deref().map(|a| ("agent_id", a)));
                ids
            }
            ConsoleFrame::TicketDone { ticket_id } => vec![("ticket_id", ticket_id)],
        };
        match ids
            .into_iter()
            .find(|(_, id)| id.chars().count() > MAX_ID_CHARS)
        {
            Some((field, _)) => Err(Refused::new(
                "bad_frame",
                format!("{field} may have at most {MAX_ID_CHARS} characters"),
            )),
            None => Ok(()),
        }
    }
}

/// Longest id (conversation, reply `client_id`, queue, agent, ticket) a console may send:
/// the server's ids are UUIDs (36 characters), queue names are short.
pub const MAX_ID_CHARS: usize = 128;

/// Why a console frame was refused: the `error` frame's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `bad_frame` or `unknown_type`.
    pub code: &'static str,
    /// What to fix.
    pub message: String,
}

impl Refused {
    fn new(code: &'static str, message: String) -> Refused {
        Refused { code, message }
    }

    /// The `error` frame to answer with.
    pub fn to_frame(&self) -> AgentFrame {
        AgentFrame::error(self.code, self.message.clone())
    }
}

/// An agent's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Taking chats.
    Online,
    /// Connected but not taking chats.
    Away,
}

/// A frame from the server to a console.
// The `conversation` frame is larger than the others; frames are built and serialised one at
// a time, never kept in bulk, so boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentFrame {
    /// First on every connection: who is signed in, and the queue names.
    Welcome {
        /// The signed-in agent.
        agent: AgentProfile,
        /// Every queue's name.
        queues: Vec<String>,
    },
    /// What this agent may take and what they hold; sent again whenever either changes.
    Queue {
        /// The server's clock (unix ms), for SLA countdowns.
        now: i64,
        /// The queues this agent may see.
        queues: Vec<QueueState>,
        /// Conversations waiting in them, in order.
        waiting: Vec<WaitingView>,
        /// The agent's own open conversations.
        mine: Vec<MineView>,
        /// Open offline tickets of those queues.
        tickets: Vec<TicketView>,
    },
    /// A won claim, or (`auto`) a conversation given to this agent: assigned automatically, or
    /// transferred by a colleague (`transferred_by`).
    Claimed {
        /// The conversation.
        conversation_id: String,
        /// Given by the server or a colleague rather than claimed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        auto: bool,
        /// The name of the agent who transferred it to this one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transferred_by: Option<String>,
    },
    /// Everything about one conversation: the answer to `open` and to a won `claim`.
    Conversation {
        /// The conversation.
        conversation_id: String,
        /// `bot`, `queued`, `agent` or `closed`.
        state: String,
        /// The queue it was last handed off to.
        queue: Option<String>,
        /// Why it left the bot.
        reason: Option<String>,
        /// `low`, `normal`, `high` or `urgent`.
        priority: String,
        /// Due times while it is in human hands.
        sla: Option<Sla>,
        /// The agent holding it.
        assigned_to: Option<String>,
        /// Who the customer is.
        customer: CustomerView,
        /// Every stored event.
        transcript: Vec<TranscriptEntry>,
        /// Internal notes.
        notes: Vec<NoteView>,
        /// FAQ answers for the customer's latest message.
        suggestions: Vec<Suggestion>,
        /// The customer's earlier conversations.
        history: Vec<HistoryEntry>,
    },
    /// A new transcript entry in a conversation this console has open.
    Event {
        /// The conversation.
        conversation_id: String,
        /// The entry.
        event: TranscriptEntry,
    },
    /// A new internal note on an open conversation.
    Note {
        /// The conversation.
        conversation_id: String,
        /// The note.
        note: NoteView,
    },
    /// The customer is typing in an open conversation.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// Typing or not.
        active: bool,
    },
    /// The reply with this `client_id` is stored under `seq`.
    Ack {
        /// The console's id for the reply.
        client_id: String,
        /// Its seq in the conversation.
        seq: u64,
    },
    /// A frame was refused; the socket stays open.
    Error {
        /// `bad_frame`, `unknown_type`, `not_found`, `already_claimed`, `no_skill`,
        /// `at_capacity`, `not_yours`, `bad_state` or `internal`.
        code: String,
        /// What went wrong, for the agent.
        message: String,
    },
}

impl AgentFrame {
    /// An `error` frame.
    pub fn error(code: &str, message: impl Into<String>) -> AgentFrame {
        AgentFrame::Error {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_past_the_limit_is_refused_with_bad_frame() {
        let long = "c".repeat(MAX_ID_CHARS + 1);
        let frame = serde_json::json!({"type": "claim", "conversation_id": long}).to_string();
        let refused = ConsoleFrame::parse(&frame).expect_err("too long");
        assert_eq!(refused.code, "bad_frame");
        assert!(
            refused.message.contains("conversation_id"),
            "{}",
            refused.message
        );
        let frame =
            serde_json::json!({"type": "transfer", "conversation_id": "c1", "agent_id": long});
        let refused = ConsoleFrame::parse(&frame.to_string()).expect_err("too long");
        assert!(refused.message.contains("agent_id"), "{}", refused.message);
        let fits =
            serde_json::json!({"type": "claim", "conversation_id": "c".repeat(MAX_ID_CHARS)});
        assert!(ConsoleFrame::parse(&fits.to_string()).is_ok());
    }
}
