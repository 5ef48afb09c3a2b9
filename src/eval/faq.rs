//! `tandem eval faq <dir>`: FAQ retrieval quality on a folder holding `faq.jsonl`
//! (`{"id", "question", "answer"}` per line) and `queries.tsv` (`query<TAB>faq_id` with a header),
//! the layout of StackFAQ.
//!
//! Metrics: top-1 accuracy (the right entry first), recall@3 (among the first three), mean
//! reciprocal rank over the first ten, and per-query latency of the retrieve step.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{EvalError, percentile};
use crate::bot::brain::OOS_METHOD;
use crate::bot::tuning::ByModel;
use crate::bot::{Bot, Brain, OosConfig};
use crate::knowledge::{self, FaqEntry, markdown_to_safe_html};
use crate::model::{Encoder, TrainConfig};

/// Ranks deeper than this count as a miss for MRR.
const MRR_DEPTH: usize = 10;

#[derive(Deserialize)]
struct Row {
    id: String,
    question: String,
    answer: String,
}

/// The figures `tandem eval faq` prints.
#[derive(Debug, Clone)]
pub struct FaqReport {
    /// FAQ entries indexed.
    pub entries: usize,
    /// Queries run.
    pub queries: usize,
    /// Share of queries whose first result is right.
    pub top1: f64,
    /// Share of queries with the right entry in the first three.
    pub recall_at_3: f64,
    /// Mean reciprocal rank (first ten results).
    pub mrr: f64,
    /// Median retrieve latency.
    pub p50: Duration,
    /// 99th percentile retrieve latency.
    pub p99: Duration,
}

impl fmt::Display for FaqReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "entries      {}", self.entries)?;
        writeln!(f, "queries      {}", self.queries)?;
        writeln!(f, "top-1        {:.1}%", self.top1 * 100.0)?;
        writeln!(f, "recall@3     {:.1}%", self.recall_at_3 * 100.0)?;
        writeln!(f, "MRR@{MRR_DEPTH}       {:.3}", self.mrr)?;
        writeln!(f, "latency p50  {:.2} ms", self.p50.as_secs_f64() * 1e3)?;
        write!(f, "latency p99  {:.2} ms", self.p99.as_secs_f64() * 1e3)
    }
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Loads the entries of `faq.jsonl` as FAQ entries (no alternatives: the benchmark has none).
pub fn load_entries(path: &Path) -> Result<Vec<FaqEntry>, EvalError> {
    let mut entries = Vec::new();
    for (i, line) in read(path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|e| EvalError::Data {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        entries.push(FaqEntry {
            answer_html: markdown_to_safe_html(&row.answer),
            id: row.id,
            question: row.question,
            alternatives: Vec::new(),
            tags: Vec::new(),
            lang: "en".into(),
            intent: None,
            related: Vec::new(),
            answer_markdown: row.answer,
            source: path.to_owned(),
        });
    }
    Ok(entries)
}

/// Loads `query<TAB>faq_id` pairs, skipping the header.
pub fn load_queries(path: &Path) -> Result<Vec<(String, String)>, EvalError> {
    let mut queries = Vec::new();
    for (i, line) in read(path)?.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (query, id) = line.split_once('\t').ok_or_else(|| EvalError::Data {
            path: path.to_owned(),
            line: i + 1,
            message: "expected `query<TAB>faq_id`".into(),
        })?;
        queries.push((query.to_owned(), id.trim().to_owned()));
    }
    Ok(queries)
}

/// What serving's fine-tune would learn from the benchmark's knowledge base: its labelled texts,
/// by model (the queries are never among them).
pub fn tune_texts(dir: &Path, reads_chinese: bool) -> Result<ByModel, EvalError> {
    let knowledge = knowledge::from_entries(load_entries(&dir.join("faq.jsonl"))?);
    Ok(crate::bot::tuning::split(&knowledge, reads_chinese).texts)
}

/// Runs the evaluation over the benchmark folder `dir`: hybrid retrieval with `encoder`, BM25
/// alone without.
pub fn run(dir: &Path, encoder: Option<&Encoder>) -> Result<FaqReport, EvalError> {
    let queries_path = dir.join("queries.tsv");
    let knowledge = knowledge::from_entries(load_entries(&dir.join("faq.jsonl"))?);
    let queries = load_queries(&queries_path)?;
    for (i, (_, id)) in queries.iter().enumerate() {
        if knowledge.faq(id).is_none() {
            return Err(EvalError::Data {
                path: queries_path.clone(),
                line: i + 2,
                message: format!("faq_id `{id}` is not in faq.jsonl"),
            });
        }
    }
    let entries = knowledge.faqs.len();
    let mut bot = Bot::new(knowledge)?;
    if let Some(encoder) = encoder {
        let oos = OosConfig {
            method: OOS_METHOD,
            threshold: f32::INFINITY,
        };
        let brain = Brain::build(bot.knowledge(), encoder, &TrainConfig::default(), oos)?;
        bot = bot.with_brain(Arc::new(brain));
    }
    let (mut top1, mut top3, mut rr) = (0usize, 0usize, 0.0f64);
    let mut latencies = Vec::with_capacity(queries.len());
    for (query, gold) in &queries {
        let start = Instant::now();
        let embedding = match encoder {
            Some(encoder) => encoder.embed(&[query.as_str()])?.pop(),
            None => None,
        };
        let candidates = bot.retrieve(query, embedding.as_deref(), MRR_DEPTH)?;
        latencies.push(start.elapsed());
        if let Some(rank) = candidates.iter().position(|c| &c.entry.id == gold) {
            top1 += usize::from(rank == 0);
            top3 += usize::from(rank < 3);
            rr += 1.0 / (rank + 1) as f64;
        }
    }
    let n = queries.len().max(1) as f64;
    Ok(FaqReport {
        entries,
        queries: queries.len(),
        top1: top1 as f64 / n,
        recall_at_3: top3 as f64 / n,
        mrr: rr / n,
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
    })
}
