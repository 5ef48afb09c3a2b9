//! Fine-tuning the sentence encoders on a knowledge base's own phrasings, with candle's
//! autograd on the CPU: the BERT-family model on the texts it reads, and USE multilingual (the
//! Chinese model, [`crate::usem`]) on the Chinese ones, each a fine-tune of its own.
//!
//! The frozen encoder puts "where's my parcel" and "track my order" close only as far as its
//! general training taught it; a few epochs on the knowledge base's labelled texts (intent
//! examples, FAQ questions and alternatives, each labelled with its intent or entry) pull each
//! label's phrasings together and push the others apart, and everything downstream (the intent
//! head, the nearest phrasings, the out-of-scope distance) then works on the tuned embeddings.
//!
//! Two recipes ([`Recipe`]), both on mean-pooled, L2-normalised embeddings as served:
//!
//! - [`Recipe::Proxy`]: a cosine classifier (NormFace / proxy-NCA): one trainable direction per
//!   label, initialised to the label's mean frozen embedding, logits `s · cos(text, label)`,
//!   cross-entropy. Every text is read once per epoch.
//! - [`Recipe::Pairs`]: in-batch negatives (MultipleNegativesRanking, as sentence-transformers
//!   and SetFit use): each step takes two texts of each of `batch` different labels and asks
//!   each text to pick its partner among all the others, both ways.
//!
//! Which one serves is chosen by measurement on the benchmarks' valid splits (the figures are in
//! the README; `tandem eval intents --recipe` reruns them). The word embeddings stay frozen:
//! they are half the model's parameters, and a knowledge base's few thousand texts touch a
//! small share of the vocabulary, so tuning them mostly overfits the words seen; the
//! transformer layers carry what is learned.
//!
//! The result is a full model folder ([`Tuned::write_model`]), loaded by
//! [`Encoder::load`](crate::Encoder::load) like the shipped one, so the fast forward pass
//! serves the tuned weights. USE trains every weight but its piece embeddings (`usem.rs`);
//! its folder shares the shipped tokenizer and embeddings and adds the trained weights.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use super::ModelError;
use super::head::Rng;

mod net;
mod plan;
mod trainee;
mod usem;

pub(crate) use net::layer_norm;
use plan::{Plan, schedule};
use trainee::{Trainable, Trainee, label_means, pair_loss, proxy_grads};

/// How the encoder is fine-tuned (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// Cosine classifier over one trainable direction per label.
    Proxy,
    /// In-batch negatives over pairs of texts with the same label.
    Pairs,
}

/// Fine-tuning hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuneConfig {
    /// The loss.
    pub recipe: Recipe,
    /// Passes over the texts.
    pub epochs: usize,
    /// Texts per step ([`Recipe::Proxy`]) or labels per step ([`Recipe::Pairs`], two texts
    /// each).
    pub batch: usize,
    /// Peak AdamW learning rate (linear warm-up over the first tenth, linear decay after).
    pub learning_rate: f64,
    /// Scale of the cosine logits (inverse temperature).
    pub scale: f64,
    /// [`TuneConfig::learning_rate`] for USE multilingual (the Chinese model): 3.4M trained
    /// weights, which need larger steps than the BERT's 10.6M to move in a few epochs.
    /// Measured on SMP2019 valid (3 epochs; in scope ignoring OOS, frozen 92.2%): 5e-5 92.2%,
    /// 2e-4 92.4%, 5e-4 with scale 30 93.0%, 1e-3 91.7%.
    pub chinese_learning_rate: f64,
    /// [`TuneConfig::scale`] for USE multilingual.
    pub chinese_scale: f64,
    /// Longest text in tokens during training; customer phrasings are far shorter.
    pub max_tokens: usize,
    /// Transformer layers, from the bottom, that stay frozen with the word embeddings: no
    /// gradient flows through them, so a step costs their forward pass only. 0 by
    /// measurement: on CLINC150 (one epoch) 2 frozen layers fine-tune in 347 s instead of
    /// 512 s for 95.9% in scope instead of 96.2%; 3 epochs with 2 frozen, 96.3% against 96.5%
    /// for 2 epochs of all 6.
    pub frozen_layers: usize,
    /// Stop after this long even if epochs remain (the weights trained so far are kept); the
    /// learning rate decays with the steps or this, whichever is further along.
    pub budget: Duration,
    /// Seed for the order of the texts.
    pub seed: u64,
}

impl Default for TuneConfig {
    fn default() -> Self {
        Self {
            recipe: Recipe::Proxy,
            epochs: 3,
            batch: 32,
            learning_rate: 5e-5,
            scale: 20.0,
            chinese_learning_rate: 5e-4,
            chinese_scale: 30.0,
            max_tokens: 48,
            frozen_layers: 0,
            budget: Duration::from_secs(20 * 60),
            seed: 0x7a6d,
        }
    }
}

/// Where a fine-tune is, for logs and the status endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TuneProgress {
    /// Whether the model being tuned is the Chinese one (USE multilingual): a knowledge base in
    /// both languages tunes one model after the other, each with its own steps.
    pub chinese: bool,
    /// Current epoch, from 1.
    pub epoch: usize,
    /// Epochs planned.
    pub epochs: usize,
    /// Steps done over all epochs.
    pub step: usize,
    /// Steps planned over all epochs.
    pub steps: usize,
    /// Mean loss of the last step.
    pub loss: f32,
    /// Time since the start.
    pub elapsed: Duration,
    /// Time since the first step began, for the ETA: the setup before it (163 s on CLINC150)
    /// made the first ETA 42 hours instead of 16 minutes.
    pub stepping: Duration,
}

impl TuneProgress {
    /// Estimated time left, from the pace of the steps so far.
    pub fn eta(&self) -> Duration {
        if self.step == 0 {
            return Duration::ZERO;
        }
        let per_step = self.stepping.as_secs_f64() / self.step as f64;
        Duration::from_secs_f64(per_step * self.steps.saturating_sub(self.step) as f64)
    }
}

/// The weights after fine-tuning, by parameter name: all of them for a BERT-family model, the
/// trained ones for USE (whose embeddings a tuned folder shares with the shipped one).
pub struct Tuned {
    tensors: HashMap<String, Tensor>,
    /// Whether the model is USE multilingual.
    usem: bool,
    /// Steps actually run (fewer than planned when the budget ran out).
    pub steps: usize,
    /// Time the fine-tune took.
    pub elapsed: Duration,
}

impl std::fmt::Debug for Tuned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tuned")
            .field("tensors", &self.tensors.len())
            .field("steps", &self.steps)
            .finish()
    }
}

impl Tuned {
    /// Writes a model folder at `out` that [`Encoder::load`](crate::Encoder::load) reads:
    /// `base`'s config and tokenizer and the tuned `model.safetensors` (or, for USE, what
    /// [`Encoder::with_chinese`](crate::Encoder::with_chinese) reads). Written under a
    /// temporary name and renamed, so a crash never leaves a half-written model behind.
    pub fn write_model(&self, base: &Path, out: &Path) -> Result<(), ModelError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ModelError::Io { path, source }
        };
        let tmp = out.with_extension("partial");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        if self.usem {
            usem::write_folder(&self.tensors, base, &tmp)?;
        } else {
            for file in ["config.json", "tokenizer.json"] {
                std::fs::copy(base.join(file), tmp.join(file)).map_err(io(&base.join(file)))?;
            }
            candle_core::safetensors::save(&self.tensors, tmp.join("model.safetensors"))?;
        }
        if out.exists() {
            std::fs::remove_dir_all(out).map_err(io(out))?;
        }
        std::fs::rename(&tmp, out).map_err(io(out))
    }
}

/// Embeddings of `texts` by the training forward pass over the untuned weights in `dir`: what
/// the fine-tune starts from, for checking that pass against the served one (the two must
/// agree, or the tune would learn a model that is not the one served).
pub fn training_embeddings(dir: &Path, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
    let trainee = load_trainee(dir, usem::is_usem(dir), crate::encoder::MAX_TOKENS, 0)?;
    Ok(trainee.embed(texts)?.to_vec2::<f32>()?)
}

/// The model in `dir` ready to train: USE multilingual when `usem` (its files are there), a
/// BERT-family model otherwise.
fn load_trainee(
    dir: &Path,
    usem: bool,
    max_tokens: usize,
    frozen_layers: usize,
) -> Result<Box<dyn Trainable>, ModelError> {
    Ok(if usem {
        Box::new(usem::UsemTrainee::load(dir)?)
    } else {
        Box::new(Trainee::load(dir, max_tokens, frozen_layers)?)
    })
}

/// Fine-tunes the encoder in `dir` (a BERT-family model, or USE multilingual: told by its
/// files) on `texts` labelled `0..labels`. `progress` is called after every step and stops the
/// fine-tune by returning `false` (the answer is then `None`). USE has no layers to freeze:
/// `frozen_layers` applies to BERT-family models only.
pub fn fine_tune(
    dir: &Path,
    texts: &[(String, usize)],
    labels: usize,
    config: &TuneConfig,
    progress: &mut dyn FnMut(&TuneProgress) -> bool,
) -> Result<Option<Tuned>, ModelError> {
    let start = Instant::now();
    if labels < 2 || texts.iter().any(|(_, l)| *l >= labels) {
        return Err(ModelError::Training(format!(
            "fine-tuning needs texts labelled with at least 2 of {labels} labels"
        )));
    }
    // Told once by the folder's files: it picks the trainee, its settings and the output.
    let usem = usem::is_usem(dir);
    let trainee = load_trainee(dir, usem, config.max_tokens, config.frozen_layers)?;
    let trainee = trainee.as_ref();
    let (learning_rate, scale) = if usem {
        (config.chinese_learning_rate, config.chinese_scale)
    } else {
        (config.learning_rate, config.scale)
    };
    let mut rng = Rng::new(config.seed);
    let batch = config.batch.max(2);
    let plan = Plan::new(texts, labels, config.recipe, batch);
    if plan.labels() < 2 {
        return Err(ModelError::Training(
            "the pairs recipe needs at least 2 labels with 2 texts each".into(),
        ));
    }
    let steps = plan.steps_per_epoch() * config.epochs.max(1);

    let mut vars = trainee.vars();
    let proxies = match config.recipe {
        Recipe::Proxy => {
            let init = label_means(trainee, texts, labels)?;
            let var = Var::from_tensor(&init)?;
            vars.push(var.clone());
            Some(var)
        }
        Recipe::Pairs => None,
    };
    let mut optimiser = AdamW::new(
        vars,
        ParamsAdamW {
            lr: schedule(learning_rate, 0, steps, Duration::ZERO, config.budget),
            weight_decay: 0.01,
            ..ParamsAdamW::default()
        },
    )?;

    let mut step = 0;
    let stepping = Instant::now();
    'epochs: for epoch in 1..=config.epochs.max(1) {
        for batch in plan.batches(&mut rng) {
            let lr = schedule(learning_rate, step, steps, start.elapsed(), config.budget);
            optimiser.set_learning_rate(lr);
            let loss = if let Some(proxies) = &proxies {
                let (grads, loss) = proxy_grads(trainee, texts, &batch, proxies, scale)?;
                optimiser.step(&grads)?;
                loss
            } else {
                let loss = pair_loss(trainee, texts, &batch, scale)?;
                optimiser.backward_step(&loss)?;
                loss.to_scalar::<f32>()?
            };
            step += 1;
            let report = TuneProgress {
                chinese: usem,
                epoch,
                epochs: config.epochs.max(1),
                step,
                steps,
                loss,
                elapsed: start.elapsed(),
                stepping: stepping.elapsed(),
            };
            if !progress(&report) {
                return Ok(None);
            }
            if start.elapsed() >= config.budget {
                break 'epochs;
            }
        }
    }
    Ok(Some(Tuned {
        tensors: trainee.tensors()?,
        usem,
        steps: step,
        elapsed: start.elapsed(),
    }))
}

/// Fine-tuned models kept in a cache folder; older ones are removed.
pub const KEEP_TUNED: usize = 3;

/// The version of the training code in [`tune_key`]: raised when a change to the recipe or the
/// schedule makes an earlier fine-tune of the same texts stale (2: the budget-paced schedule).
pub const TUNE_VERSION: u32 = 2;

/// The cache key of a fine-tune: the training code's version, the base model, the settings and
/// the labelled texts.
pub fn tune_key(base: &Path, texts: &[(String, usize)], config: &TuneConfig) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(TUNE_VERSION.to_le_bytes());
    hasher.update(crate::fingerprint(base).as_bytes());
    hasher.update(serde_json::to_string(config).unwrap_or_default().as_bytes());
    for (text, label) in texts {
        hasher.update(text.as_bytes());
        hasher.update(label.to_le_bytes());
    }
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The model folder fine-tuned from `base` on `texts`, under `cache`: loaded from an earlier
/// run when one left it there (same key, [`tune_key`]), fine-tuned and written otherwise,
/// keeping the newest [`KEEP_TUNED`]. `None` when `progress` stopped it.
pub fn tuned_model(
    base: &Path,
    texts: &[(String, usize)],
    labels: usize,
    config: &TuneConfig,
    cache: &Path,
    progress: &mut dyn FnMut(&TuneProgress) -> bool,
) -> Result<Option<PathBuf>, ModelError> {
    let dir = cache.join(format!("tuned-{}", tune_key(base, texts, config)));
    // The last file written (before the folder's rename): a BERT-family folder's weights, or a
    // USE folder's tuned ones.
    if dir.join("model.safetensors").is_file() || dir.join(crate::usem::TUNED).is_file() {
        // Marks it as recently used for pruning; failing to is harmless.
        let _ =
            std::fs::File::open(&dir).and_then(|f| f.set_modified(std::time::SystemTime::now()));
        return Ok(Some(dir));
    }
    let Some(tuned) = fine_tune(base, texts, labels, config, progress)? else {
        return Ok(None);
    };
    std::fs::create_dir_all(cache).map_err(|source| ModelError::Io {
        path: cache.to_owned(),
        source,
    })?;
    tuned.write_model(base, &dir)?;
    prune(cache, &dir);
    Ok(Some(dir))
}

/// Removes all but the newest [`KEEP_TUNED`] fine-tuned models (never `keep`) and partial
/// folders a crash left. Best effort: a model that cannot be removed is only disk space.
fn prune(cache: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    let mut tuned: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tuned-"))
                && p != keep
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    tuned.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    for (_, path) in tuned.into_iter().skip(KEEP_TUNED - 1) {
        let _ = std::fs::remove_dir_all(path);
    }
}
