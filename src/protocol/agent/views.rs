//! The records inside agent frames: a queue snapshot's entries, a conversation's transcript,
//! notes and suggestions.

use serde::{Deserialize, Serialize};

/// The signed-in agent, as the console shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentProfile {
    /// The agent's id.
    pub id: String,
    /// Their email.
    pub email: String,
    /// Their name, shown to customers.
    pub name: String,
    /// `agent` or `admin`.
    pub role: String,
    /// The queues they take.
    pub skills: Vec<String>,
    /// Most conversations they hold at once.
    pub max_chats: u32,
}

/// One queue's state in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueState {
    /// The queue.
    pub name: String,
    /// Within business hours now.
    pub open: bool,
    /// When it next opens (unix ms), if closed and known.
    pub opens_at: Option<i64>,
    /// When it next closes (unix ms), if open and known.
    pub closes_at: Option<i64>,
    /// Agents online for it.
    pub online: usize,
    /// Whether new chats are assigned automatically.
    pub auto_assign: bool,
}

/// A waiting conversation in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitingView {
    /// The conversation.
    pub conversation_id: String,
    /// Its queue.
    pub queue: String,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// Why it left the bot.
    pub reason: Option<String>,
    /// Place in its queue, 1 = next.
    pub position: u32,
    /// Seconds waited so far.
    pub waiting_secs: i64,
    /// The customer's latest message.
    pub preview: Option<String>,
    /// The widget's language.
    pub locale: Option<String>,
    /// The signed identity's name, if any.
    pub customer_name: Option<serde_json::Value>,
    /// Due times.
    pub sla: Option<Sla>,
}

/// One of the agent's own conversations in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MineView {
    /// The conversation.
    pub conversation_id: String,
    /// Its queue.
    pub queue: Option<String>,
    /// The customer's latest message.
    pub preview: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// Due times.
    pub sla: Option<Sla>,
}

/// SLA due times (unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// The first agent response's; `null` once an agent replied.
    pub first_response_due: Option<i64>,
    /// The resolution's.
    pub resolution_due: i64,
}

/// An open offline ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketView {
    /// The ticket.
    pub id: String,
    /// The conversation it came from.
    pub conversation_id: String,
    /// Its queue.
    pub queue: String,
    /// The customer's email; `null` when it cannot be read.
    pub email: Option<String>,
    /// What the customer left.
    pub text: String,
    /// Unix ms.
    pub created_at: i64,
}

/// Who the customer is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerView {
    /// The signed identity's id.
    pub id: Option<String>,
    /// The signed identity's other fields.
    pub attributes: Option<serde_json::Value>,
    /// The widget's language.
    pub locale: Option<String>,
    /// The page the widget was on.
    pub page_url: Option<String>,
}

/// A stored event as agents see it: the text and what the bot made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranscriptEntry {
    /// Its seq.
    pub seq: u64,
    /// `customer`, `bot`, `agent` or `system`.
    pub sender: String,
    /// The frame's type.
    pub kind: String,
    /// Its text, if any.
    pub text: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    /// The intent the bot read (customer messages the bot answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The intent's probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The FAQ entry answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faq_id: Option<String>,
    /// The bot's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Why it handed off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The customer's vote on an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helpful: Option<bool>,
    /// Who wrote an agent message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
}

/// An internal note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteView {
    /// Who wrote it.
    pub agent_name: String,
    /// The note.
    pub text: String,
    /// Unix ms.
    pub created_at: i64,
}

/// An FAQ answer suggested to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suggestion {
    /// The entry.
    pub faq_id: String,
    /// Its question.
    pub question: String,
    /// Its answer, as Markdown.
    pub answer: String,
    /// The fused score.
    #[serde(default)]
    pub score: f32,
}

/// One of the customer's earlier conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// The conversation.
    pub conversation_id: String,
    /// Unix ms.
    pub created_at: i64,
    /// Its state.
    pub state: String,
}
