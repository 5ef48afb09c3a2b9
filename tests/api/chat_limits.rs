//! Connection limits and identity on `/ws/chat`: the idle timeout (and that it spares customers
//! waiting for a person), a connection that never says hello, the connection cap (1013, and the
//! slot freed when a customer leaves), signed identities (verified, forged, from the wrong
//! secret), and the conversation state that survives a reconnect.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tandem::chat::identity::sign_identity;
use tokio_tungstenite::tungstenite::Message;

use crate::customer::Customer;
use crate::helpers::{IDENTITY_SECRET, fixture, spawn_app, spawn_app_tweaked, test_settings};

#[tokio::test]
async fn a_silent_customer_is_closed_normally_after_the_idle_timeout() {
    let app = spawn_app_tweaked(|s| s.chat_idle_timeout_secs = 1).await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    assert_eq!(customer.close_code().await, Some(1000));
}

#[tokio::test]
async fn a_connection_that_never_says_hello_is_closed() {
    let app = spawn_app_tweaked(|s| s.chat_idle_timeout_secs = 1).await;
    let mut customer = Customer::connect(&app).await;

    assert_eq!(customer.close_code().await, Some(1000));
}

#[tokio::test]
async fn a_customer_waiting_for_a_person_is_not_timed_out() {
    let app = spawn_app_tweaked(|s| s.chat_idle_timeout_secs = 1).await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    customer
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    assert_eq!(customer.next_reply().await["type"], "handoff");
    assert_eq!(customer.next().await["type"], "offline");

    // A customer the bot serves, quiet since after the waiting one's last frame, is closed for
    // idling; by then the waiting customer has been idle longer, and is still served.
    let mut control = Customer::connect(&app).await;
    control.hello(None).await;
    assert_eq!(
        control.close_code().await,
        Some(1000),
        "the bot's idle customer"
    );
    customer.expect_quiet().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_with_1013_until_a_slot_frees() {
    let app = spawn_app_tweaked(|s| s.max_chat_connections = 1).await;
    let mut first = Customer::connect(&app).await;
    first.hello(None).await;

    let mut refused = Customer::connect(&app).await;
    assert_eq!(refused.close_code().await, Some(1013));

    drop(first);
    // The server notices the closed socket and frees the slot: the next connection that is
    // not refused with 1013 is the event.
    let welcome = crate::helpers::eventually(
        "a connection is admitted once the first one left",
        Duration::from_secs(20),
        || async {
            let mut next = Customer::connect(&app).await;
            next.send(json!({"type": "hello", "protocol": 1})).await;
            tokio::time::timeout(Duration::from_secs(5), next.next_frame_or_close())
                .await
                .ok()?
                .ok()
        },
    )
    .await
    .expect("admitted");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
}

#[tokio::test]
async fn a_flood_that_goes_on_after_rate_limiting_is_closed_with_1008() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;

    for _ in 0..80 {
        // The server may close before the last frames are written.
        let _ = customer
            .socket
            .send(Message::text(r#"{"type": "typing", "active": true}"#))
            .await;
    }

    assert_eq!(customer.close_code().await, Some(1008));
}

#[tokio::test]
async fn shutting_down_closes_chat_connections_with_1001_and_finishes() {
    let data = tempfile::TempDir::new().expect("temp dir");
    let app =
        tandem::startup::Application::build(test_settings(&fixture("knowledge"), data.path()))
            .await
            .expect("server builds");
    let url = format!("ws://127.0.0.1:{}/ws/chat", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let mut customer = Customer::connect_url(&url).await;
    customer.hello(None).await;

    stop.send(()).expect("server running");

    assert_eq!(customer.close_code().await, Some(1001));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .expect("the server task did not panic")
        .expect("the server stopped cleanly");
}

#[tokio::test]
async fn a_signed_identity_is_verified_and_a_forged_one_is_anonymous() {
    let app = spawn_app().await;
    let payload = json!({"id": "cust-42", "name": "Ada", "email": "ada@example.com"});
    let good = sign_identity(&payload, IDENTITY_SECRET.as_bytes());
    let wrong_secret = sign_identity(&payload, b"not the shared secret");
    let (encoded, signature) = good.split_once('.').expect("payload.signature");
    let forged_payload = sign_identity(&json!({"id": "cust-1"}), IDENTITY_SECRET.as_bytes());
    let forged = format!(
        "{}.{signature}",
        forged_payload.split_once('.').expect("payload.signature").0
    );
    assert_ne!(encoded, forged.split_once('.').map_or("", |p| p.0));

    for (token, identified) in [(&good, true), (&wrong_secret, false), (&forged, false)] {
        let mut customer = Customer::connect(&app).await;
        customer
            .send(json!({"type": "hello", "protocol": 1, "identity": token}))
            .await;
        let welcome = customer.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert_eq!(
            welcome["identified"], identified,
            "token {token}: {welcome}"
        );
    }
}

#[tokio::test]
async fn signing_in_mid_conversation_identifies_the_resumed_conversation() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    assert_eq!(welcome["identified"], false);
    let token = welcome["resume_token"].as_str().expect("token").to_owned();
    drop(customer);

    let identity = sign_identity(&json!({"id": "cust-7"}), IDENTITY_SECRET.as_bytes());
    let mut again = Customer::connect(&app).await;
    again
        .send(json!({"type": "hello", "protocol": 1, "resume_token": token, "identity": identity}))
        .await;
    let welcome = again.next().await;
    assert_eq!(welcome["resumed"], true, "{welcome}");
    assert_eq!(welcome["identified"], true, "{welcome}");
}

#[tokio::test]
async fn a_handed_off_conversation_stays_with_people_after_a_reconnect() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    let token = welcome["resume_token"].as_str().expect("token").to_owned();
    customer
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    let handoff = customer.next_reply().await;
    assert_eq!(handoff["type"], "handoff", "{handoff}");
    let seen = handoff["seq"].as_u64().expect("seq");
    drop(customer);

    let mut again = Customer::connect(&app).await;
    again.hello(Some((&token, seen))).await;
    assert_eq!(again.next().await["type"], "offline", "replayed");
    let place = again.next().await;
    assert_eq!(
        place["type"], "queue_update",
        "a resumed customer learns their place: {place}"
    );
    assert_eq!(place["position"], 1, "{place}");
    let (_, reply) = again
        .ask_expecting_only_ack("m1", "How long does delivery take?")
        .await;
    assert_eq!(reply, None, "the bot must stay silent after a reconnect");
}

#[tokio::test]
async fn one_miss_before_a_reconnect_and_one_after_hand_off_as_two_in_a_row() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    let token = welcome["resume_token"].as_str().expect("token").to_owned();
    let (_, first) = customer.ask("m1", "what is the capital of mongolia").await;
    assert_eq!(first["type"], "answer", "a fallback: {first}");
    let seen = first["seq"].as_u64().expect("seq");
    drop(customer);

    let mut again = Customer::connect(&app).await;
    again.hello(Some((&token, seen))).await;
    let (_, second) = again.ask("m2", "recommend me a good jazz album").await;

    assert_eq!(second["type"], "handoff", "{second}");
    assert_eq!(second["reason"], "low_confidence");
}
