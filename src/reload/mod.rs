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

pub mod watch;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::bot::{Bot, Brain, selftest};
use crate::clock::system_ms as now_ms;
use crate::config::Settings;
use crate::knowledge::{self, KnowledgeError, Problem};
use crate::model::Encoder;

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
    encoder: Arc<Encoder>,
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
            ..Status::default()
        };
        Reloader {
            bot: Arc::clone(&bot),
            encoder,
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

    /// Trains the model for the knowledge loaded at start and swaps it in (until then the bot
    /// answers with search alone).
    pub async fn train_initial(&self) {
        let _running = self.running.lock().await;
        let started = std::time::Instant::now();
        let current = self.bot.load_full();
        let (encoder, settings) = (Arc::clone(&self.encoder), self.settings.clone());
        let trained = tokio::task::spawn_blocking(move || -> Result<_, ReloadError> {
            let brain = Brain::for_settings(current.knowledge(), &encoder, &settings)?;
            Ok(current.with_brain(Arc::new(brain)))
        })
        .await
        .map_err(ReloadError::from)
        .and_then(|r| r);
        match trained {
            Ok(bot) => {
                self.bot.store(Arc::new(bot));
                self.lock().status = "ok";
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
    pub async fn reload(&self, why: &str) -> Status {
        let _running = self.running.lock().await;
        let started = std::time::Instant::now();
        let serving = self.bot.load_full();
        let (encoder, settings) = (Arc::clone(&self.encoder), self.settings.clone());
        let built = tokio::task::spawn_blocking(move || build(&serving, &encoder, &settings))
            .await
            .map_err(ReloadError::from)
            .and_then(|r| r);
        let dir = &self.settings.knowledge_dir;
        let mut status = self.lock();
        match built {
            Ok((bot, regressions)) => {
                status.faq_entries = bot.knowledge().faqs.len();
                status.intents = bot.knowledge().intents.len();
                self.bot.store(Arc::new(bot));
                status.status = "ok";
                status.loaded_at = now_ms();
                status.reloads += 1;
                self.metrics.reloads.inc();
                status.errors.clear();
                tracing::info!(
                    why,
                    faq_entries = status.faq_entries,
                    intents = status.intents,
                    ms = started.elapsed().as_millis() as u64,
                    "knowledge reloaded"
                );
                for failed in &regressions {
                    tracing::error!(test = %failed, "a knowledge test that passed before fails after the reload");
                }
                if !regressions.is_empty() {
                    tracing::error!(
                        count = regressions.len(),
                        "the reload broke knowledge tests that passed before (see tandem check)"
                    );
                }
                status.regressions = regressions;
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Status> {
        // Every update replaces whole fields, so a status left by a panicking thread is whole.
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads, validates, indexes and trains: the bot to swap in, and the `tests.yaml` tests the
/// `serving` bot passes and the new one fails. Only a valid edit costs the two test runs.
fn build(
    serving: &Bot,
    encoder: &Encoder,
    settings: &Settings,
) -> Result<(Bot, Vec<String>), ReloadError> {
    let dir = &settings.knowledge_dir;
    let knowledge = knowledge::load(dir)?;
    let tests = knowledge::read_tests(dir, &knowledge).map_err(ReloadError::Tests)?;
    let brain = Brain::for_settings(&knowledge, encoder, settings)?;
    let bot = Bot::new(knowledge)?.with_brain(Arc::new(brain));
    let lost = regressions(
        &passing_tests(serving, encoder, &tests),
        &passing_tests(&bot, encoder, &tests),
    );
    Ok((bot, lost))
}

/// The `tests` this bot passes, as (expected outcome, text). A bot that cannot run them (its
/// model not trained yet) passes none, so nothing counts as lost against it.
fn passing_tests(
    bot: &Bot,
    encoder: &Encoder,
    tests: &[knowledge::UtteranceTest],
) -> HashSet<(String, String)> {
    match selftest::run(bot, encoder, tests) {
        Ok(outcomes) => outcomes
            .iter()
            .filter(|o| o.passed())
            .map(|o| (test_key(&o.test), o.test.text.clone()))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot run the knowledge tests");
            HashSet::new()
        }
    }
}

fn test_key(test: &knowledge::UtteranceTest) -> String {
    match &test.faq {
        Some(faq) => format!("{} / {faq}", test.intent),
        None => test.intent.clone(),
    }
}

/// Tests in `before` missing from `after`, as "expected: text" lines, sorted.
fn regressions(
    before: &HashSet<(String, String)>,
    after: &HashSet<(String, String)>,
) -> Vec<String> {
    let mut lost: Vec<String> = before
        .difference(after)
        .map(|(expected, text)| format!("{text:?} should get {expected}"))
        .collect();
    lost.sort();
    lost
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
mod tests {
    use super::*;

    fn set(items: &[(&str, &str)]) -> HashSet<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn only_tests_that_passed_before_and_fail_now_are_regressions() {
        let before = set(&[
            ("shipping", "how much is postage"),
            ("returns", "send it back"),
        ]);
        let after = set(&[("returns", "send it back"), ("greeting", "hi")]);
        assert_eq!(
            regressions(&before, &after),
            vec!["\"how much is postage\" should get shipping".to_owned()]
        );
        assert!(
            regressions(&HashSet::new(), &after).is_empty(),
            "no baseline, no regression"
        );
    }

    #[test]
    fn problems_are_shown_relative_to_the_knowledge_folder() {
        let dir = Path::new("/srv/knowledge");
        let error = ReloadError::Knowledge(KnowledgeError::Invalid(vec![Problem {
            file: dir.join("faq/shipping.md"),
            line: 3,
            message: "invalid YAML".to_owned(),
        }]));
        assert_eq!(
            problems_of(&error, dir),
            vec![StatusProblem {
                file: "faq/shipping.md".to_owned(),
                line: 3,
                message: "invalid YAML".to_owned()
            }]
        );
    }
}
