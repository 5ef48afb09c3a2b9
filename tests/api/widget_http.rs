//! The widget over plain HTTP: `/widget.js` and the demo page at `/` are served with the right
//! types and headers, and `allowed_origins` decides which sites' pages may open a chat.

use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{TestApp, spawn_app, spawn_app_tweaked};

/// Opens `/ws/chat` with this `Origin`; the HTTP status when the upgrade is refused.
async fn chat_from(app: &TestApp, origin: &str) -> Result<(), u16> {
    let mut request = app
        .chat_url()
        .into_client_request()
        .expect("a valid request");
    request
        .headers_mut()
        .insert("origin", origin.parse().expect("header value"));
    match connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

#[tokio::test]
async fn the_widget_script_and_the_demo_page_are_served() {
    let app = spawn_app().await;
    let script = app
        .client
        .get(format!("{}/widget.js", app.address))
        .send()
        .await
        .expect("widget.js");
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");
    let body = script.text().await.expect("body");
    assert!(
        body.contains("attachShadow"),
        "the widget draws in a shadow root"
    );

    let demo = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("demo page");
    assert_eq!(demo.status(), 200);
    let csp = demo.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = demo.text().await.expect("body");
    assert!(
        page.contains("src=\"/widget.js\""),
        "the demo embeds the widget"
    );
    assert!(page.contains("href=\"/console/\""), "and links the console");
}

#[tokio::test]
async fn with_allowed_origins_only_those_sites_and_the_server_itself_may_open_a_chat() {
    let app = spawn_app_tweaked(|s| s.allowed_origins = vec!["https://shop.example".into()]).await;
    assert_eq!(chat_from(&app, "https://shop.example").await, Ok(()));
    assert_eq!(chat_from(&app, "https://evil.example").await, Err(403));
    let own = app.address.clone();
    assert_eq!(
        chat_from(&app, &own).await,
        Ok(()),
        "the demo page's own origin"
    );

    let open = spawn_app().await;
    assert_eq!(
        chat_from(&open, "https://anywhere.example").await,
        Ok(()),
        "an empty list allows every site"
    );
}
