//! Runs a knowledge base's `tests.yaml` against the real model: editors' CI for content.
//!
//! Each test reports what the model read (intent, first entry) and what the bot would do with
//! it as the first message of a fresh conversation ([`Handled`]): the measure a customer sees.

use std::fmt;

use super::policy::{Decision, PolicyConfig, Turn, decide};
use super::{Bot, BotError};
use crate::knowledge::{Action, OOS_INTENT, UtteranceTest};
use crate::model::Embeds;

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The test.
    pub test: UtteranceTest,
    /// The intent the bot chose (`oos` when out of scope).
    pub intent: String,
    /// Its probability.
    pub probability: f32,
    /// The out-of-scope score.
    pub oos_score: f32,
    /// How much it reads as a complaint ([`super::tone`]).
    pub complaint: f32,
    /// The first FAQ entry retrieved.
    pub faq: Option<String>,
    /// Its fused retrieval score.
    pub score: Option<f32>,
    /// What the bot does with the message as a conversation's first.
    pub decision: Decision,
    /// The expected intent's action in the knowledge base (`None` for `oos`).
    pub expected_action: Option<Action>,
    /// Whether the decision is a question back offering an entry of the expected intent.
    pub offers_intent: bool,
    /// Whether the top intent is a decline intent (chit-chat the bot recognises as out of
    /// scope); `intent` then says `oos`.
    pub declined: bool,
}

/// How the bot's decision served a test's customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The right answer, a question back that offers the right entry, the expected hand-off,
    /// small talk for small talk, or no answer for what the bot does not know.
    Right,
    /// An answer from the wrong entry, or an answer to what the bot does not know.
    WrongAnswer,
    /// Anything else: a miss (asked to rephrase, handed off or a wrong choice offered when an
    /// answer existed, small talk taken for a question).
    Missed,
}

impl Outcome {
    /// Whether the intent is the expected one.
    pub fn intent_ok(&self) -> bool {
        self.intent == self.test.intent
    }

    /// Whether the first entry is the expected one (true when none is expected; either of the
    /// two for a message with two questions).
    pub fn faq_ok(&self) -> bool {
        self.test.faq.is_none() || self.test.faq == self.faq || self.test.also == self.faq
    }

    /// Whether the test passes.
    pub fn passed(&self) -> bool {
        self.intent_ok() && self.faq_ok()
    }

    /// How the decision served the customer (see [`Handled`]).
    pub fn handled(&self) -> Handled {
        let action = self.expected_action;
        let expected_faq = self.test.faq.as_deref();
        if self.test.vague {
            // Any answer is a guess; asking back within the topic is what serves.
            return match &self.decision {
                Decision::Clarify { .. } | Decision::Narrow { .. } if self.offers_intent => {
                    Handled::Right
                }
                _ => Handled::Missed,
            };
        }
        if let (Some(first), Some(second)) = (expected_faq, self.test.also.as_deref()) {
            return self.handled_two(first, second);
        }
        match (&self.decision, expected_faq) {
            (Decision::Answer { faq_id, also }, Some(want))
                if faq_id == want || also.iter().any(|a| a == want) =>
            {
                Handled::Right
            }
            (Decision::Answer { .. }, _) => Handled::WrongAnswer,
            (Decision::Clarify { choices } | Decision::Narrow { choices }, Some(want))
                if choices.iter().any(|c| c == want) =>
            {
                Handled::Right
            }
            (Decision::Handoff { .. }, None) if action == Some(Action::Handoff) => Handled::Right,
            (Decision::Reply { .. }, None)
                if matches!(
                    action,
                    Some(Action::Greet | Action::Thank | Action::Goodbye)
                ) =>
            {
                Handled::Right
            }
            // What the bot does not know: asking to rephrase (which offers a person) is right,
            // and so is declining politely what it is not for (a decline intent's reply).
            (Decision::Fallback, None) if self.test.intent == OOS_INTENT => Handled::Right,
            (Decision::Reply { .. }, None) if self.declined && self.test.intent == OOS_INTENT => {
                Handled::Right
            }
            _ => Handled::Missed,
        }
    }
}

impl Outcome {
    /// A message with two questions: both answered, or both offered, is right; one of them
    /// answered is half the message missed; neither answered, a wrong answer.
    fn handled_two(&self, first: &str, second: &str) -> Handled {
        let (given, asked_back) = match &self.decision {
            Decision::Answer { faq_id, also } => {
                (std::iter::once(faq_id).chain(also).collect(), false)
            }
            Decision::Clarify { choices } | Decision::Narrow { choices } => {
                (choices.iter().collect::<Vec<_>>(), true)
            }
            _ => return Handled::Missed,
        };
        let has = |id: &str| given.iter().any(|g| *g == id);
        match (has(first), has(second)) {
            (true, true) => Handled::Right,
            (false, false) if !asked_back => Handled::WrongAnswer,
            _ => Handled::Missed,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {:?}: expected {}{}, got {} ({:.2}, oos score {:.2}, complaint {:.2}){}{}, bot: {}",
            self.test.line,
            self.test.text,
            self.test.intent,
            self.test
                .faq
                .as_deref()
                .map(|f| format!(" / {f}"))
                .unwrap_or_default(),
            self.intent,
            self.probability,
            self.oos_score,
            self.complaint,
            self.faq
                .as_deref()
                .map(|f| format!(" / {f}"))
                .unwrap_or_default(),
            self.score.map(|s| format!(" ({s:.2})")).unwrap_or_default(),
            describe(&self.decision),
        )
    }
}

/// A decision in a few words.
fn describe(decision: &Decision) -> String {
    match decision {
        Decision::Answer { faq_id, also } if also.is_empty() => format!("answer {faq_id}"),
        Decision::Answer { faq_id, also } => format!("answer {faq_id} + {}", also.join(" + ")),
        Decision::Clarify { choices } => format!("clarify [{}]", choices.join(", ")),
        Decision::Narrow { choices } => format!("narrow [{}]", choices.join(", ")),
        Decision::Handoff { reason, queue, .. } => format!("handoff ({reason:?}) to {queue}"),
        other => other.name().to_owned(),
    }
}

/// Runs every test through classify, retrieve and the decision `policy`.
pub fn run(
    bot: &Bot,
    encoder: &impl Embeds,
    policy: &PolicyConfig,
    tests: &[UtteranceTest],
) -> Result<Vec<Outcome>, BotError> {
    let texts: Vec<String> = tests.iter().map(|t| t.text.clone()).collect();
    let embeddings = encoder.embed_texts(&texts)?;
    let no_model = || BotError::Model(crate::model::ModelError::Training("no intent model".into()));
    tests
        .iter()
        .zip(&embeddings)
        .map(|(test, embedding)| {
            let lang = crate::knowledge::language_of(&test.text);
            // What the bot reads in a text and decides for it as a first message, with as many
            // candidates as a served turn reads, so that a question back can offer them.
            let first_message = |text: &str, embedding: &[f32]| {
                let analysis = bot
                    .analyse(text, embedding, super::CANDIDATES)?
                    .ok_or_else(no_model)?;
                let turn = Turn::from_reading(
                    text,
                    &analysis.understanding,
                    &analysis.candidates,
                    bot.knowledge(),
                    lang,
                );
                let decision = decide(policy, &turn, &Default::default());
                Ok::<_, BotError>((analysis, decision))
            };
            let (analysis, mut decision) = first_message(&test.text, embedding)?;
            if let Some(questions) = super::compound::to_read(&test.text, &decision) {
                // As a served turn does: each question read and decided on its own.
                let mut parts = Vec::with_capacity(questions.len());
                for (question, embedding) in questions.iter().zip(encoder.embed_texts(&questions)?)
                {
                    parts.push(first_message(question, &embedding)?.1);
                }
                decision = super::compound::combine(decision, &parts, &Default::default());
            }
            let understood = analysis.understanding;
            let top = understood.intents.first();
            let declined = top
                .and_then(|t| bot.knowledge().intent(&t.name))
                .is_some_and(|i| i.action == Action::Decline);
            let offers_intent = match &decision {
                Decision::Clarify { choices } | Decision::Narrow { choices } => {
                    choices.iter().any(|id| {
                        bot.knowledge()
                            .faq(id)
                            .is_some_and(|e| e.intent.as_deref() == Some(test.intent.as_str()))
                    })
                }
                _ => false,
            };
            let faq = analysis.candidates.first().map(|c| c.entry.id.clone());
            let score = analysis.candidates.first().map(|c| c.score);
            Ok(Outcome {
                test: test.clone(),
                intent: if understood.out_of_scope || declined {
                    OOS_INTENT.to_owned()
                } else {
                    top.map(|i| i.name.clone()).unwrap_or_default()
                },
                probability: top.map_or(0.0, |i| i.probability),
                oos_score: understood.oos_score,
                complaint: understood.complaint,
                faq,
                score,
                decision,
                expected_action: bot.knowledge().intent(&test.intent).map(|i| i.action),
                offers_intent,
                declined,
            })
        })
        .collect()
}
