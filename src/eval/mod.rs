//! Evaluation commands: measure the bot on public benchmark data and print the figures.
//!
//! Accuracy and speed targets live here, in commands that print numbers, rather than in timed
//! unit tests that would flake on a busy machine.

pub mod bench;
pub mod faq;
pub mod intents;
pub mod tuned;

use std::time::Duration;

/// Errors while reading benchmark data.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A data file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A data file has a malformed line.
    #[error("{path}:{line}: {message}")]
    Data {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The bot failed.
    #[error(transparent)]
    Bot(#[from] crate::bot::BotError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}

/// The `p`-th percentile (0–100) of `samples` by the nearest-rank method; zero when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&ms, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&ms, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
