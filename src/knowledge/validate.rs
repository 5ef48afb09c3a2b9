//! Checks that span files: unique ids and names, and references that must resolve (FAQ
//! `intent` and `related`, intent `queue`).
//!
//! A reference to something declared in a file that could not be read is not reported: the
//! broken file is, once, at its own line, and fixing it fixes the reference. The knowledge
//! assembled leaves out what did not check (a duplicate entry, a dangling reference), so that
//! the editors' commands can use the rest while a file is broken.

use std::collections::HashMap;
use std::path::Path;

use super::intents_file::IntentsFile;
use super::parse::{ParsedFaq, Unreadable};
use super::texts;
use super::yaml::Located;
use super::{Action, DEFAULT_QUEUE, INTENTS_FILE, Intent, Knowledge, Problem, Queue};

/// Cross-checks what the files declared, appends problems, and assembles the knowledge base
/// from whatever is usable (the caller discards it when there are problems).
pub(super) fn cross_check(
    intents_file: &Path,
    declared: IntentsFile,
    faqs: Vec<ParsedFaq>,
    unreadable: &Unreadable,
    problems: &mut Vec<Problem>,
) -> Knowledge {
    // Every language customers are answered in must have the bot's words too.
    let langs: Vec<String> = faqs.iter().map(|f| f.entry.lang.clone()).collect();
    if !unreadable.intents_file {
        texts::check_coverage(
            &declared.texts,
            langs.iter().map(String::as_str),
            intents_file,
            problems,
        );
        for located in &declared.intents {
            let intent = &located.value;
            if intent.reply.is_none() {
                continue;
            }
            let mut missing: Vec<&str> = langs
                .iter()
                .map(String::as_str)
                .filter(|l| *l != texts::DEFAULT_LANG && !intent.replies.contains_key(*l))
                .collect();
            missing.sort_unstable();
            missing.dedup();
            if !missing.is_empty() {
                problems.push(Problem::new(
                    intents_file,
                    located.line,
                    format!(
                        "intent `{}` has no reply in {}: give `reply` one per language \
                         (reply: {{en: ..., {}: ...}})",
                        intent.name,
                        missing.join(", "),
                        missing[0]
                    ),
                ));
            }
        }
    }
    let queues = unique_queues(declared.queues, intents_file, problems);
    let intents = unique_intents(declared.intents, &queues, intents_file, problems);

    let mut first_seen: HashMap<String, (std::path::PathBuf, usize)> = HashMap::new();
    let mut usable = Vec::with_capacity(faqs.len());
    for faq in faqs {
        let entry = &faq.entry;
        if let Some((file, line)) = first_seen.get(&entry.id) {
            problems.push(Problem::new(
                &entry.source,
                faq.id_line,
                format!(
                    "duplicate id `{}`: already used by {}:{}",
                    entry.id,
                    file.display(),
                    line
                ),
            ));
        } else {
            first_seen.insert(entry.id.clone(), (entry.source.clone(), faq.id_line));
            usable.push(faq);
        }
    }
    let entries = usable
        .into_iter()
        .map(|faq| check_references(faq, &first_seen, &intents, unreadable, problems))
        .collect();

    let mut knowledge = super::from_entries(entries);
    knowledge.intents = intents;
    knowledge.queues = queues;
    knowledge.texts = declared.texts;
    knowledge
}

/// Reports the entry's references that do not resolve and returns the entry without them.
fn check_references(
    faq: ParsedFaq,
    ids: &HashMap<String, (std::path::PathBuf, usize)>,
    intents: &[Intent],
    unreadable: &Unreadable,
    problems: &mut Vec<Problem>,
) -> super::FaqEntry {
    let mut entry = faq.entry;
    if let Some(name) = entry.intent.take() {
        match intents.iter().find(|i| i.name == name) {
            Some(intent) if intent.action == Action::Answer => entry.intent = Some(name),
            Some(_) => problems.push(Problem::new(
                &entry.source,
                faq.intent_line,
                format!(
                    "intent `{name}` does not answer from the FAQ (its action is not `answer`)"
                ),
            )),
            // Declared in a part of intents.yaml that is reported already.
            None if unreadable.intents_file || unreadable.intents.contains(&name) => {}
            None => problems.push(Problem::new(
                &entry.source,
                faq.intent_line,
                format!("unknown intent `{name}`: declare it in {INTENTS_FILE}"),
            )),
        }
    }
    let mut related = Vec::with_capacity(entry.related.len());
    for (id, line) in entry.related.into_iter().zip(&faq.related_lines) {
        if id == entry.id {
            problems.push(Problem::new(
                &entry.source,
                *line,
                "an entry cannot be related to itself",
            ));
        } else if ids.contains_key(&id) {
            related.push(id);
        } else if !unreadable.faq_ids.contains(&id) {
            problems.push(Problem::new(
                &entry.source,
                *line,
                format!("unknown related entry `{id}`: no FAQ file has this id"),
            ));
        }
    }
    entry.related = related;
    entry
}

fn unique_queues(
    queues: Vec<Located<Queue>>,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<Queue> {
    if queues.is_empty() {
        // A knowledge base that declares no queues still has somewhere to hand off to.
        return vec![Queue {
            description: "Conversations the bot handed off.".to_owned(),
            ..Queue::named(DEFAULT_QUEUE)
        }];
    }
    let mut seen: Vec<Queue> = Vec::with_capacity(queues.len());
    for q in queues {
        if q.value.name.is_empty() {
            problems.push(Problem::new(file, q.line, "queue name is empty"));
        } else if seen.iter().any(|s| s.name == q.value.name) {
            problems.push(Problem::new(
                file,
                q.line,
                format!("queue `{}` is declared twice", q.value.name),
            ));
        } else {
            seen.push(q.value);
        }
    }
    seen
}

fn unique_intents(
    intents: Vec<Located<Intent>>,
    queues: &[Queue],
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<Intent> {
    let mut seen: Vec<Intent> = Vec::with_capacity(intents.len());
    for located in intents {
        let intent = located.value;
        if intent.name.is_empty() {
            problems.push(Problem::new(file, located.line, "intent name is empty"));
            continue;
        }
        if seen.iter().any(|s| s.name == intent.name) {
            problems.push(Problem::new(
                file,
                located.line,
                format!("intent `{}` is declared twice", intent.name),
            ));
            continue;
        }
        if let Some(queue) = &intent.queue
            && !queues.iter().any(|q| &q.name == queue)
        {
            let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
            problems.push(Problem::new(
                file,
                located.queue_line,
                format!(
                    "intent `{}`: unknown queue `{queue}` (declared queues: {})",
                    intent.name,
                    names.join(", ")
                ),
            ));
        }
        if intent.action != Action::Answer && intent.examples.is_empty() {
            problems.push(Problem::new(
                file,
                located.line,
                format!(
                    "intent `{}` has no examples: the bot learns to recognise it from them",
                    intent.name
                ),
            ));
        }
        seen.push(intent);
    }
    seen
}
