//! The fine-tune as serving runs it: in the background after the intent model, judged, and
//! reported; `/health` says `ready` only once it is over.

use serde_json::Value;

use crate::customer::Customer;
use crate::helpers::{TestApp, fixture, try_spawn, writable_copy};

/// `GET /api/knowledge/status` as a newly added agent.
async fn knowledge_status(app: &TestApp) -> Value {
    let password = app.add_agent("tia@example.com", "Tia", &["general"]).await;
    let cookie = app.sign_in("tia@example.com", &password).await;
    app.get_with(&cookie, "/api/knowledge/status")
        .await
        .json()
        .await
        .expect("status is JSON")
}

/// Held-out phrasings for the fixture knowledge base, so that the fine-tune has a judge.
const TESTS: &str = r#"tests:
  - {text: "how many days until my package gets here", intent: shipping, faq: delivery-time}
  - {text: "what do you charge for postage", intent: shipping, faq: shipping-cost}
  - {text: "can i send my purchase back", intent: returns, faq: return-policy}
  - {text: "hello there", intent: greeting}
"#;

#[tokio::test]
async fn health_says_ready_only_once_the_fine_tune_is_judged_and_the_chosen_encoder_serves() {
    // What was tried: a server with fine-tuning on and a cache of its own (so nothing tuned is
    // found and the encoder really trains) over the fixture knowledge base with a tests.yaml. The helper
    // returns once `/health` says "ready"; by then the fine-tune must have finished: the
    // status shows a final stage, both encoders' judgements on the held-out phrasings, and
    // which encoder serves; and the chat answers with it.
    let knowledge = writable_copy(&fixture("knowledge"));
    std::fs::write(knowledge.path().join("tests.yaml"), TESTS).expect("write tests.yaml");
    let cache = tempfile::TempDir::new().expect("temp dir");
    let app = try_spawn(knowledge.path(), |s| {
        s.fine_tune = true;
        s.cache_dir = Some(cache.path().to_owned());
    })
    .await
    .expect("server starts and the model gets ready");
    let status = knowledge_status(&app).await;
    let tune = &status["fine_tune"];
    let stage = tune["stage"].as_str().unwrap_or_default();
    assert!(
        ["serving-tuned", "kept-serving"].contains(&stage),
        "ready before the fine-tune ended: {tune}"
    );
    for judged in ["serving", "tuned"] {
        assert!(tune[judged]["tests"].as_u64() > Some(0), "{tune}");
    }
    assert_eq!(tune["step"], tune["steps"], "every step ran: {tune}");
    // The English model tunes last (after the Chinese one where there is Chinese to learn).
    assert_eq!(tune["model"], "english", "{tune}");
    assert_eq!(tune["serving"]["tests"], 4, "{tune}");
    let serving = if stage == "serving-tuned" {
        "tuned"
    } else {
        "shipped"
    };
    assert_eq!(tune["encoder"], serving, "{tune}");
    let tuned_dirs = std::fs::read_dir(cache.path().join("tuned"))
        .expect("the tuned model is cached")
        .count();
    assert_eq!(tuned_dirs, 1, "one tuned model, written whole");

    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let (_, reply) = customer.ask("q", "how long will my delivery take").await;
    assert_eq!(reply["faq_id"], "delivery-time", "{reply}");
}

#[tokio::test]
async fn without_anything_to_judge_it_by_no_fine_tune_runs() {
    // What was tried: fine-tuning on over the fixture knowledge base as it is (no tests.yaml,
    // too few alternatives to hold any out): the shipped encoder serves, and nothing is tuned.
    let cache = tempfile::TempDir::new().expect("temp dir");
    let app = try_spawn(&fixture("knowledge"), |s| {
        s.fine_tune = true;
        s.cache_dir = Some(cache.path().to_owned());
    })
    .await
    .expect("server starts and the model gets ready");
    let status = knowledge_status(&app).await;
    assert_eq!(status["fine_tune"]["stage"], "nothing-to-judge", "{status}");
    assert_eq!(status["fine_tune"]["encoder"], "shipped", "{status}");
    assert!(!cache.path().join("tuned").exists(), "nothing tuned");
}
