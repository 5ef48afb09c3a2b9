//! The `tandem` command line: serve (the default), check, ask, import, eval, bench, agents.
//!
//! This is an edge of the program: commands return `anyhow` errors, printed once as one
//! `error:` line (with its causes) before exiting non-zero. Command output goes to stdout,
//! logs to stderr.

mod agents;
mod content;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::bot::Brain;
use crate::config::{self, Settings};
use crate::knowledge;
use crate::model::oos::OosMethod;
use crate::model::{Embedder, TrainConfig};
use crate::startup::Application;

/// tandem: self-service support chat. A local AI answers customers from your FAQ and hands them
/// to a human agent when it should.
///
/// Every setting below can also be given in a TOML config file (keys as the long option without
/// dashes, underscores for dashes: `max_body_bytes = 65536`) or as the environment variable shown.
/// Precedence: flag > environment > config file > default.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, max_term_width = 100)]
pub struct Cli {
    /// TOML config file [default: tandem.toml, when it exists].
    #[arg(long, global = true, env = "TANDEM_CONFIG")]
    pub config: Option<PathBuf>,

    /// Server and knowledge settings.
    #[command(flatten)]
    pub settings: Settings,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the chat and its API (the default).
    Serve,
    /// Validate a knowledge folder and print every problem with file:line; with --run-tests,
    /// also run its tests.yaml against the real model and print every failure.
    Check {
        /// Knowledge folder [default: the `knowledge_dir` setting].
        dir: Option<PathBuf>,
        /// Run tests.yaml against the model (loads it, trains the intent head) and fail when a
        /// test fails.
        #[arg(long)]
        run_tests: bool,
        /// Run this file's tests (the format of tests.yaml) instead of the folder's own, as
        /// with --run-tests: for probes kept outside the knowledge base.
        #[arg(long, value_name = "FILE")]
        tests: Option<PathBuf>,
        /// Also fine-tune the encoder as serving does (cached with serving's) and run the
        /// tests with the encoder serving would choose, printing the frozen figures too.
        #[arg(long)]
        fine_tune: bool,
    },
    /// Ask the knowledge base a question and print the top matches with their scores.
    Ask {
        /// The question, as a customer would type it.
        text: String,
        /// How many matches to print.
        #[arg(long, short = 'n', default_value_t = 3)]
        limit: usize,
    },
    /// Turn a spreadsheet-style FAQ export (.csv or .jsonl) into FAQ files.
    Import {
        /// The export: columns `question`, `answer`, and optionally `alternatives` (separated by
        /// `|`), `tags` (separated by `,`), `id`, `intent`, `lang`.
        file: PathBuf,
        /// Folder for the new files [default: <knowledge_dir>/faq/imported].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
    /// Measure the bot on benchmark data and print the figures.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Measure speed and print the figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage agent accounts (in the database under `data_dir`).
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Message classification through the batching inference thread: single-message latency
    /// p50/p99, then throughput and latency with N requests in flight. Uses the intent model of
    /// the `knowledge_dir` knowledge base.
    Model {
        /// Messages timed one at a time.
        #[arg(long, default_value_t = 300)]
        single: usize,
        /// Requests in flight during the load phase.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds of load.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Which customer messages: English or Chinese.
        #[arg(long, value_enum, default_value_t = crate::eval::bench::Mix::En)]
        mix: crate::eval::bench::Mix,
    },
}

/// The evaluations.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// FAQ retrieval on a folder with faq.jsonl and queries.tsv (StackFAQ layout): top-1,
    /// recall@3, MRR, latency.
    Faq {
        /// The benchmark folder.
        dir: PathBuf,
        /// The encoder's fine-tune (on the entries' questions and alternatives, as serving tunes).
        #[command(flatten)]
        tune: crate::eval::tuned::TuneArgs,
    },
    /// Intent classification and out-of-scope detection on a folder with train.tsv and
    /// valid.tsv (CLINC150 layout): trains on train, picks the OOS threshold on valid, reports
    /// in-scope accuracy, OOS recall, precision and AUROC.
    Intents {
        /// The benchmark folder.
        dir: PathBuf,
        /// Report on this file instead of valid.tsv (threshold still chosen on valid).
        #[arg(long)]
        test_file: Option<PathBuf>,
        /// Out-of-scope score.
        #[arg(long, value_enum, default_value = "prob-mahalanobis")]
        oos_method: OosMethod,
        /// What a wrong answer costs relative to what a right one gains, when choosing the
        /// out-of-scope threshold.
        #[arg(long, default_value_t = crate::model::oos::DEFAULT_WRONG_ANSWER_COST)]
        wrong_answer_cost: f64,
        /// Training passes over the examples.
        #[arg(long)]
        epochs: Option<usize>,
        /// Weight of the n-gram features relative to the embedding.
        #[arg(long)]
        ngram_scale: Option<f32>,
        /// AdamW learning rate.
        #[arg(long)]
        learning_rate: Option<f64>,
        /// AdamW weight decay.
        #[arg(long)]
        weight_decay: Option<f64>,
        /// Examples per optimiser step.
        #[arg(long)]
        batch_size: Option<usize>,
        /// The encoder's fine-tune.
        #[command(flatten)]
        tune: crate::eval::tuned::TuneArgs,
    },
}

/// Parses the command line, resolves settings and runs the command.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let settings = match config::resolve(cli.settings, &matches, cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(settings.log_format);
    match run(cli.command.unwrap_or(Command::Serve), settings) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Serve => {
            drop(out);
            serve(settings)?;
        }
        Command::Check {
            dir,
            run_tests,
            tests,
            fine_tune,
        } => {
            let dir = dir.unwrap_or_else(|| settings.knowledge_dir.clone());
            let run = run_tests || tests.is_some();
            return content::check(
                &mut out,
                &dir,
                tests.as_deref(),
                run.then_some(&settings),
                fine_tune,
            );
        }
        Command::Ask { text, limit } => content::ask(&mut out, &settings, &text, limit)?,
        Command::Agents(command) => agents::run(&mut out, &settings, command)?,
        Command::Import {
            file,
            out: dir,
            force,
        } => {
            let dir = dir.unwrap_or_else(|| settings.knowledge_dir.join("faq").join("imported"));
            content::import(&mut out, &file, &dir, force)?;
        }
        Command::Eval(EvalCommand::Intents {
            dir,
            test_file,
            oos_method,
            wrong_answer_cost,
            epochs,
            ngram_scale,
            learning_rate,
            weight_decay,
            batch_size,
            tune,
        }) => {
            let defaults = TrainConfig::default();
            let config = TrainConfig {
                epochs: epochs.unwrap_or(defaults.epochs),
                ngram_scale: ngram_scale.unwrap_or(defaults.ngram_scale),
                learning_rate: learning_rate.unwrap_or(defaults.learning_rate),
                weight_decay: weight_decay.unwrap_or(defaults.weight_decay),
                batch_size: batch_size.unwrap_or(defaults.batch_size),
                ..defaults
            };
            let encoder = settings.load_encoder()?;
            let evaluate = |encoder: &crate::model::Encoder| {
                crate::eval::intents::run(
                    &dir,
                    test_file.as_deref(),
                    Some((&settings.data_dir.join("cache"), encoder.fingerprint())),
                    encoder,
                    &config,
                    oos_method,
                    wrong_answer_cost,
                )
                .with_context(|| format!("evaluating {}", dir.display()))
            };
            let frozen = evaluate(&encoder)?.to_string();
            writeln!(out, "Intents on {}", dir.display())?;
            let tuned = match tune.config() {
                Some(tune_config) => {
                    let train = crate::eval::intents::train_rows(&dir)?;
                    crate::eval::tuned::tuned_encoder(&settings, &encoder, &train, &tune_config)?
                }
                None => None,
            };
            print_compared(&mut out, &frozen, tuned, |e| Ok(evaluate(e)?.to_string()))?;
        }
        Command::Bench(BenchCommand::Model {
            single,
            concurrency,
            seconds,
            mix,
        }) => {
            let dir = &settings.knowledge_dir;
            let knowledge = knowledge::load(dir)
                .with_context(|| format!("knowledge base {}", dir.display()))?;
            let encoder = std::sync::Arc::new(settings.load_encoder()?);
            let brain = std::sync::Arc::new(Brain::for_settings(&knowledge, &*encoder, &settings)?);
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let report = runtime.block_on(async {
                let embedder = Embedder::spawn(encoder, crate::eval::bench::server_batching())?;
                crate::eval::bench::run(
                    embedder,
                    brain,
                    mix,
                    single,
                    concurrency,
                    std::time::Duration::from_secs(seconds),
                )
                .await
            })?;
            writeln!(
                out,
                "Model benchmark ({} threads available)",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            )?;
            writeln!(out, "{report}")?;
        }
        Command::Eval(EvalCommand::Faq { dir, tune }) => {
            let encoder = settings.load_encoder()?;
            let evaluate = |encoder: &crate::model::Encoder| {
                crate::eval::faq::run(&dir, Some(encoder))
                    .with_context(|| format!("evaluating {}", dir.display()))
            };
            let frozen = evaluate(&encoder)?.to_string();
            writeln!(out, "FAQ retrieval on {}", dir.display())?;
            let tuned = match tune.config() {
                Some(tune_config) => {
                    let texts = crate::eval::faq::tune_texts(&dir, encoder.reads_chinese())?;
                    crate::eval::tuned::tuned_on(&settings, &encoder, &texts, &tune_config)?
                }
                None => None,
            };
            print_compared(&mut out, &frozen, tuned, |e| Ok(evaluate(e)?.to_string()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints an evaluation's `frozen` report, side by side with the same evaluation of the tuned
/// encoder when there is one.
fn print_compared(
    out: &mut dyn Write,
    frozen: &str,
    tuned: Option<(crate::model::Encoder, std::time::Duration)>,
    evaluate: impl Fn(&crate::model::Encoder) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    match tuned {
        Some((tuned, took)) => {
            let tuned = evaluate(&tuned)?;
            write!(
                out,
                "{}",
                crate::eval::tuned::side_by_side(frozen, &tuned, took)
            )?;
        }
        None => writeln!(out, "{frozen}")?,
    }
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        Ok(())
    })
}
