//! The insights page in a real browser: an admin signs in to the console, opens Insights and
//! sees the figures of today's conversations, the per-day chart, the unanswered questions with
//! their CSV export, and the knowledge status. An agent who is not an admin has no Insights tab.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::browser::sign_in_to_console;
use crate::cdp::Browser;
use crate::customer::Customer;
use crate::helpers::spawn_app;

const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// The text of the element with this test id ("" when absent).
fn text_of(id: &str) -> String {
    format!("(document.querySelector('[data-testid=\"{id}\"]') || {{textContent: ''}}).textContent")
}

#[tokio::test]
async fn an_admin_reads_todays_figures_and_the_unanswered_questions() {
    let app = spawn_app().await;
    for (id, question) in [
        ("m1", "How much does shipping cost?"),
        ("m2", "what is the capital of mongolia"),
    ] {
        let mut customer = Customer::connect(&app).await;
        customer.hello(None).await;
        customer.ask(id, question).await;
    }
    let admin_password = app.add_admin("boss@example.com", "Boss").await;
    let agent_password = app.add_agent("sam@example.com", "Sam", &["general"]).await;

    // An agent: the console, but no Insights.
    let mut browser = Browser::launch().await;
    sign_in_to_console(&mut browser, &app, "sam@example.com", &agent_password).await;
    browser
        .wait_for(
            "document.querySelector('[data-testid=\"queue-status\"]')",
            UI_TIMEOUT,
        )
        .await;
    let hidden = browser
        .eval("document.querySelector('[data-testid=\"insights-tab\"]').hidden")
        .await;
    assert_eq!(hidden, json!(true), "agents do not see Insights");
    drop(browser);

    let mut browser = Browser::launch().await;
    sign_in_to_console(&mut browser, &app, "boss@example.com", &admin_password).await;
    browser
        .wait_for(
            "!document.querySelector('[data-testid=\"insights-tab\"]').hidden",
            UI_TIMEOUT,
        )
        .await;
    browser
        .eval("document.querySelector('[data-testid=\"insights-tab\"]').click()")
        .await;
    browser
        .wait_for(
            &format!(
                "!document.querySelector('[data-testid=\"insights\"]').hidden && {}.trim() === '2'",
                text_of("kpi-conversations")
            ),
            UI_TIMEOUT,
        )
        .await;
    // Both conversations are contained: neither was handed off or voted down.
    let containment = browser.eval(&text_of("kpi-containment")).await;
    assert!(
        containment.as_str().is_some_and(|t| t.contains("100")),
        "{containment}"
    );
    let bars = browser
        .eval("document.querySelectorAll('[data-testid=\"chart-days\"] rect').length")
        .await;
    assert_eq!(bars, json!(14), "one bar per day of the default fortnight");

    browser
        .wait_for(
            "[...document.querySelectorAll('[data-testid=\"unanswered-row\"]')]\
             .some((r) => r.textContent.includes('capital of mongolia'))",
            UI_TIMEOUT,
        )
        .await;
    let href = browser
        .eval("document.querySelector('[data-testid=\"export-csv\"]').href")
        .await;
    assert!(
        href.as_str()
            .is_some_and(|h| h.contains("/api/analytics/unanswered.csv?from=")),
        "{href}"
    );
    let csv = app
        .client
        .get(href.as_str().expect("href"))
        .header(
            "cookie",
            app.sign_in("boss@example.com", &admin_password).await,
        )
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("body");
    assert!(csv.contains("what is the capital of mongolia"), "{csv}");

    browser
        .wait_for(
            "document.querySelector('[data-testid=\"knowledge-state\"]')?.dataset.status === 'ok'",
            UI_TIMEOUT,
        )
        .await;
    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/insights.png");
    browser.screenshot(&screenshot).await;
    eprintln!("insights screenshot: {}", screenshot.display());
}
