//! The order in which a fine-tune reads the texts: shuffled batches ([`Recipe::Proxy`]) or
//! pairs of texts from distinct labels ([`Recipe::Pairs`]); and the learning rate at each step.

use std::time::Duration;

use super::Recipe;
use crate::head::Rng;

/// The order of the texts in each epoch.
pub(super) struct Plan {
    recipe: Recipe,
    batch: usize,
    count: usize,
    /// Length of each text in characters, for grouping texts of similar length.
    lengths: Vec<usize>,
    by_label: Vec<Vec<usize>>,
}

/// Batches are cut from windows of this many batches' worth of shuffled texts, sorted by
/// length inside each window: a batch is padded to its longest text, so texts of similar
/// length in one batch waste less work on padding, while the windows keep the order random.
/// Measured on CLINC150 (one epoch, 2-core machine): 586 s before, 512 s with it, accuracy
/// alike (96.0% / 96.2% in scope).
const WINDOW: usize = 16;

impl Plan {
    pub(super) fn new(
        texts: &[(String, usize)],
        labels: usize,
        recipe: Recipe,
        batch: usize,
    ) -> Self {
        let mut by_label = vec![Vec::new(); labels];
        for (i, (_, label)) in texts.iter().enumerate() {
            by_label[*label].push(i);
        }
        // A label with one text has no partner to pair with.
        if recipe == Recipe::Pairs {
            by_label.retain(|l| l.len() >= 2);
        }
        Self {
            recipe,
            batch,
            count: texts.len(),
            lengths: texts.iter().map(|(t, _)| t.chars().count()).collect(),
            by_label,
        }
    }

    /// Labels the batches draw from (for pairs, those with a partner for each text).
    pub(super) fn labels(&self) -> usize {
        self.by_label.len()
    }

    pub(super) fn steps_per_epoch(&self) -> usize {
        match self.recipe {
            Recipe::Proxy => self.count.div_ceil(self.batch),
            // Each step reads 2 texts per label.
            Recipe::Pairs => self.count.div_ceil(2 * self.batch).max(1),
        }
    }

    pub(super) fn batches(&self, rng: &mut Rng) -> Vec<Vec<usize>> {
        match self.recipe {
            Recipe::Proxy => {
                let mut order: Vec<usize> = (0..self.count).collect();
                rng.shuffle(&mut order);
                let mut batches: Vec<Vec<usize>> = Vec::with_capacity(self.steps_per_epoch());
                for window in order.chunks_mut(self.batch * WINDOW) {
                    window.sort_by_key(|&i| self.lengths[i]);
                    batches.extend(window.chunks(self.batch).map(<[usize]>::to_vec));
                }
                rng.shuffle(&mut batches);
                batches
            }
            Recipe::Pairs => {
                // Two texts of each of `batch` labels: labels drawn without repeats within a
                // step (a repeated label would be a false negative).
                let take = self.batch.min(self.by_label.len());
                (0..self.steps_per_epoch())
                    .map(|_| {
                        let mut labels: Vec<usize> = (0..self.by_label.len()).collect();
                        rng.shuffle(&mut labels);
                        labels
                            .into_iter()
                            .take(take)
                            .flat_map(|l| {
                                let texts = &self.by_label[l];
                                let a = rng.below(texts.len());
                                let b = (a + 1 + rng.below(texts.len() - 1)) % texts.len();
                                [texts[a], texts[b]]
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }
}

/// Learning rate at `step` of `steps`, `elapsed` into the `budget`: linear warm-up over the
/// first tenth, linear decay after, by the steps or the budget, whichever is further along (so
/// a fine-tune the budget cuts short still ends at a small rate, not at its peak).
pub(super) fn schedule(
    peak: f64,
    step: usize,
    steps: usize,
    elapsed: Duration,
    budget: Duration,
) -> f64 {
    let by_time = elapsed.as_secs_f64() / budget.as_secs_f64().max(1e-9) * steps as f64;
    let step = step.max(by_time as usize).min(steps.saturating_sub(1));
    let warm = (steps / 10).max(1);
    if step < warm {
        peak * (step + 1) as f64 / warm as f64
    } else {
        peak * (steps - step) as f64 / (steps - warm).max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> Vec<(String, usize)> {
        (0..200)
            .map(|i| ("x".repeat(1 + (i * 37) % 50), i % 7))
            .collect()
    }

    #[test]
    fn a_proxy_epoch_reads_every_text_once_in_batches_of_similar_length() {
        let texts = texts();
        let plan = Plan::new(&texts, 7, Recipe::Proxy, 8);
        let mut rng = Rng::new(1);
        let batches = plan.batches(&mut rng);
        assert_eq!(batches.len(), plan.steps_per_epoch());
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..texts.len()).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| b.len() <= 8));
        // Padding wasted: characters short of each batch's longest text, against the same
        // batches cut from the shuffled order without sorting.
        let waste = |batches: &[Vec<usize>]| -> usize {
            batches
                .iter()
                .map(|b| {
                    let longest = b.iter().map(|&i| plan.lengths[i]).max().unwrap_or(0);
                    b.iter().map(|&i| longest - plan.lengths[i]).sum::<usize>()
                })
                .sum()
        };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        Rng::new(1).shuffle(&mut order);
        let unsorted: Vec<Vec<usize>> = order.chunks(8).map(<[usize]>::to_vec).collect();
        assert!(
            waste(&batches) * 2 < waste(&unsorted),
            "{} vs {}",
            waste(&batches),
            waste(&unsorted)
        );
    }

    #[test]
    fn a_pairs_step_takes_two_texts_of_distinct_labels() {
        let texts = texts();
        let plan = Plan::new(&texts, 7, Recipe::Pairs, 4);
        for batch in plan.batches(&mut Rng::new(2)) {
            assert_eq!(batch.len(), 8);
            let labels: Vec<usize> = batch.chunks(2).map(|p| texts[p[0]].1).collect();
            for pair in batch.chunks(2) {
                assert_eq!(texts[pair[0]].1, texts[pair[1]].1);
                assert_ne!(pair[0], pair[1]);
            }
            let mut distinct = labels.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), labels.len());
        }
    }

    #[test]
    fn the_rate_warms_up_then_decays_by_the_steps_or_the_budget_whichever_is_further() {
        let (peak, budget) = (1.0, Duration::from_secs(100));
        let at = |step, secs| schedule(peak, step, 100, Duration::from_secs(secs), budget);
        // Warm-up over the first tenth, peak at its end, then linear decay towards zero.
        assert!(at(0, 0) < at(5, 0) && at(5, 0) < at(9, 0));
        assert!((at(9, 0) - peak).abs() < 1e-9);
        assert!(at(50, 0) < peak && at(99, 0) < 0.02);
        // Half the steps but 90% of the budget: the rate is the one at 90% of the steps.
        assert!((at(50, 90) - at(90, 0)).abs() < 1e-9);
        // Past the budget the rate stays at its last step's, never below zero.
        assert!(at(10, 500) > 0.0 && at(10, 500) == at(99, 0));
    }
}
