//! Finding 8: personal data at rest. A signed identity's e-mail was stored in clear (and found
//! in the WAL), and the database files were readable by every local user.

use serde_json::json;
use tandem::chat::identity::sign_identity;

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::{IDENTITY_SECRET, spawn_app, spawn_app_tweaked};

#[tokio::test]
async fn identity_attributes_are_sealed_on_disk_and_shown_to_agents() {
    // Tried: a signed-in customer (name and e-mail in the identity) asks for a person; then the
    // database (SQLite file and WAL byte for byte, or every PostgreSQL row) is searched for the
    // e-mail, while an agent opens the conversation.
    let app = spawn_app().await;
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let email = "ada.lovelace@example.com";
    let identity = sign_identity(
        &json!({"id": "cust-42", "name": "Ada", "email": email}),
        IDENTITY_SECRET.as_bytes(),
    );
    let mut customer = Customer::connect(&app).await;
    customer
        .send(json!({"type": "hello", "protocol": 1, "identity": identity}))
        .await;
    let welcome = customer.next().await;
    assert_eq!(welcome["identified"], true, "{welcome}");
    let id = welcome["conversation_id"].as_str().expect("id").to_owned();
    customer
        .send(json!({"type": "request_human", "client_id": "b1"}))
        .await;
    assert_eq!(customer.next_reply().await["type"], "handoff");

    let queue = sam
        .queue_where(|q| q["waiting"].as_array().is_some_and(|w| !w.is_empty()))
        .await;
    assert_eq!(queue["waiting"][0]["customer_name"], "Ada", "{queue}");
    sam.send(json!({"type": "open", "conversation_id": id}))
        .await;
    let view = sam.next_of("conversation").await;
    assert_eq!(view["customer"]["attributes"]["email"], email, "{view}");

    assert!(
        !app.stored_in_clear(email).await,
        "the database holds the e-mail in clear"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_database_files_are_private_to_the_server() {
    // Tried: listing the permissions of a data folder the server created, and of its files,
    // after a customer's hello was written. On SQLite in both runs of the suite: the files
    // are SQLite's (PostgreSQL keeps its own, under its own user).
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app_tweaked(|s| {
        s.data_dir.push("data");
        s.database_url = String::new();
    })
    .await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let mode = |name: &str| {
        let path = app.data_dir.join("data").join(name);
        std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the data folder");
    for file in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}
