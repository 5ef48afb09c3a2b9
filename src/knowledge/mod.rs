//! The knowledge base editors write as plain files, and its search index.
//!
//! Layout of a knowledge folder (the format is documented for editors in `knowledge/README.md`):
//!
//! ```text
//! knowledge/
//!   intents.yaml        queues and intents: what customers mean and what the bot does about it
//!   faq/**/*.md         one FAQ entry per file: YAML front matter + Markdown answer
//!   tests.yaml          utterances the bot must understand (run by `tandem check`)
//! ```
//!
//! [`load`] reads and validates a folder, collecting *every* problem (with file and line) rather
//! than stopping at the first, so an editor fixes a batch of mistakes in one round.
//! [`FaqIndex`] is the tantivy index over the loaded entries.

pub mod canned;
mod import;
mod index;
mod intents_file;
mod parse;
pub mod queues;
mod render;
mod tests_file;
pub mod texts;
mod validate;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use canned::{CANNED_DIR, Canned};
pub use import::{ImportError, ImportReport, import_file};
pub use index::{FaqIndex, IndexError, SearchHit};
pub use queues::{Hours, SlaTarget};
pub use render::{markdown_to_plain_text, markdown_to_safe_html};
pub use tests_file::{OOS_INTENT, TESTS_FILE, UtteranceTest, read_tests, read_tests_at};
pub use texts::{BotTexts, Text};

/// Name of the intents file inside a knowledge folder.
pub const INTENTS_FILE: &str = "intents.yaml";
/// Name of the FAQ folder inside a knowledge folder.
pub const FAQ_DIR: &str = "faq";
/// Queue used by handoff intents that name none.
pub const DEFAULT_QUEUE: &str = "general";

/// One FAQ entry: a question, the other ways customers ask it, and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FaqEntry {
    /// Unique id (defaults to the file name without `.md`).
    pub id: String,
    /// The canonical question.
    pub question: String,
    /// Other ways customers ask the same thing.
    pub alternatives: Vec<String>,
    /// Free-form tags, for search and reporting.
    pub tags: Vec<String>,
    /// Language code of the entry (`en` by default).
    pub lang: String,
    /// Intent this entry answers, if any.
    pub intent: Option<String>,
    /// Ids of entries worth offering as follow-ups.
    pub related: Vec<String>,
    /// The answer as written, in Markdown.
    pub answer_markdown: String,
    /// The answer rendered to HTML that is safe to insert into a page.
    pub answer_html: String,
    /// The file the entry came from, for messages to editors.
    pub source: PathBuf,
}

/// What the bot does when it recognises an intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Answer from the FAQ.
    Answer,
    /// Say hello and offer the most asked topics.
    Greet,
    /// Acknowledge thanks.
    Thank,
    /// Say goodbye and close.
    Goodbye,
    /// Politely decline what the bot is not for (a joke, the weather, chit-chat) with the
    /// intent's reply and offer what it can help with: a kind of out-of-scope message the bot
    /// recognises, so it is neither a miss nor a reason to hand off.
    Decline,
    /// Hand the conversation to a human queue.
    Handoff,
}

impl Action {
    /// Every action, with the name editors write.
    pub const ALL: [(&'static str, Action); 6] = [
        ("answer", Action::Answer),
        ("greet", Action::Greet),
        ("thank", Action::Thank),
        ("goodbye", Action::Goodbye),
        ("decline", Action::Decline),
        ("handoff", Action::Handoff),
    ];
}

/// How urgently a handed-off conversation should be picked up; higher is sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Can wait behind everything else.
    Low,
    /// The default.
    Normal,
    /// Ahead of normal conversations (complaints).
    High,
    /// First in line (account security).
    Urgent,
}

impl Priority {
    /// Every priority, with the name editors write.
    pub const ALL: [(&'static str, Priority); 4] = [
        ("low", Priority::Low),
        ("normal", Priority::Normal),
        ("high", Priority::High),
        ("urgent", Priority::Urgent),
    ];
}

/// A queue of human agents that handed-off conversations wait in.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    /// Unique name, referenced by intents.
    pub name: String,
    /// What the queue is for, shown to agents.
    pub description: String,
    /// When agents work the queue; `None`: always open.
    pub hours: Option<Hours>,
    /// How long a customer waits before being offered to leave a message instead.
    pub wait_timeout: Option<std::time::Duration>,
    /// Targets per priority rank (low, normal, high, urgent).
    pub sla: [SlaTarget; 4],
    /// Waiting conversations go to the least-loaded online agent with the skill.
    pub auto_assign: bool,
}

impl Queue {
    /// A queue with this name and every setting at its default (always open, no timeout,
    /// default SLA targets, claimed by hand).
    pub fn named(name: &str) -> Queue {
        Queue {
            name: name.to_owned(),
            description: String::new(),
            hours: None,
            wait_timeout: None,
            sla: queues::DEFAULT_SLA,
            auto_assign: false,
        }
    }

    /// The SLA targets for a stored priority rank (0 low … 3 urgent).
    pub fn sla_for(&self, rank: i64) -> SlaTarget {
        let index = usize::try_from(rank.clamp(0, 3)).unwrap_or(1);
        self.sla[index]
    }
}

/// Something customers mean, with examples and what the bot does about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// Unique name, referenced by FAQ entries.
    pub name: String,
    /// What the intent covers, for editors and agents.
    pub description: String,
    /// What the bot does.
    pub action: Action,
    /// Queue for handoff intents.
    pub queue: Option<String>,
    /// Priority for handoff intents.
    pub priority: Priority,
    /// What the bot says for greet, thank, goodbye and handoff intents, in the default
    /// language.
    pub reply: Option<String>,
    /// The reply per language, when `intents.yaml` gives one per language.
    pub replies: std::collections::BTreeMap<String, String>,
    /// Example utterances (training data for the intent model).
    pub examples: Vec<String>,
}

/// A loaded, validated knowledge base.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// FAQ entries, sorted by id.
    pub faqs: Vec<FaqEntry>,
    /// Intents in file order.
    pub intents: Vec<Intent>,
    /// Queues in file order.
    pub queues: Vec<Queue>,
    /// Canned responses for agents, by file name.
    pub canned: Vec<Canned>,
    /// What the bot and the server say outside FAQ answers, per language.
    pub texts: BotTexts,
}

impl Knowledge {
    /// A short fingerprint of everything loaded: nodes serving the same files (same build) show
    /// the same version in `/api/knowledge/status`, so an operator sees one lagging behind.
    pub fn version(&self) -> String {
        use sha2::{Digest, Sha256};
        // Where the folder is differs from node to node; the files' names do not.
        let mut portable = self.clone();
        for entry in &mut portable.faqs {
            entry.source = entry
                .source
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_default();
        }
        let digest = Sha256::digest(format!("{portable:?}").as_bytes());
        hex::encode(&digest[..6])
    }

    /// The FAQ entry with this id.
    pub fn faq(&self, id: &str) -> Option<&FaqEntry> {
        self.faqs
            .binary_search_by(|e| e.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.faqs[i])
    }

    /// The settings of the queue with this name; the defaults for a queue the knowledge base
    /// no longer declares (a conversation handed off before an edit keeps its queue).
    pub fn queue(&self, name: &str) -> Queue {
        self.queues
            .iter()
            .find(|q| q.name == name)
            .cloned()
            .unwrap_or_else(|| Queue::named(name))
    }

    /// Every declared queue's name, in the order declared.
    pub fn queue_names(&self) -> Vec<String> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }

    /// The intent with this name.
    pub fn intent(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.name == name)
    }

    /// `text` in `lang` ([`BotTexts::get`]).
    pub fn text(&self, lang: &str, text: Text) -> &str {
        self.texts.get(lang, text)
    }
}

impl Intent {
    /// The reply in `lang`, else the default one.
    pub fn reply_in(&self, lang: &str) -> Option<&str> {
        self.replies
            .get(lang)
            .or(self.reply.as_ref())
            .map(String::as_str)
    }
}

/// The language of a customer's message among those knowledge bases are written in: `zh` when
/// it has Chinese characters (mixed "我的order" is Chinese), else `en`.
pub fn language_of(text: &str) -> &'static str {
    if crate::model::features::is_chinese(text) {
        "zh"
    } else {
        texts::DEFAULT_LANG
    }
}

/// The language of a message in a conversation so far in `previous`: Chinese characters say
/// Chinese, Latin letters English; a message with neither ("12345", "??", an emoji) keeps the
/// conversation's language.
pub fn language_after(previous: &'static str, text: &str) -> &'static str {
    if text.chars().any(crate::model::features::is_han) {
        "zh"
    } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
        texts::DEFAULT_LANG
    } else {
        previous
    }
}

/// One mistake in a knowledge file, located for the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line the problem is on (the first line for whole-file problems).
    pub line: usize,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl Problem {
    fn new(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: line.max(1),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Why a knowledge base could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// The folder does not exist or cannot be listed.
    #[error("cannot read knowledge folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// One or more files have mistakes; all of them are listed.
    #[error("{} problem(s) in the knowledge base:\n{}", .0.len(), ProblemList(.0))]
    Invalid(Vec<Problem>),
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Reads and validates the knowledge folder at `dir`.
///
/// Returns every problem found across all files, sorted by file and line.
pub fn load(dir: &Path) -> Result<Knowledge, KnowledgeError> {
    let (knowledge, problems) = load_usable(dir)?;
    if problems.is_empty() {
        Ok(knowledge)
    } else {
        Err(KnowledgeError::Invalid(problems))
    }
}

/// Reads the knowledge folder at `dir` as far as it can be used, for the editors' commands
/// (`tandem ask` answers from the valid files while one is broken): the knowledge of every
/// file without mistakes, references to what could not be read left out, and the problems
/// (sorted by file and line; empty when the folder is valid). Serving never uses a partial
/// knowledge base: a reload with problems keeps the previous version.
pub fn load_usable(dir: &Path) -> Result<(Knowledge, Vec<Problem>), KnowledgeError> {
    if !dir.is_dir() {
        return Err(KnowledgeError::Folder {
            path: dir.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        });
    }
    let mut problems = Vec::new();
    let mut unreadable = parse::Unreadable::default();
    let intents_file = dir.join(INTENTS_FILE);
    let declared = intents_file::read_intents(&intents_file, &mut problems, &mut unreadable);
    let faqs = parse::read_faq_dir(&dir.join(FAQ_DIR), &mut problems, &mut unreadable).map_err(
        |source| KnowledgeError::Folder {
            path: dir.join(FAQ_DIR),
            source,
        },
    )?;
    let mut knowledge =
        validate::cross_check(&intents_file, declared, faqs, &unreadable, &mut problems);
    knowledge.canned = canned::read_dir(&dir.join(CANNED_DIR), &mut problems);
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok((knowledge, problems))
}

/// Builds a knowledge base from FAQ entries made in code (evaluation, import previews).
///
/// No validation: callers own the data.
pub fn from_entries(mut faqs: Vec<FaqEntry>) -> Knowledge {
    faqs.sort_by(|a, b| a.id.cmp(&b.id));
    Knowledge {
        faqs,
        ..Knowledge::default()
    }
}
