//! Questions the bot could not answer, grouped by meaning: the list an editor turns into new
//! FAQ entries.
//!
//! A customer message is unanswered when the bot's reply to it was a fallback ("could you
//! rephrase?"), a handoff for low confidence, an answer the customer marked not helpful, or a
//! clarifying question the customer left without choosing. Messages are grouped greedily by the
//! cosine of their sentence embeddings to each group's centroid: the same question in other
//! words scores 0.61–0.79 with this encoder, other questions on the same topic 0.25–0.48
//! (`cargo run --example encoder_probe -- pairs`), so [`SAME_QUESTION`] sits between them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Range;
use crate::model::{Embedder, ModelError};
use crate::storage::{StorageError, Store, TurnEvent};

/// Cosine to a group's centroid from which a message joins the group.
pub const SAME_QUESTION: f32 = 0.55;
/// Distinct messages looked at: the most frequent ones (embedding costs a few ms each).
const MAX_DISTINCT: usize = 2000;
/// Other examples listed per group.
const EXAMPLES: usize = 5;

/// Why a question counts as unanswered.
pub const REASONS: [&str; 4] = [
    "fallback",
    "low_confidence",
    "unhelpful",
    "clarify_abandoned",
];

/// A group of unanswered questions that mean the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// Messages in the group.
    pub count: usize,
    /// The most frequent wording.
    pub example: String,
    /// Other wordings, most frequent first.
    pub examples: Vec<String>,
    /// How many for each reason.
    pub reasons: BTreeMap<String, usize>,
}

/// Why the list could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UnansweredError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The encoder failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The unanswered questions of `range`, grouped, largest group first.
pub async fn unanswered(
    store: &Store,
    embedder: &Embedder,
    range: Range,
) -> Result<Vec<Cluster>, UnansweredError> {
    let events = store.turn_events(range.start_ms(), range.end_ms()).await?;
    let items = collect(&events);
    let distinct = distinct(&items);
    let mut embeddings = Vec::with_capacity(distinct.len());
    for (text, _) in &distinct {
        embeddings.push(embedder.embed(text).await?);
    }
    Ok(cluster(&distinct, &embeddings))
}

/// Each unanswered customer message with its reason, in conversation order.
pub fn collect(events: &[TurnEvent]) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    let mut conversation: Option<&str> = None;
    let mut last: Option<&str> = None;
    let mut clarified: Option<&str> = None;
    for event in events {
        if conversation != Some(event.conversation_id.as_str()) {
            // A clarifying question still open when the conversation ends was abandoned.
            found.extend(
                clarified
                    .take()
                    .map(|t| (t.to_owned(), "clarify_abandoned")),
            );
            conversation = Some(&event.conversation_id);
            last = None;
        }
        if event.from_customer {
            if let Some(text) = clarified.take()
                && !event.choice
            {
                found.push((text.to_owned(), "clarify_abandoned"));
            }
            if !event.choice {
                last = event.text.as_deref();
            }
            continue;
        }
        let Some(text) = last else { continue };
        let reason = match (event.decision.as_deref(), event.reason.as_deref()) {
            (Some("fallback"), _) => Some("fallback"),
            (Some("handoff"), Some("low_confidence")) => Some("low_confidence"),
            (Some("answer"), _) if event.helpful == Some(false) => Some("unhelpful"),
            (Some("clarify" | "narrow"), _) => {
                clarified = Some(text);
                None
            }
            _ => None,
        };
        found.extend(reason.map(|r| (text.to_owned(), r)));
    }
    found.extend(clarified.map(|t| (t.to_owned(), "clarify_abandoned")));
    found
}

/// Distinct wordings (case and surrounding spaces aside), most frequent first, each with its
/// reasons.
fn distinct(items: &[(String, &'static str)]) -> Vec<(String, BTreeMap<String, usize>)> {
    let mut by_text: HashMap<String, (String, BTreeMap<String, usize>)> = HashMap::new();
    for (text, reason) in items {
        let entry = by_text
            .entry(text.trim().to_lowercase())
            .or_insert_with(|| (text.trim().to_owned(), BTreeMap::new()));
        *entry.1.entry((*reason).to_owned()).or_insert(0) += 1;
    }
    let mut all: Vec<_> = by_text.into_values().collect();
    let total = |r: &BTreeMap<String, usize>| r.values().sum::<usize>();
    all.sort_by(|a, b| total(&b.1).cmp(&total(&a.1)).then_with(|| a.0.cmp(&b.0)));
    all.truncate(MAX_DISTINCT);
    all
}

/// Greedy grouping of `distinct` wordings (most frequent first) by cosine to each group's
/// count-weighted centroid.
fn cluster(
    distinct: &[(String, BTreeMap<String, usize>)],
    embeddings: &[Vec<f32>],
) -> Vec<Cluster> {
    let mut groups: Vec<(Cluster, Vec<f32>)> = Vec::new();
    for ((text, reasons), embedding) in distinct.iter().zip(embeddings) {
        let count: usize = reasons.values().sum();
        let best = groups
            .iter_mut()
            .map(|g| (crate::model::cosine(&g.1, embedding), g))
            .filter(|(score, _)| *score >= SAME_QUESTION)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, g)| g);
        let weighted = embedding.iter().map(|x| x * count as f32);
        match best {
            Some((group, centroid)) => {
                group.count += count;
                if group.examples.len() < EXAMPLES {
                    group.examples.push(text.clone());
                }
                for (reason, n) in reasons {
                    *group.reasons.entry(reason.clone()).or_insert(0) += n;
                }
                for (c, w) in centroid.iter_mut().zip(weighted) {
                    *c += w;
                }
            }
            None => groups.push((
                Cluster {
                    count,
                    example: text.clone(),
                    examples: Vec::new(),
                    reasons: reasons.clone(),
                },
                weighted.collect(),
            )),
        }
    }
    let mut clusters: Vec<Cluster> = groups.into_iter().map(|(c, _)| c).collect();
    clusters.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.example.cmp(&b.example))
    });
    clusters
}

/// The groups as CSV: count, example, other examples (` | `-separated), then one column per
/// reason.
pub fn to_csv(clusters: &[Cluster]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["count", "example", "other_examples"];
    header.extend(REASONS);
    out.write_record(&header)?;
    for c in clusters {
        let mut record = vec![
            c.count.to_string(),
            inert_cell(&c.example),
            inert_cell(&c.examples.join(" | ")),
        ];
        record.extend(
            REASONS
                .iter()
                .map(|r| c.reasons.get(*r).copied().unwrap_or(0).to_string()),
        );
        out.write_record(&record)?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A customer's text as a spreadsheet cell that stays text: a cell starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return is a formula to Excel, LibreOffice and Google Sheets
/// (`=HYPERLINK(...)` typed into the chat would become a live link in the export), so such a
/// cell gets a leading apostrophe, as OWASP's "CSV injection" advice says. Whitespace before
/// the sign does not help the attacker in every program, but costs nothing to cover.
fn inert_cell(text: &str) -> String {
    let starts_formula = text
        .trim_start_matches(' ')
        .starts_with(['=', '+', '-', '@', '\t', '\r']);
    if starts_formula {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_as_formulas_stay_text() {
        for formula in [
            "=HYPERLINK(\"http://evil.example\",\"click\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "  =1",
        ] {
            assert_eq!(inert_cell(formula), format!("'{formula}"), "{formula:?}");
        }
        assert_eq!(inert_cell("where is my order?"), "where is my order?");
        assert_eq!(inert_cell("a = b"), "a = b");
    }

    fn customer(conversation: &str, text: &str, choice: bool) -> TurnEvent {
        TurnEvent {
            conversation_id: conversation.to_owned(),
            from_customer: true,
            text: Some(text.to_owned()),
            decision: None,
            reason: None,
            choice,
            helpful: None,
        }
    }

    fn bot(
        conversation: &str,
        decision: &str,
        reason: Option<&str>,
        helpful: Option<bool>,
    ) -> TurnEvent {
        TurnEvent {
            conversation_id: conversation.to_owned(),
            from_customer: false,
            text: None,
            decision: Some(decision.to_owned()),
            reason: reason.map(str::to_owned),
            choice: false,
            helpful,
        }
    }

    #[test]
    fn misses_unhelpful_answers_and_abandoned_clarifications_are_unanswered() {
        let events = vec![
            customer("a", "klarna?", false),
            bot("a", "fallback", None, None),
            customer("a", "pay later", false),
            bot("a", "handoff", Some("low_confidence"), None),
            customer("b", "where is it", false),
            bot("b", "answer", None, Some(false)),
            customer("b", "refund", false),
            bot("b", "clarify", None, None),
            customer("b", "Refund status", true),
            bot("b", "answer", None, Some(true)),
            customer("c", "cancel", false),
            bot("c", "clarify", None, None),
            customer("c", "never mind", false),
            bot("c", "reply", None, None),
            customer("d", "gift wrap", false),
            bot("d", "clarify", None, None),
        ];
        assert_eq!(
            collect(&events),
            vec![
                ("klarna?".to_owned(), "fallback"),
                ("pay later".to_owned(), "low_confidence"),
                ("where is it".to_owned(), "unhelpful"),
                ("cancel".to_owned(), "clarify_abandoned"),
                ("gift wrap".to_owned(), "clarify_abandoned"),
            ],
            "a chosen clarification ('refund') is answered"
        );
    }

    #[test]
    fn wordings_close_in_meaning_share_a_group_and_the_csv_has_every_reason() {
        let reasons = |r: &str, n: usize| BTreeMap::from([(r.to_owned(), n)]);
        let distinct = vec![
            ("do you take klarna".to_owned(), reasons("fallback", 3)),
            ("gift wrapping?".to_owned(), reasons("fallback", 2)),
            ("klarna payments".to_owned(), reasons("unhelpful", 1)),
        ];
        let embeddings = vec![
            vec![1.0, 0.1, 0.0],
            vec![0.0, 0.2, 1.0],
            vec![0.9, 0.2, 0.1],
        ];
        let clusters = cluster(&distinct, &embeddings);
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0].count, 4);
        assert_eq!(clusters[0].example, "do you take klarna");
        assert_eq!(clusters[0].examples, vec!["klarna payments".to_owned()]);
        assert_eq!(
            clusters[0].reasons,
            BTreeMap::from([("fallback".to_owned(), 3), ("unhelpful".to_owned(), 1)])
        );
        let csv = to_csv(&clusters).expect("csv");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(
                "count,example,other_examples,fallback,low_confidence,unhelpful,clarify_abandoned"
            )
        );
        assert_eq!(
            lines.next(),
            Some("4,do you take klarna,klarna payments,3,0,1,0")
        );
        assert_eq!(lines.next(), Some("2,gift wrapping?,,2,0,0,0"));
    }

    #[test]
    fn the_same_words_in_other_case_count_as_one_wording() {
        let items = vec![
            ("Klarna?".to_owned(), "fallback"),
            ("klarna? ".to_owned(), "fallback"),
            ("gift".to_owned(), "unhelpful"),
        ];
        let d = distinct(&items);
        assert_eq!(d[0].0, "Klarna?");
        assert_eq!(d[0].1.get("fallback"), Some(&2));
        assert_eq!(d.len(), 2);
    }
}
