//! Finding 1: a burst of long `/api/ask` requests starved the chats (every customer got an
//! `error internal` after their ack, and a message typed next was never answered).

use serde_json::json;

use crate::customer::Customer;
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_burst_of_long_questions_is_limited_and_every_chat_message_is_answered() {
    // Tried: 150 concurrent `/api/ask` requests of 490 characters from one address while five
    // customers each ask two questions.
    let app = spawn_app().await;
    let long = "where is my parcel and when will it arrive ".repeat(12);
    let long = &long[..490];
    let mut customers = Vec::new();
    for _ in 0..5 {
        let mut customer = Customer::connect(&app).await;
        customer.hello(None).await;
        customers.push(customer);
    }
    let burst = futures_util::future::join_all((0..150).map(|_| app.ask(long)));
    let chats = futures_util::future::join_all(customers.iter_mut().enumerate().map(
        |(n, customer)| async move {
            let mut replies = Vec::new();
            for (m, question) in [
                "How long does delivery take?",
                "How much does shipping cost?",
            ]
            .iter()
            .enumerate()
            {
                let (_, reply) = customer.ask(&format!("c{n}-m{m}"), question).await;
                replies.push(reply);
            }
            replies
        },
    ));
    let (responses, replies) = tokio::join!(burst, chats);

    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for response in &responses {
        *statuses.entry(response.status().as_u16()).or_default() += 1;
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert!(
        statuses.keys().all(|s| [200, 429, 503].contains(s)),
        "only answers, rate limits and busy: {statuses:?}"
    );
    assert!(
        statuses.get(&200).copied().unwrap_or(0) <= 40,
        "one address gets its burst, not the model: {statuses:?}"
    );
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 100,
        "{statuses:?}"
    );
    for reply in replies.iter().flatten() {
        assert_eq!(
            reply["type"], "answer",
            "every chat message is answered: {reply}"
        );
    }
    let next = app
        .client
        .post(format!("{}/api/ask", app.address))
        .json(&json!({"text": "is delivery free?"}))
        .send()
        .await
        .expect("ask");
    assert!([200, 429].contains(&next.status().as_u16()));
}
