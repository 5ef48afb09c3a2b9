//! Why the bot hands a conversation to a person: decided by the [`policy`](super::policy),
//! stored with the handoff, and carried by the chat protocol's `handoff` frame.

use serde::{Deserialize, Serialize};

/// Why the bot handed a conversation to a person. Stored with the conversation and the handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked for a person: the button, or a message whose intent is "talk to a
    /// human", in any language the intents cover.
    CustomerRequest,
    /// The message's intent is one whose action is handoff (complaint, account security...).
    Intent,
    /// Out of scope or low confidence several turns in a row (2 by default).
    LowConfidence,
    /// The customer marked answers not helpful (twice by default).
    Unhelpful,
    /// The customer sent the same or nearly the same message again (by embedding similarity).
    RepeatedMessage,
    /// The bot was about to give the same answer twice in a row.
    RepeatedAnswer,
    /// The customer shows frustration (insults, "this is useless", all caps...).
    Frustration,
}

impl HandoffReason {
    /// Every reason, in declaration order.
    pub const ALL: [HandoffReason; 7] = [
        HandoffReason::CustomerRequest,
        HandoffReason::Intent,
        HandoffReason::LowConfidence,
        HandoffReason::Unhelpful,
        HandoffReason::RepeatedMessage,
        HandoffReason::RepeatedAnswer,
        HandoffReason::Frustration,
    ];

    /// The name on the wire and in the database, e.g. `low_confidence`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::CustomerRequest => "customer_request",
            HandoffReason::Intent => "intent",
            HandoffReason::LowConfidence => "low_confidence",
            HandoffReason::Unhelpful => "unhelpful",
            HandoffReason::RepeatedMessage => "repeated_message",
            HandoffReason::RepeatedAnswer => "repeated_answer",
            HandoffReason::Frustration => "frustration",
        }
    }
}
