//! Unit tests of the fine-tune's split of a knowledge base and of its judgement.

use super::*;
use crate::knowledge::FaqEntry;

/// The texts of a labelled set, in order.
fn texts_of(set: &Labelled) -> Vec<&str> {
    set.texts.iter().map(|(t, _)| t.as_str()).collect()
}

#[test]
fn every_fourth_alternative_is_held_out_and_chinese_goes_to_its_model() {
    let mut knowledge = Knowledge::default();
    knowledge.faqs.push(FaqEntry {
        id: "shipping".into(),
        question: "how much is shipping".into(),
        alternatives: [
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "运费多少",
            "邮费怎么算",
            "快递费多少",
            "h",
        ]
        .map(String::from)
        .to_vec(),
        tags: Vec::new(),
        lang: "en".into(),
        intent: None,
        related: Vec::new(),
        answer_markdown: "Standard shipping is **free** over 50 euros.".into(),
        answer_html: String::new(),
        source: "faq/shipping.md".into(),
    });
    let split = split(&knowledge, true);
    let held: Vec<&str> = split.held_out.iter().map(|t| t.text.as_str()).collect();
    // Every fourth, in either language.
    assert_eq!(held, ["d", "运费多少"]);
    let trained = texts_of(&split.texts.english);
    // The answer is not a training text (see `split`).
    assert_eq!(
        trained,
        ["how much is shipping", "a", "b", "c", "e", "f", "g", "h"]
    );
    assert!(
        split
            .texts
            .english
            .texts
            .iter()
            .all(|(_, label)| *label == 0)
    );
    // The Chinese texts are the Chinese model's, with a label of its own.
    let chinese = texts_of(&split.texts.chinese);
    assert_eq!(chinese, ["邮费怎么算", "快递费多少"]);
    assert_eq!(split.texts.chinese.names, ["faq shipping"]);
    assert_eq!(split.knowledge.faqs[0].alternatives.len(), 9);
    assert_eq!(split.held_out[0].faq.as_deref(), Some("shipping"));
}

#[test]
fn a_model_learns_only_from_two_labels_with_two_texts_each() {
    // Tried: two labels of one text each (SMP2019's two Latin-only rows), then one label
    // with two texts, then both labels with two.
    let mut set = Labelled::default();
    set.push("camera360".into(), "app");
    set.push("AXN".into(), "tvchannel");
    assert!(!set.learns());
    set.push("wechat".into(), "app");
    assert!(!set.learns());
    set.push("CCTV".into(), "tvchannel");
    assert!(set.learns());
    assert_eq!(set.labels(), 2);
    assert_eq!(set.texts[3], ("CCTV".to_owned(), 1));
}

#[test]
fn beating_needs_more_right_answers_than_wrong_ones_cost() {
    let serving = Judged {
        tests: 10,
        right: 7,
        wrong: 1,
    };
    let tie = Judged {
        tests: 10,
        right: 8,
        wrong: 2,
    };
    let better = Judged {
        tests: 10,
        right: 8,
        wrong: 1,
    };
    assert!(!tie.beats(&serving));
    assert!(better.beats(&serving));
    assert!(!serving.beats(&serving));
}
