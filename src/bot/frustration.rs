//! Frustration signals in a customer's message: the cue to stop answering and fetch a person.
//!
//! The intent model knows *what* a message is about; a frustrated customer asking about delivery
//! ("WHERE IS MY PARCEL??? THREE WEEKS!!!") is still about delivery, and a bot that answers with
//! the delivery-times FAQ a second time loses them. So frustration is judged apart from intent,
//! from surface signals that hold in any domain:
//!
//! - **words**: insults and exasperation ("useless", "ridiculous", "waste of time", "没用",
//!   "垃圾"), matched case-insensitively on word boundaries for Latin script;
//! - **shouting**: most letters of a message upper case, in a message long enough for that to
//!   mean something (not "OK" or "DHL");
//! - **punctuation runs**: `!!!`, `???`, `?!?`.
//!
//! One exasperated word is enough; shouting or a punctuation run alone is not (people type
//! "Hello!!!" happily), but both together are.

/// English words and phrases that signal frustration on their own. Kept to expressions that are
/// hardly ever neutral in a support chat: "bad" or "wrong" are not here, "useless" is.
const WORDS_EN: &[&str] = &[
    "useless",
    "ridiculous",
    "pathetic",
    "stupid",
    "idiot",
    "idiotic",
    "dumb bot",
    "stupid bot",
    "terrible service",
    "worst service",
    "awful service",
    "horrible service",
    "waste of time",
    "wasting my time",
    "fed up",
    "sick of",
    "sick and tired",
    "not helpful",
    "not helping",
    "doesn't help",
    "does not help",
    "you're not listening",
    "you are not listening",
    "i already told you",
    "i already said",
    "for the last time",
    "unacceptable",
    "wtf",
    "ffs",
    "crap",
    "shit",
    "fuck",
    "fucking",
    "damn",
    "bloody",
];

/// Chinese expressions that signal frustration on their own, matched as substrings (Chinese is
/// written without spaces).
const WORDS_ZH: &[&str] = &[
    "没用",
    "垃圾",
    "废物",
    "烦死",
    "气死",
    "太差",
    "什么破",
    "搞什么",
    "坑人",
    "骗子",
    "说了多少遍",
    "我已经说过",
    "听不懂人话",
    "浪费时间",
    "受不了",
    "傻",
];

/// Fewest letters before "mostly upper case" counts as shouting: "OK", "DHL" and "UPS" are not.
const SHOUT_MIN_LETTERS: usize = 8;
/// Share of upper-case letters that reads as shouting.
const SHOUT_SHARE: f32 = 0.7;

/// One reason to think the customer is frustrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// An exasperated or insulting expression.
    Words,
    /// Mostly upper case.
    Shouting,
    /// `!!!`, `???` and the like.
    Punctuation,
}

/// The frustration signals in `text`.
pub fn signals(text: &str) -> Vec<Signal> {
    let mut found = Vec::new();
    if has_frustrated_words(text) {
        found.push(Signal::Words);
    }
    if is_shouting(text) {
        found.push(Signal::Shouting);
    }
    if has_punctuation_run(text) {
        found.push(Signal::Punctuation);
    }
    found
}

/// Whether `text` reads as frustrated: one exasperated expression, or two other signals.
pub fn is_frustrated(text: &str) -> bool {
    let found = signals(text);
    found.contains(&Signal::Words) || found.len() >= 2
}

fn has_frustrated_words(text: &str) -> bool {
    let lower = text.to_lowercase();
    // Curly apostrophes from phones would otherwise miss "doesn't".
    let lower = lower.replace('\u{2019}', "'");
    WORDS_ZH.iter().any(|w| lower.contains(w))
        || WORDS_EN
            .iter()
            .any(|w| contains_on_word_boundaries(&lower, w))
}

/// Whether `needle` occurs in `haystack` with no letter right before or after it, so that
/// "crap" does not match "scrap" and "damn" does not match "damnation".
fn contains_on_word_boundaries(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(start, _)| {
        let before = haystack[..start].chars().next_back();
        let after = haystack[start + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

fn is_shouting(text: &str) -> bool {
    let (mut letters, mut upper) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        // Only scripts with case count: Chinese characters are neither upper nor lower.
        if c.is_uppercase() || c.is_lowercase() {
            letters += 1;
            if c.is_uppercase() {
                upper += 1;
            }
        }
    }
    letters >= SHOUT_MIN_LETTERS && upper as f32 >= SHOUT_SHARE * letters as f32
}

fn has_punctuation_run(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if matches!(c, '!' | '?' | '！' | '？') {
            run += 1;
            if run >= 3 {
                return true;
            }
        } else if !c.is_whitespace() {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calm_questions_are_not_frustrated() {
        for text in [
            "How long does delivery take?",
            "Hello!!!",
            "Can I scrap my order and start again?",
            "Is DHL or UPS used for shipping?",
            "我想退货",
            "Thanks, that was not what I expected but fine",
            "OK",
        ] {
            assert!(!is_frustrated(text), "{text:?}: {:?}", signals(text));
        }
    }

    #[test]
    fn exasperated_words_are_frustrated_on_their_own() {
        for text in [
            "this bot is useless",
            "What a waste of time",
            "You're not helping",
            "You\u{2019}re not listening to me",
            "i already told you my order number",
            "wtf",
            "你们这个客服太差了",
            "说了多少遍了",
        ] {
            assert!(is_frustrated(text), "{text:?}");
        }
    }

    #[test]
    fn shouting_with_a_punctuation_run_is_frustrated_but_either_alone_is_not() {
        assert!(is_frustrated("WHERE IS MY PARCEL???"));
        assert!(!is_frustrated("WHERE IS MY PARCEL"));
        assert!(!is_frustrated("where is my parcel???"));
        assert_eq!(
            signals("WHERE IS MY PARCEL ? ! ?"),
            vec![Signal::Shouting, Signal::Punctuation]
        );
    }

    #[test]
    fn words_match_only_on_word_boundaries() {
        assert!(!is_frustrated("a damnation of scrap metal"));
        assert!(is_frustrated("damn, still nothing"));
    }
}
