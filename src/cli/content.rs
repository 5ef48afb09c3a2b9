//! `tandem check`, `tandem ask` and `tandem import`: the content editors' commands.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::bot::selftest::Handled;
use crate::bot::{Bot, Brain};
use crate::config::Settings;
use crate::knowledge::{self, KnowledgeError};

pub(super) fn check(
    out: &mut impl Write,
    dir: &Path,
    tests_file: Option<&Path>,
    tests_with: Option<&Settings>,
    fine_tune: bool,
) -> anyhow::Result<ExitCode> {
    let knowledge = match knowledge::load(dir) {
        Ok(k) => k,
        Err(KnowledgeError::Invalid(problems)) => {
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            writeln!(out, "{} problem(s) in {}", problems.len(), dir.display())?;
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    };
    let read = match tests_file {
        Some(file) => knowledge::read_tests_at(file, &knowledge),
        None => knowledge::read_tests(dir, &knowledge),
    };
    let tests = match read {
        Ok(tests) => tests,
        Err(problems) => {
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            writeln!(out, "{} problem(s) in {}", problems.len(), dir.display())?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let zh = knowledge.faqs.iter().filter(|f| f.lang == "zh").count();
    writeln!(
        out,
        "ok: {} FAQ entries ({} in Chinese), {} intents, {} queues in {}",
        knowledge.faqs.len(),
        zh,
        knowledge.intents.len(),
        knowledge.queues.len(),
        dir.display()
    )?;
    let Some(settings) = tests_with.filter(|_| !tests.is_empty()) else {
        return Ok(ExitCode::SUCCESS);
    };
    let encoder = settings.load_encoder()?;
    let brain = Brain::for_settings(&knowledge, &encoder, settings)?;
    let bot = Bot::new(knowledge.clone())?.with_brain(std::sync::Arc::new(brain));
    let policy = crate::bot::policy::PolicyConfig::from_settings(settings)?;
    let mut outcomes = crate::bot::selftest::run(&bot, &encoder, &policy, &tests)?;
    if fine_tune && let Some(tuned) = serving_tuned(out, dir, &knowledge, &encoder, settings)? {
        let (handled, wrong) = handled_counts(&outcomes);
        writeln!(
            out,
            "frozen encoder: handled right {handled} of {}, wrong answers {wrong}; the tuned one:",
            outcomes.len()
        )?;
        let brain = Brain::for_settings(&knowledge, &tuned, settings)?;
        let bot = Bot::new(knowledge)?.with_brain(std::sync::Arc::new(brain));
        outcomes = crate::bot::selftest::run(&bot, &tuned, &policy, &tests)?;
    }
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed()).collect();
    // What the customers of these tests would have got from the bot, first message each.
    let handled: Vec<Handled> = outcomes.iter().map(|o| o.handled()).collect();
    // Failures are located in the file they came from: tests.yaml, or the probes of --tests.
    let file = tests_file.map_or_else(|| dir.join(knowledge::TESTS_FILE), Path::to_path_buf);
    let file = file.display();
    for (outcome, &handled) in outcomes.iter().zip(&handled) {
        // A test the model reads right can still be served wrong (and the other way round):
        // both are worth the editor's look.
        if !outcome.passed() {
            writeln!(out, "FAIL {file}:{outcome}")?;
        } else if handled != Handled::Right {
            writeln!(out, "SERVED {handled:?}: {file}:{outcome}")?;
        }
    }
    let intents_ok = outcomes.iter().filter(|o| o.intent_ok()).count();
    let with_faq: Vec<_> = outcomes.iter().filter(|o| o.test.faq.is_some()).collect();
    let faq_ok = with_faq.iter().filter(|o| o.faq_ok()).count();
    writeln!(
        out,
        "tests: {} of {} passed (intent {}/{}, FAQ entry {}/{})",
        outcomes.len() - failed.len(),
        outcomes.len(),
        intents_ok,
        outcomes.len(),
        faq_ok,
        with_faq.len()
    )?;
    let count = |h: Handled| handled.iter().filter(|x| **x == h).count();
    writeln!(
        out,
        "handled right: {} of {} ({:.1}%), wrong answers: {}, missed: {}",
        count(Handled::Right),
        handled.len(),
        100.0 * count(Handled::Right) as f64 / handled.len().max(1) as f64,
        count(Handled::WrongAnswer),
        count(Handled::Missed),
    )?;
    // How often the customers were answered at once and how often asked back.
    let mut decisions: std::collections::BTreeMap<&str, usize> = Default::default();
    for outcome in &outcomes {
        *decisions.entry(outcome.decision.name()).or_default() += 1;
    }
    let decisions: Vec<String> = decisions.iter().map(|(d, n)| format!("{d} {n}")).collect();
    writeln!(out, "decisions: {}", decisions.join(", "))?;
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The encoder serving would swap in for `knowledge` after its fine-tune (cached with
/// serving's), with the judgement printed; `None` when the frozen one keeps serving.
fn serving_tuned(
    out: &mut impl Write,
    dir: &Path,
    knowledge: &knowledge::Knowledge,
    frozen: &crate::model::Encoder,
    settings: &Settings,
) -> anyhow::Result<Option<crate::model::Encoder>> {
    let split = crate::bot::tuning::split(knowledge, frozen.reads_chinese());
    let mut progress = crate::eval::tuned::progress_printer(std::time::Duration::from_secs(10));
    let Some(tuned) = crate::bot::tuning::tuned_encoder(&split, settings, frozen, &mut progress)?
    else {
        writeln!(
            out,
            "fine-tune: nothing to learn, the frozen encoder serves"
        )?;
        return Ok(None);
    };
    let own = knowledge::read_tests(dir, knowledge).unwrap_or_default();
    let before = crate::bot::tuning::judge(&split, &own, frozen, settings)?;
    let after = crate::bot::tuning::judge(&split, &own, &tuned, settings)?;
    let serves = after.beats(&before);
    writeln!(
        out,
        "fine-tune judged on {} held-out phrasings and tests: frozen {} right, {} wrong; \
         tuned {} right, {} wrong: the {} encoder serves",
        before.tests,
        before.right,
        before.wrong,
        after.right,
        after.wrong,
        if serves { "tuned" } else { "frozen" }
    )?;
    Ok(serves.then_some(tuned))
}

/// Tests handled right and answered wrong.
fn handled_counts(outcomes: &[crate::bot::selftest::Outcome]) -> (usize, usize) {
    let count = |h: Handled| outcomes.iter().filter(|o| o.handled() == h).count();
    (count(Handled::Right), count(Handled::WrongAnswer))
}

pub(super) fn ask(
    out: &mut impl Write,
    settings: &Settings,
    text: &str,
    limit: usize,
) -> anyhow::Result<()> {
    let dir = &settings.knowledge_dir;
    let (knowledge, problems) =
        knowledge::load_usable(dir).with_context(|| format!("knowledge base {}", dir.display()))?;
    // An editor tries a phrasing while fixing a file: answer from the files that are valid,
    // and say which are not (the server keeps serving the last valid version meanwhile).
    if !problems.is_empty() {
        for problem in &problems {
            writeln!(out, "{problem}")?;
        }
        writeln!(
            out,
            "{} problem(s) in {}: answering from the valid files only\n",
            problems.len(),
            dir.display()
        )?;
    }
    let encoder = settings.load_encoder()?;
    let brain = Brain::for_settings(&knowledge, &encoder, settings)?;
    let bot = Bot::new(knowledge)?.with_brain(std::sync::Arc::new(brain));
    let embedding = encoder
        .embed(&[text])?
        .pop()
        .context("the encoder returned no embedding")?;
    if let Some(brain) = bot.brain() {
        let understood = brain.understand(text, &embedding)?;
        let intents: Vec<String> = understood
            .intents
            .iter()
            .map(|i| format!("{} {:.2}", i.name, i.probability))
            .collect();
        writeln!(out, "intents: {}", intents.join(", "))?;
        writeln!(
            out,
            "out of scope: {} (score {:.2}, threshold {:.2})",
            if understood.out_of_scope { "yes" } else { "no" },
            understood.oos_score,
            settings.oos_threshold
        )?;
    }
    let candidates = bot.retrieve(text, Some(&embedding), limit)?;
    if candidates.is_empty() {
        writeln!(out, "no match in the knowledge base")?;
    }
    for (rank, c) in candidates.iter().enumerate() {
        let first_line = c.entry.answer_markdown.lines().next().unwrap_or_default();
        let preview: String = first_line.chars().take(100).collect();
        writeln!(
            out,
            "{}. {}  (score {:.2}; bm25 {:.1}, similarity {:.2})",
            rank + 1,
            c.entry.id,
            c.score,
            c.bm25,
            c.similarity.unwrap_or_default()
        )?;
        writeln!(out, "   Q: {}", c.entry.question)?;
        writeln!(out, "   A: {preview}")?;
    }
    Ok(())
}

pub(super) fn import(
    out: &mut impl Write,
    file: &Path,
    dir: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let report = knowledge::import_file(file, dir, force)?;
    writeln!(
        out,
        "wrote {} file(s) to {}",
        report.written.len(),
        dir.display()
    )?;
    for path in &report.skipped {
        writeln!(
            out,
            "skipped {} (exists; --force overwrites)",
            path.display()
        )?;
    }
    if !report.without_alternatives.is_empty() {
        writeln!(
            out,
            "{} entr(ies) have no alternatives yet; add other ways customers ask them: {}",
            report.without_alternatives.len(),
            report.without_alternatives.join(", ")
        )?;
    }
    writeln!(out, "next: tandem check")?;
    Ok(())
}
