//! `SIGHUP` reloads the knowledge base of a running `tandem serve` (the real binary, its file
//! watcher off, so that only the signal can have done it).
#![cfg(unix)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::writable_fixture;
use crate::server_process::Server;

#[tokio::test]
async fn sighup_reloads_the_edited_knowledge_base() {
    let kb = writable_fixture();
    let data = tempfile::TempDir::new().expect("data folder");
    let server = Server::start(data.path(), kb.path(), &["--watch-knowledge", "false"]).await;
    let ask = || async {
        let found: Value = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/api/ask", server.port))
            .json(&json!({"text": "How much does shipping cost?"}))
            .send()
            .await
            .expect("ask")
            .json()
            .await
            .expect("JSON");
        found["matches"][0]["answer_markdown"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(ask().await.contains("free over $50"));
    let file = kb.path().join("faq/shipping-cost.md");
    let edited = std::fs::read_to_string(&file)
        .expect("fixture")
        .replace("free over $50", "free over $20");
    std::fs::write(&file, edited).expect("edit");
    // No wait for "nothing happened": with the watcher off nothing reloads by itself, and the
    // signal below is the event the test waits on.
    assert!(
        ask().await.contains("free over $50"),
        "no watcher: nothing changes by itself"
    );

    server.signal("HUP");
    crate::helpers::eventually("SIGHUP reloads", Duration::from_secs(30), || async {
        ask().await.contains("free over $20").then_some(())
    })
    .await
    .expect("the edit is served after SIGHUP");
}
