//! What the policy knows about one message: [`Turn`], built from what the bot read in it.

use super::super::{Candidate, Understanding};
use crate::knowledge::{Action, DEFAULT_QUEUE, Intent, Knowledge, Priority};

/// The top intent of a message with what the knowledge base says to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentGuess {
    /// Intent name.
    pub name: String,
    /// The model's probability for it.
    pub probability: f32,
    /// The intent's action.
    pub action: Action,
    /// The intent's reply, for small talk.
    pub reply: Option<String>,
    /// The queue a handoff goes to ([`DEFAULT_QUEUE`] when the intent names none).
    pub queue: String,
    /// How urgent a handoff is.
    pub priority: Priority,
}

/// One FAQ candidate, reduced to what the policy needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredEntry {
    /// FAQ entry id.
    pub faq_id: String,
    /// Fused score, higher is better.
    pub score: f32,
    /// The intent the entry belongs to, if the knowledge base says.
    pub intent: Option<String>,
}

/// What the policy knows about one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Turn {
    /// The most probable intent, if the knowledge base knows it.
    pub intent: Option<IntentGuess>,
    /// Whether the out-of-scope score reached its threshold.
    pub out_of_scope: bool,
    /// The out-of-scope score (for the record).
    pub oos_score: f32,
    /// FAQ candidates, best first.
    pub candidates: Vec<ScoredEntry>,
    /// Cosine similarity of this message's embedding to the customer's previous message, if
    /// there was one.
    pub similarity_to_previous: Option<f32>,
    /// Whether the message shows frustration ([`crate::bot::frustration`]).
    pub frustrated: bool,
    /// Whether the message names a topic and nothing more ([`crate::bot::vague`]).
    pub vague: bool,
    /// The complaint intent, with how much the message reads as a complaint whatever its
    /// topic as its probability ([`crate::bot::tone`]); `None` without one.
    pub complaint: Option<IntentGuess>,
}

impl Turn {
    /// The summary of what the bot read in the message `text`, with the top intent's action looked up
    /// in `knowledge` (its reply in `lang`, the customer's language). The similarity to the
    /// previous message is the caller's to fill in: only the conversation knows it.
    pub fn from_reading(
        text: &str,
        understanding: &Understanding,
        candidates: &[Candidate<'_>],
        knowledge: &Knowledge,
        lang: &str,
    ) -> Turn {
        let guess = |name: &str, probability: f32| {
            let intent: &Intent = knowledge.intent(name)?;
            Some(IntentGuess {
                name: intent.name.clone(),
                probability,
                action: intent.action,
                reply: intent.reply_in(lang).map(str::to_owned),
                queue: intent
                    .queue
                    .clone()
                    .unwrap_or_else(|| DEFAULT_QUEUE.to_owned()),
                priority: intent.priority,
            })
        };
        let intent = understanding
            .intents
            .first()
            .and_then(|top| guess(&top.name, top.probability));
        let complaint = (understanding.complaint > 0.0)
            .then(|| guess(crate::bot::tone::COMPLAINT_INTENT, understanding.complaint))
            .flatten();
        Turn {
            intent,
            out_of_scope: understanding.out_of_scope,
            oos_score: understanding.oos_score,
            candidates: candidates
                .iter()
                .map(|c| ScoredEntry {
                    faq_id: c.entry.id.clone(),
                    score: c.score,
                    intent: c.entry.intent.clone(),
                })
                .collect(),
            similarity_to_previous: None,
            frustrated: crate::bot::frustration::is_frustrated(text),
            vague: crate::bot::vague::is_vague(text),
            complaint,
        }
    }
}
