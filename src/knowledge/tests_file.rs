//! `tests.yaml`: utterances editors expect the bot to understand, with what each must get.
//!
//! ```yaml
//! tests:
//!   - text: "my parcel hasn't moved since monday"
//!     intent: order_status      # an intent name, or `oos` for out of scope
//!     faq: track-order          # optional: the entry that must come first
//! ```

use std::path::Path;

use marked_yaml::Spanned;
use serde::Deserialize;

use super::yaml::line_of;
use super::{Knowledge, Problem};

/// File name of the tests inside a knowledge folder.
pub const TESTS_FILE: &str = "tests.yaml";
/// The intent name that means "out of scope".
pub const OOS_INTENT: &str = "oos";

/// One expected outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtteranceTest {
    /// What the customer types.
    pub text: String,
    /// The intent it must get, or [`OOS_INTENT`].
    pub intent: String,
    /// The FAQ entry that must rank first, if any.
    pub faq: Option<String>,
    /// The entry that answers the message's second question, for a message with two: both
    /// must be answered (or offered).
    pub also: Option<String>,
    /// A vague message ("my order"): handled right by a question back that offers entries of
    /// the intent, not by an answer, which would be a guess.
    pub vague: bool,
    /// Line in `tests.yaml`, for reports.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    text: Spanned<String>,
    intent: Spanned<String>,
    faq: Option<Spanned<String>>,
    also: Option<Spanned<String>>,
    #[serde(default)]
    vague: bool,
}

/// Reads `dir/tests.yaml` (none when absent) and checks its references against `knowledge`.
pub fn read_tests(dir: &Path, knowledge: &Knowledge) -> Result<Vec<UtteranceTest>, Vec<Problem>> {
    read_tests_at(&dir.join(TESTS_FILE), knowledge)
}

/// [`read_tests`] from a tests file anywhere (a probe kept outside the knowledge base); a
/// missing file is no tests.
pub fn read_tests_at(
    path: &Path,
    knowledge: &Knowledge,
) -> Result<Vec<UtteranceTest>, Vec<Problem>> {
    let path = path.to_owned();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(vec![Problem::new(
                &path,
                1,
                format!("cannot read file: {e}"),
            )]);
        }
    };
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true);
    let raw: RawFile = marked_yaml::from_yaml_with_options(0, &text, options).map_err(|e| {
        let line = match &e {
            marked_yaml::FromYamlError::ParseYaml(_) => 1,
            marked_yaml::FromYamlError::FromNode(n) => n.start_mark().map_or(1, |m| m.line()),
        };
        vec![Problem::new(
            &path,
            line,
            format!("invalid tests file: {e}"),
        )]
    })?;
    let mut problems = Vec::new();
    let tests = raw
        .tests
        .into_iter()
        .map(|t| {
            let line = line_of(&t.text, 0);
            let intent = t.intent.trim().to_owned();
            if intent != OOS_INTENT && knowledge.intent(&intent).is_none() {
                problems.push(Problem::new(
                    &path,
                    line_of(&t.intent, 0),
                    format!("unknown intent `{intent}`"),
                ));
            }
            for faq in t.faq.iter().chain(&t.also) {
                if knowledge.faq(faq.trim()).is_some() {
                    continue;
                }
                problems.push(Problem::new(
                    &path,
                    line_of(faq, 0),
                    format!("unknown FAQ entry `{}`", faq.trim()),
                ));
            }
            UtteranceTest {
                text: t.text.trim().to_owned(),
                intent,
                faq: t.faq.map(|f| f.trim().to_owned()),
                also: t.also.map(|f| f.trim().to_owned()),
                vague: t.vague,
                line,
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(tests)
    } else {
        Err(problems)
    }
}
