//! The order in which a fine-tune reads the texts: shuffled batches ([`Recipe::Proxy`]) or
//! pairs of texts from distinct labels ([`Recipe::Pairs`]).

use super::Recipe;
use crate::head::Rng;

/// The order of the texts in each epoch.
pub(super) struct Plan {
    recipe: Recipe,
    batch: usize,
    count: usize,
    by_label: Vec<Vec<usize>>,
}

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
            by_label,
        }
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
                order.chunks(self.batch).map(<[usize]>::to_vec).collect()
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
