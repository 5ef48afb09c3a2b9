//! `POST /api/ask`: answers from the fixture knowledge base, and every kind of bad request
//! (malformed JSON, wrong shape, wrong content type, oversize body, empty or over-long text,
//! out-of-range limit) answered with a clear 4xx `{code, message}`.

use serde_json::Value;

use crate::helpers::spawn_app;

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

#[tokio::test]
async fn ask_returns_the_best_matching_entry_first_with_its_answer() {
    let app = spawn_app().await;

    let response = app.ask("is delivery free?").await;

    assert_eq!(response.status(), 200);
    let body = json(response).await;
    let top = &body["matches"][0];
    assert_eq!(top["id"], "shipping-cost", "{body:#}");
    assert!(
        top["answer_markdown"]
            .as_str()
            .expect("markdown")
            .contains("**free over $50**")
    );
    assert!(
        top["answer_html"]
            .as_str()
            .expect("html")
            .contains("<strong>free over $50</strong>")
    );
    assert_eq!(top["related"][0]["id"], "delivery-time");
    assert_eq!(
        top["related"][0]["question"],
        "How long does delivery take?"
    );
}

#[tokio::test]
async fn ask_understands_chinese_questions() {
    let app = spawn_app().await;

    let body = json(app.ask("怎么退货？").await).await;

    assert_eq!(body["matches"][0]["id"], "return-policy-zh", "{body:#}");
    assert_eq!(body["matches"][0]["lang"], "zh");
}

#[tokio::test]
async fn ask_flags_unrelated_words_as_out_of_scope() {
    let app = spawn_app().await;

    let body = json(app.ask("xylophone quantum zebra").await).await;

    assert_eq!(body["understanding"]["out_of_scope"], true, "{body:#}");
}

#[tokio::test]
async fn ask_reports_what_the_model_understood() {
    let app = spawn_app().await;

    let body = json(app.ask("hello there!").await).await;

    let understanding = &body["understanding"];
    assert_eq!(understanding["intents"][0]["name"], "greeting", "{body:#}");
    assert_eq!(understanding["out_of_scope"], false, "{body:#}");
    let score = understanding["oos_score"].as_f64().expect("oos score");
    assert!((0.0..=1.0).contains(&score), "{score}");
}

#[tokio::test]
async fn ask_respects_the_limit() {
    let app = spawn_app().await;

    let response = app
        .post_raw(
            "/api/ask",
            r#"{"text": "shipping delivery return", "limit": 2}"#,
        )
        .await;

    let body = json(response).await;
    assert_eq!(
        body["matches"].as_array().expect("array").len(),
        2,
        "{body:#}"
    );
}

#[tokio::test]
async fn raw_html_written_by_an_editor_is_never_served_as_markup() {
    let app = spawn_app().await;

    let body = json(app.ask("return policy").await).await;

    let html = body["matches"][0]["answer_html"].as_str().expect("html");
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "shown as text: {html}");
}

#[tokio::test]
async fn bad_requests_get_a_clear_4xx_with_code_and_message() {
    let app = spawn_app().await;
    let long_text = "a".repeat(501);
    let oversize = format!(r#"{{"text": "{}"}}"#, "a ".repeat(5000));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", r#"{"text": "#.into(), 400, "bad_json"),
        ("not an object", "[1, 2]".into(), 422, "invalid_body"),
        (
            "missing text",
            r#"{"question": "hi"}"#.into(),
            422,
            "invalid_body",
        ),
        (
            "text is a number",
            r#"{"text": 5}"#.into(),
            422,
            "invalid_body",
        ),
        ("empty text", r#"{"text": "   "}"#.into(), 422, "empty_text"),
        (
            "text over the character limit",
            format!(r#"{{"text": "{long_text}"}}"#),
            422,
            "text_too_long",
        ),
        (
            "limit zero",
            r#"{"text": "hi", "limit": 0}"#.into(),
            422,
            "bad_limit",
        ),
        (
            "limit too high",
            r#"{"text": "hi", "limit": 11}"#.into(),
            422,
            "bad_limit",
        ),
        (
            "body over the byte limit",
            oversize,
            413,
            "payload_too_large",
        ),
    ];

    for (what, body, status, code) in cases {
        let response = app.post_raw("/api/ask", body).await;

        assert_eq!(response.status().as_u16(), status, "{what}");
        let error = json(response).await;
        assert_eq!(error["code"], code, "{what}: {error}");
        assert!(
            !error["message"].as_str().expect("message").is_empty(),
            "{what}: the message says what is wrong"
        );
    }
}

#[tokio::test]
async fn a_body_without_json_content_type_is_refused() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(format!("{}/api/ask", app.address))
        .body(r#"{"text": "hi"}"#)
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), 415);
    assert_eq!(json(response).await["code"], "unsupported_media_type");
}
