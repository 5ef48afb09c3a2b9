//! The local language model: a sentence encoder run by candle on the CPU.
//!
//! - [`encoder`]: BERT-family transformer → unit-length sentence embeddings.
//! - [`features`]: hashed word and character n-grams (for Chinese, typos, product names).
//! - [`gaussians`]: per-language Gaussian models of the intents (out-of-scope distance).
//! - [`head`]: the intent classifier trained on the knowledge base's examples.
//! - [`memo`]: embeddings of texts seen before, so an edit embeds only what changed.
//! - [`oos`]: out-of-scope scores, threshold choice, AUROC.
//! - [`usem`]: Universal Sentence Encoder Multilingual v3, the encoder that reads Chinese.
//! - [`tune`]: fine-tuning the encoder on a knowledge base's phrasings (candle autograd).
//! - [`worker`]: the inference thread that batches concurrent requests.

mod bert;
pub mod encoder;
pub mod features;
pub mod gaussians;
pub mod head;
pub mod mahalanobis;
pub mod memo;
pub mod oos;
pub mod tune;
pub mod usem;
pub mod worker;

use std::path::PathBuf;

pub use encoder::Encoder;
pub use head::{IntentHead, TrainConfig};
pub use memo::{Embeds, Memo, Memoised};
pub use worker::{BatchConfig, Embedder};

/// How to install the default model; every error about missing or broken files says it.
pub const FETCH_HINT: &str = "run `make model` (models/fetch) to install it";

/// Errors from loading or running the model. Each says in one line what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model file is not there.
    #[error("model file {file} is missing in {dir}: {FETCH_HINT}")]
    Missing {
        /// The model folder.
        dir: PathBuf,
        /// The missing file.
        file: &'static str,
    },
    /// A model file is there but unusable.
    #[error("model file {file} in {dir} is corrupt ({reason}): {FETCH_HINT}")]
    Corrupt {
        /// The model folder.
        dir: PathBuf,
        /// The broken file.
        file: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The tokenizer rejected a text.
    #[error("tokenizer: {0}")]
    Tokenize(String),
    /// The intent head could not be trained, saved or loaded.
    #[error("intent head: {0}")]
    Training(String),
    /// Too many messages are waiting for the model; try again shortly.
    #[error("the model is busy; try again shortly")]
    Busy,
    /// The inference thread has stopped.
    #[error("the inference thread has stopped")]
    Stopped,
    /// Inference failed for a batch this request was part of.
    #[error("model inference: {0}")]
    Inference(String),
    /// A tensor operation failed.
    #[error("model inference: {0}")]
    Candle(#[from] candle_core::Error),
}

impl ModelError {
    fn tokenize(e: impl std::fmt::Display) -> Self {
        ModelError::Tokenize(e.to_string())
    }
}

/// Cosine similarity of two vectors. The encoder's embeddings are unit length, but centroids
/// and sums are not, and a zero vector (empty text) must not divide by zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Embeds any number of texts in batches of similar length (less padding), returning the
/// embeddings in the order of `texts`.
pub fn embed_many(encoder: &Encoder, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
    const BATCH: usize = 64;
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut out = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(BATCH) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        for (&i, embedding) in chunk.iter().zip(encoder.embed(&batch)?) {
            out[i] = embedding;
        }
    }
    Ok(out)
}

/// Identity of the model in `dir`, for cache keys: its `SHA256SUMS` when present, else the
/// size and modification time of each model file.
pub fn fingerprint(dir: &std::path::Path) -> String {
    if let Ok(sums) = std::fs::read_to_string(dir.join(encoder::CHECKSUMS)) {
        return sums;
    }
    encoder::MODEL_FILES
        .iter()
        .chain(&usem::FILES)
        .chain(&[usem::TUNED])
        .map(|file| {
            let meta = std::fs::metadata(dir.join(file)).ok();
            let modified = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{file} {} {modified}\n", meta.map_or(0, |m| m.len()))
        })
        .collect()
}
