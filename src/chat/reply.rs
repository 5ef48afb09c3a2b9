//! The server frame for each of the bot's decisions.

use crate::bot::policy::Decision;
use crate::knowledge::{FaqEntry, Knowledge, Text, markdown_to_plain_text, markdown_to_safe_html};
use crate::protocol::{Choice, ServerFrame};

/// Quick replies a greeting offers: three buttons, the most a small widget shows on one line.
const QUICK_REPLIES: usize = 3;

/// Where a handoff leaves the customer: their place in line, and whether the offer to leave a
/// message follows at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Place {
    /// Place in the queue, 1 = next.
    pub position: u32,
    /// An `offline` offer follows the handoff.
    pub offer_follows: bool,
}

/// The frame that carries `decision` (its `seq` is set when it is stored). `place` is where a
/// handoff leaves the customer; `topics` the most asked entries, best first, for the quick
/// replies of small talk, offered in `lang` (the language of the customer's message), which the
/// bot's own words are in too.
pub(super) fn frame_for(
    knowledge: &Knowledge,
    decision: &Decision,
    place: Option<Place>,
    topics: &[String],
    lang: &str,
) -> ServerFrame {
    match decision {
        Decision::Answer { faq_id, also } => match knowledge.faq(faq_id) {
            Some(entry) => {
                let also: Vec<&FaqEntry> = also.iter().filter_map(|id| knowledge.faq(id)).collect();
                let mut text = markdown_to_plain_text(&entry.answer_markdown);
                let mut html = entry.answer_html.clone();
                for other in &also {
                    // Each further answer under its own question, so the customer sees which
                    // part of the message it answers.
                    text.push_str(&format!(
                        "\n\n{}\n{}",
                        other.question,
                        markdown_to_plain_text(&other.answer_markdown)
                    ));
                    html.push_str("<hr>");
                    html.push_str(&markdown_to_safe_html(&format!("**{}**", other.question)));
                    html.push_str(&other.answer_html);
                }
                ServerFrame::Answer {
                    seq: 0,
                    text,
                    html,
                    faq_id: Some(faq_id.clone()),
                    also: also.iter().map(|e| e.id.clone()).collect(),
                    quick_replies: Vec::new(),
                    related: entry
                        .related
                        .iter()
                        .filter(|r| !also.iter().any(|e| &e.id == *r))
                        .filter_map(|r| knowledge.faq(r))
                        .map(choice)
                        .collect(),
                    feedback: true,
                }
            }
            // The knowledge base was swapped between deciding and answering.
            None => small_talk(knowledge.text(lang, Text::Fallback), Vec::new()),
        },
        // A goodbye is the end: no topics to ask about next.
        Decision::Reply {
            text,
            closing: true,
        } => small_talk(text, Vec::new()),
        Decision::Reply { text, .. } => small_talk(text, quick_replies(knowledge, topics, lang)),
        Decision::Clarify { choices } => clarify(knowledge, choices, Text::Clarify, lang),
        Decision::Narrow { choices } => clarify(knowledge, choices, Text::Narrow, lang),
        Decision::Handoff { reason, queue, .. } => ServerFrame::Handoff {
            seq: 0,
            reason: *reason,
            // When the offer to leave a message follows at once (nobody online, the queue
            // closed), no promise of "shortly" that the next line takes back.
            text: knowledge
                .text(
                    lang,
                    match place {
                        Some(Place {
                            offer_follows: true,
                            ..
                        }) => Text::HandoffOffline,
                        _ => Text::Handoff,
                    },
                )
                .to_owned(),
            queue: queue.clone(),
            position: place.map(|p| p.position),
        },
        Decision::Fallback => small_talk(knowledge.text(lang, Text::Fallback), Vec::new()),
    }
}

/// A question back offering `choices` (the entries still in the knowledge base), asked in
/// `text`.
fn clarify(knowledge: &Knowledge, choices: &[String], text: Text, lang: &str) -> ServerFrame {
    ServerFrame::Clarify {
        seq: 0,
        text: knowledge.text(lang, text).to_owned(),
        choices: choices
            .iter()
            .filter_map(|id| knowledge.faq(id))
            .map(choice)
            .collect(),
    }
}

/// The most asked entries in `lang` still in the knowledge base, topped up with the first
/// entries in it while there are not enough answers to tell (a new deployment). A knowledge
/// base with nothing in `lang` offers entries in any language rather than none.
pub(super) fn quick_replies(knowledge: &Knowledge, topics: &[String], lang: &str) -> Vec<Choice> {
    let has_lang = knowledge.faqs.iter().any(|e| e.lang == lang);
    let popular = topics.iter().filter_map(|id| knowledge.faq(id));
    let mut chosen: Vec<&FaqEntry> = Vec::with_capacity(QUICK_REPLIES);
    let candidates = popular
        .chain(knowledge.faqs.iter())
        .filter(|e| !has_lang || e.lang == lang);
    for entry in candidates {
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
        also: Vec::new(),
        quick_replies,
        related: Vec::new(),
        feedback: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_replies_are_in_the_language_the_customer_wrote_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge");
        let knowledge = crate::knowledge::load(&dir).expect("the fixture loads");
        let lang_of = |choices: Vec<Choice>| {
            choices
                .iter()
                .map(|c| knowledge.faq(&c.id).map(|e| e.lang.clone()))
                .collect::<Vec<_>>()
        };
        use crate::knowledge::{language_after, language_of};
        assert_eq!(language_of("hello there"), "en");
        assert_eq!(language_of("你好"), "zh");
        assert_eq!(
            language_after("en", "我的order到哪了"),
            "zh",
            "mixed is Chinese"
        );
        assert_eq!(language_after("zh", "BC-1234"), "en", "Latin letters");
        assert_eq!(language_after("zh", "12345 ??"), "zh", "neither: as before");
        let english = quick_replies(&knowledge, &["return-policy-zh".to_owned()], "en");
        assert_eq!(english.len(), QUICK_REPLIES);
        assert!(lang_of(english).iter().all(|l| l.as_deref() == Some("en")));
        let chinese = quick_replies(&knowledge, &[], "zh");
        assert_eq!(chinese.len(), 1, "the fixture has one Chinese entry");
        assert_eq!(lang_of(chinese), vec![Some("zh".to_owned())]);
        assert_eq!(
            quick_replies(&knowledge, &[], "fr").len(),
            QUICK_REPLIES,
            "none in French: any"
        );
    }
}
