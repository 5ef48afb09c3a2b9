//! The encoder's fine-tune for the knowledge version serving, in the background.
//!
//! A knowledge version is served at once by the serving encoder with a head trained for it
//! (see the module above); then a fine-tune starts on a thread of its own at the lowest
//! priority, on a rayon pool whose threads are also at the lowest priority, so customers'
//! messages (the inference thread, at normal priority) always come first on a busy machine.
//! When it ends, the tuned encoder and the serving one are judged on held-out phrasings and
//! `tests.yaml` ([`tuning::judge`]); only a tuned encoder that beats the serving one is swapped
//! in, together with a brain built with it, and only if the version it was tuned for still
//! serves. A newer version stops a running fine-tune at its next step. Tuned models are cached
//! under the model cache by the content they were tuned on, so a restart swaps in at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;
use thread_priority::{ThreadPriority, set_current_thread_priority};

use super::{ReloadError, Reloader};
use crate::bot::tuning::{self, Judged};
use crate::bot::{Bot, Brain};
use crate::knowledge;
use crate::model::tune::TuneProgress;
use crate::model::{Memo, Memoised};

/// The fine-tune, as `GET /api/knowledge/status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TuneStatus {
    /// `off` (the setting), `waiting`, `fine-tuning`, `judging`, `serving-tuned` (the tuned
    /// encoder won and serves), `kept-serving` (it did not beat the serving one), `nothing-to-judge`
    /// (no held-out phrasing and no `tests.yaml`: a fine-tune that cannot be judged could only
    /// be served blind, so none runs), `failed`.
    pub stage: &'static str,
    /// The model being fine-tuned, `english` or `chinese`, empty before the first step (a
    /// knowledge base in both languages tunes the Chinese one first, then the English one; the
    /// steps and ETA are that model's).
    pub model: &'static str,
    /// Current epoch (from 1) and epochs planned.
    pub epoch: usize,
    /// Epochs planned.
    pub epochs: usize,
    /// Steps done and planned.
    pub step: usize,
    /// Steps planned.
    pub steps: usize,
    /// Estimated seconds left in the fine-tune.
    pub eta_s: u64,
    /// The held-out judgement of the serving encoder and the tuned one.
    pub serving: Option<Judged>,
    /// The tuned encoder's.
    pub tuned: Option<Judged>,
    /// Which encoder serves: `shipped` or `tuned`.
    pub encoder: &'static str,
    /// Why the latest fine-tune failed.
    pub error: Option<String>,
}

impl TuneStatus {
    /// Whether a fine-tune for the version serving is still to come or running.
    pub fn busy(&self) -> bool {
        matches!(self.stage, "waiting" | "fine-tuning" | "judging")
    }
}

/// Threads the fine-tune's pool uses: all cores, at the lowest priority.
fn pool() -> Result<rayon::ThreadPool, ReloadError> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("tandem-fine-tune-{i}"))
        .start_handler(|_| lower_priority())
        .build()
        .map_err(|e| ReloadError::Model(crate::model::ModelError::Training(e.to_string())))
}

fn lower_priority() {
    if let Err(e) = set_current_thread_priority(ThreadPriority::Min) {
        // Still correct, only less polite to the inference thread on a busy machine.
        tracing::warn!(error = ?e, "cannot lower the fine-tune thread's priority");
    }
}

impl Reloader {
    /// Starts the fine-tune for `bot`, the version now serving with its final head (unless the
    /// setting is off). A fine-tune still running for an older version stops.
    pub(super) fn start_tune(self: &Arc<Self>, bot: Arc<Bot>) {
        let generation = self.tune_generation.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.settings.fine_tune {
            return;
        }
        self.set_tune(|t| {
            *t = TuneStatus {
                stage: "waiting",
                encoder: t.encoder,
                ..TuneStatus::default()
            }
        });
        let this = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("tandem-fine-tune".into())
            .spawn(move || {
                lower_priority();
                let started = Instant::now();
                let outcome = pool().and_then(|pool| pool.install(|| this.tune(&bot, generation)));
                match outcome {
                    Ok(true) => {
                        let status = this.lock().fine_tune.clone();
                        tracing::info!(
                            stage = status.stage,
                            serving = ?status.serving,
                            tuned = ?status.tuned,
                            secs = started.elapsed().as_secs(),
                            "fine-tune finished"
                        );
                    }
                    Ok(false) => tracing::info!("fine-tune stopped: a newer version has its own"),
                    Err(e) => {
                        tracing::error!(error = %e, "fine-tune failed; the serving encoder stays");
                        if this.tune_generation.load(Ordering::SeqCst) == generation {
                            this.set_tune(|t| {
                                t.stage = "failed";
                                t.error = Some(e.to_string());
                            });
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the fine-tune thread");
            self.set_tune(|t| t.stage = "failed");
        }
    }

    fn set_tune(&self, change: impl FnOnce(&mut TuneStatus)) {
        change(&mut self.lock().fine_tune);
    }

    /// Fine-tunes, judges and swaps in for `bot`; `false` when a newer version stopped it.
    fn tune(self: &Arc<Self>, bot: &Arc<Bot>, generation: u64) -> Result<bool, ReloadError> {
        let current = || self.tune_generation.load(Ordering::SeqCst) == generation;
        let settings = &self.settings;
        let (serving, _) = self.model();
        let split = tuning::split(bot.knowledge(), serving.reads_chinese());
        if !split.texts.learns() {
            self.set_tune(|t| t.stage = "kept-serving");
            return Ok(true);
        }
        // A broken tests.yaml was rejected by the reload; none at all judges on the phrasings.
        let tests =
            knowledge::read_tests(&settings.knowledge_dir, bot.knowledge()).unwrap_or_default();
        if split.held_out.is_empty() && tests.is_empty() {
            self.set_tune(|t| t.stage = "nothing-to-judge");
            return Ok(true);
        }
        self.set_tune(|t| t.stage = "fine-tuning");
        let mut logged = Instant::now();
        let mut progress = |p: &TuneProgress| {
            if !current() {
                return false;
            }
            let model = if p.chinese { "chinese" } else { "english" };
            self.set_tune(|t| {
                t.model = model;
                (t.epoch, t.epochs, t.step, t.steps) = (p.epoch, p.epochs, p.step, p.steps);
                t.eta_s = p.eta().as_secs();
            });
            if logged.elapsed() >= Duration::from_secs(15) {
                logged = Instant::now();
                tracing::info!(
                    model,
                    epoch = p.epoch,
                    epochs = p.epochs,
                    step = p.step,
                    steps = p.steps,
                    eta_s = p.eta().as_secs(),
                    "fine-tuning the encoder"
                );
            }
            true
        };
        let Some(tuned) = tuning::tuned_encoder(&split, settings, &self.shipped, &mut progress)?
        else {
            return Ok(false);
        };
        self.set_tune(|t| t.stage = "judging");
        let tuned = Arc::new(tuned);
        let before = tuning::judge(&split, &tests, &*serving, settings)?;
        let after = tuning::judge(&split, &tests, &*tuned, settings)?;
        self.set_tune(|t| (t.serving, t.tuned) = (Some(before), Some(after)));
        if !current() {
            return Ok(false);
        }
        if !after.beats(&before) {
            self.set_tune(|t| t.stage = "kept-serving");
            return Ok(true);
        }
        let memo = Arc::new(Memo::default());
        let embeds = Memoised {
            encoder: &tuned,
            memo: &memo,
        };
        let brain = Brain::for_settings(bot.knowledge(), &embeds, settings)?;
        brain.remember(bot.knowledge(), &memo)?;
        memo.end_build();
        let tuned_bot = Arc::new(bot.with_tuned(Arc::new(brain), Arc::clone(&tuned)));
        // Under the reload lock: a reload in flight builds with one encoder or the other, whole.
        let _running = self.running.blocking_lock();
        if !current() || !self.bot.load().same_version(bot) {
            return Ok(false);
        }
        self.bot.store(tuned_bot);
        *self.model_lock() = (tuned, memo);
        self.set_tune(|t| {
            t.stage = "serving-tuned";
            t.encoder = "tuned";
        });
        Ok(true)
    }
}
