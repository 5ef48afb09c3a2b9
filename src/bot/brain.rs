//! What the model knows about one knowledge base: the trained intent head, the embeddings of
//! the training examples (for out-of-scope detection) and of every FAQ entry (for hybrid
//! retrieval).
//!
//! Training data: the examples of `intents.yaml`, plus each FAQ entry's question and
//! alternatives labelled with the entry's `intent`. A brain is cached on disk under a key that
//! hashes the model, the feature version, the training settings and every text, so a restart
//! with an unchanged knowledge base loads it at once, and any edit trains a fresh one.

use std::sync::Arc;

use candle_core::{Device, Tensor};

use crate::knowledge::Knowledge;
use crate::model::gaussians::BlockGaussians;
use crate::model::head::Example;
use crate::model::mahalanobis;
use crate::model::oos::{Neighbours, OosMethod, Scored};
use crate::model::{Embeds, IntentHead, ModelError, TrainConfig, features};

/// How many intents to report per message.
const TOP_INTENTS: usize = 3;

/// Out-of-scope settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OosConfig {
    /// Which score.
    pub method: OosMethod,
    /// Scores at or above it are out of scope.
    pub threshold: f32,
}

/// An intent with its probability.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IntentScore {
    /// Intent name.
    pub name: String,
    /// Probability from the intent head.
    pub probability: f32,
}

/// What the model understood of one message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Understanding {
    /// Most probable intents first.
    pub intents: Vec<IntentScore>,
    /// Out-of-scope score (higher: less like anything the bot knows).
    pub oos_score: f32,
    /// Whether the score reaches the threshold.
    pub out_of_scope: bool,
    /// How much the message reads as a complaint, whatever its topic ([`super::tone`]); 0
    /// without a complaint intent to learn it from.
    pub complaint: f32,
}

/// Similarities of a message to one FAQ entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntrySimilarity {
    /// Best embedding cosine similarity to the entry's question or alternatives.
    pub question: f32,
    /// Best n-gram cosine similarity to the entry's question or alternatives: the signal that
    /// still works where the encoder does not know the script (Chinese) or the word (product
    /// names, typos).
    pub wording: f32,
    /// Cosine similarity to its answer.
    pub answer: f32,
}

/// Where a brain's intent head came from, for the reload status and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadSource {
    /// Trained from zero for this knowledge base.
    Trained,
    /// Kept from the brain serving before: the edit did not change the training examples.
    Kept,
    /// Kept from the brain serving before although the edit changed its examples (an
    /// alternative added, an example removed), while the head for them trains in the
    /// background: an edit is served in a second, not after a training run.
    Pending,
    /// Loaded from the disk cache.
    Cached,
    /// No head: fewer than two intents with examples.
    Absent,
}

/// The model's view of a knowledge base.
pub struct Brain {
    /// Where `head` came from.
    head_source: HeadSource,
    /// What the head and the Gaussian model were trained on ([`Brain::training_key`]): a
    /// rebuild with the same key (an answer edited, an alternative added to an entry without an
    /// intent) reuses them instead of training again.
    training_key: String,
    /// Absent when the knowledge base has fewer than two intents with examples.
    head: Option<Arc<IntentHead>>,
    /// Gaussian models of the intents, one per language block; present with the head.
    gaussian: Option<Arc<BlockGaussians>>,
    neighbours: Neighbours,
    /// N-gram features of every training example, for the wording-based distance of messages
    /// the encoder cannot read.
    example_ngrams: Vec<features::Sparse>,
    /// Unit vectors of every question and alternative, one row each.
    phrasings: Tensor,
    /// N-gram features of every question and alternative, same order.
    phrasing_ngrams: Vec<features::Sparse>,
    /// Which entry (index into `knowledge.faqs`) each phrasing row belongs to.
    owners: Vec<usize>,
    /// Unit vectors of every answer, one row per entry.
    answers: Tensor,
    oos: OosConfig,
    /// Whether the encoder reads Chinese with a model of its own (USE multilingual); without
    /// one, Chinese is judged by its wording.
    reads_chinese: bool,
    /// The complaint-tone model, when the knowledge base teaches one.
    tone: Option<Arc<Tone>>,
}

impl std::fmt::Debug for Brain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Brain")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

fn matrix(rows: &[Vec<f32>], dim: usize) -> Result<Tensor, ModelError> {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Ok(Tensor::from_vec(flat, (rows.len(), dim), &Device::Cpu)?)
}

impl Brain {
    /// Embeds the knowledge base and trains the intent head (seconds for the sample).
    pub fn build(
        knowledge: &Knowledge,
        encoder: &impl Embeds,
        config: &TrainConfig,
        oos: OosConfig,
    ) -> Result<Self, ModelError> {
        Self::rebuild(knowledge, encoder, config, oos, "", None, false)
    }

    /// [`Brain::build`] after an edit. The head and the Gaussian model of `previous` are kept
    /// when it was trained on the same examples (`training_key`), and also, with `defer`, when
    /// only the examples changed but not the intents (the brain is then
    /// [`HeadSource::Pending`]: the caller trains the final one in the background). `encoder`
    /// (through a [`Memo`](crate::model::Memo)) embeds only the texts it has not seen, so an
    /// answer's new text on the sample costs one embedding instead of ~900 and a training run.
    pub fn rebuild(
        knowledge: &Knowledge,
        encoder: &impl Embeds,
        config: &TrainConfig,
        oos: OosConfig,
        training_key: &str,
        previous: Option<&Brain>,
        defer: bool,
    ) -> Result<Self, ModelError> {
        let dim = encoder.dim();
        let training = training_texts(knowledge);
        let texts: Vec<String> = training.iter().map(|(t, _)| t.clone()).collect();
        let embeddings = encoder.embed_texts(&texts)?;
        let (labels, examples) = Example::labelled(&training, &embeddings);
        let same = previous.filter(|p| !training_key.is_empty() && p.training_key == training_key);
        let stale = previous.filter(|p| {
            defer
                && p.head
                    .as_deref()
                    .is_some_and(|h| h.labels() == labels.as_slice())
        });
        let (head_source, head, gaussian, trained_on) = match (same, stale) {
            (Some(p), _) => (
                HeadSource::Kept,
                p.head.clone(),
                p.gaussian.clone(),
                training_key,
            ),
            (None, Some(p)) => (
                HeadSource::Pending,
                p.head.clone(),
                p.gaussian.clone(),
                p.training_key.as_str(),
            ),
            (None, None) if labels.len() >= 2 => {
                let ids: Vec<usize> = examples.iter().map(|e| e.label).collect();
                let gaussian = BlockGaussians::fit(
                    &embeddings,
                    &ids,
                    labels.len(),
                    &encoder.blocks(),
                    mahalanobis::DEFAULT_SHRINKAGE,
                )?;
                let head = IntentHead::train(&examples, labels, config)?;
                (
                    HeadSource::Trained,
                    Some(Arc::new(head)),
                    Some(Arc::new(gaussian)),
                    training_key,
                )
            }
            (None, None) => (HeadSource::Absent, None, None, training_key),
        };

        let (phrasings, owners, answers) = retrieval_texts(knowledge);
        let phrasing_vectors = encoder.embed_texts(&phrasings)?;
        let answer_vectors = encoder.embed_texts(&answers)?;
        // Kept with the head it was trained beside; trained again with a new one.
        let tone = match same.or(stale) {
            Some(p) => p.tone.clone(),
            None => Tone::train(
                knowledge,
                &training,
                &embeddings,
                &phrasings,
                &phrasing_vectors,
            )?
            .map(Arc::new),
        };
        Ok(Self {
            head_source,
            // A pending head keeps the key of what it was trained on, so that the next edit
            // compares with the truth.
            training_key: trained_on.to_owned(),
            head,
            gaussian,
            neighbours: Neighbours::new(&embeddings)?,
            example_ngrams: examples.into_iter().map(|e| e.ngrams).collect(),
            phrasing_ngrams: phrasings.iter().map(|p| features::ngrams(p)).collect(),
            phrasings: matrix(&phrasing_vectors, dim)?,
            owners,
            answers: matrix(&answer_vectors, dim)?,
            oos,
            reads_chinese: encoder.blocks().len() > 1,
            tone,
        })
    }

    /// Whether Chinese messages are read by a Chinese model; without one, the English encoder
    /// puts any Chinese text near any other and the wording has to stand in for it.
    pub fn reads_chinese(&self) -> bool {
        self.reads_chinese
    }

    /// Where the intent head came from.
    pub fn head_source(&self) -> HeadSource {
        self.head_source
    }

    /// Intent probabilities and out-of-scope score of a message.
    pub fn understand(&self, text: &str, embedding: &[f32]) -> Result<Understanding, ModelError> {
        self.understand_with(text, embedding, None)
    }

    /// [`Brain::understand`] with evidence from elsewhere: `(intent, weight)` moves a share
    /// `weight` (0–1) of the probability mass to `intent` before the out-of-scope score is taken.
    pub fn understand_with(
        &self,
        text: &str,
        embedding: &[f32],
        evidence: Option<(&str, f32)>,
    ) -> Result<Understanding, ModelError> {
        let ngrams = features::ngrams(text);
        let probs = match &self.head {
            Some(head) => head
                .probabilities(&[(embedding, &ngrams)])?
                .pop()
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let (probs, distance) = match &self.gaussian {
            Some(g) => {
                let (distances, distance) = g.distances(embedding);
                (mahalanobis::blend(&probs, &distances), distance)
            }
            None => (probs, 0.0),
        };
        // The English encoder puts any Chinese text near any other, so without a Chinese model
        // the distance to what the bot knows is measured on the wording for Chinese: 1 − the
        // n-gram similarity to the closest example ("今天北京天气怎么样" shares almost no
        // characters with any intent).
        let cjk = if self.reads_chinese {
            0.0
        } else {
            features::cjk_share(text)
        };
        let distance = if cjk > 0.0 {
            let closest = self
                .example_ngrams
                .iter()
                .map(|e| features::dot(&ngrams, e))
                .fold(0.0f32, f32::max);
            (1.0 - cjk) * distance + cjk * (1.0 - closest)
        } else {
            distance
        };
        let labels = self.head.as_deref().map_or(&[][..], IntentHead::labels);
        let probs = match evidence.and_then(|(intent, w)| {
            Some((labels.iter().position(|l| l == intent)?, w.clamp(0.0, 1.0)))
        }) {
            Some((k, w)) => probs
                .iter()
                .enumerate()
                .map(|(i, p)| (1.0 - w) * p + if i == k { w } else { 0.0 })
                .collect(),
            None => probs,
        };
        // Without a head the nearest example is all there is to go on.
        let method = if self.head.is_some() {
            self.oos.method
        } else {
            OosMethod::Nearest
        };
        // The nearest-example similarity costs a pass over every example: only for the
        // methods that use it.
        let nearest = match method {
            OosMethod::Nearest | OosMethod::Combined => self
                .neighbours
                .max_similarity(&[embedding.to_vec()])?
                .first()
                .copied()
                .unwrap_or(0.0),
            OosMethod::MaxProb | OosMethod::Mahalanobis | OosMethod::ProbMahalanobis => 0.0,
        };
        let oos_score = Scored::new(&probs, nearest)
            .with_distance(distance)
            .score(method);
        let mut intents: Vec<IntentScore> = labels
            .iter()
            .zip(&probs)
            .map(|(name, p)| IntentScore {
                name: name.clone(),
                probability: *p,
            })
            .collect();
        intents.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        intents.truncate(TOP_INTENTS);
        let complaint = match &self.tone {
            Some(tone) => tone.complaint(embedding, &ngrams)?,
            None => 0.0,
        };
        Ok(Understanding {
            intents,
            oos_score,
            out_of_scope: oos_score >= self.oos.threshold,
            complaint,
        })
    }

    /// Similarity of a message to every FAQ entry, indexed like `knowledge.faqs`.
    pub fn similarities(
        &self,
        text: &str,
        embedding: &[f32],
    ) -> Result<Vec<EntrySimilarity>, ModelError> {
        let ngrams = features::ngrams(text);
        let query = Tensor::from_slice(embedding, (embedding.len(), 1), &Device::Cpu)?;
        let answers = self
            .answers
            .matmul(&query)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let phrasings = self
            .phrasings
            .matmul(&query)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let mut out: Vec<EntrySimilarity> = answers
            .into_iter()
            .map(|answer| EntrySimilarity {
                question: f32::MIN,
                wording: 0.0,
                answer,
            })
            .collect();
        for ((&owner, sim), phrasing) in
            self.owners.iter().zip(phrasings).zip(&self.phrasing_ngrams)
        {
            if let Some(entry) = out.get_mut(owner) {
                entry.question = entry.question.max(sim);
                entry.wording = entry.wording.max(features::dot(&ngrams, phrasing));
            }
        }
        Ok(out)
    }
}

/// The out-of-scope method the product uses: the mean of 1 − top probability and the squashed
/// Mahalanobis distance had the best AUROC on BANKING77-OOS, the hardest benchmark measured
/// (README).
pub const OOS_METHOD: OosMethod = OosMethod::ProbMahalanobis;

#[path = "brain_cache.rs"]
mod cache;
#[path = "brain_texts.rs"]
mod texts;
use super::tone::Tone;
use texts::{retrieval_texts, training_texts};
