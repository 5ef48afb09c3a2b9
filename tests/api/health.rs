//! `/health` and the error shape of unknown routes.

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_reports_ok_and_what_is_loaded() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["faq_entries"], 4, "the fixture has four entries");
    assert_eq!(body["intents"], 5);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;

    let missing = app
        .client
        .get(format!("{}/nope", app.address))
        .send()
        .await
        .expect("request");
    let wrong_method = app
        .client
        .get(format!("{}/api/ask", app.address))
        .send()
        .await
        .expect("request");

    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.expect("json");
    assert_eq!(body["code"], "method_not_allowed");
}
