//! Reading `intents.yaml`: the queues, the intents (with their replies, one per language if
//! the knowledge base speaks several) and the bot's texts.

use std::collections::BTreeMap;
use std::path::Path;

use marked_yaml::Spanned;
use serde::Deserialize;

use super::parse::Unreadable;
use super::yaml::{Located, line_of, parse_yaml};
use super::{Action, Intent, Priority, Problem, Queue};

/// `intents.yaml` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntentsFile {
    #[serde(default)]
    queues: Vec<super::queues::RawQueue>,
    #[serde(default)]
    intents: Vec<RawIntent>,
    /// Language → text name → wording ([`super::texts`]).
    #[serde(default)]
    texts: BTreeMap<String, BTreeMap<String, Spanned<String>>>,
}

/// An intent's reply: one text (the default language's), or one per language.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawReply {
    One(String),
    ByLang(BTreeMap<String, String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    action: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
    priority: Option<Spanned<String>>,
    reply: Option<RawReply>,
    #[serde(default)]
    examples: Vec<Spanned<String>>,
}

/// What `intents.yaml` declares.
#[derive(Default)]
pub(super) struct IntentsFile {
    pub queues: Vec<Located<Queue>>,
    pub intents: Vec<Located<Intent>>,
    pub texts: super::BotTexts,
}

/// Reads `intents.yaml`. A missing file means no intents and the default queue only.
pub(super) fn read_intents(
    path: &Path,
    problems: &mut Vec<Problem>,
    unreadable: &mut Unreadable,
) -> IntentsFile {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return IntentsFile::default(),
        Err(e) => {
            problems.push(Problem::new(path, 1, format!("cannot read file: {e}")));
            unreadable.intents_file = true;
            return IntentsFile::default();
        }
    };
    let raw: RawIntentsFile = match parse_yaml(path, &text, 0) {
        Ok(raw) => raw,
        Err(problem) => {
            problems.push(problem);
            unreadable.intents_file = true;
            return IntentsFile::default();
        }
    };
    let texts_line = super::yaml::key_line(&text, "texts").unwrap_or(1);
    let texts = super::texts::read(path, raw.texts, texts_line, problems);
    let queues = raw
        .queues
        .into_iter()
        .map(|q| super::queues::read_queue(path, q, problems))
        .collect();
    let intents = raw
        .intents
        .into_iter()
        .filter_map(|raw| {
            let name = raw.name.trim().to_owned();
            let read = read_intent(path, raw, problems);
            if read.is_none() {
                unreadable.intents.insert(name);
            }
            read
        })
        .collect();
    IntentsFile {
        queues,
        intents,
        texts,
    }
}

fn read_intent(
    path: &Path,
    raw: RawIntent,
    problems: &mut Vec<Problem>,
) -> Option<Located<Intent>> {
    let line = line_of(&raw.name, 0);
    let name = raw.name.trim().to_owned();
    let before = problems.len();
    let action = match &raw.action {
        None => {
            problems.push(Problem::new(
                path,
                line,
                format!("intent `{name}` has no `action`"),
            ));
            None
        }
        Some(a) => lookup(&Action::ALL, a, "action", path, problems),
    };
    let priority = match &raw.priority {
        None => Some(Priority::Normal),
        Some(p) => lookup(&Priority::ALL, p, "priority", path, problems),
    };
    let mut examples = Vec::with_capacity(raw.examples.len());
    for example in &raw.examples {
        if example.trim().is_empty() {
            problems.push(Problem::new(path, line_of(example, 0), "empty example"));
        } else {
            examples.push(example.trim().to_owned());
        }
    }
    if problems.len() > before {
        return None;
    }
    let (action, priority) = (action?, priority?);
    // One reply is the default language's; per language, English (else the first) is the
    // default for languages without one of their own.
    let (reply, replies) = match raw.reply {
        None => (None, BTreeMap::new()),
        Some(RawReply::One(text)) => (Some(text), BTreeMap::new()),
        Some(RawReply::ByLang(by_lang)) => {
            let by_lang: BTreeMap<String, String> = by_lang
                .into_iter()
                .map(|(lang, text)| (lang.trim().to_lowercase(), text))
                .collect();
            let default = by_lang
                .get(super::texts::DEFAULT_LANG)
                .or_else(|| by_lang.values().next())
                .cloned();
            (default, by_lang)
        }
    };
    let queue_line = raw.queue.as_ref().map_or(line, |q| line_of(q, 0));
    let queue = match (action, raw.queue) {
        (Action::Handoff, None) => Some(super::DEFAULT_QUEUE.to_owned()),
        (Action::Handoff, Some(q)) => Some(q.trim().to_owned()),
        (_, Some(q)) => {
            problems.push(Problem::new(
                path,
                line_of(&q, 0),
                format!("intent `{name}`: `queue` is only used with `action: handoff`"),
            ));
            None
        }
        (_, None) => None,
    };
    Some(Located {
        line,
        queue_line,
        value: Intent {
            name,
            description: raw.description,
            action,
            queue,
            priority,
            reply,
            replies,
            examples,
        },
    })
}

/// Looks a spanned word up in a table of names, reporting the choices when it is not there.
fn lookup<T: Copy>(
    table: &[(&'static str, T)],
    word: &Spanned<String>,
    what: &str,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let wanted = word.trim().to_lowercase();
    let found = table
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, v)| *v);
    if found.is_none() {
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        problems.push(Problem::new(
            path,
            line_of(word, 0),
            format!(
                "unknown {what} `{}`: use one of {}",
                word.trim(),
                names.join(", ")
            ),
        ));
    }
    found
}
