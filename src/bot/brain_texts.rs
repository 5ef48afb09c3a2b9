//! The texts a brain is built from: the labelled training examples and the phrasings and
//! answers retrieval compares messages with.

use crate::knowledge::{Knowledge, markdown_to_plain_text};

/// The labelled training texts of a knowledge base.
pub(super) fn training_texts(knowledge: &Knowledge) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    for intent in &knowledge.intents {
        texts.extend(
            intent
                .examples
                .iter()
                .map(|e| (e.clone(), intent.name.clone())),
        );
    }
    for entry in &knowledge.faqs {
        if let Some(intent) = &entry.intent {
            for text in std::iter::once(&entry.question).chain(&entry.alternatives) {
                texts.push((text.clone(), intent.clone()));
            }
        }
    }
    texts
}

/// The texts embedded for retrieval: phrasings with their owners, and answers.
pub(super) fn retrieval_texts(knowledge: &Knowledge) -> (Vec<String>, Vec<usize>, Vec<String>) {
    let mut phrasings = Vec::new();
    let mut owners = Vec::new();
    for (ord, entry) in knowledge.faqs.iter().enumerate() {
        for text in std::iter::once(&entry.question).chain(&entry.alternatives) {
            phrasings.push(text.clone());
            owners.push(ord);
        }
    }
    let answers = knowledge
        .faqs
        .iter()
        .map(|e| markdown_to_plain_text(&e.answer_markdown))
        .collect();
    (phrasings, owners, answers)
}
