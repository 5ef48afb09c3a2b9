//! What the bot does with a message: the outcome of [`decide`](super::decide).

use super::{HandoffReason, Priority};

/// What the bot does with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer with this FAQ entry.
    Answer {
        /// The entry.
        faq_id: String,
        /// Entries that answer the message's other questions, in the same reply
        /// ([`super::compound`]).
        also: Vec<String>,
    },
    /// Small talk: say this.
    Reply {
        /// The intent's reply.
        text: String,
        /// The customer is saying goodbye: offering topics to ask about would contradict it.
        closing: bool,
    },
    /// Ask which of these entries was meant.
    Clarify {
        /// Two or three FAQ entry ids, best first.
        choices: Vec<String>,
    },
    /// A question back for a message whose topic is known but not what about it ("my order",
    /// "a problem with a payment"): these entries of the topic, likeliest first. Counts as a
    /// miss, so a customer who keeps being vague reaches a person as one who is not understood.
    Narrow {
        /// One to three FAQ entry ids, best first.
        choices: Vec<String>,
    },
    /// Hand the conversation to a person.
    Handoff {
        /// Why.
        reason: HandoffReason,
        /// The queue it goes to.
        queue: String,
        /// How urgently.
        priority: Priority,
    },
    /// Not understood: ask the customer to rephrase.
    Fallback,
}

impl Decision {
    /// The decision's name as stored with the bot's event.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Answer { .. } => "answer",
            Decision::Reply { .. } => "reply",
            Decision::Clarify { .. } => "clarify",
            Decision::Narrow { .. } => "narrow",
            Decision::Handoff { .. } => "handoff",
            Decision::Fallback => "fallback",
        }
    }
}
