//! Every way the bot hands a conversation to a person, and clarification, over a real websocket
//! with the real model: the customer asks (button or words, in English and Chinese), a handoff
//! intent, two answers marked not helpful, a repeated message, the same answer twice,
//! frustration; the queue position each handoff reports; and the clarify question when two
//! entries are too close to call.

use serde_json::{Value, json};

use crate::customer::Customer;
use crate::helpers::{TestApp, spawn_app, try_spawn_app_with, writable_fixture};

/// Connects a new customer who has said hello.
async fn customer(app: &TestApp) -> Customer {
    let mut customer = Customer::connect(app).await;
    customer.hello(None).await;
    customer
}

fn assert_handoff(frame: &Value, reason: &str) {
    assert_eq!(frame["type"], "handoff", "expected a handoff: {frame}");
    assert_eq!(frame["reason"], reason, "{frame}");
}

#[tokio::test]
async fn the_request_a_person_button_hands_off_with_the_place_in_the_queue() {
    let app = spawn_app().await;
    let mut first = customer(&app).await;
    let mut second = customer(&app).await;

    first
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    let handoff = first.next_reply().await;
    assert_handoff(&handoff, "customer_request");
    assert_eq!(handoff["queue"], "general");
    assert_eq!(handoff["position"], 1, "{handoff}");

    second
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    let handoff = second.next_reply().await;
    assert_handoff(&handoff, "customer_request");
    assert_eq!(
        handoff["position"], 2,
        "behind the first customer: {handoff}"
    );
}

#[tokio::test]
async fn asking_for_a_person_in_chinese_is_a_customer_request() {
    let app = spawn_app().await;
    let mut customer = customer(&app).await;

    let (_, reply) = customer.ask("m1", "转人工").await;

    assert_handoff(&reply, "customer_request");
}

#[tokio::test]
async fn a_complaint_goes_to_the_queue_its_intent_names() {
    let app = spawn_app().await;
    let mut customer = customer(&app).await;

    let (_, reply) = customer.ask("m1", "this is ridiculous").await;

    assert_handoff(&reply, "intent");
    assert_eq!(reply["queue"], "escalations", "{reply}");
}

#[tokio::test]
async fn the_second_answer_marked_not_helpful_hands_off() {
    let app = spawn_app().await;
    let mut customer = customer(&app).await;
    let (_, first) = customer.ask("m1", "How long does delivery take?").await;
    assert_eq!(first["type"], "answer", "{first}");
    assert_eq!(first["feedback"], true, "answers ask for feedback: {first}");

    customer
        .send(json!({"type": "feedback", "seq": first["seq"], "helpful": false}))
        .await;
    let ack = customer.next().await;
    assert_eq!(ack["type"], "feedback_ack", "one vote is stored: {ack}");
    customer.expect_quiet().await;
    let (_, second) = customer.ask("m2", "How do I return something?").await;
    assert_eq!(second["type"], "answer", "{second}");
    customer
        .send(json!({"type": "feedback", "seq": second["seq"], "helpful": false}))
        .await;

    assert_eq!(customer.next().await["type"], "feedback_ack");
    assert_handoff(&customer.next().await, "unhelpful");
}

#[tokio::test]
async fn saying_the_same_thing_again_hands_off_as_a_repeat() {
    let app = spawn_app().await;
    let mut customer = customer(&app).await;
    let (_, first) = customer.ask("m1", "How long does delivery take?").await;
    assert_eq!(first["faq_id"], "delivery-time", "{first}");

    let (_, again) = customer.ask("m2", "how long does delivery take??").await;

    assert_handoff(&again, "repeated_message");
}

#[tokio::test]
async fn a_different_question_with_the_same_answer_hands_off_instead_of_repeating_it() {
    let app = spawn_app().await;
    let mut customer = customer(&app).await;
    let (_, first) = customer.ask("m1", "How long does delivery take?").await;
    assert_eq!(first["faq_id"], "delivery-time", "{first}");

    let (_, second) = customer.ask("m2", "When will my parcel arrive?").await;

    assert_handoff(&second, "repeated_answer");
}

#[tokio::test]
async fn a_shouting_customer_is_handed_off_for_frustration_ahead_of_an_answer() {
    let app = spawn_app().await;
    let mut customer = customer(&app).await;

    let (_, reply) = customer
        .ask("m1", "WHERE IS MY PARCEL??? IT'S BEEN WEEKS")
        .await;

    assert_handoff(&reply, "frustration");
}

#[tokio::test]
async fn a_greeting_offers_the_most_answered_entries_as_quick_replies() {
    let app = spawn_app().await;
    // Two customers ask about shipping costs, the fixture's last entry; one about delivery.
    for question in [
        "How much does shipping cost?",
        "Is shipping free?",
        "How long does delivery take?",
    ] {
        let mut asker = customer(&app).await;
        let (_, answer) = asker.ask("q1", question).await;
        assert_eq!(answer["type"], "answer", "{answer}");
    }
    // The list is read at most once a minute (each hello above read it): a minute later.
    app.clock.advance(tandem::chat::topics::REFRESH);
    let mut customer = customer(&app).await;

    let (_, greeting) = customer.ask("m1", "hello").await;

    let quick = greeting["quick_replies"].as_array().expect("quick replies");
    let ids: Vec<&str> = quick.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "{greeting}");
    assert_eq!(
        ids[..2],
        ["shipping-cost", "delivery-time"],
        "most answered first: {greeting}"
    );
    let (_, answer) = customer
        .send_choice("m2", &quick[0]["id"], &quick[0]["label"])
        .await;
    assert_eq!(
        answer["faq_id"], "shipping-cost",
        "a quick reply is answered: {answer}"
    );
}

#[tokio::test]
async fn two_entries_too_close_to_call_are_clarified_and_the_choice_answered() {
    let knowledge = writable_fixture();
    // Two entries that share their customers' words: "gift wrapping" could mean either.
    for (id, question, answer) in [
        (
            "gift-wrap",
            "Do you offer gift wrapping?",
            "Yes, any order can be gift wrapped.",
        ),
        (
            "gift-wrap-cost",
            "How much is gift wrapping?",
            "Gift wrapping is $3 per order.",
        ),
    ] {
        let text = format!(
            "---\nquestion: {question}\nalternatives:\n  - gift wrapping\nintent: shipping\n---\n{answer}\n"
        );
        std::fs::write(knowledge.path().join(format!("faq/{id}.md")), text).expect("write");
    }
    let app = try_spawn_app_with(knowledge.path())
        .await
        .expect("the knowledge base is valid");
    let mut customer = customer(&app).await;

    let (_, clarify) = customer.ask("m1", "gift wrapping").await;

    assert_eq!(clarify["type"], "clarify", "{clarify}");
    let choices = clarify["choices"].as_array().expect("choices");
    let mut ids: Vec<&str> = choices.iter().filter_map(|c| c["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["gift-wrap", "gift-wrap-cost"], "{clarify}");
    let chosen = &choices[0];
    let (_, answer) = customer
        .send_choice("m2", &chosen["id"], &chosen["label"])
        .await;
    assert_eq!(answer["type"], "answer", "{answer}");
    assert_eq!(answer["faq_id"], chosen["id"], "{answer}");
}

#[tokio::test]
async fn the_policy_thresholds_come_from_the_settings() {
    let app = crate::helpers::spawn_app_tweaked(|s| s.policy_max_misses = 1).await;
    let mut customer = customer(&app).await;

    let (_, reply) = customer.ask("m1", "what is the capital of mongolia").await;

    assert_handoff(&reply, "low_confidence");
}
