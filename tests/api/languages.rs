//! A customer who writes Chinese reads everything the bot and the server write in Chinese: the
//! greeting (the intent's Chinese reply), the handoff and the offer to leave a message, the
//! agent's joining and resolving, the rating request; a customer who writes English reads the
//! same moments in English. The fixture knowledge base has a Chinese entry and Chinese texts.

use serde_json::{Value, json};

use crate::agent_client::Console;
use crate::customer::Customer;
use crate::helpers::spawn_app;

/// Whether `text` is written in Chinese (has Han characters).
fn chinese(text: &Value) -> bool {
    text.as_str()
        .is_some_and(|t| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
}

#[tokio::test]
async fn a_chinese_customer_reads_every_bot_and_server_turn_in_chinese() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    let welcome = customer.hello(None).await;
    let id = welcome["conversation_id"].as_str().expect("id").to_owned();

    let (_, greeting) = customer.ask("m1", "你好").await;
    assert_eq!(greeting["text"], "你好！请问有什么可以帮您？", "{greeting}");

    // Nobody is online: the handoff's words and the offer come in Chinese.
    customer.say("m2", "转人工").await;
    let handoff = customer.next_of("handoff").await;
    assert!(chinese(&handoff["text"]), "{handoff}");
    let offline = customer.next_of("offline").await;
    assert!(chinese(&offline["text"]), "{offline}");
    let mut sam = Console::agent(&app, "sam@example.com", "Sam", &["general"]).await;
    let waiting = id;
    sam.send(json!({"type": "claim", "conversation_id": waiting}))
        .await;
    let joined = customer.next_of("notice").await;
    assert_eq!(joined["text"], "Sam 已加入对话。", "{joined}");
    sam.send(json!({"type": "resolve", "conversation_id": waiting}))
        .await;
    let resolved = customer.next_of("notice").await;
    assert_eq!(resolved["text"], "Sam 已结束本次对话。", "{resolved}");
    let csat = customer.next_of("csat_request").await;
    assert!(chinese(&csat["text"]), "{csat}");
}

#[tokio::test]
async fn an_english_customer_reads_them_in_english() {
    let app = spawn_app().await;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let (_, greeting) = customer.ask("m1", "hello").await;
    assert_eq!(greeting["text"], "Hello! How can I help?", "{greeting}");
    customer.say("m2", "talk to a human").await;
    let handoff = customer.next_of("handoff").await;
    assert!(!chinese(&handoff["text"]), "{handoff}");
    let offline = customer.next_of("offline").await;
    assert!(
        offline["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Nobody from our team is online")),
        "{offline}"
    );
}

/// An entry in `lang` with one alternative.
fn entry(id: &str, question: &str, alternative: &str, lang: &str) -> tandem::knowledge::FaqEntry {
    tandem::knowledge::FaqEntry {
        id: id.into(),
        question: question.into(),
        alternatives: vec![alternative.into()],
        tags: Vec::new(),
        lang: lang.into(),
        intent: None,
        related: Vec::new(),
        answer_markdown: format!("Answer of {id}."),
        answer_html: String::new(),
        source: std::path::PathBuf::from(format!("{id}.md")),
    }
}

#[test]
fn a_chinese_message_is_answered_from_the_chinese_entries_only() {
    // Tried: a mixed message whose English words match an English entry far better than its
    // Chinese word matches the Chinese one. Search alone (no model), so the words decide.
    let knowledge = tandem::knowledge::from_entries(vec![
        entry(
            "shipping-cost",
            "How much is iphone shipping?",
            "iphone shipping cost",
            "en",
        ),
        entry("shipping-cost-zh", "运费多少？", "运费怎么算", "zh"),
    ]);
    let bot = tandem::bot::Bot::new(knowledge).expect("index");
    let found = bot
        .retrieve("iphone shipping cost 运费", None, 3)
        .expect("search");
    let ids: Vec<&str> = found.iter().map(|c| c.entry.id.as_str()).collect();
    assert_eq!(ids, vec!["shipping-cost-zh"]);
    let found = bot
        .retrieve("iphone shipping cost", None, 3)
        .expect("search");
    let ids: Vec<&str> = found.iter().map(|c| c.entry.id.as_str()).collect();
    assert_eq!(ids, vec!["shipping-cost"], "English finds English only");
    // Traditional characters find the entry written in simplified ones.
    let found = bot.retrieve("運費怎麼算", None, 3).expect("search");
    assert_eq!(
        found.first().map(|c| c.entry.id.as_str()),
        Some("shipping-cost-zh")
    );
}
