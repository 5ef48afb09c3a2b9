//! Live knowledge updates: an edited FAQ file answers the next question within seconds while
//! the customer stays connected; a broken edit is rejected (the last good version serves and
//! the status names file and line) until it is fixed; the admin API reloads on demand; an edit
//! that breaks a passing `tests.yaml` test is reported.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::customer::Customer;
use crate::helpers::{TestApp, eventually, try_spawn, writable_fixture};

/// The bar from the issue: an edit answers within this long.
const RELOAD_WITHIN: Duration = Duration::from_secs(5);

const SHIPPING: &str = "faq/shipping-cost.md";

fn shipping_cost(answer: &str) -> String {
    format!(
        "---\nquestion: How much does shipping cost?\nalternatives:\n  - What are your delivery fees?\n  \
         - Is shipping free?\n  - how much is postage\ntags: [shipping]\nintent: shipping\n\
         related: [delivery-time]\n---\n{answer}\n"
    )
}

/// `GET /api/knowledge/status` as a signed-in agent.
async fn status(app: &TestApp, cookie: &str) -> Value {
    app.client
        .get(format!("{}/api/knowledge/status", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("status is JSON")
}

/// Polls `/api/ask` (stateless, so polling it does not look like a repeating customer) until
/// the best answer for `question` contains `text`; returns how long that took.
async fn until_answer(app: &TestApp, question: &str, text: &str, since: Instant) -> Duration {
    let what = format!("an answer to {question:?} with {text:?}");
    eventually(&what, RELOAD_WITHIN * 3, || async {
        let found: Value = app.ask(question).await.json().await.ok()?;
        found["matches"][0]["answer_markdown"]
            .as_str()
            .is_some_and(|a| a.contains(text))
            .then(|| since.elapsed())
    })
    .await
    .expect("the edit is served")
}

/// Asks on the chat socket and returns the answer's text.
async fn chat_answer(customer: &mut Customer, id: &str, question: &str) -> String {
    let (_, reply) = customer.ask(id, question).await;
    assert_eq!(reply["type"], "answer", "{reply}");
    reply["text"].as_str().expect("text").to_owned()
}

fn write(dir: &Path, file: &str, content: &str) {
    std::fs::write(dir.join(file), content).expect("write knowledge file");
}

#[tokio::test]
async fn an_edited_faq_answers_the_next_question_and_a_broken_edit_keeps_the_last_good_one() {
    let kb = writable_fixture();
    let app = try_spawn(kb.path(), |_| {}).await.expect("server starts");
    let password = app.add_agent("ed@example.com", "Ed", &["general"]).await;
    let cookie = app.sign_in("ed@example.com", &password).await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    assert!(
        chat_answer(&mut customer, "m1", "How much does shipping cost?")
            .await
            .contains("free over $50")
    );

    // An edit goes live without a restart, within the bar.
    let edited = Instant::now();
    write(
        kb.path(),
        SHIPPING,
        &shipping_cost("Shipping is **free over $30**, otherwise $4.99."),
    );
    let took = until_answer(
        &app,
        "How much does shipping cost?",
        "free over $30",
        edited,
    )
    .await;
    eprintln!("edit answered after {took:?}");
    assert!(took < RELOAD_WITHIN, "took {took:?}");
    assert!(
        chat_answer(&mut customer, "m2", "When will my parcel arrive?")
            .await
            .contains("3–5")
    );
    assert!(
        chat_answer(&mut customer, "m3", "Is shipping free?")
            .await
            .contains("free over $30")
    );
    assert_eq!(status(&app, &cookie).await["reloads"], 1);

    // A broken edit: rejected, the last good answer serves, the status says where.
    write(
        kb.path(),
        SHIPPING,
        "---\nquestion: How much does shipping cost?\nalternatives: a: b\n---\nBroken\n",
    );
    let broken = eventually(
        "the broken edit is rejected",
        Duration::from_secs(30),
        || async {
            let now = status(&app, &cookie).await;
            (now["status"] == "error").then_some(now)
        },
    )
    .await
    .expect("rejected");
    // The entry's own mistake, where it is (once: references to the entry are not blamed).
    let errors = broken["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["file"] == SHIPPING
            && e["line"] == 3
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("invalid YAML"))),
        "{broken}"
    );
    assert_eq!(broken["failures"], 1);
    assert!(
        chat_answer(&mut customer, "m4", "delivery time")
            .await
            .contains("3–5")
    );
    assert!(
        chat_answer(&mut customer, "m5", "how much is postage")
            .await
            .contains("free over $30")
    );

    // Fixed: it recovers.
    let fixed = Instant::now();
    write(
        kb.path(),
        SHIPPING,
        &shipping_cost("Shipping is **free over $25**."),
    );
    until_answer(&app, "How much does shipping cost?", "free over $25", fixed).await;
    let now = status(&app, &cookie).await;
    assert_eq!(
        (now["status"].as_str(), now["errors"].clone()),
        (Some("ok"), json!([])),
        "{now}"
    );
    assert!(
        chat_answer(&mut customer, "m6", "When will my parcel arrive?")
            .await
            .contains("3–5")
    );
    assert!(
        chat_answer(&mut customer, "m7", "What are your delivery fees?")
            .await
            .contains("free over $25")
    );

    // Prometheus sees the same: two reloads applied, one rejected.
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.contains("\ntandem_knowledge_reloads_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\ntandem_knowledge_reload_failures_total 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn admins_reload_on_demand_and_edits_that_break_passing_tests_are_reported() {
    let kb = writable_fixture();
    write(
        kb.path(),
        "tests.yaml",
        "tests:\n  - text: how much is postage\n    intent: shipping\n    faq: shipping-cost\n",
    );
    let app = try_spawn(kb.path(), |s| s.watch_knowledge = false)
        .await
        .expect("server starts");
    let agent = app.add_agent("ed@example.com", "Ed", &["general"]).await;
    let agent_cookie = app.sign_in("ed@example.com", &agent).await;
    let admin = {
        let password = app.add_admin("boss@example.com", "Boss").await;
        app.sign_in("boss@example.com", &password).await
    };
    let reload = |cookie: String| {
        let (client, url) = (
            app.client.clone(),
            format!("{}/api/knowledge/reload", app.address),
        );
        async move {
            client
                .post(url)
                .header("cookie", cookie)
                .send()
                .await
                .expect("reload")
        }
    };

    // The entry stops being about shipping: the test that passed now fails.
    write(
        kb.path(),
        SHIPPING,
        "---\nquestion: Do you sell gift cards?\nalternatives:\n  - gift vouchers\ntags: [gifts]\n---\nYes, from $10.\n",
    );
    assert_eq!(
        reload(agent_cookie).await.status(),
        403,
        "agents may not reload"
    );
    let answer = reload(admin.clone()).await;
    assert_eq!(answer.status(), 200);
    let after: Value = answer.json().await.expect("status");
    assert_eq!(after["status"], "ok", "{after}");
    // The edit changed the intent model's examples: the tests run once its model is trained.
    let expected = json!(["\"how much is postage\" should get shipping / shipping-cost"]);
    let after = eventually("the regression report", Duration::from_secs(60), || async {
        let now = status(&app, &admin).await;
        (now["regressions"] == expected).then_some(now)
    })
    .await
    .expect("reported");
    // The final model serves: trained now, or loaded from the cache a previous run of the
    // suite left (the test servers share one), never the one from before the edit.
    let model = after["last_reload"]["intent_model"].clone();
    assert!(model == "trained" || model == "cached", "{after}");
    let found: Value = app
        .ask("Do you sell gift cards?")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        found["matches"][0]["answer_markdown"], "Yes, from $10.",
        "{found}"
    );

    write(kb.path(), "intents.yaml", "intents: [oops");
    let rejected = reload(admin).await;
    assert_eq!(rejected.status(), 422);
    let rejected: Value = rejected.json().await.expect("status");
    let errors = rejected["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["file"] == "intents.yaml"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("invalid YAML"))),
        "{rejected}"
    );
}

/// Waits until the status counts `reloads` applied reloads and returns it.
async fn after_reload(app: &TestApp, cookie: &str, reloads: u64) -> Value {
    eventually("the reload", Duration::from_secs(60), || async {
        let now = status(app, cookie).await;
        (now["reloads"] == reloads).then_some(now)
    })
    .await
    .expect("the edit is applied")
}

#[tokio::test]
async fn an_edit_embeds_only_what_it_changed_and_retrains_the_intent_model_out_of_the_way() {
    let kb = writable_fixture();
    let app = try_spawn(kb.path(), |_| {}).await.expect("server starts");
    let password = app.add_agent("ed@example.com", "Ed", &["general"]).await;
    let cookie = app.sign_in("ed@example.com", &password).await;
    // Unique texts: the brain cache the test servers share must not have seen them.
    let unique = uuid::Uuid::new_v4().simple().to_string();

    // The first edit also embeds `tests.yaml` (run against both versions).
    write(
        kb.path(),
        SHIPPING,
        &shipping_cost(&format!("Free over $30 ({unique} a).")),
    );
    let first = after_reload(&app, &cookie, 1).await;
    assert_eq!(first["last_reload"]["intent_model"], "kept", "{first}");

    // An answer's new text: one text embedded, the intent model kept.
    write(
        kb.path(),
        SHIPPING,
        &shipping_cost(&format!("Free over $35 ({unique} b).")),
    );
    let answer = after_reload(&app, &cookie, 2).await;
    assert_eq!(answer["last_reload"]["embedded"], 1, "{answer}");
    assert_eq!(answer["last_reload"]["intent_model"], "kept", "{answer}");
    until_answer(
        &app,
        "How much does shipping cost?",
        "Free over $35",
        Instant::now(),
    )
    .await;

    // A new alternative of an entry with an intent: one text embedded, served at once with the
    // intent model of before, whose successor trains in the background and then takes over.
    let with_alternative = shipping_cost(&format!("Free over $35 ({unique} b).")).replacen(
        "alternatives:\n",
        &format!("alternatives:\n  - postage price {unique}\n"),
        1,
    );
    write(kb.path(), SHIPPING, &with_alternative);
    let alternative = after_reload(&app, &cookie, 3).await;
    assert_eq!(alternative["last_reload"]["embedded"], 1, "{alternative}");
    let found: Value = app
        .ask(&format!("postage price {unique}"))
        .await
        .json()
        .await
        .expect("ask");
    assert_eq!(found["matches"][0]["id"], "shipping-cost", "{found}");
    let trained = eventually(
        "the intent model for the edit",
        Duration::from_secs(60),
        || async {
            let now = status(&app, &cookie).await;
            (now["last_reload"]["intent_model"] == "trained").then_some(now)
        },
    )
    .await
    .expect("trained in the background");
    assert_eq!(
        trained["reloads"], 3,
        "the same version, with its own model: {trained}"
    );
    let health: Value = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["model"], "ready", "{health}");
}

#[test]
fn a_restart_with_the_same_knowledge_loads_the_cached_model_instead_of_training() {
    // What was tried: build the brain of the fixture twice on one cache folder, as two starts
    // of the server would. The second must load every file of the first (the head's weights
    // and its labels, the vectors), not train again.
    use tandem::bot::{Brain, HeadSource, OosConfig};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge");
    let knowledge = tandem::knowledge::load(&dir).expect("fixture loads");
    let cache = TempDir::new().expect("temp dir");
    let encoder = crate::model::served_encoder();
    let oos = OosConfig {
        method: tandem::bot::brain::OOS_METHOD,
        threshold: tandem::model::mahalanobis::DEFAULT_THRESHOLD,
    };
    let build = || {
        Brain::load_or_build(
            &knowledge,
            encoder,
            &tandem::model::TrainConfig::default(),
            oos,
            cache.path(),
            encoder.fingerprint(),
            None,
            false,
        )
        .expect("brain")
    };
    let first = build();
    assert_eq!(first.head_source(), HeadSource::Trained);
    let second = build();
    assert_eq!(second.head_source(), HeadSource::Cached);
    // The cached brain reads like the trained one, in both languages.
    for text in ["how much is shipping?", "运费多少钱"] {
        let embedding = encoder.embed(&[text]).expect("embed").remove(0);
        let a = first.understand(text, &embedding).expect("understand");
        let b = second.understand(text, &embedding).expect("understand");
        assert_eq!(a, b, "{text}");
    }
}
