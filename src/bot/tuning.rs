//! What the encoder's fine-tune learns from, and how its result is judged before it serves.
//!
//! The fine-tune learns phrasing → entry (each FAQ entry's question and alternatives are one
//! label) and example → intent (each intent's examples another), which is what serving asks of
//! the embeddings: the nearest phrasings pick the entry, the head the intent. Every
//! [`HOLD_OUT_EVERY`]-th alternative of each entry is held out of the fine-tune and of the
//! brains that judge it; those phrasings and `tests.yaml` are then read by the bot as first
//! messages with the serving encoder and with the tuned one, and the tuned one serves only if
//! it handles more of them right ([`Judged::beats`]). Texts the tuned model does not read
//! (Chinese, when a Chinese model reads them) are neither trained on nor held out.

use std::sync::Arc;

use super::policy::PolicyConfig;
use super::selftest::{self, Handled};
use super::{Bot, BotError, Brain};
use crate::config::Settings;
use crate::knowledge::{Knowledge, UtteranceTest};
use crate::model::tune::{self, TuneConfig, TuneProgress};
use crate::model::{Embeds, Encoder, TrainConfig, features};

/// One alternative in this many is held out to judge the fine-tune.
pub const HOLD_OUT_EVERY: usize = 4;

/// The fine-tune's training texts and what judges it.
#[derive(Debug, Clone)]
pub struct TuneSplit {
    /// Labelled training texts.
    pub texts: Vec<(String, usize)>,
    /// Number of labels.
    pub labels: usize,
    /// Held-out phrasings, as tests that expect their entry.
    pub held_out: Vec<UtteranceTest>,
    /// The knowledge base without the held-out phrasings, for the judging brains.
    pub knowledge: Knowledge,
}

/// Splits `knowledge` for a fine-tune (see the module documentation).
pub fn split(knowledge: &Knowledge, reads_chinese: bool) -> TuneSplit {
    let skip = |text: &str| reads_chinese && features::is_chinese(text);
    let mut names: Vec<String> = Vec::new();
    let mut label = |name: String| match names.iter().position(|n| *n == name) {
        Some(i) => i,
        None => {
            names.push(name);
            names.len() - 1
        }
    };
    let mut kept = knowledge.clone();
    let mut texts = Vec::new();
    let mut held_out = Vec::new();
    for entry in &mut kept.faqs {
        let mut alternatives = Vec::new();
        for (i, alternative) in std::mem::take(&mut entry.alternatives)
            .into_iter()
            .enumerate()
        {
            if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 && !skip(&alternative) {
                held_out.push(UtteranceTest {
                    vague: false,
                    also: None,
                    text: alternative,
                    intent: entry.intent.clone().unwrap_or_default(),
                    faq: Some(entry.id.clone()),
                    line: 0,
                });
            } else {
                alternatives.push(alternative);
            }
        }
        entry.alternatives = alternatives;
        // Not the answer: measured as one more text of its entry (2-core machine, release,
        // 2026-12-03), it raised StackFAQ valid top-1 after the fine-tune from 94.2% to 94.7%
        // (frozen 95.4%) and the sample's judgement from 175 right / 8 wrong to 177 / 7, but
        // the English probe of first messages fell from 72 to 69 of 75 handled right: answers
        // are long and in the company's words, and pull an entry away from how customers ask.
        for text in std::iter::once(&entry.question).chain(&entry.alternatives) {
            if !skip(text) {
                texts.push((text.clone(), label(format!("faq {}", entry.id))));
            }
        }
    }
    for intent in &kept.intents {
        for example in &intent.examples {
            if !skip(example) {
                texts.push((example.clone(), label(format!("intent {}", intent.name))));
            }
        }
    }
    TuneSplit {
        texts,
        labels: names.len(),
        held_out,
        knowledge: kept,
    }
}

/// How a bot handled the judging tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Judged {
    /// Tests read.
    pub tests: usize,
    /// Handled right.
    pub right: usize,
    /// Answered from the wrong entry.
    pub wrong: usize,
}

impl Judged {
    /// Right answers minus wrong ones: a wrong answer costs what a right one gains.
    fn score(&self) -> i64 {
        self.right as i64 - self.wrong as i64
    }

    /// Whether `self` handled the tests strictly better than `other`.
    pub fn beats(&self, other: &Judged) -> bool {
        self.score() > other.score()
    }
}

/// The encoder serving fine-tunes for `split` from the shipped model of `settings` (cached
/// under the model cache by the content it learns from, so serving, `tandem check
/// --fine-tune` and a restart share one), with the Chinese model of `base` beside it. `None`
/// when there is nothing to learn (fewer than two labels) or `progress` stopped it.
pub fn tuned_encoder(
    split: &TuneSplit,
    settings: &Settings,
    base: &Encoder,
    progress: &mut dyn FnMut(&TuneProgress) -> bool,
) -> Result<Option<Encoder>, BotError> {
    if split.labels < 2 {
        return Ok(None);
    }
    let Some(dir) = tune::tuned_model(
        &settings.model_dir,
        &split.texts,
        split.labels,
        &TuneConfig::default(),
        &settings.model_cache_dir().join("tuned"),
        progress,
    )?
    else {
        return Ok(None);
    };
    Ok(Some(
        Encoder::load_with(&dir, settings.encoder_backend)?.with_chinese_of(base),
    ))
}

/// Builds a brain for the split's knowledge with `encoder` and reads `tests` (the held-out
/// phrasings and `tests.yaml`) with it as first messages.
pub fn judge(
    split: &TuneSplit,
    tests: &[UtteranceTest],
    encoder: &impl Embeds,
    settings: &Settings,
) -> Result<Judged, BotError> {
    // Not through the brain cache: these brains are for judging only and would push the
    // serving versions' entries out of it.
    let oos = super::brain::OosConfig {
        method: super::brain::OOS_METHOD,
        threshold: settings.oos_threshold,
    };
    let brain = Brain::build(&split.knowledge, encoder, &TrainConfig::default(), oos)?;
    let bot = Bot::new(split.knowledge.clone())?.with_brain(Arc::new(brain));
    let all: Vec<UtteranceTest> = split.held_out.iter().chain(tests).cloned().collect();
    let outcomes = selftest::run(
        &bot,
        encoder,
        &PolicyConfig::from_settings(settings).unwrap_or_default(),
        &all,
    )?;
    let mut judged = Judged {
        tests: outcomes.len(),
        ..Judged::default()
    };
    for outcome in &outcomes {
        match outcome.handled() {
            Handled::Right => judged.right += 1,
            Handled::WrongAnswer => judged.wrong += 1,
            Handled::Missed => {}
        }
    }
    Ok(judged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::FaqEntry;

    #[test]
    fn every_fourth_alternative_is_held_out_and_chinese_is_left_to_its_model() {
        let mut knowledge = Knowledge::default();
        knowledge.faqs.push(FaqEntry {
            id: "shipping".into(),
            question: "how much is shipping".into(),
            alternatives: ["a", "b", "c", "d", "e", "f", "g", "运费多少"]
                .map(String::from)
                .to_vec(),
            tags: Vec::new(),
            lang: "en".into(),
            intent: None,
            related: Vec::new(),
            answer_markdown: "Standard shipping is **free** over 50 euros.".into(),
            answer_html: String::new(),
            source: "faq/shipping.md".into(),
        });
        let split = split(&knowledge, true);
        let held: Vec<&str> = split.held_out.iter().map(|t| t.text.as_str()).collect();
        // The 8th alternative is Chinese: read by the Chinese model, neither trained nor held.
        assert_eq!(held, ["d"]);
        let trained: Vec<&str> = split.texts.iter().map(|(t, _)| t.as_str()).collect();
        // The answer is not a training text (see `split`).
        assert_eq!(
            trained,
            ["how much is shipping", "a", "b", "c", "e", "f", "g"]
        );
        assert!(split.texts.iter().all(|(_, label)| *label == 0));
        assert_eq!(split.knowledge.faqs[0].alternatives.len(), 7);
        assert_eq!(split.held_out[0].faq.as_deref(), Some("shipping"));
    }

    #[test]
    fn beating_needs_more_right_answers_than_wrong_ones_cost() {
        let serving = Judged {
            tests: 10,
            right: 7,
            wrong: 1,
        };
        let tie = Judged {
            tests: 10,
            right: 8,
            wrong: 2,
        };
        let better = Judged {
            tests: 10,
            right: 8,
            wrong: 1,
        };
        assert!(!tie.beats(&serving));
        assert!(better.beats(&serving));
        assert!(!serving.beats(&serving));
    }
}
