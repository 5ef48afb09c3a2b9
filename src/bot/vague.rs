//! Vague messages: a customer naming a topic without saying what about it ("the delivery",
//! "a charge on my card", "question about returns").
//!
//! Retrieval always ranks some entry first, and for a message that names only a topic the
//! first is a guess among the topic's entries: the best answer is a question back offering
//! them. A message is vague when, stop words and the words that only say "I have an issue"
//! aside, one word is left: one word names a topic, two start to say what about it
//! ("track order", "refund status", "shipping free"). Judged on Latin-script words; Chinese,
//! written without spaces, is left to the scores.

/// Words that carry no topic or request: function words, and what any message to support may
/// say ("help", "issue", "question").
const EMPTY_WORDS: &[&str] = &[
    "a",
    "about",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "are",
    "can",
    "could",
    "do",
    "for",
    "got",
    "have",
    "having",
    "hello",
    "help",
    "hey",
    "hi",
    "i",
    "i'm",
    "im",
    "is",
    "issue",
    "issues",
    "it",
    "it's",
    "its",
    "me",
    "my",
    "need",
    "of",
    "on",
    "one",
    "please",
    "pls",
    "problem",
    "problems",
    "question",
    "questions",
    "regarding",
    "re",
    "some",
    "someone",
    "something",
    "the",
    "there",
    "this",
    "to",
    "trouble",
    "with",
    "wrong",
    "you",
    "your",
    "concerning",
    "query",
    "hiya",
    "placed",
    "bought",
    "ordered",
    "had",
    "has",
];

/// Whether `text` names a topic and nothing more (see the module documentation); a message
/// with no topic word at all ("I need help") is not vague but empty, for the other rules.
pub fn is_vague(text: &str) -> bool {
    if crate::model::features::is_chinese(text) {
        return false;
    }
    let lower = text.to_lowercase();
    let words = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty());
    let mut meaningful = 0;
    for word in words {
        if !EMPTY_WORDS.contains(&word) {
            meaningful += 1;
        }
    }
    meaningful == 1
}

#[cfg(test)]
mod tests {
    use super::is_vague;

    #[test]
    fn a_topic_alone_is_vague_and_a_topic_with_what_about_it_is_not() {
        for text in [
            "shipping",
            "Question about my bill",
            "having trouble with my login",
            "hi, i need help with a return please",
            "the package",
        ] {
            assert!(is_vague(text), "{text}");
        }
        for text in [
            "track order",
            "refund status",
            "is shipping free?",
            "do you take paypal",
            "where is my package",
            "i need help",
            "我的订单",
        ] {
            assert!(!is_vague(text), "{text}");
        }
    }
}
