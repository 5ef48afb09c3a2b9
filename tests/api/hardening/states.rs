//! Finding 9: frames accepted in a state where they mean nothing: the offline form while the
//! bot serves (each frame a ticket), and a rating for a conversation no agent was ever in.

use serde_json::json;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_offline_form_is_refused_unless_an_offer_is_open_and_files_one_ticket_per_wait() {
    // Tried: five `leave_message` frames while the bot serves; then, once offered the form
    // (nobody online), two messages in a row.
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    for n in 0..5 {
        customer
            .send(json!({"type": "leave_message", "client_id": format!("t{n}"), "email": "eve@example.com", "text": "ticket spam"}))
            .await;
        let refused = customer.next().await;
        assert_eq!(refused["code"], "bad_state", "frame {n}: {refused}");
    }
    customer
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    assert_eq!(customer.next_reply().await["type"], "handoff");
    assert_eq!(customer.next().await["type"], "offline", "nobody is online");
    customer
        .send(json!({"type": "leave_message", "client_id": "m1", "email": "eve@example.com", "text": "Please call me."}))
        .await;
    assert_eq!(customer.next().await["type"], "ack");
    assert_eq!(customer.next().await["type"], "notice", "the thanks");
    customer
        .send(json!({"type": "leave_message", "client_id": "m2", "email": "eve@example.com", "text": "And again."}))
        .await;
    assert_eq!(
        customer.next().await["code"],
        "bad_state",
        "one ticket per wait"
    );

    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let tickets = sam.latest_queue().await["tickets"].clone();
    assert_eq!(tickets.as_array().map(Vec::len), Some(1), "{tickets}");
    assert_eq!(tickets[0]["text"], "Please call me.", "{tickets}");
}

#[tokio::test]
async fn a_conversation_no_agent_resolved_cannot_be_rated() {
    // Tried: a customer closes a bot-only conversation, then a second socket resumes it and
    // sends a five-star rating.
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    let token = welcome["resume_token"].as_str().expect("token").to_owned();
    customer.send(json!({"type": "close"})).await;
    assert_eq!(customer.close_code().await, Some(1000));

    let mut second = Customer::connect(&app).await;
    second.hello(Some((&token, 0))).await;
    second
        .send(json!({"type": "rate", "score": 5, "comment": "great agent"}))
        .await;
    let refused = second.next().await;
    assert_eq!(refused["code"], "bad_state", "{refused}");
    let csat = app
        .store()
        .await
        .csat(welcome["conversation_id"].as_str().expect("id"))
        .await
        .expect("csat");
    assert_eq!(csat, None, "no rating stored");
}
