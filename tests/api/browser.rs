//! The agent console in a real browser (headless Chromium over the DevTools protocol, see
//! `cdp.rs`): an agent signs in through the login form, claims a waiting chat from the queue,
//! replies with text that looks like HTML, and the customer on `/ws/chat` receives it as plain
//! text; the customer's answer then shows up in the console's transcript.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cdp::Browser;
use crate::customer::Customer;
use crate::helpers::{TestApp, spawn_app};

/// How long the console may take to show what the server sent (debug builds, a busy CI box).
const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// A reply that would run a script if the console or the chat ever inserted it as HTML.
const REPLY: &str = "Hello from the console <script>alert(1)</script>";

/// `text` as a JavaScript string literal (JSON's syntax is a subset of JavaScript's).
fn js(text: &str) -> String {
    Value::from(text).to_string()
}

/// The next frame that is not about waiting: the console tells the customer when the agent
/// types (`typing`), and a customer who asked while nobody was signed in is told so
/// (`offline`, `queue_update`); this test does not look at those.
async fn next_but_waiting_news(customer: &mut Customer) -> Value {
    loop {
        let frame = customer.next().await;
        if !["typing", "offline", "queue_update"].contains(&frame["type"].as_str().unwrap_or("")) {
            return frame;
        }
    }
}

/// Clicks the first element matching `selector`, failing when there is none.
async fn click(browser: &mut Browser, selector: &str) {
    let clicked = browser
        .eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); \
             return true; }})()",
            js(selector)
        ))
        .await;
    assert_eq!(clicked, json!(true), "nothing to click at {selector}");
}

/// Opens the console and signs in the way a person does: fills both fields (with the `input`
/// events a keyboard fires) and presses the button, so the form's own submit handler runs.
pub async fn sign_in_to_console(browser: &mut Browser, app: &TestApp, email: &str, password: &str) {
    browser.navigate(&format!("{}/console/", app.address)).await;
    browser
        .wait_for("!document.getElementById('login').hidden", UI_TIMEOUT)
        .await;
    browser
        .eval(&format!(
            "(() => {{ for (const [id, v] of [['login-email', {}], ['login-password', {}]]) {{ \
             const e = document.querySelector(`[data-testid=\"${{id}}\"]`); e.value = v; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); }} \
             document.querySelector('[data-testid=\"login-submit\"]').click(); return true; }})()",
            js(email),
            js(password)
        ))
        .await;
    browser
        .wait_for("document.getElementById('login').hidden", UI_TIMEOUT)
        .await;
}

#[tokio::test]
async fn an_agent_signs_in_claims_a_waiting_chat_and_the_customer_receives_the_reply() {
    let app = spawn_app().await;
    let email = "sam@example.com";
    let password = app.add_agent(email, "Sam", &["general"]).await;
    let (mut customer, id) = Customer::hand_off(&app).await;

    let mut browser = Browser::launch().await;
    sign_in_to_console(&mut browser, &app, email, &password).await;

    // The queue arrives over /ws/agent once signed in; open the chat, then claim it.
    claim_in_console(&mut browser, &id).await;

    // The composer takes internal notes on any open chat; replying needs the chat to be ours,
    // which the console shows by moving it to "mine" and enabling Send.
    let mine = format!("[data-testid=\"mine-item\"][data-conversation-id=\"{id}\"].selected");
    browser
        .wait_for(
            &format!(
                "document.querySelector({}) && \
                 !document.querySelector('[data-testid=\"composer\"]').disabled && \
                 !document.querySelector('[data-testid=\"send\"]').disabled",
                js(&mine)
            ),
            UI_TIMEOUT,
        )
        .await;
    let joined = next_but_waiting_news(&mut customer).await;
    assert_eq!(joined["type"], "notice", "the agent joins first: {joined}");

    browser
        .eval("document.querySelector('[data-testid=\"composer\"]').focus()")
        .await;
    browser.insert_text(REPLY).await;
    click(&mut browser, "[data-testid=\"send\"]").await;

    let reply = next_but_waiting_news(&mut customer).await;
    assert_eq!(reply["type"], "agent_message", "{reply}");
    assert_eq!(reply["text"], REPLY, "the text arrives as it was typed");

    // The server's echo replaces the "sending…" entry; it must show the markup as text.
    browser
        .wait_for(
            "[...document.querySelectorAll('[data-testid=\"entry\"][data-sender=\"agent\"]')]\
             .some((e) => e.textContent.includes('<script>alert(1)</script>'))",
            UI_TIMEOUT,
        )
        .await;
    let scripts = browser
        .eval("document.querySelectorAll('[data-testid=\"transcript\"] script').length")
        .await;
    assert_eq!(scripts, json!(0), "the reply added no script element");

    customer.say("m2", "thanks!").await;
    browser
        .wait_for(
            "[...document.querySelectorAll('[data-testid=\"entry\"][data-sender=\"customer\"]')]\
             .some((e) => e.textContent.includes('thanks!'))",
            UI_TIMEOUT,
        )
        .await;

    let screenshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/console-chat.png");
    browser.screenshot(&screenshot).await;
    eprintln!("console screenshot: {}", screenshot.display());
}

/// In a signed-in console, opens the waiting conversation `id` (the chat pane shows it) and
/// claims it; returns once Send is enabled.
async fn claim_in_console(browser: &mut Browser, id: &str) {
    let waiting = format!("[data-testid=\"waiting-item\"][data-conversation-id=\"{id}\"]");
    browser
        .wait_for(
            &format!("document.querySelector({})", js(&waiting)),
            UI_TIMEOUT,
        )
        .await;
    click(
        browser,
        &format!("{waiting} [data-testid=\"waiting-open\"]"),
    )
    .await;
    browser
        .wait_for(
            &format!(
                "document.querySelector({})",
                js(&format!("{waiting}.selected"))
            ),
            UI_TIMEOUT,
        )
        .await;
    click(browser, &format!("{waiting} [data-testid=\"claim\"]")).await;
    browser
        .wait_for(
            "!document.querySelector('[data-testid=\"send\"]').disabled",
            UI_TIMEOUT,
        )
        .await;
}

#[tokio::test]
async fn markdown_replies_render_and_a_transfer_to_a_colleague_tells_them_who_sent_it() {
    // Tried: Sam replies in Markdown (bold and a link); he then transfers the chat from the
    // dialog straight to Eve, who is online in the same queue. The customer's frame carries the
    // sanitised HTML; Eve's console is told Sam sent it, and the conversation's notes say so.
    // A toast never sits on the Send button.
    let app = spawn_app().await;
    let password = app.add_agent("sam@example.com", "Sam", &["general"]).await;
    let mut eve =
        crate::agent_client::Console::agent(&app, "eve@example.com", "Eve", &["general"]).await;
    let (mut customer, id) = Customer::hand_off(&app).await;
    let mut browser = Browser::launch().await;
    sign_in_to_console(&mut browser, &app, "sam@example.com", &password).await;
    claim_in_console(&mut browser, &id).await;

    browser
        .eval("document.querySelector('[data-testid=\"composer\"]').focus()")
        .await;
    browser
        .insert_text("See **Orders** on [your account](https://shop.example/account).")
        .await;
    click(&mut browser, "[data-testid=\"send\"]").await;
    let reply = loop {
        let frame = next_but_waiting_news(&mut customer).await;
        if frame["type"] == "agent_message" {
            break frame;
        }
    };
    let html = reply["html"].as_str().expect("rendered reply");
    assert!(html.contains("<strong>Orders</strong>"), "{html}");
    assert!(
        html.contains("href=\"https://shop.example/account\""),
        "{html}"
    );

    // A toast, wherever the console puts them, leaves Send uncovered.
    let overlap = browser
        .eval(
            "(() => { const t = document.createElement('div'); t.className = 'toast'; \
             t.textContent = 'A chat from general was assigned to you'; \
             document.querySelector('[data-testid=\"toasts\"]').appendChild(t); \
             const a = t.getBoundingClientRect(); \
             const b = document.querySelector('[data-testid=\"send\"]').getBoundingClientRect(); \
             t.remove(); \
             return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; })()",
        )
        .await;
    assert_eq!(overlap, json!(false), "the toast covers Send");

    click(&mut browser, "[data-testid=\"transfer\"]").await;
    browser
        .wait_for(
            "[...document.querySelectorAll('[data-testid=\"transfer-agent\"] option')]\
             .some((o) => o.textContent === 'Eve' && !o.disabled)",
            UI_TIMEOUT,
        )
        .await;
    browser
        .eval(
            "(() => { const s = document.querySelector('[data-testid=\"transfer-agent\"]'); \
             s.value = [...s.options].find((o) => o.textContent === 'Eve').value; \
             document.querySelector('[data-testid=\"transfer-confirm\"]').click(); return true; })()",
        )
        .await;
    let claimed = eve.next_of("claimed").await;
    assert_eq!(
        (claimed["auto"].clone(), claimed["transferred_by"].clone()),
        (json!(true), json!("Sam")),
        "{claimed}"
    );
    let conversation = eve.next_of("conversation").await;
    assert!(
        conversation["notes"].as_array().is_some_and(|n| n
            .iter()
            .any(|n| n["text"] == "Transferred from Sam to Eve (general queue).")),
        "{conversation}"
    );
    let screenshot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots/console-transfer.png");
    browser.screenshot(&screenshot).await;
}
