//! Unit tests for the questions back: a vague message narrowed to its topic, a known topic
//! without a good entry, and the wider margin below a strong match.

use super::tests::{decide_fresh, handoff_for, intent, turn, with_intents};
use super::*;

#[test]
fn a_vague_message_is_narrowed_to_its_topics_entries_and_counts_as_a_miss() {
    let topic = intent("shipping", 0.7, Action::Answer);
    let mut t = turn(Some(topic.clone()), false, &[]);
    t.candidates = with_intents(&[
        ("delivery-times", 0.7, "shipping"),
        ("track-order", 0.6, "orders"),
        ("shipping-costs", 0.55, "shipping"),
    ]);
    t.vague = true;
    let narrowed = decide_fresh(&t);
    assert_eq!(
        narrowed,
        Decision::Narrow {
            choices: vec!["delivery-times".into(), "shipping-costs".into()]
        },
        "the topic's entries, not the best guess"
    );
    // A strong match is answered even when the message is one word.
    t.candidates[0].score = 0.9;
    assert!(matches!(decide_fresh(&t), Decision::Answer { .. }));
    // Vague twice in a row reaches a person as two misses do.
    t.candidates[0].score = 0.7;
    let mut memory = Memory::default();
    memory.observe(&narrowed);
    assert_eq!(memory.misses, 1);
    assert_eq!(
        decide(&PolicyConfig::default(), &t, &memory),
        handoff_for(HandoffReason::LowConfidence)
    );
}

#[test]
fn a_message_without_a_good_entry_but_with_a_known_topic_is_narrowed_not_fallen_back() {
    let mut t = turn(Some(intent("products", 0.75, Action::Answer)), false, &[]);
    t.candidates = with_intents(&[
        ("product-compatibility", 0.42, "products"),
        ("start-return", 0.40, "returns"),
    ]);
    assert_eq!(
        decide_fresh(&t),
        Decision::Narrow {
            choices: vec!["product-compatibility".into()]
        }
    );
    // Nothing of the topic worth offering, or out of scope: asked to rephrase.
    t.candidates[0].score = 0.2;
    assert_eq!(decide_fresh(&t), Decision::Fallback);
    t.candidates[0].score = 0.42;
    t.out_of_scope = true;
    assert_eq!(decide_fresh(&t), Decision::Fallback);
}

#[test]
fn below_a_strong_match_a_close_second_reading_is_asked_about() {
    // 0.04 apart: a coin toss below a strong match, an answer above one.
    let t = turn(None, false, &[("a", 0.70), ("b", 0.66)]);
    assert_eq!(
        decide_fresh(&t),
        Decision::Clarify {
            choices: vec!["a".into(), "b".into()]
        }
    );
    let t = turn(None, false, &[("a", 0.90), ("b", 0.86)]);
    assert!(matches!(decide_fresh(&t), Decision::Answer { .. }));
}
