//! The server frame for each of the bot's decisions.

use crate::bot::policy::Decision;
use crate::knowledge::{FaqEntry, Knowledge, markdown_to_plain_text, markdown_to_safe_html};
use crate::ws::{Choice, ServerFrame};

/// Quick replies a greeting offers: three buttons, the most a small widget shows on one line.
const QUICK_REPLIES: usize = 3;

const FALLBACK_TEXT: &str = "Sorry, I did not understand that. Could you rephrase it?";
const CLARIFY_TEXT: &str = "Which of these did you mean?";
const HANDOFF_TEXT: &str = "I am passing you to a person; they will reply here shortly.";

/// The frame that carries `decision` (its `seq` is set when it is stored). `position` is the
/// place in the queue of a handoff; `topics` the most asked entries, best first, for the quick
/// replies of small talk.
pub(super) fn frame_for(
    knowledge: &Knowledge,
    decision: &Decision,
    position: Option<u32>,
    topics: &[String],
) -> ServerFrame {
    match decision {
        Decision::Answer { faq_id } => match knowledge.faq(faq_id) {
            Some(entry) => ServerFrame::Answer {
                seq: 0,
                text: markdown_to_plain_text(&entry.answer_markdown),
                html: entry.answer_html.clone(),
                faq_id: Some(faq_id.clone()),
                quick_replies: Vec::new(),
                related: entry
                    .related
                    .iter()
                    .filter_map(|r| knowledge.faq(r))
                    .map(choice)
                    .collect(),
                feedback: true,
            },
            // The knowledge base was swapped between deciding and answering.
            None => small_talk(FALLBACK_TEXT, Vec::new()),
        },
        Decision::Reply { text } => small_talk(text, quick_replies(knowledge, topics)),
        Decision::Clarify { choices } => ServerFrame::Clarify {
            seq: 0,
            text: CLARIFY_TEXT.to_owned(),
            choices: choices
                .iter()
                .filter_map(|id| knowledge.faq(id))
                .map(choice)
                .collect(),
        },
        Decision::Handoff { reason, queue, .. } => ServerFrame::Handoff {
            seq: 0,
            reason: *reason,
            text: HANDOFF_TEXT.to_owned(),
            queue: queue.clone(),
            position,
        },
        Decision::Fallback => small_talk(FALLBACK_TEXT, Vec::new()),
    }
}

/// The most asked entries still in the knowledge base, topped up with the first entries while
/// there are not enough answers to tell (a new deployment).
fn quick_replies(knowledge: &Knowledge, topics: &[String]) -> Vec<Choice> {
    let popular = topics.iter().filter_map(|id| knowledge.faq(id));
    let mut chosen: Vec<&FaqEntry> = Vec::with_capacity(QUICK_REPLIES);
    for entry in popular.chain(knowledge.faqs.iter()) {
        if chosen.len() == QUICK_REPLIES {
            break;
        }
        if !chosen.iter().any(|c| c.id == entry.id) {
            chosen.push(entry);
        }
    }
    chosen.into_iter().map(choice).collect()
}

fn choice(entry: &FaqEntry) -> Choice {
    Choice {
        id: entry.id.clone(),
        label: entry.question.clone(),
    }
}

/// A bot message that answers from no FAQ entry (small talk, fallback).
fn small_talk(text: &str, quick_replies: Vec<Choice>) -> ServerFrame {
    ServerFrame::Answer {
        seq: 0,
        text: text.to_owned(),
        html: markdown_to_safe_html(text),
        faq_id: None,
        quick_replies,
        related: Vec::new(),
        feedback: false,
    }
}
