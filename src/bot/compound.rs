//! Messages with more than one question ("how much is delivery and how long does it take?"):
//! each question is read on its own, and when two or more of them are answered by different
//! entries the bot answers them all in one reply instead of half the message.
//!
//! A message is split at sentence ends and at "and", "also" or "plus" followed by a question
//! word; each part needs two words (four characters in Chinese) to be read on its own. The
//! whole message is read first as always: only when its decision leaves something unanswered
//! or answers one entry (not a handoff, not small talk) do the parts' answers replace it.

use super::policy::{Decision, Memory, answer};

/// Most questions answered in one reply: a message with more is read whole (it is a letter,
/// and reading each of its sentences would cost an embedding each).
pub const MAX_QUESTIONS: usize = 3;

/// Words that start a new question after "and" / "also" / "plus".
const QUESTION_WORDS: &[&str] = &[
    "how", "what", "when", "where", "why", "which", "who", "can", "could", "do", "does", "did",
    "is", "are", "will", "would", "should", "may", "if", "i", "my", "you", "your",
];

/// Chinese words that start another question.
const ZH_SEPARATORS: &[&str] = &["还有", "另外", "以及", "还想问", "顺便问"];

/// The questions in `text`, in order; one (the whole text) when it asks one thing.
pub fn questions(text: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for sentence in text.split(['?', '？', '!', '！', '。', ';', '；', '\n']) {
        let mut sentence = sentence.to_owned();
        for separator in ZH_SEPARATORS {
            sentence = sentence.replace(separator, "\u{1f}");
        }
        for piece in sentence.split('\u{1f}') {
            parts.extend(split_on_and(piece));
        }
    }
    let parts: Vec<String> = parts
        .into_iter()
        .map(|p| {
            p.trim_matches(|c: char| c.is_whitespace() || ",，.、".contains(c))
                .to_owned()
        })
        .filter(|p| long_enough(p))
        .collect();
    if parts.len() < 2 || parts.len() > MAX_QUESTIONS {
        return vec![text.to_owned()];
    }
    parts
}

/// Splits at ", and how ...", " also can ...", " plus what ...".
fn split_on_and(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut parts = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let joiner = matches!(
            word.trim_start_matches(',').to_lowercase().as_str(),
            "and" | "also" | "plus" | "&"
        );
        let next_asks = words
            .get(i + 1)
            .is_some_and(|next| QUESTION_WORDS.contains(&next.to_lowercase().as_str()));
        if joiner && next_asks && !current.is_empty() {
            parts.push(current.join(" "));
            current.clear();
        } else {
            current.push(word);
        }
    }
    if !current.is_empty() {
        parts.push(current.join(" "));
    }
    parts
}

fn long_enough(part: &str) -> bool {
    if crate::model::features::is_chinese(part) {
        part.chars().filter(|c| !c.is_whitespace()).count() >= 4
    } else {
        part.split_whitespace().count() >= 2
    }
}

/// The questions of `text` to read one by one, when it asks several and the whole message's
/// decision may give way to their answers: not a handoff (anger, a request for a person, a
/// loop) nor small talk, which stand as they are. `None`: the whole message's decision stands.
pub fn to_read(text: &str, whole: &Decision) -> Option<Vec<String>> {
    let questions = questions(text);
    (questions.len() > 1 && may_split(whole)).then_some(questions)
}

fn may_split(whole: &Decision) -> bool {
    matches!(
        whole,
        Decision::Answer { .. }
            | Decision::Clarify { .. }
            | Decision::Narrow { .. }
            | Decision::Fallback
    )
}

/// The reply to a message with several questions: all the entries its questions are answered
/// with (each question decided as a first message, `parts`), when there are two or more;
/// otherwise the whole message's decision.
pub fn combine(whole: Decision, parts: &[Decision], memory: &Memory) -> Decision {
    let mut answered: Vec<String> = Vec::new();
    for part in parts {
        if let Decision::Answer { faq_id, also } = part {
            for id in std::iter::once(faq_id).chain(also) {
                if !answered.contains(id) && answered.len() < MAX_QUESTIONS {
                    answered.push(id.clone());
                }
            }
        }
    }
    if answered.len() < 2 || !may_split(&whole) {
        return whole;
    }
    match answer(&answered[0], memory) {
        Decision::Answer { faq_id, .. } => Decision::Answer {
            faq_id,
            also: answered.split_off(1),
        },
        // The same answer again: the loop rule stands.
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_split_at_sentence_ends_and_at_and_before_a_question_word() {
        assert_eq!(
            questions("how much is delivery and how long does it take?"),
            vec!["how much is delivery", "how long does it take"]
        );
        assert_eq!(
            questions("Can I pay with PayPal? Also, do you ship to Spain"),
            vec!["Can I pay with PayPal", "Also, do you ship to Spain"]
        );
        assert_eq!(
            questions("运费多少？还有多久能到"),
            vec!["运费多少", "多久能到"]
        );
        // One question, "and" inside it, or a part too short to read alone.
        for text in [
            "salt and pepper grinder manual",
            "hi! where is my order",
            "thanks. bye",
        ] {
            assert_eq!(questions(text), vec![text.to_owned()], "{text}");
        }
    }

    fn answer_of(id: &str) -> Decision {
        Decision::Answer {
            faq_id: id.to_owned(),
            also: Vec::new(),
        }
    }

    #[test]
    fn two_questions_answered_by_two_entries_are_both_answered() {
        let both = combine(
            answer_of("shipping-costs"),
            &[answer_of("shipping-costs"), answer_of("delivery-times")],
            &Memory::default(),
        );
        assert_eq!(
            both,
            Decision::Answer {
                faq_id: "shipping-costs".into(),
                also: vec!["delivery-times".into()]
            }
        );
        // One entry for both parts, or a part not understood: the whole message's decision.
        let one = combine(
            Decision::Fallback,
            &[answer_of("a"), Decision::Fallback],
            &Memory::default(),
        );
        assert_eq!(one, Decision::Fallback);
        // A handoff stands whatever the parts say.
        let handoff = Decision::Handoff {
            reason: super::super::HandoffReason::Frustration,
            queue: "general".into(),
            priority: crate::knowledge::Priority::High,
        };
        let kept = combine(
            handoff.clone(),
            &[answer_of("a"), answer_of("b")],
            &Memory::default(),
        );
        assert_eq!(kept, handoff);
    }
}
