//! Unit tests for what the policy does with messages out of the shop's scope: chit-chat
//! declined, a misread complaint not escalated.

use super::tests::{decide_fresh, intent, turn};
use super::*;

#[test]
fn an_out_of_scope_message_read_as_a_complaint_is_not_escalated_but_a_request_for_a_person_is() {
    // "tell me a joke" with the complaint intent on top: like nothing the bot knows, so a miss.
    let joke = turn(Some(intent("complaint", 0.7, Action::Handoff)), true, &[]);
    assert_eq!(decide_fresh(&joke), Decision::Fallback);
    // Asking for a person is honoured even when the rest of the message is off topic.
    let person = turn(
        Some(intent(HUMAN_REQUEST_INTENT, 0.7, Action::Handoff)),
        true,
        &[],
    );
    assert!(matches!(
        decide_fresh(&person),
        Decision::Handoff {
            reason: HandoffReason::CustomerRequest,
            ..
        }
    ));
}

#[test]
fn chit_chat_is_declined_with_the_intents_reply_never_counted_as_a_miss() {
    // Out of scope by nature: the flag does not stop a confident decline intent.
    let joke = turn(Some(intent("chitchat", 0.9, Action::Decline)), true, &[]);
    let mut memory = Memory {
        misses: 1,
        ..Memory::default()
    };
    let decision = decide(&PolicyConfig::default(), &joke, &memory);
    assert_eq!(
        decision,
        Decision::Reply {
            text: "chitchat reply".into(),
            closing: false
        }
    );
    // One miss before, a joke now: still no hand-off, and the misses start again.
    memory.observe(&decision);
    assert_eq!(memory.misses, 0);
    // Unsure chit-chat is not declined: the usual rules.
    let unsure = turn(Some(intent("chitchat", 0.45, Action::Decline)), true, &[]);
    assert_eq!(decide_fresh(&unsure), Decision::Fallback);
    // Nor is chit-chat that an FAQ entry answers well: the entry wins.
    let answered = turn(
        Some(intent("chitchat", 0.9, Action::Decline)),
        false,
        &[("gift-cards", 0.7)],
    );
    assert_eq!(
        decide_fresh(&answered),
        Decision::Answer {
            faq_id: "gift-cards".into(),
            also: Vec::new()
        }
    );
}
