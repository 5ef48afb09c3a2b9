//! Finding 5: unbounded fields. Every client-supplied field is stored or echoed, so each has a
//! limit, and a longer one is refused with the protocol's error, nothing stored.

use serde_json::json;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn oversized_hello_fields_client_ids_and_labels_are_refused_and_not_stored() {
    // Tried: hellos with a 30,000-character page_url and a 60,000-character locale; then a
    // message with a 60,000-character client_id and a choice with a 60,018-character label.
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let long_url = format!("https://shop.example/{}", "a".repeat(30_000));
    for (field, hello) in [
        (
            "page_url",
            json!({"type": "hello", "protocol": 1, "page_url": long_url}),
        ),
        (
            "locale",
            json!({"type": "hello", "protocol": 1, "locale": "x".repeat(60_000)}),
        ),
    ] {
        customer.send(hello).await;
        let refused = customer.next().await;
        assert_eq!(refused["code"], "too_large", "{field}: {refused}");
        assert!(
            refused["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "the error names {field}: {refused}"
        );
    }
    let welcome = customer.hello(None).await;
    let id = welcome["conversation_id"].as_str().expect("id").to_owned();

    customer
        .send(json!({"type": "message", "client_id": "c".repeat(60_000), "text": "hello"}))
        .await;
    assert_eq!(customer.next().await["code"], "too_large");
    customer
        .send(json!({"type": "choose", "client_id": "m2", "choice_id": "shipping-cost", "label": "L".repeat(60_018)}))
        .await;
    assert_eq!(customer.next().await["code"], "too_large");
    customer.expect_quiet().await;

    let store = app.store().await;
    assert!(
        store.events_after(&id, 0).await.expect("events").is_empty(),
        "nothing was stored"
    );
    let conversation = store
        .conversation(&id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conversation.page_url, None);
    assert_eq!(conversation.locale, None);
}

#[tokio::test]
async fn agent_replies_that_are_huge_or_blank_are_refused_and_never_reach_the_customer() {
    // Tried: an agent holding a conversation sends a 500,000-character reply, a reply of
    // spaces and newlines, and a blank note.
    let app = spawn_app().await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let (mut customer, id) = Customer::hand_off(&app).await;
    sam.send(json!({"type": "claim", "conversation_id": id}))
        .await;
    sam.next_of("conversation").await;
    loop {
        // A queue update may come first, when there is a basis for a wait estimate.
        let frame = customer.next().await;
        if frame["type"] == "notice" {
            break;
        }
        assert_eq!(frame["type"], "queue_update", "{frame}");
    }

    for (kind, text) in [
        ("reply", "x".repeat(500_000)),
        ("reply", " \n\t ".to_owned()),
        ("note", "   ".to_owned()),
    ] {
        let mut frame = json!({"type": kind, "conversation_id": id, "text": text});
        if kind == "reply" {
            frame["client_id"] = json!("a-1");
        }
        sam.send(frame).await;
        let refused = sam.next_of("error").await;
        assert_eq!(
            refused["code"],
            "bad_frame",
            "{kind} of {} chars: {refused}",
            text.len()
        );
    }
    customer.expect_quiet().await;
}
