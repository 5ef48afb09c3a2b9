//! The local language model: a sentence encoder run by candle on the CPU.
//!
//! - [`encoder`]: BERT-family transformer → unit-length sentence embeddings.
//! - [`features`]: hashed word and character n-grams (for Chinese, typos, product names).

pub mod encoder;
pub mod features;

use std::path::PathBuf;

pub use encoder::Encoder;

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
    /// A tensor operation failed.
    #[error("model inference: {0}")]
    Candle(#[from] candle_core::Error),
}

impl ModelError {
    fn tokenize(e: impl std::fmt::Display) -> Self {
        ModelError::Tokenize(e.to_string())
    }
}
