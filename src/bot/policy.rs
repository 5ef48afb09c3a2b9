//! The decide step: what the bot does with one customer message, given what it understood.
//!
//! [`decide`] is a pure function of a [`Turn`] (a summary of the [`Analysis`]), the
//! conversation's [`Memory`] and the [`PolicyConfig`], so every rule is unit-tested here with
//! hand-made turns; the live session (`src/ws/session.rs`) only builds the turn, stores and sends
//! the frame for the [`Decision`], and updates the memory with [`Memory::observe`].
//!
//! Rules, first match wins:
//! 1. the top intent is confident and its action is handoff → [`Decision::Handoff`]
//!    (`human_request` → customer request, any other intent → intent);
//! 2. the top intent is confident and is small talk with a reply (greet, thank, goodbye) →
//!    [`Decision::Reply`];
//! 3. out of scope → a miss;
//! 4. the top two FAQ candidates are both good and too close to call → [`Decision::Clarify`];
//! 5. the top candidate is good enough → [`Decision::Answer`];
//! 6. otherwise a miss.
//!
//! A miss is [`Decision::Fallback`] (ask to rephrase), or a handoff for low confidence when it
//! is the `max_misses`-th in a row.

use crate::knowledge::{Action, DEFAULT_QUEUE, Intent, Knowledge, Priority};
use crate::ws::HandoffReason;

use super::Analysis;

/// The intent whose handoff is the customer asking for a person rather than a topic that needs
/// one; named in the knowledge base (`intents.yaml`).
pub const HUMAN_REQUEST_INTENT: &str = "human_request";

/// The policy's thresholds. Defaults suit the fused scores of [`super::Bot::retrieve`].
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Lowest fused candidate score worth answering with. An exact or close phrasing of an FAQ
    /// question scores 0.7–0.95 (the phrasing embedding carries 60% of the fusion); unrelated
    /// messages score around 0.1–0.35, so 0.5 sits in the gap between the two.
    pub min_answer_score: f32,
    /// Two candidates whose fused scores are closer than this are a coin toss: asking which was
    /// meant costs the customer one click, a wrong answer costs a lost customer.
    pub clarify_margin: f32,
    /// Lowest probability of the top intent for its action (handoff, small talk) to be taken:
    /// below it the intent model is guessing and the FAQ decides.
    pub min_intent_probability: f32,
    /// Misses (out of scope or no good candidate) in a row after which a person takes over: the
    /// issue's default of 2, since a customer asked to rephrase twice is a customer lost.
    pub max_misses: u32,
    /// Most choices in a clarification: more than three buttons read as a menu, not a question.
    pub max_choices: usize,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            min_answer_score: 0.5,
            clarify_margin: 0.03,
            min_intent_probability: 0.5,
            max_misses: 2,
            max_choices: 3,
        }
    }
}

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
}

impl Turn {
    /// The summary of `analysis`, with the top intent's action looked up in `knowledge`.
    pub fn from_analysis(analysis: &Analysis<'_>, knowledge: &Knowledge) -> Turn {
        let understanding = &analysis.understanding;
        let intent = understanding.intents.first().and_then(|top| {
            let intent: &Intent = knowledge.intent(&top.name)?;
            Some(IntentGuess {
                name: intent.name.clone(),
                probability: top.probability,
                action: intent.action,
                reply: intent.reply.clone(),
                queue: intent
                    .queue
                    .clone()
                    .unwrap_or_else(|| DEFAULT_QUEUE.to_owned()),
                priority: intent.priority,
            })
        });
        Turn {
            intent,
            out_of_scope: understanding.out_of_scope,
            oos_score: understanding.oos_score,
            candidates: analysis
                .candidates
                .iter()
                .map(|c| ScoredEntry {
                    faq_id: c.entry.id.clone(),
                    score: c.score,
                })
                .collect(),
        }
    }
}

/// What the policy remembers of a conversation between messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Misses in a row: fallbacks since the last message the bot understood.
    pub misses: u32,
}

impl Memory {
    /// Updates the memory with the decision just taken.
    pub fn observe(&mut self, decision: &Decision) {
        self.misses = match decision {
            Decision::Fallback => self.misses.saturating_add(1),
            _ => 0,
        };
    }
}

/// What the bot does with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer with this FAQ entry.
    Answer {
        /// The entry.
        faq_id: String,
    },
    /// Small talk: say this.
    Reply {
        /// The intent's reply.
        text: String,
    },
    /// Ask which of these entries was meant.
    Clarify {
        /// Two or three FAQ entry ids, best first.
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
            Decision::Handoff { .. } => "handoff",
            Decision::Fallback => "fallback",
        }
    }
}

/// Decides what to do with a message (see the module documentation for the rules).
pub fn decide(config: &PolicyConfig, turn: &Turn, memory: &Memory) -> Decision {
    if let Some(intent) = turn
        .intent
        .as_ref()
        .filter(|i| i.probability >= config.min_intent_probability)
    {
        match intent.action {
            Action::Handoff => {
                let reason = if intent.name == HUMAN_REQUEST_INTENT {
                    HandoffReason::CustomerRequest
                } else {
                    HandoffReason::Intent
                };
                return Decision::Handoff {
                    reason,
                    queue: intent.queue.clone(),
                    priority: intent.priority,
                };
            }
            Action::Greet | Action::Thank | Action::Goodbye if !turn.out_of_scope => {
                if let Some(text) = &intent.reply {
                    return Decision::Reply { text: text.clone() };
                }
            }
            _ => {}
        }
    }
    if turn.out_of_scope {
        return miss(config, memory);
    }
    let good: Vec<&ScoredEntry> = turn
        .candidates
        .iter()
        .filter(|c| c.score >= config.min_answer_score)
        .collect();
    let Some(best) = good.first() else {
        return miss(config, memory);
    };
    let close: Vec<String> = good
        .iter()
        .take_while(|c| best.score - c.score <= config.clarify_margin)
        .take(config.max_choices.max(2))
        .map(|c| c.faq_id.clone())
        .collect();
    if close.len() >= 2 {
        return Decision::Clarify { choices: close };
    }
    Decision::Answer {
        faq_id: best.faq_id.clone(),
    }
}

/// Fallback, or a handoff when this miss is the `max_misses`-th in a row.
fn miss(config: &PolicyConfig, memory: &Memory) -> Decision {
    if memory.misses.saturating_add(1) >= config.max_misses {
        Decision::Handoff {
            reason: HandoffReason::LowConfidence,
            queue: DEFAULT_QUEUE.to_owned(),
            priority: Priority::Normal,
        }
    } else {
        Decision::Fallback
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
