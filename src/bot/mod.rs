//! The bot pipeline: classify → retrieve → decide.
//!
//! Every customer message goes through three steps:
//!
//! 1. **classify**: what the customer means (intent, confidence, out-of-scope score), from the
//!    local transformer model (`model` module, added with the intent model);
//! 2. **retrieve**: which FAQ entries could answer it ([`Bot::retrieve`], BM25 over the
//!    knowledge index, later fused with embedding similarity);
//! 3. **decide**: answer, ask which entry was meant, or hand off (added with the live chat).
//!
//! [`Bot`] owns one loaded knowledge base with its index. It is immutable: a reload builds a new
//! `Bot` and swaps it in, so a request never sees half of an update.

use crate::knowledge::{FaqEntry, FaqIndex, IndexError, Knowledge};

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

/// An FAQ entry that may answer a message, with its retrieval score.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The entry.
    pub entry: &'a FaqEntry,
    /// Retrieval score; higher is better, comparable within one message only.
    pub score: f32,
}

/// A knowledge base ready to answer questions.
#[derive(Debug)]
pub struct Bot {
    knowledge: Knowledge,
    index: FaqIndex,
}

impl Bot {
    /// Indexes `knowledge` and warms up the analyzer (jieba loads its dictionary on first use,
    /// which should happen at start-up rather than on a customer's first message).
    pub fn new(knowledge: Knowledge) -> Result<Self, BotError> {
        let index = FaqIndex::build(&knowledge.faqs)?;
        index.terms("warm up 预热");
        Ok(Self { knowledge, index })
    }

    /// The knowledge base this bot answers from.
    pub fn knowledge(&self) -> &Knowledge {
        &self.knowledge
    }

    /// The retrieve step: up to `limit` FAQ entries that may answer `text`, best first.
    pub fn retrieve(&self, text: &str, limit: usize) -> Result<Vec<Candidate<'_>>, BotError> {
        Ok(self
            .index
            .search(text, limit)?
            .into_iter()
            .filter_map(|hit| {
                let entry = self.knowledge.faqs.get(hit.ord)?;
                Some(Candidate {
                    entry,
                    score: hit.score,
                })
            })
            .collect())
    }
}
