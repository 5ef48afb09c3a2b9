//! Whether a complaint can be told from its topic by a model: a two-class head (the
//! complaint intent's examples against every other example and FAQ phrasing, the complaints
//! repeated to balance the classes) on the encoder's embeddings and n-grams, printed for
//! angry and calm messages about the same topics. Messages are given on stdin, one per line,
//! `angry<TAB>text` or `calm<TAB>text`.
//!
//! `cargo run --release --example tone_probe -- knowledge < messages.tsv`

use std::io::{BufRead, Write};
use std::path::Path;

use tandem::model::head::Example;
use tandem::model::{Embeds, IntentHead, TrainConfig, features};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "knowledge".into());
    let knowledge = tandem::knowledge::load(Path::new(&dir))?;
    let encoder = tandem::model::Encoder::load(Path::new("models/all-MiniLM-L6-v2"))?
        .with_chinese(Path::new("models/use-multilingual-v3"))?;
    let mut rows: Vec<(String, String)> = Vec::new();
    for intent in &knowledge.intents {
        let label = if intent.name == "complaint" {
            "complaint"
        } else {
            "other"
        };
        rows.extend(
            intent
                .examples
                .iter()
                .map(|e| (e.clone(), label.to_owned())),
        );
    }
    for entry in &knowledge.faqs {
        for text in std::iter::once(&entry.question).chain(&entry.alternatives) {
            rows.push((text.clone(), "other".to_owned()));
        }
    }
    let complaints = rows.iter().filter(|r| r.1 == "complaint").count();
    let repeat = (rows.len() - complaints) / complaints.max(1);
    let balanced: Vec<(String, String)> = rows
        .iter()
        .flat_map(|r| std::iter::repeat_n(r.clone(), if r.1 == "complaint" { repeat } else { 1 }))
        .collect();
    let texts: Vec<String> = balanced.iter().map(|r| r.0.clone()).collect();
    let embeddings = encoder.embed_texts(&texts)?;
    let (labels, examples) = Example::labelled(&balanced, &embeddings);
    let started = std::time::Instant::now();
    let head = IntentHead::train(&examples, labels.clone(), &TrainConfig::default())?;
    eprintln!(
        "{} rows ({complaints} complaints x{repeat}), trained in {:.2} s",
        balanced.len(),
        started.elapsed().as_secs_f64()
    );
    let k = labels.iter().position(|l| l == "complaint").unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Some((kind, text)) = line.split_once('\t') else {
            continue;
        };
        let embedding = encoder.embed_texts(&[text.to_owned()])?.remove(0);
        let ngrams = features::ngrams(text);
        let p = head.probabilities(&[(&embedding, &ngrams)])?.remove(0)[k];
        writeln!(out, "{kind}\t{p:.3}\t{text}")?;
    }
    Ok(())
}
