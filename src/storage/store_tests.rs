//! Tests for opening the store, conversations and feedback, against real database files in
//! temporary folders; the helpers here serve `events_tests.rs` too.

use serde_json::json;
use tempfile::TempDir;

use super::*;

pub(super) async fn temp_store() -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = super::test_db::open(dir.path()).await;
    (store, dir)
}

pub(super) async fn new_conversation(store: &Store) -> Conversation {
    store
        .create_conversation(NewConversation::default())
        .await
        .expect("conversation created")
        .0
}

pub(super) fn bot_notice(text: &str) -> NewEvent {
    NewEvent::new(Sender::Bot, json!({ "type": "notice", "text": text }))
}

pub(super) fn customer_message(client_id: &str, text: &str) -> NewEvent {
    NewEvent::new(
        Sender::Customer,
        json!({ "type": "customer_message", "client_id": client_id, "text": text }),
    )
}

pub(super) fn seqs(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn a_reopened_database_still_has_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = NewConversation {
        customer_id: Some("cust-42".to_owned()),
        customer_attributes: Some(json!({ "name": "Ada", "plan": "pro" })),
        locale: Some("en".to_owned()),
        page_url: Some("https://shop.example/orders".to_owned()),
    };
    let url = super::test_db::database_url().await;
    let (created, token) = {
        let store = Store::connect(&url, dir.path()).await.expect("open");
        let (conversation, token) = store
            .create_conversation(identity.clone())
            .await
            .expect("new");
        store
            .append_customer_message(&conversation.id, "m-1", customer_message("m-1", "hi"))
            .await
            .expect("message");
        store
            .record_feedback(&conversation.id, 1, false)
            .await
            .expect("feedback");
        let conversation = store
            .set_state(
                &conversation.id,
                ConversationState::Queued,
                Some("unhelpful"),
            )
            .await
            .expect("state");
        store.close().await;
        (conversation, token)
    };

    let store = Store::connect(&url, dir.path()).await.expect("reopen");
    let found = store.conversation_by_token(&token).await.expect("read");
    let events = store.events_after(&created.id, 0).await.expect("read");

    assert_eq!(found.as_ref(), Some(&created));
    let found = found.expect("found");
    assert_eq!(found.customer_id, identity.customer_id);
    assert_eq!(found.customer_attributes, identity.customer_attributes);
    assert_eq!(found.state, ConversationState::Queued);
    assert_eq!(found.handoff_reason.as_deref(), Some("unhelpful"));
    assert_eq!(seqs(&events), [1]);
    assert_eq!(events[0].client_id.as_deref(), Some("m-1"));
}

#[tokio::test]
async fn the_resume_token_is_not_stored_and_an_unknown_token_finds_nothing() {
    // On SQLite in both test runs: what is checked is the bytes the database file holds.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).await.expect("open");
    let (_, token) = store
        .create_conversation(NewConversation::default())
        .await
        .expect("new");
    store.close().await;

    let store = Store::open(dir.path()).await.expect("reopen");
    let unknown = store
        .conversation_by_token("not-a-token")
        .await
        .expect("read");
    let db = std::fs::read(dir.path().join(DB_FILE)).expect("db file");
    let wal = std::fs::read(dir.path().join(format!("{DB_FILE}-wal"))).unwrap_or_default();

    assert_eq!(token.len(), 43, "32 bytes in base64url: {token}");
    assert!(unknown.is_none());
    for bytes in [db, wal] {
        let stored = bytes.windows(token.len()).any(|w| w == token.as_bytes());
        assert!(!stored, "the database holds the token in clear");
    }
}

#[tokio::test]
async fn state_changes_record_the_reason_until_the_bot_takes_over_again() {
    let (store, _dir) = temp_store().await;
    let id = new_conversation(&store).await.id;

    let queued = store
        .set_state(&id, ConversationState::Queued, Some("customer_request"))
        .await
        .expect("queued");
    let agent = store
        .set_state(&id, ConversationState::Agent, None)
        .await
        .expect("agent");
    let bot = store
        .set_state(&id, ConversationState::Bot, None)
        .await
        .expect("bot");
    let closed = store
        .set_state(&id, ConversationState::Closed, None)
        .await
        .expect("closed");

    assert_eq!(queued.handoff_reason.as_deref(), Some("customer_request"));
    assert_eq!(agent.handoff_reason.as_deref(), Some("customer_request"));
    assert_eq!(bot.handoff_reason, None);
    assert!(queued.closed_at.is_none() && bot.closed_at.is_none());
    assert!(closed.closed_at.is_some());
}

#[tokio::test]
async fn feedback_on_an_unknown_event_or_conversation_is_a_clear_error() {
    let (store, _dir) = temp_store().await;
    let id = new_conversation(&store).await.id;
    store
        .append(&id, bot_notice("answer"))
        .await
        .expect("append");
    store
        .record_feedback(&id, 1, true)
        .await
        .expect("first vote");
    store
        .record_feedback(&id, 1, false)
        .await
        .expect("second vote replaces the first");
    let votes = store.feedback(&id).await.expect("votes read");
    let unhelpful = store.unhelpful_answers(&id).await.expect("unhelpful read");

    let missing = store.record_feedback(&id, 7, true).await;
    let unknown_state = store
        .set_state("nope", ConversationState::Closed, None)
        .await;
    let unknown_append = store.append("nope", bot_notice("x")).await;

    assert_eq!(votes, std::collections::HashMap::from([(1, false)]));
    assert_eq!(unhelpful, [1]);
    assert!(
        matches!(missing, Err(StorageError::UnknownEvent { seq: 7, .. })),
        "{missing:?}"
    );
    assert!(matches!(
        unknown_state,
        Err(StorageError::UnknownConversation(_))
    ));
    assert!(matches!(
        unknown_append,
        Err(StorageError::UnknownConversation(_))
    ));
}

#[tokio::test]
async fn a_data_folder_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("write");

    let error = Store::open(file.join("data"))
        .await
        .expect_err("cannot open");

    let message = error.to_string();
    assert!(matches!(error, StorageError::DataDir { .. }), "{error:?}");
    assert!(message.contains("a-file"), "names the path: {message}");
}
