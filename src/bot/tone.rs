//! The tone of a complaint, read by a model of its own.
//!
//! The intent head answers "what is this about", and an angry message about a late parcel is
//! about a parcel: "your driver dumped my box in the rain and the lamp is ruined, appalling"
//! reads as shipping, with the complaint intent a distant second. So the complaint is also read
//! apart from the topic: a two-class head (the same kind as the intent head, on the same
//! embeddings and n-grams) trained on the complaint intent's examples against every other
//! example and every FAQ phrasing. With calm questions on the same topics among its negatives,
//! what it learns is the tone, not the topic. Measured on the sample (`cargo run --release
//! --example tone_probe`, 8 angry and 10 calm messages): 5 of the 8 angry ones about
//! deliveries, refunds and charges scored 0.18–0.998 (the other 3 0.001–0.016), the calm ones
//! on the same topics ≤ 0.09; the intent head gave the complaint 0.06–0.22 on angry messages
//! of that kind (`tandem ask`).
//!
//! Trained with the intent head (under a second on the sample) and cached beside it.

use crate::knowledge::{Action, Knowledge};
use crate::model::head::Example;
use crate::model::{IntentHead, ModelError, TrainConfig, features};

/// The intent whose examples teach the tone; named in the knowledge base (`intents.yaml`).
pub const COMPLAINT_INTENT: &str = "complaint";

/// Fewest complaint examples worth a model: fewer teach a handful of sentences, not a tone.
const MIN_EXAMPLES: usize = 5;

const COMPLAINT: &str = "complaint";
const OTHER: &str = "other";

/// The complaint-tone model of a knowledge base.
#[derive(Debug)]
pub struct Tone {
    head: IntentHead,
    complaint: usize,
}

impl Tone {
    /// Trains the model on `examples` (intent examples as `(text, intent)` with their
    /// embeddings) and `phrasings` (every FAQ question and alternative with theirs); `None`
    /// when the knowledge base has no handoff intent named [`COMPLAINT_INTENT`] with at least
    /// a few examples.
    pub fn train(
        knowledge: &Knowledge,
        examples: &[(String, String)],
        example_embeddings: &[Vec<f32>],
        phrasings: &[String],
        phrasing_embeddings: &[Vec<f32>],
    ) -> Result<Option<Tone>, ModelError> {
        let hands_off = knowledge
            .intent(COMPLAINT_INTENT)
            .is_some_and(|i| i.action == Action::Handoff);
        let complaints = examples
            .iter()
            .filter(|(_, intent)| intent == COMPLAINT_INTENT)
            .count();
        if !hands_off || complaints < MIN_EXAMPLES {
            return Ok(None);
        }
        // Complaints are a few dozen rows among thousands: each is repeated so that the two
        // classes weigh the same, or the head would learn to say "other" to everything.
        let others = examples.len() - complaints + phrasings.len();
        let repeat = (others / complaints).max(1);
        let labels = vec![COMPLAINT.to_owned(), OTHER.to_owned()];
        let mut rows = Vec::with_capacity(others + complaints * repeat);
        for ((text, intent), embedding) in examples.iter().zip(example_embeddings) {
            let complaint = intent == COMPLAINT_INTENT;
            let row = Example {
                embedding: embedding.clone(),
                ngrams: features::ngrams(text),
                label: usize::from(!complaint),
            };
            let times = if complaint { repeat } else { 1 };
            rows.extend(std::iter::repeat_n(row, times));
        }
        for (text, embedding) in phrasings.iter().zip(phrasing_embeddings) {
            rows.push(Example {
                embedding: embedding.clone(),
                ngrams: features::ngrams(text),
                label: 1,
            });
        }
        let head = IntentHead::train(&rows, labels, &TrainConfig::default())?;
        Ok(Some(Tone { head, complaint: 0 }))
    }

    /// Saves the model as an intent head at `path` (and its labels beside it).
    pub fn save(&self, path: &std::path::Path) -> Result<(), ModelError> {
        self.head.save(path)
    }

    /// Loads a model [`Tone::save`] wrote.
    pub fn load(path: &std::path::Path) -> Result<Tone, ModelError> {
        let head = IntentHead::load(path)?;
        let complaint = head
            .labels()
            .iter()
            .position(|l| l == COMPLAINT)
            .ok_or_else(|| ModelError::Training(format!("{}: not a tone model", path.display())))?;
        Ok(Tone { head, complaint })
    }

    /// How much a message reads as a complaint, 0–1.
    pub fn complaint(
        &self,
        embedding: &[f32],
        ngrams: &features::Sparse,
    ) -> Result<f32, ModelError> {
        let probs = self.head.probabilities(&[(embedding, ngrams)])?;
        Ok(probs
            .first()
            .and_then(|p| p.get(self.complaint))
            .copied()
            .unwrap_or(0.0))
    }
}
