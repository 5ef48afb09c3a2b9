//! Inference off the async runtime: one dedicated thread runs the encoder and batches
//! concurrent requests.
//!
//! Async tasks send texts over a bounded channel and await a oneshot reply. The worker takes
//! the first waiting text, drains whatever else is queued (up to `max_batch`), waits at most
//! `window` for stragglers while the batch is not full, and embeds the batch in one forward
//! pass: under load, one pass over 32 messages costs far less than 32 passes over one. The
//! channel is bounded: when `queue` texts are already waiting, [`Embedder::embed`] fails at once
//! with [`ModelError::Busy`] instead of letting latency grow without limit.
//!
//! Each request names the encoder it wants ([`Embedder::embed_with`]): when a fine-tuned
//! encoder replaces the serving one, a turn that started with the old bot embeds with the old
//! encoder, so a message's embedding always matches the brain that reads it. A batch that mixes
//! the two (only during the swap) runs one pass per encoder.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Encoder, ModelError};

/// Batching settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Most texts embedded in one forward pass.
    pub max_batch: usize,
    /// Longest wait for more texts once one has arrived.
    pub window: Duration,
    /// Most texts waiting before callers are turned away.
    pub queue: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            // Past ~32 short messages a pass gains little throughput and every caller waits
            // for the whole batch.
            max_batch: 32,
            // Short enough to be invisible next to a ~5 ms forward pass.
            window: Duration::from_micros(500),
            // About one second of work at full throughput.
            queue: 1024,
        }
    }
}

struct Job {
    text: String,
    encoder: Arc<Encoder>,
    reply: oneshot::Sender<Result<Vec<f32>, Arc<ModelError>>>,
}

/// Handle to the inference thread; cheap to clone. The thread stops when every handle is
/// dropped.
#[derive(Clone)]
pub struct Embedder {
    jobs: SyncSender<Job>,
    encoder: Arc<Encoder>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").finish_non_exhaustive()
    }
}

impl Embedder {
    /// Starts the inference thread.
    pub fn spawn(encoder: Arc<Encoder>, config: BatchConfig) -> Result<Self, ModelError> {
        let (jobs, queue) = sync_channel(config.queue.max(1));
        std::thread::Builder::new()
            .name("tandem-inference".into())
            .spawn(move || run(&queue, config))
            .map_err(|source| ModelError::Io {
                path: "inference thread".into(),
                source,
            })?;
        Ok(Self { jobs, encoder })
    }

    /// The encoder the worker runs (for synchronous use at start-up and in commands).
    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }

    /// Embeds one text with the encoder the worker started with, batched with whatever else
    /// is waiting.
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        self.embed_with(&self.encoder, text).await
    }

    /// Embeds one text with `encoder` (a fine-tuned one, say), batched with whatever else is
    /// waiting.
    pub async fn embed_with(
        &self,
        encoder: &Arc<Encoder>,
        text: &str,
    ) -> Result<Vec<f32>, ModelError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            text: text.to_owned(),
            encoder: Arc::clone(encoder),
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ModelError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(ModelError::Stopped),
        }
        match answer.await {
            Ok(Ok(embedding)) => Ok(embedding),
            Ok(Err(shared)) => Err(ModelError::Inference(shared.to_string())),
            Err(_) => Err(ModelError::Stopped),
        }
    }
}

fn run(queue: &Receiver<Job>, config: BatchConfig) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < config.max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let deadline = Instant::now() + config.window;
        while batch.len() < config.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match queue.recv_timeout(left) {
                Ok(job) => batch.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        while !batch.is_empty() {
            let encoder = Arc::clone(&batch[0].encoder);
            let (same, rest): (Vec<Job>, Vec<Job>) = batch
                .into_iter()
                .partition(|j| Arc::ptr_eq(&j.encoder, &encoder));
            embed_batch(&encoder, same);
            batch = rest;
        }
    }
}

/// One forward pass over `batch`, every job answered.
fn embed_batch(encoder: &Encoder, batch: Vec<Job>) {
    let texts: Vec<&str> = batch.iter().map(|j| j.text.as_str()).collect();
    match encoder.embed(&texts) {
        Ok(embeddings) => {
            for (job, embedding) in batch.into_iter().zip(embeddings) {
                // The caller may have gone away (client disconnected); nothing to do.
                let _ = job.reply.send(Ok(embedding));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = texts.len(), "inference failed");
            let shared = Arc::new(e);
            for job in batch {
                let _ = job.reply.send(Err(Arc::clone(&shared)));
            }
        }
    }
}
