//! Queue settings at work: business hours (the customer is told when the team is back), the
//! wait timeout (an offer to leave a message, made once), SLA breaches stored and shown to
//! agents, auto-assignment to the least-loaded online agent with the skill, and offline tickets
//! marked done. Each test serves a copy of the fixture knowledge base whose `queues:` section it
//! replaces.

use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::{TestApp, eventually, fixture_with_queues, try_spawn_app_with};

/// Serves the fixture knowledge base with `queues` (YAML lines of the list under `queues:`, each
/// ending in a newline) in place of its own `general` queue. The folder must outlive the server.
async fn spawn_with_queues(queues: &str) -> (TestApp, TempDir) {
    let dir = fixture_with_queues(queues);
    let app = try_spawn_app_with(dir.path())
        .await
        .expect("the queue settings are valid");
    (app, dir)
}

/// The next frame of `kind`, skipping others (queue updates, notices), within `limit`.
async fn next_of(customer: &mut Customer, kind: &str, limit: Duration) -> Value {
    tokio::time::timeout(limit, async {
        loop {
            let frame = customer.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} frame within {limit:?}"))
}

#[tokio::test]
async fn outside_business_hours_the_customer_is_told_when_the_team_is_back() {
    // Open only tomorrow (UTC), 09:00–10:00: closed now whatever the time of the test run.
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let tomorrow = now.date().tomorrow().expect("a tomorrow");
    let day = format!("{:?}", tomorrow.weekday()).to_lowercase();
    let (app, _kb) = spawn_with_queues(&format!(
        "  - name: general\n    hours:\n      timezone: UTC\n      {day}: \"09:00-10:00\"\n"
    ))
    .await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;

    let (mut customer, _) = Customer::hand_off(&app).await;

    let offer = next_of(&mut customer, "offline", Duration::from_secs(5)).await;
    let opens = tomorrow
        .at(9, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("a time")
        .timestamp()
        .as_millisecond();
    assert_eq!(offer["reason"], "closed", "even with Sam online: {offer}");
    assert_eq!(offer["opens_at"], opens, "{offer}");
    assert!(
        offer["text"]
            .as_str()
            .expect("text")
            .contains("09:00 (UTC)"),
        "{offer}"
    );
    let queues = sam.latest_queue().await["queues"].clone();
    assert_eq!(queues[0]["name"], "general", "{queues}");
    assert_eq!(queues[0]["open"], false, "{queues}");
    assert_eq!(queues[0]["opens_at"], opens, "{queues}");

    // The offer leads to the form: the message becomes a ticket.
    customer
        .send(json!({"type": "leave_message", "client_id": "m1", "email": "ada@example.com", "text": "Call me back please."}))
        .await;
    assert_eq!(customer.next().await["type"], "ack");
    // The ticket is stored after the ack, so the snapshot showing it may come later.
    let tickets = sam
        .queue_where(|q| q["tickets"].as_array().is_some_and(|t| !t.is_empty()))
        .await["tickets"]
        .clone();
    assert_eq!(tickets[0]["text"], "Call me back please.", "{tickets}");
}

#[tokio::test]
async fn a_customer_waiting_past_the_queue_timeout_is_offered_to_leave_a_message_once() {
    let (app, _kb) = spawn_with_queues("  - name: general\n    wait_timeout: 2s\n").await;
    // Sam is online, so the handoff itself makes no offer.
    let _sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;

    let (mut customer, id) = Customer::hand_off(&app).await;
    customer.expect_quiet().await;

    // Three seconds later by the server's clock, the next watchdog pass makes the offer.
    app.clock.advance(Duration::from_secs(3));
    let offer = next_of(&mut customer, "offline", Duration::from_secs(5)).await;
    assert_eq!(offer["reason"], "timeout", "{offer}");
    assert!(offer.get("opens_at").is_none(), "{offer}");
    // Stored once, so a reconnecting customer sees it once, and the watchdog does not repeat it
    // (the store marks the wait as offered; a later pass finds the mark).
    app.clock.advance(Duration::from_secs(3));
    customer.expect_quiet().await;
    let stored = app
        .store()
        .await
        .events_after(&id, 0)
        .await
        .expect("events");
    let offers = stored.iter().filter(|e| e.kind == "offline").count();
    assert_eq!(offers, 1);
}

#[tokio::test]
async fn missed_sla_targets_are_stored_and_agents_see_the_due_times() {
    let (app, _kb) = spawn_with_queues(
        "  - name: general\n    sla:\n      normal: {first_response: 1s, resolution: 4s}\n",
    )
    .await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let before = tandem::clock::system_ms();
    let (_customer, id) = Customer::hand_off(&app).await;

    let waiting = sam.latest_queue().await["waiting"][0].clone();
    let first_due = waiting["sla"]["first_response_due"]
        .as_i64()
        .expect("a first response due time");
    let resolution_due = waiting["sla"]["resolution_due"].as_i64().expect("due");
    assert!(
        (before + 1000..=tandem::clock::system_ms() + 1000).contains(&first_due),
        "due a second after the handoff: {waiting}"
    );
    assert_eq!(resolution_due - first_due, 3000, "{waiting}");

    // Nobody answered within a second (the server's clock moves two on): the breach is stored.
    app.clock.advance(Duration::from_secs(2));
    let store = app.store().await;
    let breaches = eventually(
        "a first-response breach",
        Duration::from_secs(5),
        || async {
            let b = store.breaches(&id).await.expect("breaches");
            (!b.is_empty()).then_some(b)
        },
    )
    .await
    .expect("the watchdog records the breach");
    assert_eq!(breaches[0].kind, "first_response");
    assert_eq!(breaches[0].target_secs, 1);
    assert_eq!(breaches[0].due_at, first_due);

    // A reply ends the first-response clock; resolution keeps running and is missed too.
    sam.send(json!({"type": "claim", "conversation_id": id}))
        .await;
    sam.next_of("claimed").await;
    sam.send(json!({"type": "reply", "conversation_id": id, "client_id": "r1", "text": "Hi!"}))
        .await;
    sam.next_of("ack").await;
    let mine = sam.latest_queue().await["mine"][0].clone();
    assert_eq!(mine["sla"]["first_response_due"], Value::Null, "{mine}");
    assert_eq!(mine["sla"]["resolution_due"], resolution_due, "{mine}");
    // Not resolved four seconds after the handoff.
    app.clock.advance(Duration::from_secs(3));
    let breaches = eventually("a resolution breach", Duration::from_secs(8), || async {
        let b = store.breaches(&id).await.expect("breaches");
        (b.len() == 2).then_some(b)
    })
    .await
    .expect("the watchdog records the breach");
    assert_eq!(breaches[1].kind, "resolution");
    assert_eq!(breaches[1].due_at, resolution_due);
}

#[tokio::test]
async fn auto_assignment_gives_each_chat_to_the_least_loaded_online_agent_with_the_skill() {
    let (app, _kb) = spawn_with_queues("  - name: general\n    auto_assign: true\n").await;
    let mut kim = Console::agent(&app, "kim@example.com", "Kim", &["general"]).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut bo = Console::agent(&app, "bo@example.com", "Bo", &["billing"]).await;

    // Kim and Sam hold none: the tie goes to Kim (first by name); then Sam holds fewer.
    let (mut first, first_id) = Customer::hand_off(&app).await;
    let claimed = kim.next_of("claimed").await;
    assert_eq!(
        (
            claimed["conversation_id"].as_str(),
            claimed["auto"].as_bool()
        ),
        (Some(first_id.as_str()), Some(true))
    );
    assert_eq!(
        kim.next_of("conversation").await["conversation_id"],
        first_id.as_str()
    );
    let joined = next_of(&mut first, "notice", Duration::from_secs(5)).await;
    assert_eq!(joined["text"], "Kim joined the conversation.");

    let (_second, second_id) = Customer::hand_off(&app).await;
    assert_eq!(
        sam.next_of("claimed").await["conversation_id"],
        second_id.as_str()
    );

    // Bo lacks the skill and got nothing; nobody is left waiting.
    let queue = bo.latest_queue().await;
    assert_eq!(queue["mine"], json!([]), "{queue}");
    assert_eq!(kim.latest_queue().await["waiting"], json!([]));

    // With everyone away a chat waits; the next agent to come online gets it.
    kim.send(json!({"type": "presence", "status": "away"}))
        .await;
    sam.send(json!({"type": "presence", "status": "away"}))
        .await;
    kim.latest_queue().await;
    sam.latest_queue().await;
    let (_third, third_id) = Customer::hand_off(&app).await;
    assert_eq!(
        sam.latest_queue().await["waiting"][0]["conversation_id"],
        third_id.as_str()
    );
    let mut lee = Console::agent(&app, "lee@example.com", "Lee", &["general"]).await;
    let claimed = lee.next_of("claimed").await;
    assert_eq!(claimed["conversation_id"], third_id.as_str());
}

#[tokio::test]
async fn an_agent_marks_an_offline_ticket_done_and_it_leaves_the_list() {
    let (app, _kb) = spawn_with_queues("  - name: general\n").await;
    let (mut customer, _) = Customer::hand_off(&app).await;
    next_of(&mut customer, "offline", Duration::from_secs(5)).await;
    customer
        .send(json!({"type": "leave_message", "client_id": "m1", "email": "ada@example.com", "text": "Order SO-1 is late."}))
        .await;
    assert_eq!(customer.next().await["type"], "ack");

    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut bo = Console::agent(&app, "bo@example.com", "Bo", &["billing"]).await;
    let ticket = sam.latest_queue().await["tickets"][0]["id"]
        .as_str()
        .expect("a ticket")
        .to_owned();

    // Not Bo's queue: he cannot see it, so he cannot close it.
    bo.send(json!({"type": "ticket_done", "ticket_id": ticket}))
        .await;
    assert_eq!(bo.next_of("error").await["code"], "not_found");

    sam.send(json!({"type": "ticket_done", "ticket_id": ticket}))
        .await;
    let queue = sam.next_of("queue").await;
    assert_eq!(queue["tickets"], json!([]), "{queue}");
    sam.send(json!({"type": "ticket_done", "ticket_id": ticket}))
        .await;
    let again = sam.next_of("error").await;
    assert_eq!(again["code"], "not_found", "{again}");
}
