//! `GET /metrics`: what a Prometheus scrape sees after some traffic, counted per server.

use serde_json::json;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::{TestApp, spawn_app};

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain")),
        "Prometheus text format"
    );
    response.text().await.expect("body")
}

/// The value of the sample `name` (with its labels, as Prometheus prints them).
fn value(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn a_scrape_counts_requests_sockets_decisions_model_latency_and_queues() {
    let app = spawn_app().await;
    let _sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let (_, answer) = customer.ask("m1", "How much does shipping cost?").await;
    assert_eq!(answer["type"], "answer");
    customer
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    assert_eq!(customer.next_reply().await["type"], "handoff");

    let body = scrape(&app).await;
    let expect = |name: &str, expected: f64| {
        assert_eq!(value(&body, name), Some(expected), "{name} in\n{body}");
    };
    expect(r#"tandem_websocket_connections_total{socket="chat"}"#, 1.0);
    expect(r#"tandem_websocket_connections_open{socket="agent"}"#, 1.0);
    expect("tandem_active_conversations", 1.0);
    expect(r#"tandem_decisions_total{decision="answer"}"#, 1.0);
    expect(r#"tandem_decisions_total{decision="handoff"}"#, 1.0);
    expect(r#"tandem_model_latency_seconds_count{stage="embed"}"#, 1.0);
    expect(
        r#"tandem_model_latency_seconds_count{stage="classify"}"#,
        1.0,
    );
    expect(r#"tandem_queue_length{queue="general"}"#, 1.0);
    expect(r#"tandem_queue_length{queue="escalations"}"#, 0.0);
    expect("tandem_knowledge_reloads_total", 0.0);
    expect("tandem_knowledge_reload_failures_total", 0.0);
    assert!(
        value(
            &body,
            r#"tandem_http_requests_total{method="GET",route="/health",status="200"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "the readiness polls are counted by route:\n{body}"
    );

    drop(customer);
    // The session ends in steps (the conversation, then the socket), so both are waited for.
    crate::helpers::eventually(
        "the closed conversation and its socket leave the counts",
        std::time::Duration::from_secs(5),
        || async {
            let body = scrape(&app).await;
            let open = r#"tandem_websocket_connections_open{socket="chat"}"#;
            (value(&body, "tandem_active_conversations") == Some(0.0)
                && value(&body, open) == Some(0.0))
            .then_some(body)
        },
    )
    .await
    .expect("no active conversation, no open chat socket");
}
