//! What a reload computes off the async threads: the new version of the bot (a head whose
//! examples changed left pending, see [`Brain::after_edit`]), its final intent model trained in
//! the background, and the `tests.yaml` tests the change broke.

use std::collections::HashSet;

use crate::bot::{Bot, Brain, HeadSource, selftest};
use crate::config::Settings;
use crate::knowledge::{self, UtteranceTest};
use crate::model::Memoised;

use super::ReloadError;

/// A new version of the bot, ready to swap in.
pub(super) struct Built {
    /// The bot to serve.
    pub bot: Bot,
    /// The knowledge base's `tests.yaml`.
    pub tests: Vec<UtteranceTest>,
    /// Tests the serving bot passes and the new one fails; `None` while its head is pending
    /// (measured against the final head, once trained).
    pub regressions: Option<Vec<String>>,
}

/// Reads, validates, indexes and embeds: the bot to swap in. Only a valid edit costs the test
/// runs, and only a final one (a pending head is tested once it is trained).
pub(super) fn build(
    serving: &Bot,
    encoder: &Memoised<'_>,
    settings: &Settings,
) -> Result<Built, ReloadError> {
    let dir = &settings.knowledge_dir;
    let knowledge = knowledge::load(dir)?;
    let tests = knowledge::read_tests(dir, &knowledge).map_err(ReloadError::Tests)?;
    let brain = match serving.brain() {
        Some(previous) => Brain::after_edit(&knowledge, encoder, settings, previous)?,
        None => Brain::for_settings(&knowledge, encoder, settings)?,
    };
    let pending = brain.head_source() == HeadSource::Pending;
    // Built with the serving encoder (`encoder`), which may be a fine-tuned one.
    let bot = Bot::new(knowledge)?
        .with_encoder_of(serving)
        .with_brain(std::sync::Arc::new(brain));
    let regressions = (!pending).then(|| {
        regressions(
            &passing_tests(serving, encoder, &tests),
            &passing_tests(&bot, encoder, &tests),
        )
    });
    Ok(Built {
        bot,
        tests,
        regressions,
    })
}

/// The final version of `interim` (whose head is pending): its intent model trained for its
/// knowledge, and the tests that `before` (the version serving before the edit) passes and it
/// fails.
pub(super) fn finish(
    interim: &Bot,
    before: &Bot,
    tests: &[UtteranceTest],
    encoder: &Memoised<'_>,
    settings: &Settings,
) -> Result<(Bot, Vec<String>), ReloadError> {
    let brain = Brain::for_settings(interim.knowledge(), encoder, settings)?;
    let bot = interim.with_brain(std::sync::Arc::new(brain));
    let lost = regressions(
        &passing_tests(before, encoder, tests),
        &passing_tests(&bot, encoder, tests),
    );
    Ok((bot, lost))
}

/// The `tests` this bot passes, as (expected outcome, text). A bot that cannot run them (its
/// model not trained yet) passes none, so nothing counts as lost against it.
fn passing_tests(
    bot: &Bot,
    encoder: &Memoised<'_>,
    tests: &[knowledge::UtteranceTest],
) -> HashSet<(String, String)> {
    // Regressions are judged on what the model reads (intent, first entry), so the policy's
    // settings do not matter here: its defaults will do.
    let policy = crate::bot::policy::PolicyConfig::default();
    match selftest::run(bot, encoder, &policy, tests) {
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
pub(super) fn regressions(
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
