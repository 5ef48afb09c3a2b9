//! How the complaint-tone model (`src/bot/tone.rs`) scores angry and calm messages about the
//! same topics: the brain serving a knowledge base is built (intent head and tone model, as
//! the server trains them) and each message's complaint score printed. Messages are given on
//! stdin, one per line, `angry<TAB>text` or `calm<TAB>text`.
//!
//! `cargo run --release --example tone_probe -- knowledge < messages.tsv`

use std::io::{BufRead, Write};
use std::path::Path;

use tandem::bot::Brain;
use tandem::bot::brain::{OOS_METHOD, OosConfig};
use tandem::model::{Embeds, TrainConfig};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "knowledge".into());
    let knowledge = tandem::knowledge::load(Path::new(&dir))?;
    let encoder = tandem::model::Encoder::load(Path::new("models/all-MiniLM-L6-v2"))?
        .with_chinese(Path::new("models/use-multilingual-v3"))?;
    let oos = OosConfig {
        method: OOS_METHOD,
        threshold: tandem::model::mahalanobis::DEFAULT_THRESHOLD,
    };
    let started = std::time::Instant::now();
    let brain = Brain::build(&knowledge, &encoder, &TrainConfig::default(), oos)?;
    eprintln!("brain built in {:.2} s", started.elapsed().as_secs_f64());
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let Some((kind, text)) = line.split_once('\t') else {
            continue;
        };
        let embedding = encoder.embed_texts(&[text.to_owned()])?.remove(0);
        let complaint = brain.understand(text, &embedding)?.complaint;
        writeln!(out, "{kind}\t{complaint:.3}\t{text}")?;
    }
    Ok(())
}
