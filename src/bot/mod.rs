//! The bot pipeline: classify → retrieve → decide.
//!
//! Every customer message goes through three steps:
//!
//! 1. **classify**: what the customer means (intents with probabilities, out-of-scope score),
//!    from the local model ([`Brain::understand`]);
//! 2. **retrieve**: which FAQ entries could answer it ([`Bot::retrieve`]): BM25 candidates from
//!    the tantivy index fused with the embedding similarity of the message to each entry's
//!    question, alternatives and answer;
//! 3. **decide**: answer, ask which entry was meant, or hand off ([`policy`]).
//!
//! [`Bot`] is immutable: the model's [`Brain`] trains in the background and arrives as a new
//! `Bot` that is swapped in, so a request never sees half of an update.

pub mod brain;
pub mod compound;
pub mod frustration;
pub mod memory;
pub mod policy;
pub mod read;
mod reason;
pub mod selftest;
pub mod tone;
pub mod tuning;
pub mod vague;

use std::collections::HashSet;
use std::sync::Arc;

pub use brain::{Brain, HeadSource, IntentScore, OosConfig, Understanding};
pub use read::{ReadError, Reading, read};
pub use reason::HandoffReason;

use crate::knowledge::{FaqEntry, FaqIndex, IndexError, Knowledge};

/// FAQ candidates a turn looks at: enough for a three-way clarification.
pub const CANDIDATES: usize = 3;

/// BM25 candidates considered before fusion: enough that the right entry is almost always
/// among them when it shares a word with the question.
const BM25_CANDIDATES: usize = 30;

/// Fusion weights (sum 1), chosen on StackFAQ (`tandem eval faq`) together with the sample's
/// `knowledge/tests.yaml` (`tandem check --run-tests`): the embedding of the question's
/// phrasings carries most of the signal; their n-gram wording carries it where the encoder
/// cannot read the script (Chinese); the answer's embedding helps when a customer describes a
/// situation rather than asking the FAQ's question. BM25 mostly chooses the candidates: as a
/// score it helped on neither set beyond a small weight (StackFAQ top-1 91.5% at 0.2, 95.4%
/// at 0.05), since its exact-word matches are already in the n-gram wording.
const WEIGHT_PHRASING: f32 = 0.6;
const WEIGHT_WORDING: f32 = 0.15;
const WEIGHT_ANSWER: f32 = 0.2;
const WEIGHT_BM25: f32 = 0.05;

/// How much the best FAQ entry's intent counts as evidence for the message's intent, per unit
/// of its fused score: an entry that matches well (fused 0.7) moves about a quarter of the
/// probability mass to its intent. The FAQ's phrasings and answers know what the customer talks
/// about where the intent's short examples do not ("the code from your welcome email says
/// expired" is a promo-code question before it is anything about email).
const RETRIEVAL_EVIDENCE: f32 = 0.35;

/// What the bot made of one message: intents and out-of-scope score, and the FAQ candidates.
#[derive(Debug, Clone)]
pub struct Analysis<'a> {
    /// The classify step's result, informed by the best FAQ candidate.
    pub understanding: Understanding,
    /// FAQ entries that may answer it, best first.
    pub candidates: Vec<Candidate<'a>>,
}

/// Errors from the bot pipeline.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The knowledge index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}

/// An FAQ entry that may answer a message, with its scores.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The entry.
    pub entry: &'a FaqEntry,
    /// Fused score in [0, 1] with the model, the BM25 score without; higher is better.
    pub score: f32,
    /// BM25 score (0 when BM25 did not find it).
    pub bm25: f32,
    /// Best embedding similarity to its question or alternatives, with the model.
    pub similarity: Option<f32>,
}

/// A knowledge base ready to answer questions, with the model's brain once trained.
#[derive(Debug, Clone)]
pub struct Bot {
    knowledge: Arc<Knowledge>,
    /// The languages its FAQ entries are written in (`zh-TW` counts as `zh`).
    languages: Arc<HashSet<String>>,
    index: Arc<FaqIndex>,
    brain: Option<Arc<Brain>>,
    /// The encoder the brain's texts were embedded with, when it is not the shipped one (a
    /// fine-tuned copy): a message must be embedded by the same model to be compared with them.
    encoder: Option<Arc<crate::model::Encoder>>,
    /// [`Knowledge::version`], taken once per load: nodes report it every heartbeat.
    version: Arc<str>,
}

impl Bot {
    /// Indexes `knowledge` and warms up the analyzer (jieba loads its dictionary on first use,
    /// which should happen at start-up rather than on a customer's first message).
    pub fn new(knowledge: Knowledge) -> Result<Self, BotError> {
        let index = FaqIndex::build(&knowledge.faqs)?;
        index.terms("warm up 预热");
        let languages = knowledge
            .faqs
            .iter()
            .map(|e| language_code(&e.lang).to_owned())
            .collect();
        Ok(Self {
            languages: Arc::new(languages),
            version: knowledge.version().into(),
            knowledge: Arc::new(knowledge),
            index: Arc::new(index),
            brain: None,
            encoder: None,
        })
    }

    /// The fingerprint of the knowledge it serves ([`Knowledge::version`]).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The same bot with the model's brain (built with this bot's encoder).
    pub fn with_brain(&self, brain: Arc<Brain>) -> Self {
        Self {
            brain: Some(brain),
            ..self.clone()
        }
    }

    /// The same bot with a brain built with `encoder` (a fine-tuned copy of the shipped one).
    pub fn with_tuned(&self, brain: Arc<Brain>, encoder: Arc<crate::model::Encoder>) -> Self {
        Self {
            brain: Some(brain),
            encoder: Some(encoder),
            ..self.clone()
        }
    }

    /// This bot with `other`'s encoder: a new version built with the encoder serving.
    pub fn with_encoder_of(mut self, other: &Bot) -> Self {
        self.encoder = other.encoder.clone();
        self
    }

    /// The encoder messages must be embedded with for this bot's brain; `None` for the shipped
    /// one (the embedder's own).
    pub fn encoder(&self) -> Option<&Arc<crate::model::Encoder>> {
        self.encoder.as_ref()
    }

    /// Whether this bot serves `other`'s knowledge version (the same files loaded once; a new
    /// brain for them does not make a new version).
    pub fn same_version(&self, other: &Bot) -> bool {
        Arc::ptr_eq(&self.knowledge, &other.knowledge)
    }

    /// The knowledge base this bot answers from.
    pub fn knowledge(&self) -> &Knowledge {
        &self.knowledge
    }

    /// The model's brain, once trained.
    pub fn brain(&self) -> Option<&Brain> {
        self.brain.as_deref()
    }

    /// Classify and retrieve together: the best candidate's intent is evidence for the
    /// message's intent ([`RETRIEVAL_EVIDENCE`]). `None` until the brain is trained.
    pub fn analyse(
        &self,
        text: &str,
        embedding: &[f32],
        limit: usize,
    ) -> Result<Option<Analysis<'_>>, BotError> {
        let Some(brain) = &self.brain else {
            return Ok(None);
        };
        let candidates = self.retrieve(text, Some(embedding), limit.max(1))?;
        let evidence = candidates.first().and_then(|c| {
            let intent = c.entry.intent.as_deref()?;
            Some((intent, RETRIEVAL_EVIDENCE * c.score.max(0.0)))
        });
        let understanding = brain.understand_with(text, embedding, evidence)?;
        Ok(Some(Analysis {
            understanding,
            candidates: candidates.into_iter().take(limit).collect(),
        }))
    }

    /// The retrieve step: up to `limit` FAQ entries that may answer `text`, best first.
    ///
    /// With the brain and the message's `embedding`, every entry is scored by the fusion of
    /// embedding similarity and BM25; otherwise by BM25 alone. Only entries in the message's
    /// language compete when the knowledge base has any: a customer writing Chinese is
    /// answered from the Chinese entries, in Chinese, never from an English one that happens
    /// to share a product name.
    pub fn retrieve(
        &self,
        text: &str,
        embedding: Option<&[f32]>,
        limit: usize,
    ) -> Result<Vec<Candidate<'_>>, BotError> {
        let lang = crate::knowledge::language_of(text);
        let only_lang = self.languages.contains(lang);
        let wanted = |entry: &FaqEntry| !only_lang || in_language(entry, lang);
        let hits = self.index.search(text, BM25_CANDIDATES.max(limit))?;
        let (Some(brain), Some(embedding)) = (&self.brain, embedding) else {
            return Ok(hits
                .into_iter()
                .filter_map(|hit| {
                    let entry = self.knowledge.faqs.get(hit.ord).filter(|e| wanted(e))?;
                    Some(Candidate {
                        entry,
                        score: hit.score,
                        bm25: hit.score,
                        similarity: None,
                    })
                })
                .take(limit)
                .collect());
        };
        let mut bm25 = vec![0.0f32; self.knowledge.faqs.len()];
        for hit in &hits {
            if let Some(slot) = bm25.get_mut(hit.ord) {
                *slot = hit.score;
            }
        }
        // BM25 is unbounded; relative to the best hit it is comparable across messages.
        let best_bm25 = hits.first().map_or(1.0, |h| h.score.max(f32::EPSILON));
        // Without a Chinese model, the English encoder cannot read Chinese (a few hundred CJK
        // characters in its vocabulary): for the Chinese share of a message its similarities
        // carry no signal, and their weight goes to the wording and BM25, in their own
        // proportion. With one (USE multilingual), Chinese gets the English weights: on the
        // sample's Chinese tests and a probe of 72 Chinese messages, moving weight to the
        // wording or the answers changed nothing beyond a test or two either way.
        let cjk = if brain.reads_chinese() {
            0.0
        } else {
            crate::model::features::cjk_share(text)
        };
        let (w_phrasing, w_answer) = (WEIGHT_PHRASING * (1.0 - cjk), WEIGHT_ANSWER * (1.0 - cjk));
        let moved = (WEIGHT_PHRASING + WEIGHT_ANSWER) * cjk;
        let w_wording = WEIGHT_WORDING + moved * WEIGHT_WORDING / (WEIGHT_WORDING + WEIGHT_BM25);
        let w_bm25 = WEIGHT_BM25 + moved * WEIGHT_BM25 / (WEIGHT_WORDING + WEIGHT_BM25);
        let mut candidates: Vec<Candidate<'_>> = brain
            .similarities(text, embedding)?
            .into_iter()
            .zip(&self.knowledge.faqs)
            .zip(&bm25)
            .map(|((sim, entry), &bm25)| Candidate {
                entry,
                score: w_phrasing * sim.question
                    + w_wording * sim.wording
                    + w_answer * sim.answer
                    + w_bm25 * bm25 / best_bm25,
                bm25,
                similarity: Some(sim.question),
            })
            .filter(|c| wanted(c.entry))
            .collect();
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        candidates.truncate(limit);
        Ok(candidates)
    }
}

/// The language code of an entry's `lang` (`zh-TW` → `zh`).
fn language_code(lang: &str) -> &str {
    lang.split(['-', '_']).next().unwrap_or(lang)
}

/// Whether `entry` is written in `lang` (a language code).
fn in_language(entry: &FaqEntry, lang: &str) -> bool {
    language_code(&entry.lang) == lang
}
