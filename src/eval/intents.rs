//! `tandem eval intents <dir> [--test-file F]`: intent classification and out-of-scope
//! detection on a folder with `train.tsv` and `valid.tsv` (`text<TAB>intent`, header row,
//! out-of-scope rows labelled `oos`), the layout of CLINC150 and BANKING77.
//!
//! Protocol (Larson et al. 2019): train the head on the in-scope rows of `train.tsv`; choose the
//! out-of-scope threshold on `valid.tsv`; report on `valid.tsv`, or on `--test-file` with the
//! threshold chosen on valid. In-scope accuracy counts an in-scope message flagged out of scope
//! as an error; OOS recall is the share of `oos` rows flagged; OOS precision the share of flagged
//! rows that are `oos`; AUROC measures the OOS score independently of any threshold.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::EvalError;
use crate::model::gaussians::BlockGaussians;
use crate::model::mahalanobis;
use crate::model::oos::{self, OosMethod, Scored};
use crate::model::{Encoder, IntentHead, TrainConfig, embed_many, features, head::Example};

/// Label of out-of-scope rows.
pub const OOS: &str = "oos";

/// The figures `tandem eval intents` prints.
#[derive(Debug, Clone)]
pub struct IntentsReport {
    /// Which file the figures are for.
    pub evaluated: PathBuf,
    /// In-scope training rows and intents.
    pub train_rows: usize,
    /// Number of intents.
    pub intents: usize,
    /// Evaluated rows (in scope, out of scope).
    pub rows: (usize, usize),
    /// Share of in-scope rows classified right and not flagged.
    pub in_scope_accuracy: f64,
    /// Share of in-scope rows classified right, ignoring the threshold.
    pub raw_accuracy: f64,
    /// OOS recall, precision and AUROC (absent when the file has no `oos` rows).
    pub oos: Option<(f64, f64, f64)>,
    /// AUROC of each OOS score on valid, to compare methods.
    pub auroc_by_method: Vec<(OosMethod, f64)>,
    /// Trade-off on the evaluated rows: (share of in-scope rows flagged, threshold, in-scope
    /// accuracy, OOS recall).
    pub operating_points: Vec<(f64, f32, f64, f64)>,
    /// The method used and the threshold chosen on valid.
    pub method: OosMethod,
    /// Scores at or above it are out of scope.
    pub threshold: f32,
    /// Time to embed every row, to train, and to classify the evaluated rows.
    pub times: (Duration, Duration, Duration),
}

impl fmt::Display for IntentsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        writeln!(f, "evaluated          {}", self.evaluated.display())?;
        writeln!(
            f,
            "train rows         {} ({} intents)",
            self.train_rows, self.intents
        )?;
        writeln!(
            f,
            "rows               {} in scope, {} oos",
            self.rows.0, self.rows.1
        )?;
        writeln!(f, "in-scope accuracy  {}", pct(self.in_scope_accuracy))?;
        writeln!(f, "  without OOS      {}", pct(self.raw_accuracy))?;
        match self.oos {
            Some((recall, precision, auroc)) => {
                writeln!(f, "OOS recall         {}", pct(recall))?;
                writeln!(f, "OOS precision      {}", pct(precision))?;
                writeln!(f, "OOS AUROC          {auroc:.3}")?;
            }
            None => writeln!(f, "OOS                no oos rows")?,
        }
        for (method, auroc) in &self.auroc_by_method {
            writeln!(f, "  AUROC on valid, {:<8} {auroc:.3}", method.name())?;
        }
        writeln!(
            f,
            "OOS score          {} >= {:.4}",
            self.method.name(),
            self.threshold
        )?;
        if !self.operating_points.is_empty() {
            writeln!(
                f,
                "trade-off          in-scope flagged / threshold / in-scope acc / OOS recall"
            )?;
            for (flagged, threshold, accuracy, recall) in &self.operating_points {
                writeln!(
                    f,
                    "                   {:>4.1}% / {threshold:.4} / {} / {}",
                    flagged * 100.0,
                    pct(*accuracy),
                    pct(*recall)
                )?;
            }
        }
        let (embed, train, classify) = self.times;
        writeln!(f, "time embedding     {:.1} s", embed.as_secs_f64())?;
        writeln!(f, "time training      {:.1} s", train.as_secs_f64())?;
        write!(f, "time classifying   {:.1} s", classify.as_secs_f64())
    }
}

/// Reads `text<TAB>intent` rows, skipping the header.
pub fn read_tsv(path: &Path) -> Result<Vec<(String, String)>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let (text, intent) = line.rsplit_once('\t').ok_or_else(|| EvalError::Data {
            path: path.to_owned(),
            line: i + 1,
            message: "expected `text<TAB>intent`".into(),
        })?;
        rows.push((text.to_owned(), intent.trim().to_owned()));
    }
    Ok(rows)
}

/// The in-scope rows of `dir/train.tsv`, what the head (and the fine-tune) learn from.
pub fn train_rows(dir: &Path) -> Result<Vec<(String, String)>, EvalError> {
    Ok(read_tsv(&dir.join("train.tsv"))?
        .into_iter()
        .filter(|(_, intent)| intent != OOS)
        .collect())
}

/// Embeds `texts`, reusing the embeddings of an earlier run when `cache_dir` holds them (keyed
/// by the encoder's identity and the texts), so tuning the head does not re-embed every time.
fn cached_embeddings(
    encoder: &Encoder,
    texts: &[String],
    cache_dir: Option<&Path>,
    model_fingerprint: &str,
) -> Result<Vec<Vec<f32>>, EvalError> {
    use sha2::{Digest, Sha256};
    let embed = || embed_many(encoder, texts).map_err(crate::bot::BotError::from);
    let Some(dir) = cache_dir else {
        return Ok(embed()?);
    };
    let mut hasher = Sha256::new();
    hasher.update(model_fingerprint.as_bytes());
    for text in texts {
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    let path = dir.join(format!("embeddings-{:x}.f32", hasher.finalize()));
    let dim = encoder.dim();
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() == texts.len() * dim * 4
    {
        let floats: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        return Ok(floats.chunks(dim).map(<[f32]>::to_vec).collect());
    }
    let embeddings = embed()?;
    let bytes: Vec<u8> = embeddings
        .iter()
        .flatten()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    let io = |source| EvalError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::write(&path, bytes).map_err(io)?;
    Ok(embeddings)
}

/// Evaluated rows with their predictions.
struct Predictions {
    gold: Vec<Option<usize>>,
    scored: Vec<Scored>,
}

fn predict(
    head: &IntentHead,
    index: &oos::Neighbours,
    maha: &BlockGaussians,
    rows: &[(String, String)],
    embeddings: &[Vec<f32>],
) -> Result<Predictions, EvalError> {
    let ngrams: Vec<_> = rows.iter().map(|(t, _)| features::ngrams(t)).collect();
    let mut scored = Vec::with_capacity(rows.len());
    for (chunk_e, chunk_n) in embeddings.chunks(256).zip(ngrams.chunks(256)) {
        let batch: Vec<_> = chunk_e.iter().map(Vec::as_slice).zip(chunk_n).collect();
        let probs = head
            .probabilities(&batch)
            .map_err(crate::bot::BotError::from)?;
        let similarity = index
            .max_similarity(chunk_e)
            .map_err(crate::bot::BotError::from)?;
        for ((p, s), e) in probs.iter().zip(similarity).zip(chunk_e) {
            let (distances, distance) = maha.distances(e);
            scored.push(Scored::new(&mahalanobis::blend(p, &distances), s).with_distance(distance));
        }
    }
    let labels = head.labels();
    let gold = rows
        .iter()
        .map(|(_, intent)| labels.iter().position(|l| l == intent))
        .collect();
    Ok(Predictions { gold, scored })
}

/// Runs the evaluation.
pub fn run(
    dir: &Path,
    test_file: Option<&Path>,
    cache: Option<(&Path, &str)>,
    encoder: &Encoder,
    config: &TrainConfig,
    method: OosMethod,
    wrong_answer_cost: f64,
) -> Result<IntentsReport, EvalError> {
    let train = train_rows(dir)?;
    let valid = read_tsv(&dir.join("valid.tsv"))?;
    let test = test_file.map(read_tsv).transpose()?;

    let (cache_dir, model_fingerprint) = match cache {
        Some((dir, fingerprint)) => (Some(dir), fingerprint),
        None => (None, ""),
    };
    let started = Instant::now();
    let texts = |rows: &[(String, String)]| rows.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
    let embed = |rows: &[(String, String)]| {
        cached_embeddings(encoder, &texts(rows), cache_dir, model_fingerprint)
    };
    let train_emb = embed(&train)?;
    let valid_emb = embed(&valid)?;
    let test_emb = test.as_deref().map(embed).transpose()?;
    let embed_time = started.elapsed();

    let started = Instant::now();
    let (labels, examples) = Example::labelled(&train, &train_emb);
    let head = IntentHead::train(&examples, labels, config).map_err(crate::bot::BotError::from)?;
    let neighbours = oos::Neighbours::new(&train_emb).map_err(crate::bot::BotError::from)?;
    let train_labels: Vec<usize> = examples.iter().map(|e| e.label).collect();
    let maha = BlockGaussians::fit(
        &train_emb,
        &train_labels,
        head.labels().len(),
        &encoder.blocks(),
        mahalanobis::DEFAULT_SHRINKAGE,
    )
    .map_err(crate::bot::BotError::from)?;
    let train_time = started.elapsed();

    let valid_pred = predict(&head, &neighbours, &maha, &valid, &valid_emb)?;
    let auroc_by_method: Vec<(OosMethod, f64)> = OosMethod::ALL
        .iter()
        .filter_map(|m| {
            let scores: Vec<(f32, bool)> = valid_pred
                .scored
                .iter()
                .zip(&valid_pred.gold)
                .map(|(s, g)| (s.score(*m), g.is_none()))
                .collect();
            oos::auroc(&scores).map(|a| (*m, a))
        })
        .collect();
    let threshold = oos::choose_threshold(
        &valid_pred.scored,
        &valid_pred.gold,
        method,
        oos::DEFAULT_OOS_SHARE,
        wrong_answer_cost,
    );

    let started = Instant::now();
    let (evaluated, pred) = match (&test, &test_emb, test_file) {
        (Some(rows), Some(emb), Some(path)) => (
            path.to_owned(),
            predict(&head, &neighbours, &maha, rows, emb)?,
        ),
        _ => (dir.join("valid.tsv"), valid_pred),
    };
    let classify_time = started.elapsed();
    let counts = oos::Counts::new(&pred.scored, &pred.gold, method, threshold);
    let mut in_scope_scores: Vec<f32> = pred
        .scored
        .iter()
        .zip(&pred.gold)
        .filter(|(_, g)| g.is_some())
        .map(|(s, _)| s.score(method))
        .collect();
    in_scope_scores.sort_by(|a, b| b.total_cmp(a));
    let operating_points = if counts.oos == 0 {
        Vec::new()
    } else {
        [0.01, 0.02, 0.03, 0.05, 0.10]
            .iter()
            .filter_map(|&share| {
                let k =
                    ((share * in_scope_scores.len() as f64) as usize).min(in_scope_scores.len());
                let t = *in_scope_scores.get(k.checked_sub(1)?)?;
                let c = oos::Counts::new(&pred.scored, &pred.gold, method, t);
                let (recall, _, _) = c.oos_figures()?;
                Some((share, t, c.in_scope_accuracy(), recall))
            })
            .collect()
    };
    Ok(IntentsReport {
        evaluated,
        train_rows: train.len(),
        intents: head.labels().len(),
        rows: (counts.in_scope, counts.oos),
        in_scope_accuracy: counts.in_scope_accuracy(),
        raw_accuracy: counts.raw_accuracy(),
        oos: counts.oos_figures(),
        auroc_by_method,
        operating_points,
        method,
        threshold,
        times: (embed_time, train_time, classify_time),
    })
}
