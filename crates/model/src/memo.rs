//! Embeddings of texts already seen, so that a knowledge edit embeds only what it changed.
//!
//! A reload embeds every phrasing, example, answer and `tests.yaml` utterance of the knowledge
//! base (on the sample ~900 texts, most of a reload's time); an edit changes a handful. The
//! reloader keeps one [`Memo`] for its encoder and builds through [`Memoised`], which embeds
//! only the texts the memo lacks. Each build is a *generation*: texts not used by the latest
//! two builds are forgotten ([`Memo::end_build`]), so the memo holds about one knowledge base
//! (plus the version before, for an editor who undoes an edit) and no more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::{Encoder, ModelError, embed_many};

/// Something that turns texts into sentence embeddings: the encoder itself, or the encoder
/// through a [`Memo`].
pub trait Embeds {
    /// Length of each embedding.
    fn dim(&self) -> usize;
    /// The embeddings of `texts`, in their order.
    fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError>;
    /// The embedding's blocks, one per language model ([`Encoder::blocks`]).
    fn blocks(&self) -> Vec<std::ops::Range<usize>>;
    /// Identity of the models, for cache keys ([`Encoder::fingerprint`]).
    fn fingerprint(&self) -> &str;
}

impl Embeds for Encoder {
    fn dim(&self) -> usize {
        Encoder::dim(self)
    }

    fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        embed_many(self, texts)
    }

    fn blocks(&self) -> Vec<std::ops::Range<usize>> {
        Encoder::blocks(self)
    }

    fn fingerprint(&self) -> &str {
        Encoder::fingerprint(self)
    }
}

/// A text's embedding and the latest build that used it.
struct Remembered {
    embedding: Arc<[f32]>,
    generation: u64,
}

#[derive(Default)]
struct Entries {
    by_text: HashMap<String, Remembered>,
    generation: u64,
}

/// Embeddings by text, for one encoder (the owner keeps it beside that encoder: a memo filled
/// by one model must never answer for another).
#[derive(Default)]
pub struct Memo {
    entries: Mutex<Entries>,
    /// Texts embedded through the memo so far (what it did not know).
    embedded: AtomicUsize,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").field("texts", &self.len()).finish()
    }
}

impl Memo {
    /// Texts remembered.
    pub fn len(&self) -> usize {
        self.lock().by_text.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Texts embedded through the memo since it was made: the difference across a build is
    /// what that build had to embed.
    pub fn embedded(&self) -> usize {
        self.embedded.load(Ordering::Relaxed)
    }

    /// Remembers embeddings computed elsewhere (a brain loaded from the disk cache holds its
    /// texts' embeddings), as used by the current build.
    pub fn remember(&self, known: impl IntoIterator<Item = (String, Vec<f32>)>) {
        let mut entries = self.lock();
        let generation = entries.generation;
        for (text, embedding) in known {
            entries.by_text.insert(
                text,
                Remembered {
                    embedding: Arc::from(embedding),
                    generation,
                },
            );
        }
    }

    /// Ends a build: forgets the texts that neither this build nor the one before used.
    pub fn end_build(&self) {
        let mut entries = self.lock();
        let current = entries.generation;
        entries.by_text.retain(|_, r| r.generation + 1 >= current);
        entries.generation += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Entries are inserted whole; a panic elsewhere cannot leave half a vector behind.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The encoder through a memo: texts seen before cost a lookup, new texts are embedded in
/// batches and remembered.
#[derive(Clone, Copy)]
pub struct Memoised<'a> {
    /// The encoder for texts the memo lacks.
    pub encoder: &'a Encoder,
    /// The memo, kept for this encoder.
    pub memo: &'a Memo,
}

impl Embeds for Memoised<'_> {
    fn dim(&self) -> usize {
        self.encoder.dim()
    }

    fn blocks(&self) -> Vec<std::ops::Range<usize>> {
        self.encoder.blocks()
    }

    fn fingerprint(&self) -> &str {
        self.encoder.fingerprint()
    }

    fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut out: Vec<Option<Arc<[f32]>>> = Vec::with_capacity(texts.len());
        let mut missing: Vec<String> = Vec::new();
        {
            let mut entries = self.memo.lock();
            let generation = entries.generation;
            for text in texts {
                match entries.by_text.get_mut(text) {
                    Some(r) => {
                        r.generation = generation;
                        out.push(Some(Arc::clone(&r.embedding)));
                    }
                    None => {
                        missing.push(text.clone());
                        out.push(None);
                    }
                }
            }
        }
        // Embedded outside the lock: the encoder takes milliseconds per text. A text twice in
        // `texts` is embedded once.
        missing.sort_unstable();
        missing.dedup();
        let embedded = embed_many(self.encoder, &missing)?;
        self.memo
            .embedded
            .fetch_add(missing.len(), Ordering::Relaxed);
        let mut entries = self.memo.lock();
        let generation = entries.generation;
        let fresh: HashMap<&str, Arc<[f32]>> = missing
            .iter()
            .zip(embedded)
            .map(|(text, e)| (text.as_str(), Arc::from(e)))
            .collect();
        for (text, embedding) in &fresh {
            entries.by_text.insert(
                (*text).to_owned(),
                Remembered {
                    embedding: Arc::clone(embedding),
                    generation,
                },
            );
        }
        Ok(texts
            .iter()
            .zip(out)
            .map(|(text, found)| {
                // Every text was either remembered or is among the fresh ones.
                found
                    .or_else(|| fresh.get(text.as_str()).cloned())
                    .map(|e| e.to_vec())
                    .unwrap_or_default()
            })
            .collect())
    }
}
