//! Conversations that never go quiet: what happens after an agent resolved one, as a customer
//! would try it.

use serde_json::json;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::spawn_app;

/// A customer whose conversation Sam claimed and resolved; returns them after the rating
/// request, with Sam's console and the conversation's id and resume token.
async fn resolved(app: &crate::helpers::TestApp) -> (Customer, Console, String, String) {
    let mut sam = Console::agent(app, "sam@example.com", "Sam", &["general"]).await;
    let (mut customer, id, token) = Customer::hand_off_resumable(app).await;
    sam.send(json!({"type": "claim", "conversation_id": id}))
        .await;
    sam.next_of("conversation").await;
    sam.send(json!({"type": "resolve", "conversation_id": id}))
        .await;
    loop {
        let frame = customer.next().await;
        if frame["type"] == "csat_request" {
            break;
        }
        assert!(
            ["notice", "queue_update"].contains(&frame["type"].as_str().unwrap_or_default()),
            "{frame}"
        );
    }
    (customer, sam, id, token)
}

#[tokio::test]
async fn a_message_after_the_agent_resolved_is_answered_by_the_bot() {
    // Tried: the customer rates, then types one more question in the same chat.
    let app = spawn_app().await;
    let (mut customer, _sam, id, _) = resolved(&app).await;
    customer.send(json!({"type": "rate", "score": 5})).await;
    assert_eq!(customer.next().await["type"], "rate_ack");

    let (_, reply) = customer.ask("m2", "How long does delivery take?").await;
    assert_eq!(reply["type"], "answer", "the bot answers again: {reply}");
    assert_eq!(reply["faq_id"], "delivery-time", "{reply}");
    let store = app.store().await;
    let state = store
        .conversation(&id)
        .await
        .expect("read")
        .expect("exists")
        .state;
    assert_eq!(state.as_str(), "bot");
    assert_eq!(
        store.csat(&id).await.expect("csat").map(|(score, _)| score),
        Some(5),
        "the rating stays"
    );
}

#[tokio::test]
async fn a_reload_after_the_conversation_was_resolved_starts_a_new_one() {
    // Tried: the page is reloaded after the agent resolved the chat, and hello carries the
    // resolved conversation's resume token.
    let app = spawn_app().await;
    let (customer, _sam, id, token) = resolved(&app).await;
    drop(customer);

    let mut again = Customer::connect(&app).await;
    let welcome = again.hello(Some((&token, 0))).await;
    assert_eq!(welcome["resumed"], false, "{welcome}");
    assert_ne!(welcome["conversation_id"], id.as_str());
    let (_, reply) = again.ask("m1", "How long does delivery take?").await;
    assert_eq!(reply["type"], "answer", "{reply}");
}

/// The next `notice` the customer gets (queue updates on the way are skipped).
async fn next_notice(customer: &mut Customer) -> serde_json::Value {
    loop {
        let frame = customer.next().await;
        if frame["type"] == "notice" {
            return frame;
        }
    }
}

#[tokio::test]
async fn every_change_of_who_serves_the_chat_is_told_to_the_customer_at_once() {
    // Tried: Sam claims, transfers to `escalations`, Eve claims, hands back to the bot; the
    // customer reads each notice's `serving` (what the widget's status line shows).
    let app = spawn_app().await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut eve = Console::agent(&app, "eve@example.com", "Eve", &["escalations"]).await;
    let (mut customer, id) = Customer::hand_off(&app).await;
    sam.send(json!({"type": "claim", "conversation_id": id}))
        .await;
    let joined = next_notice(&mut customer).await;
    assert_eq!(
        (joined["serving"].as_str(), joined["agent_name"].as_str()),
        (Some("agent"), Some("Sam")),
        "{joined}"
    );

    sam.send(json!({"type": "transfer", "conversation_id": id, "queue": "escalations"}))
        .await;
    assert_eq!(next_notice(&mut customer).await["serving"], "queued");
    eve.send(json!({"type": "claim", "conversation_id": id}))
        .await;
    let joined = next_notice(&mut customer).await;
    assert_eq!(joined["agent_name"], "Eve", "{joined}");
    // Eve sees where it came from: the transfer is an internal note.
    let opened = eve.next_of("conversation").await;
    assert!(
        opened["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["text"]
                == "Transferred from the general queue to escalations."
                && n["agent_name"] == "Sam")),
        "{opened}"
    );
    eve.send(json!({"type": "hand_back", "conversation_id": id}))
        .await;
    assert_eq!(next_notice(&mut customer).await["serving"], "bot");
    let (_, reply) = customer.ask("m2", "How long does delivery take?").await;
    assert_eq!(reply["type"], "answer", "{reply}");
}

/// Asks for a person; returns the `handoff` frame.
async fn ask_for_a_person(customer: &mut Customer) -> serde_json::Value {
    customer.hello(None).await;
    customer
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    let handoff = customer.next_reply().await;
    assert_eq!(handoff["type"], "handoff", "{handoff}");
    handoff
}

#[tokio::test]
async fn the_handoff_promises_a_reply_only_when_someone_can_give_it() {
    // Tried: asking for a person with nobody online (the offer to leave a message follows),
    // then again with Sam online.
    let app = spawn_app().await;
    let mut alone = Customer::connect(&app).await;
    let handoff = ask_for_a_person(&mut alone).await;
    let text = handoff["text"].as_str().expect("text");
    assert!(
        !text.contains("shortly"),
        "no promise the offer takes back: {text}"
    );
    assert_eq!(alone.next().await["type"], "offline");

    let _sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut customer = Customer::connect(&app).await;
    let handoff = ask_for_a_person(&mut customer).await;
    assert!(
        handoff["text"]
            .as_str()
            .is_some_and(|t| t.contains("shortly")),
        "{handoff}"
    );
}

#[tokio::test]
async fn a_new_chat_offers_questions_before_typing_and_a_goodbye_offers_none() {
    // Tried: opening a chat on the sample shop (it has a goodbye intent), then saying "bye".
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
    let app = crate::helpers::try_spawn_app_with(&sample)
        .await
        .expect("the sample knowledge base is valid");
    let mut customer = Customer::connect(&app).await;
    customer
        .send(json!({"type": "hello", "protocol": 1, "locale": "en-GB"}))
        .await;
    let welcome = customer.next().await;
    let offered = welcome["quick_replies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !offered.is_empty(),
        "questions to click before typing: {welcome}"
    );
    let token = welcome["resume_token"].as_str().expect("token").to_owned();

    let (_, bye) = customer.ask("m1", "bye").await;
    assert!(
        bye["text"]
            .as_str()
            .is_some_and(|t| t.contains("Have a great day")),
        "the goodbye reply: {bye}"
    );
    assert_eq!(
        bye["quick_replies"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "a goodbye offers no topics: {bye}"
    );
    drop(customer);
    let mut again = Customer::connect(&app).await;
    let resumed = again.hello(Some((&token, 0))).await;
    assert!(resumed.get("quick_replies").is_none(), "{resumed}");
}
