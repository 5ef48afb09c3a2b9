//! Edit-to-served time: how long after an editor saves a knowledge file the bot answers from it.
//!
//! `cargo bench --bench reload [-- --entries N --rounds R]` copies the sample knowledge base
//! into a temporary folder (with `--entries N`, adds generated FAQ entries until there are N),
//! starts the release `tandem` binary on it, waits until the model is ready, then, R times
//! each:
//!
//! - **answer**: rewrites one entry's answer with a fresh marker and times from the write until
//!   a reload is counted and `/api/ask` with that entry's question returns the new text;
//! - **alternative**: adds a new alternative to an entry that has an intent (so the intent
//!   model's training examples change) and times from the write until
//!   `/metrics` counts the reload (served with the intent model of before), and until `/health`
//!   says the model trained for it is serving.
//!
//! It prints the median and the worst of each, measured from the write (the file watcher's
//! 400 ms debounce included). Without `--bench` (as `cargo test --all-targets` runs it) it only
//! prints how to run it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Longest wait for one edit to be served.
const EDIT_LIMIT: Duration = Duration::from_secs(120);

struct Args {
    entries: usize,
    rounds: usize,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        entries: 0,
        rounds: 3,
    };
    let mut bench = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().context("missing value");
        match arg.as_str() {
            "--bench" => bench = true,
            "--entries" => args.entries = value()?.parse()?,
            "--rounds" => args.rounds = value()?.parse()?,
            other if other.starts_with("--") => bail!("unknown option {other}"),
            _ => {}
        }
    }
    Ok(bench.then_some(args))
}

/// The server process, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Adds generated entries to `dir` until it holds `total`: distinct questions about made-up
/// products, five alternatives each, spread over the sample's answering intents.
fn generate(dir: &Path, total: usize) -> anyhow::Result<usize> {
    const INTENTS: [&str; 6] = [
        "order_status",
        "order_changes",
        "shipping",
        "returns",
        "payments",
        "products",
    ];
    const ADJECTIVES: [&str; 10] = [
        "blue", "folding", "cordless", "vintage", "compact", "heated", "wooden", "steel", "travel",
        "smart",
    ];
    const NOUNS: [&str; 12] = [
        "kettle", "lamp", "backpack", "chair", "blender", "jacket", "speaker", "tent", "watch",
        "stroller", "desk", "heater",
    ];
    const ASKS: [&str; 9] = [
        "return",
        "track",
        "exchange",
        "cancel",
        "repair",
        "insure",
        "gift-wrap",
        "reorder",
        "assemble",
    ];
    let existing = walk(&dir.join("faq"))?.len();
    let folder = dir.join("faq/generated");
    std::fs::create_dir_all(&folder)?;
    let mut made = 0;
    'outer: for ask in ASKS {
        for adjective in ADJECTIVES {
            for noun in NOUNS {
                if existing + made >= total {
                    break 'outer;
                }
                let thing = format!("the {adjective} {noun}");
                let intent = INTENTS[made % INTENTS.len()];
                let text = format!(
                    "---\nquestion: How do I {ask} {thing}?\nalternatives:\n  - can I {ask} \
                     my {adjective} {noun}\n  - {ask} {adjective} {noun}\n  - help with \
                     {ask}ing {thing}\n  - is it possible to {ask} {thing} I bought\n  - \
                     {noun} {ask} question ({adjective})\nintent: {intent}\n---\nTo {ask} \
                     {thing}, open **Orders**, choose the {noun} and follow the steps.\n"
                );
                std::fs::write(folder.join(format!("{ask}-{adjective}-{noun}.md")), text)?;
                made += 1;
            }
        }
    }
    Ok(existing + made)
}

fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    Ok(files)
}

async fn start(knowledge: &Path, data: &Path) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let root = env!("CARGO_MANIFEST_DIR");
    let child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["serve", "--port", &port.to_string(), "--knowledge-dir"])
        .arg(knowledge)
        .arg("--model-dir")
        .arg(format!("{root}/models/all-MiniLM-L6-v2"))
        .arg("--data-dir")
        .arg(data)
        .env("TANDEM_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("starting tandem")?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(600) {
        if let Ok(response) = reqwest::get(format!("{}/health", server.base)).await
            && let Ok(body) = response.json::<Value>().await
            && body["model"] == "ready"
        {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the server did not get ready in 600 s")
}

/// Polls `check` every 20 ms until it holds; the time since `from`.
async fn served<F, Fut>(from: Instant, mut check: F) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    while from.elapsed() < EDIT_LIMIT {
        if check().await? {
            return Ok(from.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("the edit was not served within {EDIT_LIMIT:?}")
}

async fn top_answer(base: &str, question: &str) -> anyhow::Result<String> {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/api/ask"))
        .json(&json!({ "text": question, "limit": 1 }))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["matches"][0]["answer_markdown"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// `/health`'s `model`: `ready`, or `updating` while an edit's intent model trains.
async fn model(base: &str) -> anyhow::Result<String> {
    let body: Value = reqwest::get(format!("{base}/health")).await?.json().await?;
    Ok(body["model"].as_str().unwrap_or_default().to_owned())
}

/// Reloads applied so far, from `/metrics` (the status endpoint wants an admin's session).
async fn reloads(base: &str) -> anyhow::Result<u64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("tandem_knowledge_reloads_total "))
        .and_then(|n| n.trim().parse().ok())
        .context("no tandem_knowledge_reloads_total in /metrics")
}

fn summary(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    eprintln!(
        "{what}: median {:.2} s, worst {:.2} s over {} edits",
        median.as_secs_f64(),
        worst.as_secs_f64(),
        times.len()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(args) = parse_args()? else {
        eprintln!(
            "edit-to-served benchmark: cargo bench --bench reload [-- --entries N --rounds R]"
        );
        return Ok(());
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let knowledge = tempfile::TempDir::new()?;
    copy_dir(&root.join("knowledge"), knowledge.path())?;
    let entries = generate(knowledge.path(), args.entries)?;
    let data = tempfile::TempDir::new()?;
    let started = Instant::now();
    let server = start(knowledge.path(), data.path()).await?;
    eprintln!(
        "{entries} FAQ entries; model ready {:.1} s after start",
        started.elapsed().as_secs_f64()
    );

    // An entry with an intent: its question is a training example of the intent model.
    let file = knowledge.path().join("faq/returns/return-policy.md");
    let original = std::fs::read_to_string(&file).context("the sample's return policy")?;
    let question = "What is your return policy?";
    anyhow::ensure!(
        original.contains(question),
        "the sample entry's question moved"
    );
    let mut current = original;
    let mut answers = Vec::new();
    let mut alternatives = Vec::new();
    let mut trained = Vec::new();
    for round in 0..args.rounds {
        // The answer alone changes: the front matter stays as it is.
        let answer_start = current
            .match_indices("\n---\n")
            .next()
            .map(|(i, _)| i + 5)
            .context("front matter")?;
        let marker = format!("Returns are free for 60 days (edit {round}).");
        current = format!("{}{marker}\n", &current[..answer_start]);
        let before = reloads(&server.base).await?;
        let from = Instant::now();
        std::fs::write(&file, &current)?;
        // The reload counter first (`/api/ask` is rate limited per address), then the answer.
        answers.push(
            served(from, || async {
                Ok(reloads(&server.base).await? > before
                    && top_answer(&server.base, question).await? == marker)
            })
            .await?,
        );

        let before = reloads(&server.base).await?;
        current = current.replacen(
            "alternatives:\n",
            &format!("alternatives:\n  - can i still send back what i bought {round} weeks ago\n"),
            1,
        );
        let from = Instant::now();
        std::fs::write(&file, &current)?;
        alternatives
            .push(served(from, || async { Ok(reloads(&server.base).await? > before) }).await?);
        // Served with the intent model of before; its successor trains in the background.
        trained.push(served(from, || async { Ok(model(&server.base).await? == "ready") }).await?);
    }
    summary("answer changed", answers);
    summary("alternative added", alternatives);
    summary("  its intent model trained and swapped in", trained);
    Ok(())
}
