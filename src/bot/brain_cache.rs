//! The brain's disk cache: one entry per knowledge base version (keyed by everything that
//! changes the trained model), loaded at once on a restart with unchanged knowledge, and pruned
//! to the newest [`KEEP`] versions so that a long run of edits does not fill the disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use super::{Brain, HeadSource, OOS_METHOD, OosConfig, Tone, retrieval_texts, training_texts};
use crate::knowledge::Knowledge;
use crate::model::gaussians::BlockGaussians;
use crate::model::oos::Neighbours;
use crate::model::{Embeds, IntentHead, Memo, ModelError, TrainConfig, features};

/// Cached versions kept: enough to go back and forth between recent edits without retraining.
pub const KEEP: usize = 8;

impl Brain {
    /// Cache key: everything the brain is computed from.
    pub fn cache_key(
        knowledge: &Knowledge,
        model_fingerprint: &str,
        config: &TrainConfig,
    ) -> String {
        // "brain 2": the cache holds the Gaussian model since version 2, the tone model since 4.
        let mut hasher = training_hasher("brain 4", knowledge, model_fingerprint, config);
        let (phrasings, _, answers) = retrieval_texts(knowledge);
        for text in phrasings.iter().chain(&answers) {
            hasher.update(text.as_bytes());
            hasher.update([0x1e]);
        }
        for entry in &knowledge.faqs {
            hasher.update(entry.id.as_bytes());
            hasher.update([0x1e]);
        }
        format!("{:x}", hasher.finalize())[..32].to_owned()
    }

    /// Key of what the intent head and the Gaussian model are trained on: the model, the
    /// training settings and every labelled example, nothing else.
    pub fn training_key(
        knowledge: &Knowledge,
        model_fingerprint: &str,
        config: &TrainConfig,
    ) -> String {
        let hasher = training_hasher("head", knowledge, model_fingerprint, config);
        format!("{:x}", hasher.finalize())[..32].to_owned()
    }

    /// Tells `memo` the embeddings this brain holds for the texts of `knowledge` (the one it was
    /// built for): its examples, phrasings and answers. After a start from the disk cache, the
    /// first edit then embeds what it changed, not the whole knowledge base.
    pub fn remember(&self, knowledge: &Knowledge, memo: &Memo) -> Result<(), ModelError> {
        let (phrasings, _, answers) = retrieval_texts(knowledge);
        let examples: Vec<String> = training_texts(knowledge)
            .into_iter()
            .map(|(text, _)| text)
            .collect();
        let mut known = Vec::new();
        for (texts, matrix) in [
            (examples, self.neighbours.matrix()?),
            (phrasings, self.phrasings.clone()),
            (answers, self.answers.clone()),
        ] {
            // A brain without examples holds an empty (0 × 0) matrix for them.
            if texts.is_empty() || matrix.dim(0)? != texts.len() {
                continue;
            }
            known.extend(texts.into_iter().zip(matrix.to_vec2::<f32>()?));
        }
        memo.remember(known);
        Ok(())
    }

    /// Loads the brain for `knowledge` from `cache_dir`, or builds and caches it, reusing what
    /// it can of `previous` (the brain serving before an edit; see [`Brain::rebuild`]). A brain
    /// whose head is still pending is not cached: the cache holds final models only.
    #[allow(clippy::too_many_arguments)]
    pub fn load_or_build(
        knowledge: &Knowledge,
        encoder: &impl Embeds,
        config: &TrainConfig,
        oos: OosConfig,
        cache_dir: &Path,
        model_fingerprint: &str,
        previous: Option<&Brain>,
        defer: bool,
    ) -> Result<Self, ModelError> {
        let key = Self::cache_key(knowledge, model_fingerprint, config);
        let training_key = Self::training_key(knowledge, model_fingerprint, config);
        let head_path = cache_dir.join(format!("head-{key}.safetensors"));
        let vectors_path = cache_dir.join(format!("vectors-{key}.safetensors"));
        if vectors_path.exists() {
            match Self::load(knowledge, &head_path, &vectors_path, oos, &training_key) {
                Ok(brain) => return Ok(brain),
                Err(e) => tracing::warn!(error = %e, "cached intent model unusable; retraining"),
            }
        }
        let brain = Self::rebuild(
            knowledge,
            encoder,
            config,
            oos,
            &training_key,
            previous,
            defer,
        )?;
        if brain.head_source == HeadSource::Pending {
            return Ok(brain);
        }
        if let Err(e) = brain.save(cache_dir, &head_path, &vectors_path) {
            // A read-only data folder costs a retrain at the next start, nothing more.
            tracing::warn!(error = %e, "cannot cache the intent model");
        }
        prune(cache_dir, KEEP);
        Ok(brain)
    }

    fn save(&self, dir: &Path, head_path: &Path, vectors_path: &Path) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let owners: Vec<u32> = self.owners.iter().map(|&o| o as u32).collect();
        // Each head is written beside and renamed into place, like the vectors below. A head
        // is two files (weights and labels); the labels go into place first, so a reader that
        // finds the weights finds the labels too.
        let put = |path: &Path, save: &dyn Fn(&Path) -> Result<(), ModelError>| {
            let partial = partial_path(path);
            save(&partial)?;
            rename(
                &partial.with_extension("json"),
                &path.with_extension("json"),
            )?;
            rename(&partial, path)
        };
        if let Some(head) = &self.head {
            put(head_path, &|p| head.save(p))?;
        }
        if let Some(tone) = &self.tone {
            put(&tone_path(head_path), &|p| tone.save(p))?;
        }
        let has_head = u32::from(self.head.is_some());
        let mut tensors = HashMap::from([
            (
                "has_head".to_owned(),
                Tensor::from_vec(vec![has_head], 1, &Device::Cpu)?,
            ),
            ("examples".to_owned(), self.neighbours.matrix()?),
            ("phrasings".to_owned(), self.phrasings.clone()),
            (
                "owners".to_owned(),
                Tensor::from_vec(owners, self.owners.len(), &Device::Cpu)?,
            ),
            ("answers".to_owned(), self.answers.clone()),
            (
                "reads_chinese".to_owned(),
                Tensor::from_vec(vec![u32::from(self.reads_chinese)], 1, &Device::Cpu)?,
            ),
            (
                "has_tone".to_owned(),
                Tensor::from_vec(vec![u32::from(self.tone.is_some())], 1, &Device::Cpu)?,
            ),
        ]);
        if let Some(gaussian) = &self.gaussian {
            for (name, values) in gaussian.to_parts() {
                let len = values.len();
                tensors.insert(name, Tensor::from_vec(values, len, &Device::Cpu)?);
            }
        }
        // The vectors file is written last: its presence marks a complete cache entry. It is
        // written under a name of its own and renamed into place, so that another server
        // sharing the cache (same knowledge, same key) never reads half a file.
        let partial = partial_path(vectors_path);
        candle_core::safetensors::save(&tensors, &partial)?;
        rename(&partial, vectors_path)
    }

    fn load(
        knowledge: &Knowledge,
        head_path: &Path,
        vectors_path: &Path,
        oos: OosConfig,
        training_key: &str,
    ) -> Result<Self, ModelError> {
        let mut tensors = candle_core::safetensors::load(vectors_path, &Device::Cpu)?;
        let mut take = |name: &str| {
            tensors.remove(name).ok_or_else(|| {
                ModelError::Training(format!("{}: no {name}", vectors_path.display()))
            })
        };
        let head = match take("has_head")?.to_vec1::<u32>()?.first() {
            Some(1) => Some(Arc::new(IntentHead::load(head_path)?)),
            _ => None,
        };
        let examples = take("examples")?;
        let gaussian = match head {
            Some(_) => Some(Arc::new(BlockGaussians::from_parts(|name| {
                take(name).ok()?.to_vec1::<f32>().ok()
            })?)),
            None => None,
        };
        let phrasings = take("phrasings")?;
        let owners: Vec<usize> = take("owners")?
            .to_vec1::<u32>()?
            .into_iter()
            .map(|o| o as usize)
            .collect();
        let answers = take("answers")?;
        let reads_chinese = take("reads_chinese")?.to_vec1::<u32>()?.first() == Some(&1);
        if answers.dim(0)? != knowledge.faqs.len()
            || owners.iter().any(|&o| o >= knowledge.faqs.len())
        {
            return Err(ModelError::Training(
                "cached vectors do not fit the knowledge base".into(),
            ));
        }
        let (texts, _, _) = retrieval_texts(knowledge);
        if texts.len() != owners.len() {
            return Err(ModelError::Training(
                "cached vectors do not fit the knowledge base".into(),
            ));
        }
        let training = training_texts(knowledge);
        let tone = match take("has_tone")?.to_vec1::<u32>()?.first() {
            Some(1) => Some(Arc::new(Tone::load(&tone_path(head_path))?)),
            _ => None,
        };
        Ok(Self {
            head_source: if head.is_some() {
                HeadSource::Cached
            } else {
                HeadSource::Absent
            },
            training_key: training_key.to_owned(),
            head,
            gaussian,
            neighbours: Neighbours::from_matrix(examples)?,
            example_ngrams: training.iter().map(|(t, _)| features::ngrams(t)).collect(),
            phrasing_ngrams: texts.iter().map(|p| features::ngrams(p)).collect(),
            phrasings,
            owners,
            answers,
            oos,
            reads_chinese,
            tone,
        })
    }
}

impl Brain {
    /// Loads or builds the brain as the server's settings say (cache under `data_dir`).
    pub fn for_settings(
        knowledge: &Knowledge,
        encoder: &impl Embeds,
        settings: &crate::config::Settings,
    ) -> Result<Self, ModelError> {
        Self::with_settings(knowledge, encoder, settings, None, false)
    }

    /// [`Brain::for_settings`] after an edit, while `previous` serves: what the edit did not
    /// change is reused, and a head whose examples changed is left pending (kept from
    /// `previous`) for the caller to train in the background with [`Brain::for_settings`].
    pub fn after_edit(
        knowledge: &Knowledge,
        encoder: &impl Embeds,
        settings: &crate::config::Settings,
        previous: &Brain,
    ) -> Result<Self, ModelError> {
        Self::with_settings(knowledge, encoder, settings, Some(previous), true)
    }

    fn with_settings(
        knowledge: &Knowledge,
        encoder: &impl Embeds,
        settings: &crate::config::Settings,
        previous: Option<&Brain>,
        defer: bool,
    ) -> Result<Self, ModelError> {
        Self::load_or_build(
            knowledge,
            encoder,
            &TrainConfig::default(),
            OosConfig {
                method: OOS_METHOD,
                threshold: settings.oos_threshold,
            },
            &settings.model_cache_dir(),
            encoder.fingerprint(),
            previous,
            defer,
        )
    }
}

/// A hasher over `what`, the model, the training settings and every labelled example.
fn training_hasher(
    what: &str,
    knowledge: &Knowledge,
    model_fingerprint: &str,
    config: &TrainConfig,
) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(model_fingerprint.as_bytes());
    hasher.update(format!("{what} features {} {config:?}", features::VERSION).as_bytes());
    for (text, label) in training_texts(knowledge) {
        hasher.update(format!("{label}\u{1f}{text}\u{1e}").as_bytes());
    }
    hasher
}

/// A name beside `path` that no other writer uses.
fn partial_path(path: &Path) -> PathBuf {
    let unique = uuid::Uuid::new_v4().simple();
    path.with_extension(format!("{unique}.partial"))
}

fn rename(from: &Path, to: &Path) -> Result<(), ModelError> {
    std::fs::rename(from, to).map_err(|source| ModelError::Io {
        path: to.to_owned(),
        source,
    })
}

/// Where the tone model of the cache entry whose intent head is at `head_path` goes.
fn tone_path(head_path: &Path) -> PathBuf {
    let name = head_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .replacen("head-", "tone-", 1);
    head_path.with_file_name(name)
}

#[path = "brain_prune.rs"]
mod prune;
pub use prune::prune;
