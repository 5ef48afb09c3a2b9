//! Tests for the event log: sequence numbers, duplicates, replay.

use serde_json::json;

use super::store_tests::{bot_notice, customer_message, new_conversation, seqs, temp_store};
use super::*;

#[tokio::test]
async fn sequences_are_contiguous_and_per_conversation() {
    let (store, _dir) = temp_store().await;
    let a = new_conversation(&store).await;
    let b = new_conversation(&store).await;

    let mut got = Vec::new();
    for (conversation, text) in [(&a, "a1"), (&b, "b1"), (&a, "a2"), (&a, "a3"), (&b, "b2")] {
        let event = store.append(&conversation.id, bot_notice(text)).await;
        got.push((text, event.expect("appended").seq));
    }

    assert_eq!(
        got,
        [("a1", 1), ("b1", 1), ("a2", 2), ("a3", 3), ("b2", 2)],
        "each conversation counts from 1 on its own"
    );
    let a = store
        .conversation(&a.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(a.last_seq, 3);
}

#[tokio::test]
async fn the_stored_frame_carries_the_assigned_seq() {
    let (store, _dir) = temp_store().await;
    let conversation = new_conversation(&store).await;
    let mut event = bot_notice("hello");
    event.frame["seq"] = json!(0);

    let stored = store
        .append(&conversation.id, event)
        .await
        .expect("appended");

    let frame: serde_json::Value = serde_json::from_str(&stored.frame).expect("json");
    assert_eq!(
        frame,
        json!({ "type": "notice", "text": "hello", "seq": 1 })
    );
    assert_eq!(stored.kind, "notice");
    assert_eq!(stored.text.as_deref(), Some("hello"));
}

// Several worker threads, so that transactions really overlap on the pool's connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_never_share_a_seq() {
    let (store, _dir) = temp_store().await;
    let conversation = new_conversation(&store).await;

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let id = conversation.id.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    store.append(&id, bot_notice(&format!("n{i}"))).await
                } else {
                    let appended = store
                        .append_customer_message(&id, &format!("c{i}"), customer_message("", "hi"))
                        .await?;
                    match appended {
                        Appended::New(event) => Ok(event),
                        Appended::Duplicate(seq) => panic!("c{i} is not a duplicate (seq {seq})"),
                    }
                }
            })
        })
        .collect();
    let mut assigned = Vec::new();
    for task in tasks {
        assigned.push(task.await.expect("task").expect("appended").seq);
    }

    assigned.sort_unstable();
    assert_eq!(assigned, (1..=20).collect::<Vec<u64>>());
    let stored = store.events_after(&conversation.id, 0).await.expect("read");
    assert_eq!(seqs(&stored), (1..=20).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_duplicate_client_id_is_acknowledged_with_the_first_seq_and_stored_once() {
    let (store, _dir) = temp_store().await;
    let conversation = new_conversation(&store).await;
    let id = &conversation.id;

    let first = store
        .append_customer_message(id, "m-1", customer_message("m-1", "where is my parcel?"))
        .await
        .expect("first");
    store.append(id, bot_notice("answer")).await.expect("reply");
    let again = store
        .append_customer_message(id, "m-1", customer_message("m-1", "where is my parcel?"))
        .await
        .expect("again");
    let next = store.append(id, bot_notice("next")).await.expect("next");

    let Appended::New(first) = first else {
        panic!("the first send is new: {first:?}");
    };
    assert_eq!(first.seq, 1);
    assert_eq!(first.client_id.as_deref(), Some("m-1"));
    assert_eq!(again, Appended::Duplicate(1));
    assert_eq!(next.seq, 3, "the duplicate used no sequence number");
    let stored = store.events_after(id, 0).await.expect("read");
    assert_eq!(seqs(&stored), [1, 2, 3]);
}

#[tokio::test]
async fn the_same_client_id_in_another_conversation_is_a_new_message() {
    let (store, _dir) = temp_store().await;
    let a = new_conversation(&store).await;
    let b = new_conversation(&store).await;

    store
        .append_customer_message(&a.id, "m-1", customer_message("m-1", "hi"))
        .await
        .expect("a");
    let in_b = store
        .append_customer_message(&b.id, "m-1", customer_message("m-1", "hi"))
        .await
        .expect("b");

    assert!(
        matches!(in_b, Appended::New(ref e) if e.seq == 1),
        "{in_b:?}"
    );
}

#[tokio::test]
async fn replay_returns_exactly_the_events_after_the_given_seq_in_order() {
    let (store, _dir) = temp_store().await;
    let conversation = new_conversation(&store).await;
    let other = new_conversation(&store).await;
    for i in 1..=6 {
        let text = format!("event {i}");
        store
            .append(&conversation.id, bot_notice(&text))
            .await
            .expect("append");
        store
            .append(&other.id, bot_notice("elsewhere"))
            .await
            .expect("append");
    }

    let cases: [(u64, &[u64]); 4] = [(0, &[1, 2, 3, 4, 5, 6]), (4, &[5, 6]), (6, &[]), (99, &[])];
    for (after, expected) in cases {
        let events = store
            .events_after(&conversation.id, after)
            .await
            .expect("read");
        assert_eq!(seqs(&events), expected, "after seq {after}");
        for event in &events {
            assert_eq!(
                event.text.as_deref(),
                Some(format!("event {}", event.seq).as_str())
            );
        }
    }
}

#[tokio::test]
async fn recent_customer_messages_are_the_last_n_oldest_first() {
    let (store, _dir) = temp_store().await;
    let conversation = new_conversation(&store).await;
    for i in 1..=4 {
        let client_id = format!("m{i}");
        let message = customer_message(&client_id, &format!("message {i}"));
        store
            .append_customer_message(&conversation.id, &client_id, message)
            .await
            .expect("customer");
        store
            .append(&conversation.id, bot_notice("reply"))
            .await
            .expect("bot");
    }

    let recent = store
        .recent_customer_messages(&conversation.id, 2)
        .await
        .expect("read");

    let texts: Vec<_> = recent.iter().filter_map(|e| e.text.as_deref()).collect();
    assert_eq!(texts, ["message 3", "message 4"]);
}

#[tokio::test]
async fn a_frame_without_a_type_is_refused_and_stores_nothing() {
    let (store, _dir) = temp_store().await;
    let id = new_conversation(&store).await.id;

    let result = store
        .append(
            &id,
            NewEvent::new(Sender::Bot, json!({ "text": "no type" })),
        )
        .await;

    assert!(
        matches!(result, Err(StorageError::InvalidFrame(_))),
        "{result:?}"
    );
    let conversation = store
        .conversation(&id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conversation.last_seq, 0);
}

#[tokio::test]
async fn confidences_round_trip_exactly_with_and_without_a_value() {
    // Tried: the bot's events alternate between no confidence (a notice) and one with every
    // digit an f64 has, on one prepared statement; PostgreSQL once refused the second kind.
    let (store, _dir) = temp_store().await;
    let id = new_conversation(&store).await.id;
    let given = [
        None,
        Some(0.812_345_678_901_234_5),
        None,
        Some(1.0),
        Some(1e-9),
    ];
    for confidence in given {
        let event = NewEvent {
            confidence,
            ..bot_notice("x")
        };
        store.append(&id, event).await.expect("appended");
    }

    let stored = store.events_after(&id, 0).await.expect("read");

    let read: Vec<Option<f64>> = stored.iter().map(|e| e.confidence).collect();
    assert_eq!(read, given);
}
