//! The intent head: a softmax layer over `[sentence embedding ; scaled n-gram features]`,
//! trained in-process on the knowledge base's examples.
//!
//! The encoder stays frozen: fine-tuning it would take minutes per knowledge-base edit on a
//! CPU, while a linear layer over its embeddings trains in seconds and, with the n-gram
//! features, still learns intents from a few examples in scripts the encoder does not know.
//!
//! Why the gradients are written out: for softmax regression they are two lines
//! (`∂loss/∂logits = p − onehot`), and spelling them out lets the n-gram block stay sparse (a
//! message sets ~50 of 8,192 buckets). candle does the dense products (embedding block, forward
//! and gradient) and the softmax; the sparse gather/scatter and the AdamW update run as plain
//! loops. Measured on the 2-core machine, candle's generic autograd and AdamW took ~60 ms a
//! step for this layer, which made training the sample knowledge base take half a minute; this
//! takes a few milliseconds.

use candle_core::{Device, Tensor};

use super::ModelError;
use super::features::{self, Sparse};

/// Training hyper-parameters. Defaults were chosen on the CLINC150 and BANKING77 validation
/// splits (see the README's evaluation section).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training examples.
    pub epochs: usize,
    /// Fewest optimiser steps: a small knowledge base needs more passes to converge.
    pub min_steps: usize,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay: keeps weights small so probabilities stay calibrated.
    pub weight_decay: f64,
    /// Weight of the n-gram block relative to the unit-length embedding.
    pub ngram_scale: f32,
    /// Seed for shuffling, so training is reproducible.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            min_steps: 2000,
            batch_size: 64,
            learning_rate: 3e-3,
            weight_decay: 1e-4,
            ngram_scale: 1.0,
            seed: 0x7a6d,
        }
    }
}

/// One training example.
#[derive(Debug, Clone)]
pub struct Example {
    /// Unit-length sentence embedding.
    pub embedding: Vec<f32>,
    /// Hashed n-gram features.
    pub ngrams: Sparse,
    /// Index into the head's labels.
    pub label: usize,
}

impl Example {
    /// Examples from `(text, label)` rows and their embeddings, with the sorted distinct labels
    /// the examples' `label` indexes into.
    pub fn labelled(
        rows: &[(String, String)],
        embeddings: &[Vec<f32>],
    ) -> (Vec<String>, Vec<Self>) {
        let mut labels: Vec<String> = rows.iter().map(|(_, l)| l.clone()).collect();
        labels.sort();
        labels.dedup();
        let examples = rows
            .iter()
            .zip(embeddings)
            .map(|((text, label), embedding)| Example {
                embedding: embedding.clone(),
                ngrams: super::features::ngrams(text),
                // Every label is in the list it was collected into.
                label: labels.binary_search(label).unwrap_or_default(),
            })
            .collect();
        (labels, examples)
    }
}

/// A trained intent head: `logits = W·embedding + b + Σ ngram[bucket] · value · scale`.
pub struct IntentHead {
    /// `classes × embedding_dim`, row-major.
    weight: Vec<f32>,
    /// `classes`.
    bias: Vec<f32>,
    /// `features::DIM × classes`, row-major: one row of class weights per bucket.
    ngram: Vec<f32>,
    labels: Vec<String>,
    embedding_dim: usize,
    ngram_scale: f32,
}

impl std::fmt::Debug for IntentHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntentHead")
            .field("labels", &self.labels.len())
            .finish()
    }
}

/// Small, seedable PRNG for shuffling (xorshift64*): reproducible training without a
/// dependency.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value; xorshift needs a non-zero state).
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A number in `0..n` (`n` > 0; the modulo bias is negligible for shuffling).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// AdamW state for one parameter buffer (Loshchilov & Hutter 2019, decoupled weight decay).
struct AdamW {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl AdamW {
    const BETA1: f32 = 0.9;
    const BETA2: f32 = 0.999;
    const EPS: f32 = 1e-8;

    fn new(len: usize) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    /// One update of `params` with `grads` at step `t` (1-based).
    fn step(&mut self, params: &mut [f32], grads: &[f32], t: i32, lr: f32, decay: f32) {
        let c1 = 1.0 - Self::BETA1.powi(t);
        let c2 = 1.0 - Self::BETA2.powi(t);
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = Self::BETA1 * *m + (1.0 - Self::BETA1) * g;
            *v = Self::BETA2 * *v + (1.0 - Self::BETA2) * g * g;
            *p -= lr * ((*m / c1) / ((*v / c2).sqrt() + Self::EPS) + decay * *p);
        }
    }
}

impl IntentHead {
    /// Trains a head on `examples` whose labels index `labels`.
    pub fn train(
        examples: &[Example],
        labels: Vec<String>,
        config: &TrainConfig,
    ) -> Result<Self, ModelError> {
        let embedding_dim = examples.first().map_or(0, |e| e.embedding.len());
        if examples.is_empty() || labels.len() < 2 {
            return Err(ModelError::Training(
                "need examples of at least two intents".into(),
            ));
        }
        if let Some(bad) = examples
            .iter()
            .find(|e| e.label >= labels.len() || e.embedding.len() != embedding_dim)
        {
            return Err(ModelError::Training(format!(
                "example with label {} or embedding length {} does not fit",
                bad.label,
                bad.embedding.len()
            )));
        }
        let classes = labels.len();
        let mut head = Self {
            weight: vec![0.0; classes * embedding_dim],
            bias: vec![0.0; classes],
            ngram: vec![0.0; features::DIM * classes],
            labels,
            embedding_dim,
            ngram_scale: config.ngram_scale,
        };
        let mut adam = [
            AdamW::new(head.weight.len()),
            AdamW::new(head.bias.len()),
            AdamW::new(head.ngram.len()),
        ];
        let mut grad_ngram = vec![0.0f32; head.ngram.len()];
        // Knowledge bases are lopsided: a topic with ten FAQ entries brings ~60 phrasings, a
        // greeting 15 examples. Weighting each class by the inverse of its share keeps the
        // small intents (greeting, complaint, account security) from being drowned out; on a
        // balanced benchmark every weight is 1.
        let mut counts = vec![0usize; classes];
        examples.iter().for_each(|e| counts[e.label] += 1);
        let class_weights: Vec<f32> = counts
            .iter()
            .map(|&n| {
                if n == 0 {
                    0.0
                } else {
                    examples.len() as f32 / (classes as f32 * n as f32)
                }
            })
            .collect();
        let (lr, decay) = (config.learning_rate as f32, config.weight_decay as f32);

        let batch_size = config.batch_size.max(1);
        let steps_per_epoch = examples.len().div_ceil(batch_size);
        let epochs = config
            .epochs
            .max(config.min_steps.div_ceil(steps_per_epoch));
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = Rng(config.seed | 1);
        let mut t = 0;
        for _ in 0..epochs {
            rng.shuffle(&mut order);
            for chunk in order.chunks(batch_size) {
                t += 1;
                let batch: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
                let inputs: Vec<(&[f32], &Sparse)> = batch
                    .iter()
                    .map(|e| (e.embedding.as_slice(), &e.ngrams))
                    .collect();
                // ∂loss/∂logits of the class-weighted mean cross-entropy:
                // weight · (softmax − onehot) / batch.
                let mut delta = head.probability_rows(&inputs)?;
                let scale = 1.0 / batch.len() as f32;
                for (row, example) in delta.chunks_mut(classes).zip(&batch) {
                    row[example.label] -= 1.0;
                    let weight = class_weights[example.label] * scale;
                    row.iter_mut().for_each(|d| *d *= weight);
                }

                let grad_weight = matmul_tn(&delta, &inputs, classes, embedding_dim)?;
                let mut grad_bias = vec![0.0f32; classes];
                for row in delta.chunks(classes) {
                    grad_bias.iter_mut().zip(row).for_each(|(g, d)| *g += d);
                }
                grad_ngram.iter_mut().for_each(|g| *g = 0.0);
                for (row, example) in delta.chunks(classes).zip(&batch) {
                    for (bucket, value) in &example.ngrams {
                        let start = *bucket as usize * classes;
                        let target = &mut grad_ngram[start..start + classes];
                        let x = value * head.ngram_scale;
                        target.iter_mut().zip(row).for_each(|(g, d)| *g += x * d);
                    }
                }

                adam[0].step(&mut head.weight, &grad_weight, t, lr, decay);
                adam[1].step(&mut head.bias, &grad_bias, t, lr, 0.0);
                adam[2].step(&mut head.ngram, &grad_ngram, t, lr, decay);
            }
        }
        Ok(head)
    }

    /// The intent names, in the order of the probabilities.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Probabilities over the labels for each `(embedding, n-grams)` input.
    pub fn probabilities(&self, batch: &[(&[f32], &Sparse)]) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(self
            .probability_rows(batch)?
            .chunks(self.labels.len())
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Softmax of the logits, one row of `classes` values per input, flattened.
    fn probability_rows(&self, batch: &[(&[f32], &Sparse)]) -> Result<Vec<f32>, ModelError> {
        let classes = self.labels.len();
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if let Some((e, _)) = batch.iter().find(|(e, _)| e.len() != self.embedding_dim) {
            return Err(ModelError::Training(format!(
                "embedding of length {}, the head expects {}",
                e.len(),
                self.embedding_dim
            )));
        }
        let device = Device::Cpu;
        let embeddings: Vec<f32> = batch.iter().flat_map(|(e, _)| e.iter().copied()).collect();
        let x = Tensor::from_vec(embeddings, (batch.len(), self.embedding_dim), &device)?;
        let w = Tensor::from_slice(&self.weight, (classes, self.embedding_dim), &device)?;
        let mut logits = x.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()?;
        for (row, (_, ngrams)) in logits.chunks_mut(classes).zip(batch) {
            row.iter_mut().zip(&self.bias).for_each(|(l, b)| *l += b);
            for (bucket, value) in ngrams.iter() {
                let start = *bucket as usize * classes;
                let x = value * self.ngram_scale;
                row.iter_mut()
                    .zip(&self.ngram[start..start + classes])
                    .for_each(|(l, w)| *l += x * w);
            }
        }
        let logits = Tensor::from_vec(logits, (batch.len(), classes), &device)?;
        Ok(candle_nn::ops::softmax_last_dim(&logits)?
            .flatten_all()?
            .to_vec1()?)
    }
}

/// `deltaᵀ · embeddings`: the gradient of the embedding weights, `classes × dim`.
fn matmul_tn(
    delta: &[f32],
    inputs: &[(&[f32], &Sparse)],
    classes: usize,
    dim: usize,
) -> Result<Vec<f32>, ModelError> {
    let device = Device::Cpu;
    let rows = inputs.len();
    let embeddings: Vec<f32> = inputs.iter().flat_map(|(e, _)| e.iter().copied()).collect();
    let x = Tensor::from_vec(embeddings, (rows, dim), &device)?;
    let d = Tensor::from_slice(delta, (rows, classes), &device)?;
    Ok(d.t()?.matmul(&x)?.flatten_all()?.to_vec1()?)
}

#[path = "head_io.rs"]
mod io;

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
