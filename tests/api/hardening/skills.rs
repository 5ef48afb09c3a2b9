//! Finding 6: agent skills were enforced on claims only. An agent with only the `escalations`
//! skill could read any conversation, note on it, and be handed a conversation of a queue they
//! do not serve.

use serde_json::json;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn an_agent_reads_and_notes_only_conversations_of_their_queues() {
    // Tried: Eve (escalations only) opens and notes on a conversation waiting in `general` and
    // on one only the bot served; Sam (general) tries the bot-only one too; an admin may read
    // both.
    let app = spawn_app().await;
    let mut eve = Console::agent(&app, "eve@example.com", "Eve", &["escalations"]).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let (_waiting, general) = Customer::hand_off(&app).await;
    let mut bot_only = Customer::connect(&app).await;
    let welcome = bot_only.hello(None).await;
    bot_only.ask("m1", "How long does delivery take?").await;
    let bot_id = welcome["conversation_id"].as_str().expect("id").to_owned();

    for id in [&general, &bot_id] {
        eve.send(json!({"type": "open", "conversation_id": id}))
            .await;
        let refused = eve.next_of("error").await;
        assert_eq!(refused["code"], "no_skill", "open {id}: {refused}");
        eve.send(json!({"type": "note", "conversation_id": id, "text": "peek"}))
            .await;
        let refused = eve.next_of("error").await;
        assert_eq!(refused["code"], "no_skill", "note {id}: {refused}");
    }
    sam.send(json!({"type": "open", "conversation_id": bot_id}))
        .await;
    assert_eq!(sam.next_of("error").await["code"], "no_skill");
    sam.send(json!({"type": "open", "conversation_id": general}))
        .await;
    let view = sam.next_of("conversation").await;
    assert_eq!(view["conversation_id"], general.as_str());

    let store = app.store().await;
    assert!(
        store.notes(&general).await.expect("notes").is_empty(),
        "no note was stored"
    );
    let password = app.add_admin("boss@example.com", "Boss").await;
    let cookie = app.sign_in("boss@example.com", &password).await;
    let mut boss = crate::agent_client::open(&app, Some(&cookie), None)
        .await
        .expect("console");
    boss.send(json!({"type": "open", "conversation_id": bot_id}))
        .await;
    assert_eq!(
        boss.next_of("conversation").await["conversation_id"],
        bot_id.as_str()
    );
}

#[tokio::test]
async fn a_conversation_is_not_transferred_to_an_agent_who_does_not_serve_its_queue() {
    // Tried: Sam holds a `general` conversation and transfers it straight to Eve, who serves
    // only `escalations`.
    let app = spawn_app().await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let _eve = Console::agent(&app, "eve@example.com", "Eve", &["escalations"]).await;
    let (_customer, id) = Customer::hand_off(&app).await;
    sam.send(json!({"type": "claim", "conversation_id": id}))
        .await;
    sam.next_of("conversation").await;
    let store = app.store().await;
    let eve_id = store
        .agents()
        .await
        .expect("agents")
        .into_iter()
        .find(|a| a.name == "Eve")
        .expect("Eve")
        .id;
    let sam_id = store
        .holder(&id)
        .await
        .expect("holder")
        .expect("Sam holds it");

    sam.send(json!({"type": "transfer", "conversation_id": id, "agent_id": eve_id}))
        .await;
    let refused = sam.next_of("error").await;
    assert_eq!(refused["code"], "bad_state", "{refused}");
    assert_eq!(
        store.holder(&id).await.expect("holder"),
        Some(sam_id),
        "Sam still holds it"
    );
}
