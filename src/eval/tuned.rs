//! The fine-tuned encoder an evaluation compares with the frozen one, and the side-by-side
//! printout: `tandem eval intents` and `eval faq` run the pipeline serving runs, fine-tune
//! included, unless `--frozen` skips it.

use std::io::Write;
use std::time::{Duration, Instant};

use super::EvalError;
use crate::bot::tuning::ByModel;
use crate::config::Settings;
use crate::model::Encoder;
use crate::model::tune::{self, TuneConfig, TuneProgress};

/// A progress printer for a fine-tune on the command line: one line on stderr at most every
/// `every`, and at the last step.
pub fn progress_printer(every: Duration) -> impl FnMut(&TuneProgress) -> bool {
    let mut last = Instant::now();
    move |p: &TuneProgress| {
        if last.elapsed() >= every || p.step == p.steps {
            last = Instant::now();
            let _ = writeln!(
                std::io::stderr(),
                "fine-tuning: epoch {}/{}, step {}/{}, loss {:.3}, {:.0} s so far, about {:.0} s left",
                p.epoch,
                p.epochs,
                p.step,
                p.steps,
                p.loss,
                p.elapsed.as_secs_f64(),
                p.eta().as_secs_f64()
            );
        }
        true
    }
}

/// The encoder fine-tuned on `rows` (`(text, label name)`), each model on the texts it reads,
/// cached under the data folder; `None` when there is nothing to learn.
pub fn tuned_encoder(
    settings: &Settings,
    frozen: &Encoder,
    rows: &[(String, String)],
    config: &TuneConfig,
) -> Result<Option<(Encoder, Duration)>, EvalError> {
    let mut texts = ByModel::new(frozen.reads_chinese());
    for (text, name) in rows {
        texts.push(text.clone(), name);
    }
    tuned_on(settings, frozen, &texts, config)
}

/// The encoder fine-tuned on `texts` (see [`tuned_encoder`]), and the time it took.
pub fn tuned_on(
    settings: &Settings,
    frozen: &Encoder,
    texts: &ByModel,
    config: &TuneConfig,
) -> Result<Option<(Encoder, Duration)>, EvalError> {
    let started = Instant::now();
    let mut progress = progress_printer(Duration::from_secs(15));
    let tuned = crate::bot::tuning::tuned_encoder_with(
        texts,
        settings,
        frozen,
        config,
        &settings.data_dir.join("tuned"),
        &mut progress,
    )?;
    Ok(tuned.map(|encoder| (encoder, started.elapsed())))
}

/// Two printouts of the same report, line by line: where a line differs, the tuned value is
/// printed beside the frozen line (what follows the two lines' common words).
pub fn side_by_side(frozen: &str, tuned: &str, tune_time: Duration) -> String {
    const WIDTH: usize = 46;
    let mut out = format!(
        "{:<WIDTH$} tuned ({:.0} s to fine-tune)\n",
        "frozen",
        tune_time.as_secs_f64()
    );
    for (a, b) in frozen.lines().zip(tuned.lines()) {
        if a == b {
            out.push_str(a);
        } else {
            let common = a
                .char_indices()
                .zip(b.chars())
                .find(|((_, x), y)| x != y)
                .map_or(a.len().min(b.len()), |((i, _), _)| i);
            // Back to the start of the differing word.
            let start = b[..common].rfind(' ').map_or(0, |i| i + 1);
            out.push_str(&format!("{a:<WIDTH$} {}", &b[start..]));
        }
        out.push('\n');
    }
    out
}

/// The fine-tune's command-line settings, shared by the evaluation commands.
#[derive(Debug, Clone, clap::Args)]
pub struct TuneArgs {
    /// Skip the fine-tune: report the frozen encoder only.
    #[arg(long)]
    pub frozen: bool,
    /// Fine-tuning loss.
    #[arg(long, value_enum)]
    pub recipe: Option<tune::Recipe>,
    /// Fine-tuning passes over the training texts.
    #[arg(long)]
    pub tune_epochs: Option<usize>,
    /// Fine-tuning peak learning rate.
    #[arg(long)]
    pub tune_lr: Option<f64>,
    /// Texts (proxy) or labels (pairs) per fine-tuning step.
    #[arg(long)]
    pub tune_batch: Option<usize>,
    /// Scale of the fine-tuning loss's cosine logits.
    #[arg(long)]
    pub tune_scale: Option<f64>,
    /// Fine-tuning peak learning rate of the Chinese model.
    #[arg(long)]
    pub tune_chinese_lr: Option<f64>,
    /// Scale of the Chinese model's fine-tuning loss.
    #[arg(long)]
    pub tune_chinese_scale: Option<f64>,
    /// Bottom transformer layers left frozen during the fine-tune.
    #[arg(long)]
    pub tune_frozen_layers: Option<usize>,
}

impl TuneArgs {
    /// The fine-tune settings, `None` with `--frozen`.
    pub fn config(&self) -> Option<TuneConfig> {
        let d = TuneConfig::default();
        (!self.frozen).then(|| TuneConfig {
            recipe: self.recipe.unwrap_or(d.recipe),
            epochs: self.tune_epochs.unwrap_or(d.epochs),
            learning_rate: self.tune_lr.unwrap_or(d.learning_rate),
            batch: self.tune_batch.unwrap_or(d.batch),
            scale: self.tune_scale.unwrap_or(d.scale),
            chinese_learning_rate: self.tune_chinese_lr.unwrap_or(d.chinese_learning_rate),
            chinese_scale: self.tune_chinese_scale.unwrap_or(d.chinese_scale),
            frozen_layers: self.tune_frozen_layers.unwrap_or(d.frozen_layers),
            ..d
        })
    }
}
