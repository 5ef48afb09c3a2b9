//! Checks that span files: unique ids and names, and references that must resolve (FAQ
//! `intent` and `related`, intent `queue`).

use std::collections::HashMap;
use std::path::Path;

use super::parse::ParsedFaq;
use super::yaml::Located;
use super::{Action, DEFAULT_QUEUE, INTENTS_FILE, Intent, Knowledge, Problem, Queue};

/// Cross-checks what the files declared, appends problems, and assembles the knowledge base
/// from whatever is usable (the caller discards it when there are problems).
pub(super) fn cross_check(
    intents_file: &Path,
    queues: Vec<Located<Queue>>,
    intents: Vec<Located<Intent>>,
    faqs: Vec<ParsedFaq>,
    problems: &mut Vec<Problem>,
) -> Knowledge {
    let queues = unique_queues(queues, intents_file, problems);
    let intents = unique_intents(intents, &queues, intents_file, problems);

    let mut first_seen: HashMap<String, (std::path::PathBuf, usize)> = HashMap::new();
    for faq in &faqs {
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
        }
    }
    for faq in &faqs {
        check_references(faq, &first_seen, &intents, problems);
    }

    let mut knowledge = super::from_entries(faqs.into_iter().map(|f| f.entry).collect());
    knowledge.intents = intents;
    knowledge.queues = queues;
    knowledge
}

fn check_references(
    faq: &ParsedFaq,
    ids: &HashMap<String, (std::path::PathBuf, usize)>,
    intents: &[Intent],
    problems: &mut Vec<Problem>,
) {
    let entry = &faq.entry;
    if let Some(name) = &entry.intent {
        match intents.iter().find(|i| &i.name == name) {
            None => problems.push(Problem::new(
                &entry.source,
                faq.intent_line,
                format!("unknown intent `{name}`: declare it in {INTENTS_FILE}"),
            )),
            Some(intent) if intent.action != Action::Answer => problems.push(Problem::new(
                &entry.source,
                faq.intent_line,
                format!(
                    "intent `{name}` does not answer from the FAQ (its action is not `answer`)"
                ),
            )),
            Some(_) => {}
        }
    }
    for (related, line) in entry.related.iter().zip(&faq.related_lines) {
        if related == &entry.id {
            problems.push(Problem::new(
                &entry.source,
                *line,
                "an entry cannot be related to itself",
            ));
        } else if !ids.contains_key(related) {
            problems.push(Problem::new(
                &entry.source,
                *line,
                format!("unknown related entry `{related}`: no FAQ file has this id"),
            ));
        }
    }
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
