//! Gaussian models of the intents, one per block of the embedding: one per language the
//! encoder reads with its own model (see [`Encoder`](crate::Encoder)).
//!
//! An English text's embedding lives in the English block (the Chinese block is zero) and a
//! Chinese text's in the Chinese block. A single Gaussian over both would average an intent's
//! English and Chinese examples into one mean that neither is near, and share one covariance
//! between two unrelated spaces. So each block gets its own [`Mahalanobis`] model, fitted on
//! the examples in that block only, with its own scale: the out-of-scope distance of a Chinese
//! message is calibrated on Chinese examples. An intent without examples in a block is
//! infinitely far from that block's messages.
//!
//! With one block (an English-only encoder) this is exactly one [`Mahalanobis`] over
//! everything.

use std::ops::Range;

use crate::ModelError;
use crate::mahalanobis::{Mahalanobis, nearest};

/// One block's model.
#[derive(Debug, Clone)]
struct Part {
    range: Range<usize>,
    /// The label of each of the model's means, in order.
    classes: Vec<usize>,
    model: Mahalanobis,
}

/// Gaussian intent models, one per embedding block that has examples.
#[derive(Debug, Clone)]
pub struct BlockGaussians {
    classes: usize,
    parts: Vec<Part>,
}

/// Whether `x` lives in `block`: its entries there are not all zero.
fn lives_in(x: &[f32], block: &Range<usize>) -> bool {
    x.get(block.clone())
        .is_some_and(|s| s.iter().any(|v| *v != 0.0))
}

/// The block `x` lives in: the first where it is not zero (the first for a zero vector).
fn block_of(x: &[f32], blocks: &[Range<usize>]) -> usize {
    blocks.iter().position(|r| lives_in(x, r)).unwrap_or(0)
}

impl BlockGaussians {
    /// Fits one model per block of `blocks` that holds examples of at least one intent.
    pub fn fit(
        embeddings: &[Vec<f32>],
        labels: &[usize],
        classes: usize,
        blocks: &[Range<usize>],
        shrinkage: f64,
    ) -> Result<Self, ModelError> {
        let mut parts = Vec::new();
        for (b, range) in blocks.iter().enumerate() {
            let members: Vec<usize> = (0..embeddings.len())
                .filter(|&i| block_of(&embeddings[i], blocks) == b)
                .collect();
            let mut present: Vec<usize> = members.iter().map(|&i| labels[i]).collect();
            present.sort_unstable();
            present.dedup();
            if present.is_empty() {
                continue;
            }
            // Labels renumbered to the block's own classes: the model keeps one mean per
            // class with examples, in label order.
            let sliced: Vec<Vec<f32>> = members
                .iter()
                .map(|&i| {
                    embeddings[i]
                        .get(range.clone())
                        .unwrap_or_default()
                        .to_vec()
                })
                .collect();
            let local: Vec<usize> = members
                .iter()
                .map(|&i| present.binary_search(&labels[i]).unwrap_or(0))
                .collect();
            let model = Mahalanobis::fit(&sliced, &local, present.len(), shrinkage)?;
            parts.push(Part {
                range: range.clone(),
                classes: present,
                model,
            });
        }
        Ok(Self { classes, parts })
    }

    /// The model of `x`'s block; the first model when that block has none (a Chinese message
    /// to a knowledge base without Chinese examples is then far from everything).
    fn part_for(&self, x: &[f32]) -> Option<&Part> {
        self.parts
            .iter()
            .find(|p| lives_in(x, &p.range))
            .or(self.parts.first())
    }

    /// Squared Mahalanobis distance from `x` to every intent, in label order, within `x`'s
    /// block (infinite for intents without examples there); and the distance to the nearest
    /// squashed into [0, 1) with that block's scale (1 without a model).
    pub fn distances(&self, x: &[f32]) -> (Vec<f32>, f32) {
        let mut out = vec![f32::INFINITY; self.classes];
        let Some((part, slice)) = self
            .part_for(x)
            .and_then(|p| Some((p, x.get(p.range.clone())?)))
        else {
            return (out, 1.0);
        };
        for (&label, d) in part.classes.iter().zip(part.model.distances(slice)) {
            if let Some(slot) = out.get_mut(label) {
                *slot = d;
            }
        }
        let squashed = part.model.squash(nearest(&out));
        (out, squashed)
    }

    /// The fitted state as named flat vectors, for caching.
    pub fn to_parts(&self) -> Vec<(String, Vec<f32>)> {
        let mut out = vec![("gaussian_classes".to_owned(), vec![self.classes as f32])];
        for (i, part) in self.parts.iter().enumerate() {
            let (whiten, means) = part.model.to_parts();
            // Small integers are exact in f32.
            let mut layout = vec![part.range.start as f32, part.range.end as f32];
            layout.extend(part.classes.iter().map(|&c| c as f32));
            out.push((format!("gaussian{i}_layout"), layout));
            out.push((format!("gaussian{i}_whiten"), whiten));
            out.push((format!("gaussian{i}_means"), means));
        }
        out
    }

    /// Rebuilds the models from [`BlockGaussians::to_parts`]; `take` returns a named vector.
    pub fn from_parts(mut take: impl FnMut(&str) -> Option<Vec<f32>>) -> Result<Self, ModelError> {
        let bad = || ModelError::Training("cached Gaussian models have the wrong shape".into());
        let classes = take("gaussian_classes")
            .and_then(|v| v.first().copied())
            .ok_or_else(bad)? as usize;
        let mut parts = Vec::new();
        for i in 0.. {
            let Some(layout) = take(&format!("gaussian{i}_layout")) else {
                break;
            };
            let [start, end, ..] = layout[..] else {
                return Err(bad());
            };
            let range = start as usize..end as usize;
            let whiten = take(&format!("gaussian{i}_whiten")).ok_or_else(bad)?;
            let means = take(&format!("gaussian{i}_means")).ok_or_else(bad)?;
            let model = Mahalanobis::from_parts(range.len(), whiten, means)?;
            let classes_of: Vec<usize> = layout[2..].iter().map(|&c| c as usize).collect();
            if classes_of.iter().any(|&c| c >= classes) {
                return Err(bad());
            }
            parts.push(Part {
                range,
                classes: classes_of,
                model,
            });
        }
        Ok(Self { classes, parts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_block_measures_its_own_examples() {
        // Two blocks of width 2; intent 0 has examples in both, intent 1 in the first only.
        let e = |a: f32, b: f32| vec![a, b, 0.0, 0.0];
        let z = |a: f32, b: f32| vec![0.0, 0.0, a, b];
        let embeddings = vec![
            e(1.0, 0.1),
            e(0.9, 0.0),
            e(0.0, 1.0),
            e(0.1, 0.9),
            z(1.0, 0.0),
            z(0.9, 0.1),
        ];
        let labels = vec![0, 0, 1, 1, 0, 0];
        let blocks = [0..2, 2..4];
        let g = BlockGaussians::fit(&embeddings, &labels, 2, &blocks, 0.1).expect("fit");

        let (english, _) = g.distances(&e(1.0, 0.0));
        assert!(english[0] < english[1], "{english:?}");
        let (chinese, squashed) = g.distances(&z(1.0, 0.0));
        assert!((0.0..1.0).contains(&squashed), "{squashed}");
        assert!(
            chinese[0].is_finite() && chinese[1].is_infinite(),
            "{chinese:?}"
        );

        let parts = g.to_parts();
        let back = BlockGaussians::from_parts(|name| {
            parts
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        })
        .expect("round trip");
        assert_eq!(back.distances(&z(1.0, 0.0)).0, chinese);
        assert_eq!(back.distances(&e(1.0, 0.0)).0, english);
    }
}
