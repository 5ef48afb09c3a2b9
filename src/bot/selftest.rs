//! Runs a knowledge base's `tests.yaml` against the real model: editors' CI for content.

use std::fmt;

use super::{Bot, BotError};
use crate::knowledge::{OOS_INTENT, UtteranceTest};
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
    /// The first FAQ entry retrieved.
    pub faq: Option<String>,
}

impl Outcome {
    /// Whether the intent is the expected one.
    pub fn intent_ok(&self) -> bool {
        self.intent == self.test.intent
    }

    /// Whether the first entry is the expected one (true when none is expected).
    pub fn faq_ok(&self) -> bool {
        self.test.faq.is_none() || self.test.faq == self.faq
    }

    /// Whether the test passes.
    pub fn passed(&self) -> bool {
        self.intent_ok() && self.faq_ok()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tests.yaml:{}: {:?}: expected {}{}, got {} ({:.2}, oos score {:.2}){}",
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
            self.faq
                .as_deref()
                .map(|f| format!(" / {f}"))
                .unwrap_or_default(),
        )
    }
}

/// Runs every test through classify and retrieve.
pub fn run(
    bot: &Bot,
    encoder: &impl Embeds,
    tests: &[UtteranceTest],
) -> Result<Vec<Outcome>, BotError> {
    let texts: Vec<String> = tests.iter().map(|t| t.text.clone()).collect();
    let embeddings = encoder.embed_texts(&texts)?;
    let no_model = || BotError::Model(crate::model::ModelError::Training("no intent model".into()));
    tests
        .iter()
        .zip(&embeddings)
        .map(|(test, embedding)| {
            let analysis = bot
                .analyse(&test.text, embedding, 1)?
                .ok_or_else(no_model)?;
            let understood = analysis.understanding;
            let top = understood.intents.first();
            let faq = analysis.candidates.first().map(|c| c.entry.id.clone());
            Ok(Outcome {
                test: test.clone(),
                intent: if understood.out_of_scope {
                    OOS_INTENT.to_owned()
                } else {
                    top.map(|i| i.name.clone()).unwrap_or_default()
                },
                probability: top.map_or(0.0, |i| i.probability),
                oos_score: understood.oos_score,
                faq,
            })
        })
        .collect()
}
