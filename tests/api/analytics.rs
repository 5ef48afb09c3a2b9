//! Analytics against a scripted day with known outcomes: six customers talk to the real bot and
//! agents over the sockets, the handoffs' clock times are then set to known values in the
//! database, and every figure of `/api/analytics` is compared with the one worked out by hand
//! below. The unanswered list (JSON and CSV) is checked on the same day.
//!
//! | customer | what happens | contained |
//! |---|---|---|
//! | A | asks the shipping cost, answered, votes helpful | yes |
//! | B | asks the delivery time, answered, votes not helpful | no (unhelpful) |
//! | C | asks for a person; Sam claims, replies, resolves; rated 4 | no (handoff) |
//! | D | asks the capital of Mongolia: the bot cannot answer | yes |
//! | E | opens the chat and never writes | not a conversation |
//! | F | asks for a person; Kim claims | no (handoff) |
//!
//! Clock times set for the handoffs (seconds after the handoff): C taken at 30, first reply at
//! 60, resolved 300 after being taken; F taken at 90. So the queue wait is 30 and 90 s (average
//! 60, p90 90), the first response 60 s (one), the handling 300 s (one).

use serde_json::{Value, json};

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::TestApp;
use crate::helpers::spawn_app_at;

/// A customer who said hello; returns them and their conversation id.
async fn customer(app: &TestApp) -> (Customer, String) {
    let mut customer = Customer::connect(app).await;
    let welcome = customer.hello(None).await;
    let id = welcome["conversation_id"].as_str().expect("id").to_owned();
    (customer, id)
}

/// Asks and votes on the answer.
async fn ask_and_vote(app: &TestApp, question: &str, faq: &str, helpful: bool) {
    let (mut c, _) = customer(app).await;
    let (_, answer) = c.ask("m1", question).await;
    assert_eq!(answer["faq_id"], faq, "{answer}");
    c.send(json!({"type": "feedback", "seq": answer["seq"], "helpful": helpful}))
        .await;
    let ack = c.next().await;
    assert_eq!(ack["type"], "feedback_ack", "the vote is stored: {ack}");
}

async fn admin_get(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.get_with(cookie, path).await
}

#[tokio::test]
async fn every_figure_matches_a_scripted_day_worked_out_by_hand() {
    // The server's clock stands still but for the advances below, so every duration is exact.
    let app = spawn_app_at(tandem::clock::Clock::frozen()).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut kim = Console::agent(&app, "kim@example.com", "Kim", &["general"]).await;

    ask_and_vote(&app, "How much does shipping cost?", "shipping-cost", true).await;
    ask_and_vote(&app, "How long does delivery take?", "delivery-time", false).await;

    // C: taken 30 s after the handoff, first reply at 60 s, resolved at 330 s (server clock).
    let secs = std::time::Duration::from_secs;
    let (mut c, c_id) = Customer::hand_off(&app).await;
    app.clock.advance(secs(30));
    sam.send(json!({"type": "claim", "conversation_id": c_id}))
        .await;
    sam.next_of("claimed").await;
    app.clock.advance(secs(30));
    sam.send(
        json!({"type": "reply", "conversation_id": c_id, "client_id": "r1", "text": "Hello!"}),
    )
    .await;
    sam.next_of("ack").await;
    app.clock.advance(secs(270));
    sam.send(json!({"type": "resolve", "conversation_id": c_id}))
        .await;
    loop {
        let frame = c.next().await;
        if frame["type"] == "csat_request" {
            break;
        }
    }
    c.send(json!({"type": "rate", "score": 4})).await;
    loop {
        // Hub frames (a notice) may come first; the rating is stored once rate_ack arrives.
        if c.next().await["type"] == "rate_ack" {
            break;
        }
    }

    let (mut d, _) = customer(&app).await;
    let (_, fallback) = d.ask("m1", "what is the capital of mongolia").await;
    assert_eq!(fallback.get("faq_id"), None, "not answered: {fallback}");

    let _e = customer(&app).await;

    // F: taken 90 s after the handoff, not answered yet.
    let (_f, f_id) = Customer::hand_off(&app).await;
    app.clock.advance(secs(90));
    kim.send(json!({"type": "claim", "conversation_id": f_id}))
        .await;
    kim.next_of("claimed").await;

    let password = app.add_admin("boss@example.com", "Boss").await;
    let admin = app.sign_in("boss@example.com", &password).await;
    let today = app
        .clock
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let range = format!("from={today}&to={today}");
    let sam_cookie = app
        .sign_in("sam@example.com", "pw-sam@example.com-long-enough")
        .await;
    assert_eq!(
        admin_get(&app, &sam_cookie, &format!("/api/analytics?{range}"))
            .await
            .status(),
        403,
        "managers' figures are for admins"
    );
    let report: Value = admin_get(&app, &admin, &format!("/api/analytics?{range}"))
        .await
        .json()
        .await
        .expect("report");
    let t = &report["totals"];

    assert_eq!(t["conversations"], 5, "A, B, C, D, F (E never wrote): {t}");
    assert_eq!(t["contained"], 2, "A and D");
    assert_eq!(t["containment_rate"], 0.4);
    assert_eq!(t["handoffs"], 2, "C and F");
    assert_eq!(t["handoff_rate"], 0.4);
    assert_eq!(
        t["handoff_reasons"],
        json!([{"reason": "customer_request", "count": 2}])
    );
    assert_eq!(
        (
            t["answers"].clone(),
            t["helpful"].clone(),
            t["unhelpful"].clone()
        ),
        (json!(2), json!(1), json!(1))
    );
    assert_eq!(t["helpfulness"], 0.5);
    assert_eq!(
        t["queue_wait_secs"],
        json!({"avg": 60.0, "p90": 90.0, "count": 2})
    );
    assert_eq!(
        t["first_response_secs"],
        json!({"avg": 60.0, "p90": 60.0, "count": 1})
    );
    assert_eq!(
        t["handling_secs"],
        json!({"avg": 300.0, "p90": 300.0, "count": 1})
    );
    assert_eq!(
        t["csat"],
        json!({"avg": 4.0, "count": 1, "distribution": [0, 0, 0, 1, 0]})
    );
    assert_eq!(
        t["sla_breaches"],
        json!({"first_response": 0, "resolution": 0})
    );

    assert_eq!(report["days"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["days"][0]["date"], today.as_str());
    assert_eq!(report["days"][0]["conversations"], 5);
    assert_eq!(report["days"][0]["containment_rate"], 0.4);
    assert_eq!(report["days"][0]["queue_wait_avg_secs"], 60.0);
    let hours = report["busiest_hours"].as_array().expect("hours");
    assert_eq!(hours.len(), 24);
    let messages: i64 = hours.iter().filter_map(|h| h["messages"].as_i64()).sum();
    assert_eq!(messages, 5, "one customer message each from A, B, C, D, F");
    assert_eq!(
        report["top_faqs"],
        json!([
            {"faq_id": "delivery-time", "question": "How long does delivery take?", "answers": 1, "helpful": 0, "unhelpful": 1},
            {"faq_id": "shipping-cost", "question": "How much does shipping cost?", "answers": 1, "helpful": 1, "unhelpful": 0},
        ])
    );
    let shipping = report["top_intents"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["intent"] == "shipping"))
        .cloned();
    assert_eq!(
        shipping,
        Some(json!({"intent": "shipping", "messages": 2})),
        "{report}"
    );

    // What nobody could answer: D's question (a miss) and B's (voted not helpful).
    let unanswered: Value = admin_get(&app, &admin, &format!("/api/analytics/unanswered?{range}"))
        .await
        .json()
        .await
        .expect("unanswered");
    let clusters = unanswered["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 2, "{unanswered}");
    let find = |text: &str| {
        clusters
            .iter()
            .find(|c| c["example"] == text)
            .unwrap_or_else(|| panic!("{text} in {unanswered}"))
            .clone()
    };
    assert_eq!(
        find("what is the capital of mongolia")["reasons"],
        json!({"fallback": 1})
    );
    assert_eq!(
        find("How long does delivery take?")["reasons"],
        json!({"unhelpful": 1})
    );

    let csv = admin_get(
        &app,
        &admin,
        &format!("/api/analytics/unanswered.csv?{range}"),
    )
    .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .is_ok_and(|d| d.contains(&format!("unanswered-{today}-to-{today}.csv")))
    );
    let body = csv.text().await.expect("csv");
    let mut lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines.remove(0),
        "count,example,other_examples,fallback,low_confidence,unhelpful,clarify_abandoned"
    );
    lines.sort_unstable();
    assert_eq!(
        lines,
        vec![
            "1,How long does delivery take?,,0,0,1,0",
            "1,what is the capital of mongolia,,1,0,0,0"
        ]
    );

    let bad = admin_get(&app, &admin, "/api/analytics?from=2026-13-01").await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_transfer_neither_restarts_the_handling_time_nor_forgets_the_first_wait() {
    // Tried: G hands off; Sam takes it after 3 s, transfers it to `escalations` 20 s later;
    // Eve takes it 2 s after that and resolves it 6 s later. The customer waited 3 + 2 = 5 s in
    // queues; agents handled it from Sam's claim to Eve's resolution, 28 s. H asks something
    // the bot cannot answer: the model's guess for it is no "top intent".
    let app = spawn_app_at(tandem::clock::Clock::frozen()).await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut eve = Console::agent(&app, "eve@example.com", "Eve", &["escalations"]).await;
    let secs = std::time::Duration::from_secs;

    let (mut g, g_id) = Customer::hand_off(&app).await;
    app.clock.advance(secs(3));
    sam.send(json!({"type": "claim", "conversation_id": g_id}))
        .await;
    sam.next_of("claimed").await;
    app.clock.advance(secs(20));
    sam.send(json!({"type": "transfer", "conversation_id": g_id, "queue": "escalations"}))
        .await;
    assert_eq!(g.next_of("notice").await["serving"], "agent");
    assert_eq!(g.next_of("notice").await["serving"], "queued");
    app.clock.advance(secs(2));
    eve.send(json!({"type": "claim", "conversation_id": g_id}))
        .await;
    eve.next_of("claimed").await;
    app.clock.advance(secs(6));
    eve.send(json!({"type": "resolve", "conversation_id": g_id}))
        .await;
    g.next_of("csat_request").await;

    let (mut h, _) = customer(&app).await;
    let (_, miss) = h.ask("m1", "what is the capital of mongolia").await;
    assert_eq!(miss.get("faq_id"), None, "not answered: {miss}");

    let password = app.add_admin("boss@example.com", "Boss").await;
    let admin = app.sign_in("boss@example.com", &password).await;
    let today = app
        .clock
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let report: Value = admin_get(
        &app,
        &admin,
        &format!("/api/analytics?from={today}&to={today}"),
    )
    .await
    .json()
    .await
    .expect("report");
    let t = &report["totals"];
    assert_eq!(
        t["queue_wait_secs"],
        json!({"avg": 5.0, "p90": 5.0, "count": 1}),
        "{t}"
    );
    assert_eq!(
        t["handling_secs"],
        json!({"avg": 28.0, "p90": 28.0, "count": 1}),
        "{t}"
    );
    // G's "talk to a person" button carries no intent; H's guess is not counted either.
    assert_eq!(report["top_intents"], json!([]), "{report}");
}
