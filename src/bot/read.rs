//! The one way a customer's text is read, shared by the chat turn, `/api/ask` and the agents'
//! suggestions: embedded on the inference thread ([`Embedder`]), then classified and matched
//! against the FAQ on the blocking pool, since retrieval and the intent model's small matrix
//! products take a millisecond or so: too long to hold an async thread that thousands of
//! sockets share.

use std::sync::Arc;
use std::time::Instant;

use super::{Bot, BotError, Candidate, Understanding};
use crate::metrics::Metrics;
use crate::model::{Embedder, ModelError};

/// Why a text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The encoder failed or its queue is full ([`ModelError::Busy`]).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Retrieval or classification failed.
    #[error(transparent)]
    Bot(#[from] BotError),
    /// The blocking task panicked.
    #[error("reading the message failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// What the bot made of a text, lent to the caller's closure.
#[derive(Debug)]
pub struct Reading<'a> {
    /// The text's embedding; `None` until the intent model is trained (search alone then).
    pub embedding: Option<&'a [f32]>,
    /// Intents and out-of-scope score; `None` until the intent model is trained.
    pub understanding: Option<&'a Understanding>,
    /// FAQ entries that may answer it, best first: fused scores with the model, BM25 without.
    pub candidates: &'a [Candidate<'a>],
}

/// Reads `text` with `bot` and hands the result to `then`, which runs on the blocking pool and
/// turns it into whatever the caller keeps (a decision's input, a response body).
pub async fn read<T: Send + 'static>(
    bot: Arc<Bot>,
    embedder: &Embedder,
    metrics: &Metrics,
    text: &str,
    limit: usize,
    then: impl FnOnce(&Bot, Reading<'_>) -> T + Send + 'static,
) -> Result<T, ReadError> {
    let embedding = match bot.brain() {
        Some(_) => {
            let started = Instant::now();
            let embedding = match bot.encoder() {
                Some(encoder) => embedder.embed_with(encoder, text).await?,
                None => embedder.embed(text).await?,
            };
            metrics.observe_model("embed", started.elapsed());
            Some(embedding)
        }
        None => None,
    };
    let text = text.to_owned();
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || -> Result<T, BotError> {
        let analysis = match embedding.as_deref() {
            Some(embedding) => bot.analyse(&text, embedding, limit)?,
            None => None,
        };
        let (understanding, candidates) = match analysis {
            Some(analysis) => (Some(analysis.understanding), analysis.candidates),
            None => (None, bot.retrieve(&text, None, limit)?),
        };
        let reading = Reading {
            embedding: embedding.as_deref(),
            understanding: understanding.as_ref(),
            candidates: &candidates,
        };
        Ok(then(&bot, reading))
    })
    .await??;
    metrics.observe_model("classify", started.elapsed());
    Ok(result)
}
