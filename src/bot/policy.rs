//! The decide step: what the bot does with one customer message, given what it understood.
//!
//! [`decide`] is a pure function of a [`Turn`] (a summary of what the bot read in the message and of how the
//! message relates to the conversation), the conversation's [`Memory`] and the
//! [`PolicyConfig`], so every rule is unit-tested here with hand-made turns; the live session
//! (`src/ws/session.rs`) only builds the turn, stores and sends the frame for the [`Decision`],
//! and updates the memory with [`Memory::observe`].
//!
//! Rules, first match wins:
//! 1. the top intent is confident and its action is handoff → [`Decision::Handoff`]
//!    (`human_request` → customer request, any other intent → intent, but only when the
//!    message is in scope);
//! 2. the message reads as a complaint by the tone model ([`super::tone`]), whatever its topic →
//!    handoff (intent) to the complaint intent's queue; the message shows frustration → handoff
//!    (frustration);
//! 3. the top intent is confident and declines (chit-chat, in or out of scope) or is small
//!    talk in scope with a reply (greet, thank, goodbye) →
//!    [`Decision::Reply`];
//! 4. the message repeats the previous one (by embedding similarity) → handoff (repeated
//!    message): the customer is telling us the last reply did not help;
//! 5. out of scope → a miss;
//! 6. a vague message (a topic and nothing more, [`super::vague`]) without a strong match →
//!    [`Decision::Narrow`]: a question back offering the topic's entries;
//! 7. the top two FAQ candidates are both good and too close to call (within
//!    `clarify_margin`, or the wider `unsure_margin` below a strong match) →
//!    [`Decision::Clarify`];
//! 8. intent and retrieval disagree (the best entry belongs to another intent than the
//!    confident top one, and does not match strongly) → clarify between the two readings when
//!    the intent has a good entry too, a miss otherwise;
//! 9. the top candidate is good enough → [`Decision::Answer`], unless it is the answer the bot
//!    just gave → handoff (repeated answer);
//! 10. otherwise a miss.
//!
//! A miss in scope whose topic the intent model reads is [`Decision::Narrow`] when the topic
//! has entries worth offering; otherwise a miss is [`Decision::Fallback`] (ask to rephrase);
//! either is a handoff for low confidence when it
//! is the `max_misses`-th in a row. Feedback is judged by [`on_feedback`]: the `max_unhelpful`-th
//! answer marked not helpful hands off.

use crate::knowledge::{Action, DEFAULT_QUEUE, Priority};

#[path = "decision.rs"]
mod decision;
pub use decision::Decision;
#[path = "policy_config.rs"]
mod policy_config;
pub use policy_config::PolicyConfig;
#[path = "policy_turn.rs"]
mod policy_turn;
pub use policy_turn::{IntentGuess, ScoredEntry, Turn};

use super::HandoffReason;

pub use super::memory::Memory;

/// The intent whose handoff is the customer asking for a person rather than a topic that needs
/// one; named in the knowledge base (`intents.yaml`).
pub const HUMAN_REQUEST_INTENT: &str = "human_request";

/// Decides what to do with a message (see the module documentation for the rules).
pub fn decide(config: &PolicyConfig, turn: &Turn, memory: &Memory) -> Decision {
    let confident = turn
        .intent
        .as_ref()
        .filter(|i| i.probability >= config.min_intent_probability);
    // Out of scope, a hand-off intent is likelier a misreading ("tell me a joke" as a complaint)
    // than anger (which the frustration signals catch): only a request for a person stands.
    let stands = |i: &&IntentGuess| i.name == HUMAN_REQUEST_INTENT || !turn.out_of_scope;
    if let Some(intent) = confident
        .filter(|i| i.action == Action::Handoff)
        .filter(stands)
    {
        let reason = if intent.name == HUMAN_REQUEST_INTENT {
            HandoffReason::CustomerRequest
        } else {
            HandoffReason::Intent
        };
        return handoff(reason, intent.queue.clone(), intent.priority);
    }
    // Chit-chat the intent head is sure of ("tell me a joke") is declined, not taken for a
    // complaint ("this is a joke" is one).
    let chit_chat = confident.is_some_and(|i| i.action == Action::Decline);
    if let Some(complaint) = turn
        .complaint
        .as_ref()
        .filter(|c| c.probability >= config.min_complaint_tone && !chit_chat)
    {
        // A complaint about a topic is still a complaint: the tone model reads it whatever
        // the topic the intent head puts first.
        return handoff(
            HandoffReason::Intent,
            complaint.queue.clone(),
            complaint.priority,
        );
    }
    if turn.frustrated {
        // An upset customer goes ahead of routine questions.
        let queue = confident.map_or_else(|| DEFAULT_QUEUE.to_owned(), |i| i.queue.clone());
        return handoff(HandoffReason::Frustration, queue, Priority::High);
    }
    if let Some(decline) = declined(config, turn, confident) {
        return decline;
    }
    if let Some(intent) = confident.filter(|i| is_small_talk(i.action) && !turn.out_of_scope)
        && let Some(text) = &intent.reply
    {
        return Decision::Reply {
            text: text.clone(),
            closing: intent.action == Action::Goodbye,
        };
    }
    if turn
        .similarity_to_previous
        .is_some_and(|s| s >= config.repeat_similarity)
    {
        return handoff(
            HandoffReason::RepeatedMessage,
            DEFAULT_QUEUE.to_owned(),
            Priority::Normal,
        );
    }
    if turn.out_of_scope {
        return miss(config, memory);
    }
    if turn.vague
        && turn
            .candidates
            .first()
            .is_none_or(|c| c.score < config.strong_answer_score)
    {
        // Whatever ranks first is a guess among the topic's entries.
        return narrow(config, turn, memory);
    }
    let good: Vec<&ScoredEntry> = turn
        .candidates
        .iter()
        .filter(|c| c.score >= config.min_answer_score)
        .collect();
    let Some(best) = good.first() else {
        return narrow(config, turn, memory);
    };
    // Below a strong match the best entry is a reading, not a recognition: a wider margin
    // asks rather than guesses between readings that are nearly as likely.
    let margin = if best.score < config.strong_answer_score {
        config.unsure_margin.max(config.clarify_margin)
    } else {
        config.clarify_margin
    };
    let close: Vec<String> = good
        .iter()
        .take_while(|c| best.score - c.score <= margin)
        .take(config.max_choices.max(2))
        .map(|c| c.faq_id.clone())
        .collect();
    if close.len() >= 2 {
        return Decision::Clarify { choices: close };
    }
    if let Some(intent) = confident.filter(|i| i.action == Action::Answer)
        && best.intent.as_ref().is_some_and(|e| *e != intent.name)
        && best.score < config.strong_answer_score
    {
        // The model reads one topic, retrieval found another: ask rather than guess.
        return match good
            .iter()
            .find(|c| c.intent.as_ref() == Some(&intent.name))
        {
            Some(other) => Decision::Clarify {
                choices: vec![best.faq_id.clone(), other.faq_id.clone()],
            },
            None => narrow(config, turn, memory),
        };
    }
    answer(&best.faq_id, memory)
}

/// Answer with `faq_id`, unless it is the answer the bot just gave: saying it again would loop.
/// Also what a chosen quick reply or clarify choice gets.
pub fn answer(faq_id: &str, memory: &Memory) -> Decision {
    if memory.last_answer.as_deref() == Some(faq_id) {
        return handoff(
            HandoffReason::RepeatedAnswer,
            DEFAULT_QUEUE.to_owned(),
            Priority::Normal,
        );
    }
    Decision::Answer {
        faq_id: faq_id.to_owned(),
        also: Vec::new(),
    }
}

/// Records the customer's verdict on the answer `seq`; returns the handoff when this is the
/// `max_unhelpful`-th answer marked not helpful.
pub fn on_feedback(
    config: &PolicyConfig,
    memory: &mut Memory,
    seq: u64,
    helpful: bool,
) -> Option<Decision> {
    if helpful {
        // A changed mind: the answer helped after all.
        memory.unhelpful.retain(|&s| s != seq);
        return None;
    }
    if memory.unhelpful.contains(&seq) {
        return None;
    }
    memory.unhelpful.push(seq);
    let count = u32::try_from(memory.unhelpful.len()).unwrap_or(u32::MAX);
    (count >= config.max_unhelpful).then(|| {
        handoff(
            HandoffReason::Unhelpful,
            DEFAULT_QUEUE.to_owned(),
            Priority::Normal,
        )
    })
}

fn is_small_talk(action: Action) -> bool {
    matches!(action, Action::Greet | Action::Thank | Action::Goodbye)
}

/// The reply of a confident decline intent: chit-chat is out of scope by nature, so the
/// out-of-scope flag does not stop it (it is what the intent recognises). Never when an FAQ
/// entry answers the message well: a real question that looks like chit-chat ("will it rain
/// on my delivery day?") is better answered than declined.
fn declined(
    config: &PolicyConfig,
    turn: &Turn,
    confident: Option<&IntentGuess>,
) -> Option<Decision> {
    let intent = confident.filter(|i| i.action == Action::Decline)?;
    let answerable = turn
        .candidates
        .first()
        .is_some_and(|c| c.score >= config.min_answer_score);
    if answerable {
        return None;
    }
    Some(Decision::Reply {
        text: intent.reply.clone()?,
        closing: false,
    })
}

fn handoff(reason: HandoffReason, queue: String, priority: Priority) -> Decision {
    Decision::Handoff {
        reason,
        queue,
        priority,
    }
}

/// A miss for a message in scope whose topic the model reads but no entry of which matches
/// well enough: the topic's likeliest entries offered ([`Decision::Narrow`]) when there are
/// some, a plain miss otherwise; either way the `max_misses`-th in a row hands off.
fn narrow(config: &PolicyConfig, turn: &Turn, memory: &Memory) -> Decision {
    let topic = turn
        .intent
        .as_ref()
        .filter(|i| i.action == Action::Answer && i.probability >= config.min_topic_probability);
    let offered = |of_topic: bool| -> Vec<String> {
        turn.candidates
            .iter()
            .filter(|c| c.score >= config.min_offer_score)
            .filter(|c| !of_topic || topic.is_some_and(|t| c.intent.as_deref() == Some(&t.name)))
            .take(config.max_choices)
            .map(|c| c.faq_id.clone())
            .collect()
    };
    let mut choices = offered(true);
    if choices.is_empty() && turn.vague {
        // A vague message whose entries the intent model does not place: the likeliest ones.
        choices = offered(false);
    }
    match miss(config, memory) {
        Decision::Fallback if !turn.out_of_scope && !choices.is_empty() => {
            Decision::Narrow { choices }
        }
        other => other,
    }
}

/// Fallback, or a handoff when this miss is the `max_misses`-th in a row.
fn miss(config: &PolicyConfig, memory: &Memory) -> Decision {
    if memory.misses.saturating_add(1) >= config.max_misses {
        handoff(
            HandoffReason::LowConfidence,
            DEFAULT_QUEUE.to_owned(),
            Priority::Normal,
        )
    } else {
        Decision::Fallback
    }
}

#[cfg(test)]
#[path = "policy_narrow_tests.rs"]
mod narrow_tests;
#[cfg(test)]
#[path = "policy_scope_tests.rs"]
mod scope_tests;
#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
