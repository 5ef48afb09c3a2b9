//! Agents at work over `/ws/agent`, with customers on `/ws/chat`: who may connect (cookie,
//! origin), claiming (one winner in a race, skills), places in line as the queue moves, replies
//! and notes (which never reach the customer), transfer, resolve with a rating, hand back to the
//! bot, and a disabled agent signed out.

use serde_json::{Value, json};

use crate::agent_client::{Console, open};
use crate::customer::Customer;
use crate::helpers::{TestApp, spawn_app};

/// A customer who asked for a person while no agent was online (so the offline form was
/// offered); returns them with their conversation id.
async fn waiting_customer(app: &TestApp) -> (Customer, String) {
    let (mut customer, id) = Customer::hand_off(app).await;
    let offline = customer.next().await;
    assert_eq!(
        offline["type"], "offline",
        "nobody is online yet: {offline}"
    );
    (customer, id)
}

fn claim(id: &str) -> Value {
    json!({"type": "claim", "conversation_id": id})
}

#[tokio::test]
async fn the_agent_socket_needs_a_session_and_the_servers_own_origin() {
    let app = spawn_app().await;
    let password = app.add_agent("sam@example.com", "Sam", &["general"]).await;
    let cookie = app.sign_in("sam@example.com", &password).await;
    let own = app.address.clone();

    assert_eq!(open(&app, None, None).await.err(), Some(401));
    assert_eq!(
        open(&app, Some("tandem_session=forged"), None).await.err(),
        Some(401)
    );
    assert_eq!(
        open(&app, Some(&cookie), Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    let mut console = open(&app, Some(&cookie), Some(&own))
        .await
        .expect("own origin is fine");
    let welcome = console.next().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["agent"]["name"], "Sam");
}

#[tokio::test]
async fn two_agents_racing_to_claim_one_chat_get_one_winner_and_one_refusal() {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut kim = Console::agent(&app, "kim@example.com", "Kim", &["general"]).await;

    sam.send(claim(&id)).await;
    kim.send(claim(&id)).await;

    let outcome = |frame: Value| -> String {
        if frame["type"] == "error" {
            frame["code"].as_str().unwrap_or_default().to_owned()
        } else {
            frame["type"].as_str().unwrap_or_default().to_owned()
        }
    };
    let mut outcomes = Vec::new();
    for console in [&mut sam, &mut kim] {
        loop {
            let frame = console.next().await;
            if frame["type"] == "claimed" || frame["type"] == "error" {
                outcomes.push(outcome(frame));
                break;
            }
        }
    }
    outcomes.sort();
    assert_eq!(outcomes, ["already_claimed", "claimed"]);
    let joined = customer.next().await;
    assert_eq!(joined["type"], "notice", "{joined}");
    assert!(
        joined["text"]
            .as_str()
            .is_some_and(|t| t.ends_with("joined the conversation.")),
        "{joined}"
    );
}

#[tokio::test]
async fn waiting_customers_move_up_as_the_queue_moves() {
    let app = spawn_app().await;
    let (_first, first_id) = waiting_customer(&app).await;
    let (mut second, _) = waiting_customer(&app).await;
    let (mut third, _) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let queue = sam.latest_queue().await;
    let waiting: Vec<&Value> = queue["waiting"]
        .as_array()
        .expect("waiting")
        .iter()
        .collect();
    assert_eq!(waiting.len(), 3, "{queue}");
    assert_eq!(waiting[0]["conversation_id"], first_id.as_str());

    sam.send(claim(&first_id)).await;

    let update = second.next().await;
    assert_eq!(
        (update["type"].as_str(), update["position"].as_u64()),
        (Some("queue_update"), Some(1)),
        "{update}"
    );
    let update = third.next().await;
    assert_eq!(update["position"], 2, "{update}");
}

#[tokio::test]
async fn an_agent_without_the_queues_skill_cannot_claim() {
    let app = spawn_app().await;
    let (_customer, id) = waiting_customer(&app).await;
    let mut billing = Console::agent(&app, "bo@example.com", "Bo", &["billing"]).await;
    let queue = billing.latest_queue().await;
    assert_eq!(
        queue["waiting"],
        json!([]),
        "a general chat is not offered to billing: {queue}"
    );

    billing.send(claim(&id)).await;

    let error = billing.next_of("error").await;
    assert_eq!(error["code"], "no_skill", "{error}");
}

#[tokio::test]
async fn replies_reach_the_customer_and_notes_never_do() {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    sam.send(claim(&id)).await;
    sam.next_of("conversation").await;
    assert_eq!(customer.next().await["type"], "notice");

    sam.send(json!({"type": "note", "conversation_id": id, "text": "SECRET-NOTE vip customer"}))
        .await;
    let note = sam.next_of("note").await;
    assert_eq!(note["note"]["text"], "SECRET-NOTE vip customer");
    sam.send(
        json!({"type": "reply", "conversation_id": id, "client_id": "a1", "text": "Hi, I'm Sam."}),
    )
    .await;

    let message = customer.next().await;
    assert_eq!(
        message["type"], "agent_message",
        "the note is skipped: {message}"
    );
    assert_eq!(
        (message["agent_name"].as_str(), message["text"].as_str()),
        (Some("Sam"), Some("Hi, I'm Sam."))
    );
    customer.say("m2", "thanks, where is my refund?").await;
    let event = sam.next_of("event").await;
    let event = if event["event"]["sender"] == "customer" {
        event
    } else {
        sam.next_of("event").await
    };
    assert_eq!(
        event["event"]["text"], "thanks, where is my refund?",
        "{event}"
    );
    // Nor in any stored frame, so no replay can carry it.
    let store = app.store().await;
    let all = store.events_after(&id, 0).await.expect("events");
    assert!(
        all.iter().all(|e| !e.frame.contains("SECRET-NOTE")),
        "no stored frame holds the note"
    );
}

#[tokio::test]
async fn a_transfer_puts_the_chat_in_the_other_queue_and_tells_the_customer_their_place() {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut esc = Console::agent(&app, "eve@example.com", "Eve", &["escalations"]).await;
    sam.send(claim(&id)).await;
    sam.next_of("claimed").await;
    assert_eq!(customer.next().await["type"], "notice");

    sam.send(json!({"type": "transfer", "conversation_id": id, "queue": "escalations"}))
        .await;

    assert_eq!(customer.next().await["type"], "notice");
    let place = customer.next().await;
    assert_eq!(
        (place["queue"].as_str(), place["position"].as_u64()),
        (Some("escalations"), Some(1)),
        "{place}"
    );
    let queue = esc.latest_queue().await;
    assert_eq!(
        queue["waiting"][0]["conversation_id"],
        id.as_str(),
        "{queue}"
    );
    esc.send(claim(&id)).await;
    esc.next_of("claimed").await;
}

#[tokio::test]
async fn resolving_asks_the_customer_for_a_rating_that_is_stored() {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    sam.send(claim(&id)).await;
    assert_eq!(customer.next().await["type"], "notice");

    sam.send(json!({"type": "resolve", "conversation_id": id}))
        .await;

    assert_eq!(customer.next().await["type"], "notice");
    assert_eq!(customer.next().await["type"], "csat_request");
    customer.send(json!({"type": "rate", "score": 9})).await;
    assert_eq!(
        customer.next().await["code"],
        "bad_frame",
        "scores are 1 to 5"
    );
    customer
        .send(json!({"type": "rate", "score": 5, "comment": "quick and kind"}))
        .await;
    let ack = customer.next().await;
    assert_eq!(ack["type"], "rate_ack", "{ack}");
    assert_eq!(ack["score"], 5, "{ack}");
    let stored = app.store().await.csat(&id).await.expect("query");
    assert_eq!(stored, Some((5, Some("quick and kind".to_owned()))));
}

#[tokio::test]
async fn handing_back_lets_the_bot_answer_again() {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    sam.send(claim(&id)).await;
    assert_eq!(customer.next().await["type"], "notice");

    sam.send(json!({"type": "hand_back", "conversation_id": id}))
        .await;

    assert_eq!(customer.next().await["type"], "notice");
    let (_, answer) = customer.ask("m2", "How long does delivery take?").await;
    assert_eq!(answer["type"], "answer", "{answer}");
    assert_eq!(answer["faq_id"], "delivery-time");
}

#[tokio::test]
async fn a_disabled_agent_is_signed_out_of_the_console() {
    let app = spawn_app().await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;

    app.store()
        .await
        .set_agent_disabled("sam@example.com", true)
        .await
        .expect("disabled");
    sam.send(json!({"type": "presence", "status": "away"}))
        .await;

    assert_eq!(sam.close_code().await, Some(4001));
}

#[tokio::test]
async fn the_wait_estimate_comes_from_recent_handling_times_and_agents_online() {
    let app = spawn_app().await;
    let (mut first, first_id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    sam.send(claim(&first_id)).await;
    sam.next_of("claimed").await;
    sam.send(json!({"type": "resolve", "conversation_id": first_id}))
        .await;
    assert_eq!(first.next().await["type"], "notice", "joined");
    assert_eq!(first.next().await["type"], "notice", "resolved");

    // One conversation handled (in well under a second: counted as 1 s), one agent online.
    let (mut second, _) = Customer::hand_off(&app).await;
    let estimate = second.next().await;
    assert_eq!(estimate["type"], "queue_update", "{estimate}");
    assert_eq!(
        (
            estimate["position"].as_u64(),
            estimate["wait_secs"].as_u64()
        ),
        (Some(1), Some(1)),
        "{estimate}"
    );

    // Away: nobody online for the queue, so no estimate rather than a made-up one.
    sam.send(json!({"type": "presence", "status": "away"}))
        .await;
    sam.latest_queue().await;
    let (mut third, _) = waiting_customer(&app).await;
    third.expect_quiet().await;
}

#[tokio::test]
async fn with_nobody_online_a_customer_leaves_a_message_that_agents_see_with_the_email_sealed_at_rest()
 {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;

    customer
        .send(json!({"type": "leave_message", "client_id": "m2", "email": "not an email", "text": "hi"}))
        .await;
    assert_eq!(customer.next().await["code"], "bad_frame");
    customer
        .send(json!({"type": "leave_message", "client_id": "m2", "email": "ada@example.com", "text": "Parcel SO-1234 never came."}))
        .await;

    assert_eq!(customer.next().await["type"], "ack");
    let thanks = customer.next().await;
    assert_eq!(thanks["type"], "notice", "{thanks}");
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let tickets = sam.latest_queue().await["tickets"].clone();
    assert_eq!(tickets[0]["conversation_id"], id.as_str(), "{tickets}");
    assert_eq!(tickets[0]["email"], "ada@example.com");
    assert_eq!(tickets[0]["text"], "Parcel SO-1234 never came.");
    assert!(
        !app.stored_in_clear("ada@example.com").await,
        "the email is not stored in clear"
    );
}

#[tokio::test]
async fn after_a_hand_back_and_a_reconnect_an_earlier_unhelpful_vote_does_not_count_again() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    let token = welcome["resume_token"].as_str().expect("token").to_owned();
    let id = welcome["conversation_id"].as_str().expect("id").to_owned();
    let (_, answer) = customer.ask("m1", "How long does delivery take?").await;
    customer
        .send(json!({"type": "feedback", "seq": answer["seq"], "helpful": false}))
        .await;
    assert_eq!(customer.next().await["type"], "feedback_ack");
    let (_, handoff) = customer.ask("m2", "I want to talk to a human").await;
    assert_eq!(handoff["type"], "handoff", "{handoff}");
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    sam.send(claim(&id)).await;
    sam.next_of("claimed").await;
    sam.send(json!({"type": "hand_back", "conversation_id": id}))
        .await;
    let back = loop {
        let frame = customer.next().await;
        if frame["text"]
            .as_str()
            .is_some_and(|t| t.contains("assistant again"))
        {
            break frame;
        }
    };
    drop(customer);

    let mut again = Customer::connect(&app).await;
    again
        .hello(Some((&token, back["seq"].as_u64().expect("seq"))))
        .await;
    let (_, answer) = again.ask("m3", "How do I return something?").await;
    assert_eq!(answer["type"], "answer", "{answer}");
    again
        .send(json!({"type": "feedback", "seq": answer["seq"], "helpful": false}))
        .await;

    assert_eq!(again.next().await["type"], "feedback_ack");
    again.expect_quiet().await;
}

#[tokio::test]
async fn suggestions_are_the_faq_answers_for_the_latest_customer_message_and_none_for_small_talk() {
    let app = spawn_app().await;
    let (mut customer, id) = waiting_customer(&app).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    sam.send(json!({"type": "open", "conversation_id": id}))
        .await;
    let view = sam.next_of("conversation").await;
    assert_eq!(
        view["suggestions"],
        json!([]),
        "nothing fits a request for a person: {view}"
    );

    customer.say("m2", "How much does shipping cost?").await;
    assert_eq!(customer.next().await["type"], "ack");
    sam.next_of("event").await;
    sam.send(json!({"type": "open", "conversation_id": id}))
        .await;

    let view = sam.next_of("conversation").await;
    assert_eq!(view["suggestions"][0]["faq_id"], "shipping-cost", "{view}");
    assert!(
        view["suggestions"][0]["answer"]
            .as_str()
            .is_some_and(|a| a.contains("$50"))
    );
}
