//! The customer chat at `/ws/chat` with a real websocket client: hello and welcome, answers,
//! handoff and silence after it, bad frames, duplicate client ids, resume with replay.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::customer::{Customer, FRAME_TIMEOUT};
use crate::helpers::spawn_app;

#[tokio::test]
async fn hello_gets_a_welcome_to_a_new_conversation() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;

    let welcome = customer.hello(None).await;

    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["resumed"], false);
    assert_eq!(welcome["last_seq"], 0);
    assert!(
        welcome["conversation_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(
        welcome["resume_token"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}

#[tokio::test]
async fn a_frame_before_hello_is_refused_as_bad_state() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;

    customer.say("m1", "hello?").await;

    let error = customer.next().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "bad_state");
    customer.hello(None).await;
}

#[tokio::test]
async fn an_faq_question_is_acked_then_answered_from_its_entry() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    let (ack, answer) = customer.ask("m1", "How long does delivery take?").await;

    assert_eq!(ack["seq"], 1);
    assert_eq!(answer["type"], "answer", "{answer}");
    assert_eq!(answer["seq"], 2);
    assert_eq!(answer["faq_id"], "delivery-time", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| t.contains("3–5 business days"))
    );
    assert_eq!(answer["related"][0]["id"], "shipping-cost", "{answer}");
}

#[tokio::test]
async fn asking_for_a_human_hands_off_and_the_bot_stays_silent_after() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    let (_, handoff) = customer.ask("m1", "I want to talk to a human").await;
    assert_eq!(handoff["type"], "handoff", "{handoff}");
    assert_eq!(handoff["reason"], "customer_request");
    let offline = customer.next().await;
    assert_eq!(offline["type"], "offline", "nobody is online: {offline}");

    customer.say("m2", "How long does delivery take?").await;
    let ack = customer.next().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["client_id"], "m2");
    customer.expect_quiet().await;
}

#[tokio::test]
async fn malformed_json_and_unknown_types_get_error_frames_and_the_session_lives_on() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let cases = [
        ("{not json", "bad_frame"),
        (
            r#"{"type": "message", "text": "no client id"}"#,
            "bad_frame",
        ),
        (r#"{"type": "dance"}"#, "unknown_type"),
    ];

    for (frame, code) in cases {
        customer.send_raw(frame).await;
        let error = customer.next().await;
        assert_eq!(error["type"], "error", "frame {frame}: {error}");
        assert_eq!(error["code"], code, "frame {frame}: {error}");
    }

    let (_, answer) = customer.ask("m1", "How much does shipping cost?").await;
    assert_eq!(answer["faq_id"], "shipping-cost", "{answer}");
}

#[tokio::test]
async fn a_resent_client_id_is_acked_with_the_same_seq_and_not_answered_twice() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let (first_ack, answer) = customer.ask("m1", "How long does delivery take?").await;
    assert_eq!(answer["type"], "answer");

    customer.say("m1", "How long does delivery take?").await;

    let second_ack = customer.next().await;
    assert_eq!(second_ack["type"], "ack", "{second_ack}");
    assert_eq!(second_ack["seq"], first_ack["seq"]);
    customer.expect_quiet().await;
}

#[tokio::test]
async fn resuming_replays_exactly_the_missed_frames_in_order() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    let conversation_id = welcome["conversation_id"].clone();
    let token = welcome["resume_token"]
        .as_str()
        .expect("a resume token")
        .to_owned();
    let (_, first) = customer.ask("m1", "How long does delivery take?").await;
    let seen = first["seq"].as_u64().expect("answers carry seq");
    let (_, second) = customer.ask("m2", "How much does shipping cost?").await;
    drop(customer);

    let mut again = Customer::connect(&app).await;
    let welcome = again.hello(Some((&token, seen))).await;

    assert_eq!(welcome["resumed"], true);
    assert_eq!(welcome["conversation_id"], conversation_id);
    assert_eq!(welcome["last_seq"], second["seq"]);
    let replayed_message = again.next().await;
    assert_eq!(
        replayed_message["type"], "customer_message",
        "{replayed_message}"
    );
    assert_eq!(replayed_message["seq"], seen + 1);
    assert_eq!(replayed_message["client_id"], "m2");
    let replayed_answer = again.next().await;
    assert_eq!(replayed_answer, second);
    again.expect_quiet().await;
}

#[tokio::test]
async fn an_unknown_resume_token_starts_a_new_conversation() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;

    let welcome = customer.hello(Some(("not-a-token", 3))).await;

    assert_eq!(welcome["resumed"], false);
    assert_eq!(welcome["last_seq"], 0);
    assert_ne!(welcome["resume_token"], "not-a-token");
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_connection_with_1009() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    let huge = "x".repeat(65 * 1024);
    // The server may close before the whole frame is written; only the close code matters.
    let _ = customer.socket.send(Message::text(huge)).await;

    let close = loop {
        match tokio::time::timeout(FRAME_TIMEOUT, customer.socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let code = close.map(|f| u16::from(f.code));
    assert_eq!(code, Some(1009));
}

#[tokio::test]
async fn a_flood_of_frames_is_rate_limited() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    for _ in 0..30 {
        customer
            .send(json!({"type": "typing", "active": true}))
            .await;
    }

    let error = customer.next().await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], "rate_limited");
}

#[tokio::test]
async fn two_messages_the_bot_does_not_understand_hand_off_for_low_confidence() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    let (_, first) = customer.ask("m1", "what is the capital of mongolia").await;
    let (_, second) = customer.ask("m2", "recommend me a good jazz album").await;

    assert_eq!(first["type"], "answer", "{first}");
    assert_eq!(
        first.get("faq_id"),
        None,
        "a fallback, not an FAQ answer: {first}"
    );
    assert_eq!(second["type"], "handoff", "{second}");
    assert_eq!(second["reason"], "low_confidence");
}
