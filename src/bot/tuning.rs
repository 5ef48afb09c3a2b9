//! What the encoder's fine-tune learns from, and how its result is judged before it serves.
//!
//! The fine-tune learns phrasing → entry (each FAQ entry's question and alternatives are one
//! label) and example → intent (each intent's examples another), which is what serving asks of
//! the embeddings: the nearest phrasings pick the entry, the head the intent. Every
//! [`HOLD_OUT_EVERY`]-th alternative of each entry is held out of the fine-tune and of the
//! brains that judge it; those phrasings and `tests.yaml` are then read by the bot as first
//! messages with the serving encoder and with the tuned one, and the tuned one serves only if
//! it handles more of them right ([`Judged::beats`]). Each model learns the texts it reads
//! ([`ByModel`]): with a Chinese model, Chinese phrasings tune it and the rest the BERT-family
//! model, each with labels of its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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

/// Labelled training texts of one model.
#[derive(Debug, Clone, Default)]
pub struct Labelled {
    /// Texts with the index of their label.
    pub texts: Vec<(String, usize)>,
    /// Label names, by index.
    pub names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Labelled {
    /// Adds `text` with the label `name`.
    pub fn push(&mut self, text: String, name: &str) {
        let label = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.names.push(name.to_owned());
                self.index.insert(name.to_owned(), self.names.len() - 1);
                self.names.len() - 1
            }
        };
        self.texts.push((text, label));
    }

    /// Number of labels.
    pub fn labels(&self) -> usize {
        self.names.len()
    }

    /// Whether there is something to learn: two labels with two texts each at least. A label
    /// with one text says nothing of how its phrasings vary; measured on StackFAQ (one
    /// question per entry, 2026-12-03), a fine-tune on such labels lowered valid top-1 from
    /// 95.4% to 94.2%.
    pub fn learns(&self) -> bool {
        let mut counts = vec![0usize; self.labels()];
        for (_, label) in &self.texts {
            counts[*label] += 1;
        }
        counts.iter().filter(|&&n| n >= 2).count() >= 2
    }
}

/// Training texts by the model that reads them: Chinese texts go to the Chinese model when the
/// encoder has one, everything else to the BERT-family model.
#[derive(Debug, Clone, Default)]
pub struct ByModel {
    /// What the BERT-family model learns.
    pub english: Labelled,
    /// What the Chinese model learns (empty without one).
    pub chinese: Labelled,
    reads_chinese: bool,
}

impl ByModel {
    /// Empty sets for an encoder that reads Chinese with a model of its own or not.
    pub fn new(reads_chinese: bool) -> Self {
        Self {
            reads_chinese,
            ..Self::default()
        }
    }

    /// Adds `text` with the label `name` to the set of the model that reads it.
    pub fn push(&mut self, text: String, name: &str) {
        if self.reads_chinese && features::is_chinese(&text) {
            self.chinese.push(text, name);
        } else {
            self.english.push(text, name);
        }
    }

    /// Whether either model has something to learn.
    pub fn learns(&self) -> bool {
        self.english.learns() || self.chinese.learns()
    }
}

/// The fine-tune's training texts and what judges it.
#[derive(Debug, Clone)]
pub struct TuneSplit {
    /// Labelled training texts, by model.
    pub texts: ByModel,
    /// Held-out phrasings, as tests that expect their entry.
    pub held_out: Vec<UtteranceTest>,
    /// The knowledge base without the held-out phrasings, for the judging brains.
    pub knowledge: Knowledge,
}

/// Splits `knowledge` for a fine-tune (see the module documentation).
pub fn split(knowledge: &Knowledge, reads_chinese: bool) -> TuneSplit {
    let mut kept = knowledge.clone();
    let mut texts = ByModel::new(reads_chinese);
    let mut held_out = Vec::new();
    for entry in &mut kept.faqs {
        let mut alternatives = Vec::new();
        for (i, alternative) in std::mem::take(&mut entry.alternatives)
            .into_iter()
            .enumerate()
        {
            if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 {
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
        let name = format!("faq {}", entry.id);
        for text in std::iter::once(&entry.question).chain(&entry.alternatives) {
            texts.push(text.clone(), &name);
        }
    }
    for intent in &kept.intents {
        let name = format!("intent {}", intent.name);
        for example in &intent.examples {
            texts.push(example.clone(), &name);
        }
    }
    TuneSplit {
        texts,
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

/// The encoder serving fine-tunes for `split` from the shipped models of `settings`, with
/// serving's settings, cached under the model cache (see [`tuned_encoder_with`]).
pub fn tuned_encoder(
    split: &TuneSplit,
    settings: &Settings,
    base: &Encoder,
    progress: &mut dyn FnMut(&TuneProgress) -> bool,
) -> Result<Option<Encoder>, BotError> {
    tuned_encoder_with(
        &split.texts,
        settings,
        base,
        &TuneConfig::default(),
        &settings.model_cache_dir().join("tuned"),
        progress,
    )
}

/// The encoder fine-tuned on `texts` from the shipped models of `settings`: each model that has
/// something to learn fine-tuned on its own texts (the Chinese one first: it takes seconds),
/// the other as in `base`. Cached in `cache` by the content each learns from, so serving,
/// `tandem check --fine-tune`, the evaluations and a restart share them. `None` when there is
/// nothing to learn or `progress` stopped it.
pub fn tuned_encoder_with(
    texts: &ByModel,
    settings: &Settings,
    base: &Encoder,
    config: &TuneConfig,
    cache: &Path,
    progress: &mut dyn FnMut(&TuneProgress) -> bool,
) -> Result<Option<Encoder>, BotError> {
    let mut tune = |dir: &Path, set: &Labelled| -> Result<Option<PathBuf>, BotError> {
        Ok(tune::tuned_model(
            dir,
            &set.texts,
            set.labels(),
            config,
            cache,
            &mut *progress,
        )?)
    };
    let chinese = if base.reads_chinese() && texts.chinese.learns() {
        match tune(&settings.chinese_model_dir, &texts.chinese)? {
            Some(dir) => Some(dir),
            None => return Ok(None),
        }
    } else {
        None
    };
    let english = if texts.english.learns() {
        match tune(&settings.model_dir, &texts.english)? {
            Some(dir) => Some(dir),
            None => return Ok(None),
        }
    } else {
        None
    };
    if english.is_none() && chinese.is_none() {
        return Ok(None);
    }
    let encoder = Encoder::load_with(
        english.as_deref().unwrap_or(&settings.model_dir),
        settings.encoder_backend,
    )?;
    Ok(Some(match chinese {
        Some(dir) => encoder.with_chinese(&dir)?,
        None => encoder.with_chinese_of(base),
    }))
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
#[path = "tuning_tests.rs"]
mod tests;
