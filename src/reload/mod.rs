//! Live knowledge updates: editors change files in the knowledge folder and the bot answers
//! from them seconds later, without a restart and without dropping a chat.
//!
//! A reload reads and validates the whole folder, builds the search index, trains (or loads
//! from cache) the intent model, runs `tests.yaml` against it and against the bot serving, and
//! only then swaps the new bot
//! in atomically ([`ArcSwap`]): a conversation mid-turn finishes with the bot it started with,
//! the next turn uses the new one. A folder with mistakes is rejected as a whole; the previous
//! knowledge keeps serving and the problems (file:line) are kept for
//! `GET /api/knowledge/status` and the log. A reload after which tests that passed before fail
//! is applied (the edit is valid) but reported loudly, test by test.
//!
//! Reloads come from the file watcher ([`watch`]), `SIGHUP`, and `POST /api/knowledge/reload`;
//! they run one at a time.

mod build;
mod tune;
pub mod watch;

pub use tune::TuneStatus;

use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::bot::{Bot, Brain, HeadSource};
use crate::clock::system_ms as now_ms;
use crate::config::Settings;
use crate::knowledge::{KnowledgeError, Problem, UtteranceTest};
use crate::model::{Encoder, Memo, Memoised};

/// A knowledge problem as the status shows it: the file relative to the knowledge folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusProblem {
    /// File, relative to the knowledge folder.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What `GET /api/knowledge/status` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// `loading` until the first model is ready, `ok`, or `error` when the latest reload was
    /// rejected (the previous knowledge still serves).
    pub status: &'static str,
    /// When the knowledge now serving was loaded (ms since the epoch).
    pub loaded_at: i64,
    /// FAQ entries serving.
    pub faq_entries: usize,
    /// Intents serving.
    pub intents: usize,
    /// Reloads applied since the start.
    pub reloads: u64,
    /// Reloads rejected since the start.
    pub failures: u64,
    /// When the latest rejected reload happened.
    pub last_error_at: Option<i64>,
    /// The latest rejected reload's problems (empty when the latest reload worked).
    pub errors: Vec<StatusProblem>,
    /// `tests.yaml` tests that passed before the latest reload and fail after it.
    pub regressions: Vec<String>,
    /// What the latest applied reload cost (absent before the first).
    pub last_reload: Option<ReloadCost>,
    /// The encoder's fine-tune for the version serving.
    pub fine_tune: TuneStatus,
}

/// What one applied reload cost: an edit re-embeds only what it changed, and retrains the
/// intent head only when its training examples changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReloadCost {
    /// From the start of the reload to the new version serving (ms).
    pub ms: u64,
    /// Texts the encoder had to embed (the rest were known from earlier versions).
    pub embedded: usize,
    /// Where the intent head came from.
    pub intent_model: crate::bot::HeadSource,
}

/// Why a reload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The folder has mistakes.
    #[error("{0}")]
    Knowledge(#[from] KnowledgeError),
    /// `tests.yaml` has mistakes.
    #[error("{} problem(s) in tests.yaml", .0.len())]
    Tests(Vec<Problem>),
    /// The index or the model could not be built.
    #[error(transparent)]
    Bot(#[from] crate::bot::BotError),
    /// The intent model could not be trained.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The reload thread panicked.
    #[error("the reload failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

/// Reloads the knowledge base into the serving bot; one per server, shared through [`App`](crate::app::App).
pub struct Reloader {
    bot: Arc<ArcSwap<Bot>>,
    /// The shipped encoder (whose Chinese model a tuned copy shares).
    shipped: Arc<Encoder>,
    /// The serving encoder (the shipped one, or a fine-tuned copy once one won) and the
    /// embeddings of the latest builds' texts by it, so an edit embeds only what it changed.
    model: Mutex<(Arc<Encoder>, Arc<Memo>)>,
    /// Bumped by every fine-tune start; a fine-tune whose number is not the latest stops.
    tune_generation: std::sync::atomic::AtomicU64,
    settings: Settings,
    metrics: Arc<crate::metrics::Metrics>,
    status: Mutex<Status>,
    /// One reload at a time; a trigger during a reload waits and then reloads again (the files
    /// may have changed once more).
    running: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader for `bot` (serving the knowledge in `settings.knowledge_dir`, not yet trained).
    pub fn new(
        bot: Arc<ArcSwap<Bot>>,
        encoder: Arc<Encoder>,
        settings: Settings,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Reloader {
        let serving = bot.load();
        let status = Status {
            status: "loading",
            loaded_at: now_ms(),
            faq_entries: serving.knowledge().faqs.len(),
            intents: serving.knowledge().intents.len(),
            fine_tune: TuneStatus {
                stage: if settings.fine_tune { "waiting" } else { "off" },
                encoder: "shipped",
                ..TuneStatus::default()
            },
            ..Status::default()
        };
        Reloader {
            bot: Arc::clone(&bot),
            shipped: Arc::clone(&encoder),
            model: Mutex::new((encoder, Arc::default())),
            tune_generation: Default::default(),
            settings,
            metrics,
            status: Mutex::new(status),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The status now.
    pub fn status(&self) -> Status {
        self.lock().clone()
    }

    /// Whether the best model for the version serving is not serving yet: its fine-tune is
    /// still to come or running.
    pub fn tuning(&self) -> bool {
        self.lock().fine_tune.busy()
    }

    /// The serving encoder and its memo.
    fn model(&self) -> (Arc<Encoder>, Arc<Memo>) {
        let model = self.model_lock();
        (Arc::clone(&model.0), Arc::clone(&model.1))
    }

    fn model_lock(&self) -> std::sync::MutexGuard<'_, (Arc<Encoder>, Arc<Memo>)> {
        // Replaced whole, so a value left by a panicking thread is whole.
        self.model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Trains the model for the knowledge loaded at start and swaps it in (until then the bot
    /// answers with search alone).
    pub async fn train_initial(self: &Arc<Self>) {
        let _running = self.running.lock().await;
        let started = std::time::Instant::now();
        let current = self.bot.load_full();
        let (encoder, memo) = self.model();
        let settings = self.settings.clone();
        let trained = tokio::task::spawn_blocking(move || -> Result<_, ReloadError> {
            let encoder = Memoised {
                encoder: &encoder,
                memo: &memo,
            };
            let brain = Brain::for_settings(current.knowledge(), &encoder, &settings)?;
            // Loaded from the disk cache, the memo has not seen the texts yet.
            brain.remember(current.knowledge(), &memo)?;
            memo.end_build();
            Ok(current.with_brain(Arc::new(brain)))
        })
        .await
        .map_err(ReloadError::from)
        .and_then(|r| r);
        match trained {
            Ok(bot) => {
                let bot = Arc::new(bot);
                self.bot.store(Arc::clone(&bot));
                self.lock().status = "ok";
                self.start_tune(bot);
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    "intent model ready"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "intent model could not be trained; answering with search alone");
            }
        }
    }

    /// Reloads the knowledge folder now (`why` goes to the log) and returns the status after.
    ///
    /// An edit that changed the intent model's examples is served at once with the head of the
    /// version before, while the final head trains in the background and is swapped in when
    /// ready (unless a newer version was loaded meanwhile); `/health` says `updating` until then.
    pub async fn reload(self: &Arc<Self>, why: &str) -> Status {
        let _running = self.running.lock().await;
        let started = std::time::Instant::now();
        let serving = self.bot.load_full();
        let (encoder, memo) = self.model();
        let settings = self.settings.clone();
        let embedded_before = memo.embedded();
        let counter = Arc::clone(&memo);
        let before = Arc::clone(&serving);
        let built = tokio::task::spawn_blocking(move || {
            let encoder = Memoised {
                encoder: &encoder,
                memo: &memo,
            };
            let built = build::build(&serving, &encoder, &settings);
            memo.end_build();
            built
        })
        .await
        .map_err(ReloadError::from)
        .and_then(|r| r);
        let dir = &self.settings.knowledge_dir;
        let mut status = self.lock();
        match built {
            Ok(built) => {
                let bot = Arc::new(built.bot);
                status.faq_entries = bot.knowledge().faqs.len();
                status.intents = bot.knowledge().intents.len();
                let cost = ReloadCost {
                    ms: started.elapsed().as_millis() as u64,
                    embedded: counter.embedded() - embedded_before,
                    intent_model: bot.brain().map_or(HeadSource::Absent, Brain::head_source),
                };
                self.bot.store(Arc::clone(&bot));
                status.status = "ok";
                status.loaded_at = now_ms();
                status.reloads += 1;
                self.metrics.reloads.inc();
                status.errors.clear();
                tracing::info!(
                    why,
                    faq_entries = status.faq_entries,
                    intents = status.intents,
                    ms = cost.ms,
                    embedded = cost.embedded,
                    intent_model = ?cost.intent_model,
                    "knowledge reloaded"
                );
                status.last_reload = Some(cost);
                match built.regressions {
                    Some(lost) => {
                        report_regressions(&mut status, lost);
                        drop(status);
                        self.start_tune(bot);
                        return self.status();
                    }
                    None => {
                        let this = Arc::clone(self);
                        tokio::spawn(async move { this.finish(bot, before, built.tests).await });
                    }
                }
            }
            Err(e) => {
                status.status = "error";
                status.failures += 1;
                self.metrics.reload_failures.inc();
                status.last_error_at = Some(now_ms());
                status.errors = problems_of(&e, dir);
                tracing::error!(why, error = %e, "knowledge reload rejected; the previous version keeps serving");
            }
        }
        status.clone()
    }

    /// Trains the final intent model of `interim` (serving with a pending head) and swaps it
    /// in, if `interim` still serves: a newer version has a training of its own.
    async fn finish(
        self: Arc<Self>,
        interim: Arc<Bot>,
        before: Arc<Bot>,
        tests: Vec<UtteranceTest>,
    ) {
        let started = std::time::Instant::now();
        let (encoder, memo) = self.model();
        let settings = self.settings.clone();
        let candidate = Arc::clone(&interim);
        let finished = tokio::task::spawn_blocking(move || {
            let encoder = Memoised {
                encoder: &encoder,
                memo: &memo,
            };
            build::finish(&candidate, &before, &tests, &encoder, &settings)
        })
        .await
        .map_err(ReloadError::from)
        .and_then(|r| r);
        let (bot, lost) = match finished {
            Ok(done) => done,
            Err(e) => {
                // The interim version keeps serving; the next edit or restart trains again.
                tracing::error!(error = %e, "the intent model could not be trained after the edit");
                return;
            }
        };
        let mut status = self.lock();
        let previous = self.bot.compare_and_swap(&interim, Arc::new(bot));
        if !Arc::ptr_eq(&previous, &interim) {
            tracing::info!("a newer knowledge version serves; its own training replaces this one");
            return;
        }
        if let Some(cost) = status.last_reload.as_mut() {
            cost.intent_model = HeadSource::Trained;
        }
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "intent model trained for the edit and swapped in"
        );
        report_regressions(&mut status, lost);
        drop(status);
        self.start_tune(self.bot.load_full());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        // Every update replaces whole fields, so a status left by a panicking thread is whole.
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Keeps and logs the `tests.yaml` tests an applied reload broke.
fn report_regressions(status: &mut Status, lost: Vec<String>) {
    for failed in &lost {
        tracing::error!(test = %failed, "a knowledge test that passed before fails after the reload");
    }
    if !lost.is_empty() {
        tracing::error!(
            count = lost.len(),
            "the reload broke knowledge tests that passed before (see tandem check)"
        );
    }
    status.regressions = lost;
}

/// The problems of a rejected reload, with files relative to the knowledge folder.
fn problems_of(error: &ReloadError, dir: &Path) -> Vec<StatusProblem> {
    let relative = |problem: &Problem| StatusProblem {
        file: problem
            .file
            .strip_prefix(dir)
            .unwrap_or(&problem.file)
            .display()
            .to_string(),
        line: problem.line,
        message: problem.message.clone(),
    };
    match error {
        ReloadError::Knowledge(KnowledgeError::Invalid(problems))
        | ReloadError::Tests(problems) => problems.iter().map(relative).collect(),
        other => vec![StatusProblem {
            file: dir.display().to_string(),
            line: 1,
            message: other.to_string(),
        }],
    }
}

#[cfg(test)]
mod tests;
