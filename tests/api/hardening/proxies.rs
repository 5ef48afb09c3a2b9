//! Behind a load balancer every client arrives from the balancer's address, so per-address
//! limits would throttle all customers together, and a header naming the client could be
//! forged by anyone. With `trusted_proxies` set, the address the balancer forwarded counts, and
//! only from the balancer; without it, `X-Forwarded-For` is ignored.

use crate::helpers::{TestApp, spawn_app_tweaked};

/// `POST /api/ask` with an empty question (refused after the rate limit, before the model, so
/// the limit is what decides) as `forwarded`; the status.
async fn ask_as(app: &TestApp, forwarded: &str) -> u16 {
    app.client
        .post(format!("{}/api/ask", app.address))
        .header("x-forwarded-for", forwarded)
        .json(&serde_json::json!({"text": ""}))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Asks as `forwarded` until the limit answers 429 (it allows a burst of 20).
async fn exhaust(app: &TestApp, forwarded: &str) {
    for _ in 0..200 {
        match ask_as(app, forwarded).await {
            429 => return,
            422 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    panic!("the rate limit never answered 429");
}

#[tokio::test]
async fn through_a_trusted_balancer_each_forwarded_client_has_its_own_limit() {
    // Tried: one customer behind the balancer (loopback here) asks until refused; another
    // customer behind the same balancer asks next.
    let app =
        spawn_app_tweaked(|s| s.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")]).await;
    exhaust(&app, "203.0.113.1").await;

    assert_eq!(
        ask_as(&app, "203.0.113.2").await,
        422,
        "another client is not throttled"
    );
    // The first client forging addresses in front of what the balancer appended gains nothing
    // (at most one of five can fall on a refilled token: five a second).
    let mut refused = 0;
    for i in 0..5 {
        if ask_as(&app, &format!("198.51.100.{i}, 203.0.113.1")).await == 429 {
            refused += 1;
        }
    }
    assert!(
        refused >= 4,
        "the balancer's own entry counts: {refused} of 5 refused"
    );
}

#[tokio::test]
async fn without_trusted_proxies_the_header_is_ignored() {
    // Tried: a client that is throttled sends a different X-Forwarded-For on each request.
    let app = spawn_app_tweaked(|_| {}).await;
    exhaust(&app, "203.0.113.1").await;

    let mut refused = 0;
    for i in 0..10 {
        if ask_as(&app, &format!("203.0.113.{}", 10 + i)).await == 429 {
            refused += 1;
        }
    }
    // At most one or two of the ten can fall on a refilled token (five a second).
    assert!(refused >= 8, "{refused} of 10 refused");
}
