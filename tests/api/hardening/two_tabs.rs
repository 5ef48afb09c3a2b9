//! Finding 2: two tabs resuming one conversation while a reply was owed both answered it (18 of
//! 18 conversations got two bot replies to one message); a crash and a resume race the same way.

use serde_json::json;
use tandem::storage::{NewEvent, Sender};

use crate::customer::Customer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn two_sockets_resuming_with_a_reply_owed_get_one_answer_between_them() {
    // Tried, 20 times: a conversation whose last event is an acknowledged customer message with
    // no reply (what a crash between the ack and the reply leaves), then two sockets resuming
    // it at the same moment.
    let app = spawn_app().await;
    let store = app.store().await;
    for trial in 0..20 {
        let mut first = Customer::connect(&app).await;
        let welcome = first.hello(None).await;
        let id = welcome["conversation_id"].as_str().expect("id").to_owned();
        let token = welcome["resume_token"].as_str().expect("token").to_owned();
        drop(first);
        let message = json!({"type": "customer_message", "seq": 0, "client_id": "m1",
                             "text": "How long does delivery take?"});
        store
            .append_customer_message(&id, "m1", NewEvent::new(Sender::Customer, message))
            .await
            .expect("stored");

        let mut tabs = [Customer::connect(&app).await, Customer::connect(&app).await];
        let hello = json!({"type": "hello", "protocol": 1, "resume_token": token, "last_seq": 1});
        let [a, b] = &mut tabs;
        tokio::join!(a.send(hello.clone()), b.send(hello.clone()));
        for tab in &mut tabs {
            let welcome = tab.next().await;
            assert_eq!(welcome["resumed"], true, "trial {trial}: {welcome}");
            let answer = tab.next().await;
            assert_eq!(
                answer["type"], "answer",
                "trial {trial}: each tab shows it: {answer}"
            );
            assert_eq!(answer["seq"], 2, "trial {trial}: {answer}");
            tab.expect_quiet().await;
        }
        let events = store.events_after(&id, 1).await.expect("events");
        assert_eq!(
            events.len(),
            1,
            "trial {trial}: one answer stored: {events:?}"
        );
    }
}
