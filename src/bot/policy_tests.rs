//! Unit tests for the decision policy, with hand-made turns.

use super::*;

pub(super) fn intent(name: &str, probability: f32, action: Action) -> IntentGuess {
    IntentGuess {
        name: name.to_owned(),
        probability,
        action,
        reply: Some(format!("{name} reply")),
        queue: "escalations".to_owned(),
        priority: Priority::High,
    }
}

pub(super) fn candidates(scores: &[(&str, f32)]) -> Vec<ScoredEntry> {
    scores
        .iter()
        .map(|&(id, score)| ScoredEntry {
            faq_id: id.to_owned(),
            score,
            intent: None,
        })
        .collect()
}

pub(super) fn turn(intent: Option<IntentGuess>, oos: bool, scores: &[(&str, f32)]) -> Turn {
    Turn {
        intent,
        out_of_scope: oos,
        oos_score: if oos { 0.9 } else { 0.1 },
        candidates: candidates(scores),
        similarity_to_previous: None,
        frustrated: false,
        vague: false,
        complaint: None,
    }
}

/// Candidates with the intents their entries belong to.
pub(super) fn with_intents(scores: &[(&str, f32, &str)]) -> Vec<ScoredEntry> {
    scores
        .iter()
        .map(|&(id, score, intent)| ScoredEntry {
            faq_id: id.to_owned(),
            score,
            intent: Some(intent.to_owned()),
        })
        .collect()
}

pub(super) fn handoff_for(reason: HandoffReason) -> Decision {
    Decision::Handoff {
        reason,
        queue: DEFAULT_QUEUE.into(),
        priority: Priority::Normal,
    }
}

pub(super) fn decide_fresh(turn: &Turn) -> Decision {
    decide(&PolicyConfig::default(), turn, &Memory::default())
}

#[test]
fn a_clear_best_candidate_is_answered() {
    let t = turn(
        Some(intent("shipping", 0.9, Action::Answer)),
        false,
        &[("delivery-time", 0.85), ("shipping-cost", 0.6)],
    );
    assert_eq!(
        decide_fresh(&t),
        Decision::Answer {
            faq_id: "delivery-time".into(),
            also: Vec::new()
        }
    );
}

#[test]
fn close_candidates_are_clarified_with_at_most_three_choices() {
    let cases = [
        (&[("a", 0.80), ("b", 0.78), ("c", 0.40)][..], vec!["a", "b"]),
        (
            &[("a", 0.80), ("b", 0.79), ("c", 0.78), ("d", 0.78)][..],
            vec!["a", "b", "c"],
        ),
    ];
    for (scores, expected) in cases {
        let t = turn(None, false, scores);
        assert_eq!(
            decide_fresh(&t),
            Decision::Clarify {
                choices: expected.iter().map(|s| s.to_string()).collect()
            },
            "scores {scores:?}"
        );
    }
}

#[test]
fn a_close_second_below_the_answer_score_does_not_clarify() {
    let t = turn(None, false, &[("a", 0.51), ("b", 0.49)]);
    assert_eq!(
        decide_fresh(&t),
        Decision::Answer {
            faq_id: "a".into(),
            also: Vec::new()
        }
    );
}

#[test]
fn asking_for_a_person_is_a_customer_request_handoff() {
    let t = turn(
        Some(intent(HUMAN_REQUEST_INTENT, 0.8, Action::Handoff)),
        false,
        &[("a", 0.9)],
    );
    assert!(matches!(
        decide_fresh(&t),
        Decision::Handoff {
            reason: HandoffReason::CustomerRequest,
            ..
        }
    ));
}

#[test]
fn a_handoff_intent_goes_to_its_queue_with_its_priority() {
    let t = turn(Some(intent("complaint", 0.7, Action::Handoff)), false, &[]);
    assert_eq!(
        decide_fresh(&t),
        Decision::Handoff {
            reason: HandoffReason::Intent,
            queue: "escalations".into(),
            priority: Priority::High,
        }
    );
}

#[test]
fn an_unsure_handoff_intent_is_not_acted_on() {
    let t = turn(
        Some(intent("complaint", 0.3, Action::Handoff)),
        false,
        &[("a", 0.9)],
    );
    assert_eq!(
        decide_fresh(&t),
        Decision::Answer {
            faq_id: "a".into(),
            also: Vec::new()
        }
    );
}

#[test]
fn small_talk_gets_the_intents_reply() {
    for action in [Action::Greet, Action::Thank, Action::Goodbye] {
        let t = turn(Some(intent("greeting", 0.9, action)), false, &[("a", 0.3)]);
        assert_eq!(
            decide_fresh(&t),
            Decision::Reply {
                text: "greeting reply".into(),
                closing: action == Action::Goodbye,
            },
            "{action:?}"
        );
    }
}

#[test]
fn out_of_scope_falls_back_then_hands_off_on_the_second_miss() {
    let config = PolicyConfig::default();
    let t = turn(None, true, &[("a", 0.9)]);
    let mut memory = Memory::default();
    let first = decide(&config, &t, &memory);
    assert_eq!(first, Decision::Fallback);
    memory.observe(&first);
    assert_eq!(
        decide(&config, &t, &memory),
        Decision::Handoff {
            reason: HandoffReason::LowConfidence,
            queue: DEFAULT_QUEUE.into(),
            priority: Priority::Normal,
        }
    );
}

#[test]
fn an_understood_message_resets_the_misses() {
    let mut memory = Memory::default();
    memory.observe(&Decision::Fallback);
    memory.observe(&Decision::Answer {
        faq_id: "a".into(),
        also: Vec::new(),
    });
    assert_eq!(memory.misses, 0);
    let t = turn(None, false, &[("a", 0.2)]);
    assert_eq!(
        decide(&PolicyConfig::default(), &t, &memory),
        Decision::Fallback
    );
}

#[test]
fn frustration_hands_off_ahead_of_a_good_answer_at_high_priority() {
    let mut t = turn(
        Some(intent("shipping", 0.9, Action::Answer)),
        false,
        &[("delivery-time", 0.9)],
    );
    t.frustrated = true;
    assert_eq!(
        decide_fresh(&t),
        Decision::Handoff {
            reason: HandoffReason::Frustration,
            queue: "escalations".into(),
            priority: Priority::High,
        }
    );
}

#[test]
fn a_handoff_intent_wins_over_frustration_so_its_queue_is_kept() {
    let mut t = turn(Some(intent("complaint", 0.9, Action::Handoff)), false, &[]);
    t.frustrated = true;
    assert!(matches!(
        decide_fresh(&t),
        Decision::Handoff {
            reason: HandoffReason::Intent,
            ..
        }
    ));
}

#[test]
fn a_near_same_message_hands_off_and_a_new_question_on_the_topic_does_not() {
    let mut t = turn(None, false, &[("delivery-time", 0.9)]);
    t.similarity_to_previous = Some(0.95);
    assert_eq!(
        decide_fresh(&t),
        handoff_for(HandoffReason::RepeatedMessage)
    );
    t.similarity_to_previous = Some(0.8);
    assert_eq!(
        decide_fresh(&t),
        Decision::Answer {
            faq_id: "delivery-time".into(),
            also: Vec::new()
        }
    );
}

#[test]
fn repeated_small_talk_is_still_small_talk() {
    let mut t = turn(Some(intent("greeting", 0.9, Action::Greet)), false, &[]);
    t.similarity_to_previous = Some(1.0);
    assert!(matches!(decide_fresh(&t), Decision::Reply { .. }));
}

#[test]
fn the_same_answer_twice_in_a_row_hands_off_even_with_small_talk_between() {
    let config = PolicyConfig::default();
    let t = turn(None, false, &[("a", 0.9)]);
    let mut memory = Memory::default();
    let first = decide(&config, &t, &memory);
    assert_eq!(
        first,
        Decision::Answer {
            faq_id: "a".into(),
            also: Vec::new()
        }
    );
    memory.observe(&first);
    memory.observe(&Decision::Reply {
        text: "You're welcome".into(),
        closing: false,
    });
    assert_eq!(
        decide(&config, &t, &memory),
        handoff_for(HandoffReason::RepeatedAnswer)
    );
    memory.observe(&Decision::Clarify {
        choices: vec!["a".into(), "b".into()],
    });
    assert_eq!(
        decide(&config, &t, &memory),
        Decision::Answer {
            faq_id: "a".into(),
            also: Vec::new()
        },
        "a clarification in between means the customer chose"
    );
}

#[test]
fn intent_and_retrieval_that_disagree_are_clarified_or_missed_unless_retrieval_is_strong() {
    let config = PolicyConfig::default();
    let mut t = turn(Some(intent("returns", 0.9, Action::Answer)), false, &[]);
    t.candidates = with_intents(&[
        ("delivery-time", 0.7, "shipping"),
        ("refund", 0.6, "returns"),
    ]);
    assert_eq!(
        decide(&config, &t, &Memory::default()),
        Decision::Clarify {
            choices: vec!["delivery-time".into(), "refund".into()]
        }
    );
    t.candidates = with_intents(&[
        ("delivery-time", 0.7, "shipping"),
        ("refund", 0.3, "returns"),
    ]);
    assert_eq!(decide(&config, &t, &Memory::default()), Decision::Fallback);
    t.candidates = with_intents(&[("delivery-time", 0.85, "shipping")]);
    assert_eq!(
        decide(&config, &t, &Memory::default()),
        Decision::Answer {
            faq_id: "delivery-time".into(),
            also: Vec::new()
        },
        "a strong match beats the topic guess"
    );
}

#[test]
fn intent_and_retrieval_that_agree_are_answered() {
    let mut t = turn(Some(intent("shipping", 0.9, Action::Answer)), false, &[]);
    t.candidates = with_intents(&[
        ("delivery-time", 0.6, "shipping"),
        ("refund", 0.5, "returns"),
    ]);
    assert_eq!(
        decide_fresh(&t),
        Decision::Answer {
            faq_id: "delivery-time".into(),
            also: Vec::new()
        }
    );
}

#[test]
fn the_second_unhelpful_answer_hands_off_and_a_revote_on_one_answer_counts_once() {
    let config = PolicyConfig::default();
    let mut memory = Memory::default();
    assert_eq!(on_feedback(&config, &mut memory, 4, false), None);
    assert_eq!(on_feedback(&config, &mut memory, 4, false), None);
    assert_eq!(on_feedback(&config, &mut memory, 4, true), None);
    assert_eq!(on_feedback(&config, &mut memory, 6, false), None);
    assert_eq!(
        on_feedback(&config, &mut memory, 8, false),
        Some(handoff_for(HandoffReason::Unhelpful))
    );
}

#[test]
fn memory_rebuilt_from_stored_decisions_counts_misses_and_the_last_answer() {
    let mut memory = Memory::default();
    memory.observe_stored("answer", Some("a"));
    memory.observe_stored("reply", None);
    assert_eq!(memory.last_answer.as_deref(), Some("a"));
    memory.observe_stored("fallback", None);
    assert_eq!(memory.misses, 1);
    assert_eq!(
        decide(&PolicyConfig::default(), &turn(None, true, &[]), &memory),
        handoff_for(HandoffReason::LowConfidence),
        "a miss after the restored one is the second in a row"
    );
}

/// Settings as the command line would give them.
fn settings(args: &[&str]) -> crate::config::Settings {
    #[derive(clap::Parser)]
    struct Args {
        #[command(flatten)]
        settings: crate::config::Settings,
    }
    <Args as clap::Parser>::parse_from(args).settings
}

#[test]
fn policy_scores_outside_zero_to_one_are_refused_by_name() {
    let out_of_range = settings(&["tandem", "--policy-repeat-similarity", "1.5"]);
    let err = PolicyConfig::from_settings(&out_of_range).expect_err("out of range");
    assert!(
        err.to_string().contains("policy_repeat_similarity"),
        "{err}"
    );
    let three = settings(&["tandem", "--policy-max-misses", "3"]);
    assert_eq!(
        PolicyConfig::from_settings(&three)
            .map(|p| p.max_misses)
            .ok(),
        Some(3)
    );
}
