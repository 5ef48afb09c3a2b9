//! The dense layers: weights packed into column panels at load, one register-tile matrix
//! kernel ([`Gemm`]) written with `pulp`'s portable SIMD, and the choice of splitting a matmul
//! over rows (large batches) or over column panels (a single short message) across rayon's
//! threads.

use std::ops::Range;

use candle_transformers::models::bert::HiddenAct;
use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::kernels::activate;
use super::{Bert, Tile};

/// Activation rows per task when a matmul is split over rows: a multiple of every `MR`, and
/// small enough that a task's rows stay in the L2 cache.
const ROWS_PER_TASK: usize = 48;
/// Below this many rows per thread, a matmul is split over column panels instead: each thread
/// then streams only its share of the weights, which is what bounds a single short message.
const MIN_ROWS_PER_THREAD_FOR_ROW_SPLIT: usize = 2 * ROWS_PER_TASK;

/// A dense layer `y = x·Wᵀ + b` with `W` packed for the kernel.
pub(super) struct Dense {
    /// Input width.
    pub(super) k: usize,
    /// Output width.
    pub(super) n: usize,
    /// `W` in panels of `nr` output columns; panel `p` holds, for each input index `kk`, the
    /// `nr` weights `W[p·nr + j][kk]` contiguously (zero past `n`).
    panels: Vec<f32>,
    /// The bias, zero-padded to a whole number of panels.
    bias: Vec<f32>,
}

impl Dense {
    /// Packs a row-major `n × k` weight matrix (PyTorch's `Linear` layout) and its bias.
    pub(super) fn new(weight: &[f32], bias: &[f32], k: usize, n: usize, nr: usize) -> Self {
        let panel_count = n.div_ceil(nr);
        let mut panels = vec![0.0; panel_count * k * nr];
        for (p, panel) in panels.chunks_exact_mut(k * nr).enumerate() {
            for j in 0..nr.min(n - p * nr) {
                let row = &weight[(p * nr + j) * k..][..k];
                for (kk, &w) in row.iter().enumerate() {
                    panel[kk * nr + j] = w;
                }
            }
        }
        let mut padded = bias.to_vec();
        padded.resize(panel_count * nr, 0.0);
        Self {
            k,
            n,
            panels,
            bias: padded,
        }
    }
}

impl Bert {
    /// `out = act(x·Wᵀ + b)` for `rows` rows of `x`, in parallel.
    pub(super) fn dense(
        &self,
        x: &[f32],
        rows: usize,
        dense: &Dense,
        act: Option<HiddenAct>,
        out: &mut [f32],
    ) {
        let Tile { mr, nr } = self.tile;
        let (k, n) = (dense.k, dense.n);
        let panel_count = dense.bias.len() / nr;
        let threads = rayon::current_num_threads().max(1);
        let arch = self.arch;
        let x = &x[..rows * k];
        let out = &mut out[..rows * n];
        if rows >= threads * MIN_ROWS_PER_THREAD_FOR_ROW_SPLIT {
            // Many rows: each task multiplies a slab of rows by the whole weight matrix.
            x.par_chunks(ROWS_PER_TASK * k)
                .zip(out.par_chunks_mut(ROWS_PER_TASK * n))
                .for_each(|(a, out)| {
                    arch.dispatch(Gemm {
                        a,
                        dense,
                        act,
                        mr,
                        panels: 0..panel_count,
                        out,
                        ld: n,
                        col0: 0,
                    });
                });
            return;
        }
        // Few rows: each task computes a range of output columns, streaming only its share of
        // the weights, into its own buffer; the buffers are then copied into place. A few more
        // tasks than threads keep both cores busy when another process takes one for a while.
        let tasks = panel_count.min(4 * threads).max(1);
        let per_task = panel_count.div_ceil(tasks);
        let starts: Vec<usize> = (0..panel_count).step_by(per_task).collect();
        let parts: Vec<(Range<usize>, Vec<f32>)> = starts
            .into_par_iter()
            .map(|p0| {
                let p1 = (p0 + per_task).min(panel_count);
                let cols = p0 * nr..(p1 * nr).min(n);
                let width = cols.len();
                let mut buf = vec![0.0f32; rows * width];
                arch.dispatch(Gemm {
                    a: x,
                    dense,
                    act,
                    mr,
                    panels: p0..p1,
                    out: &mut buf,
                    ld: width,
                    col0: cols.start,
                });
                (cols, buf)
            })
            .collect();
        for (cols, buf) in parts {
            for (row, src) in buf.chunks_exact(cols.len()).enumerate() {
                out[row * n + cols.start..row * n + cols.end].copy_from_slice(src);
            }
        }
    }
}

/// One call of the matrix kernel: `out[row][col − col0] = act(a·Wᵀ + b)` for the rows of `a`
/// and the columns of `panels`.
struct Gemm<'a> {
    /// Activations, row-major, `dense.k` wide.
    a: &'a [f32],
    dense: &'a Dense,
    act: Option<HiddenAct>,
    mr: usize,
    panels: Range<usize>,
    out: &'a mut [f32],
    /// Row stride of `out`.
    ld: usize,
    /// Output column that `out`'s first column holds.
    col0: usize,
}

impl WithSimd for Gemm<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        if self.mr == 8 {
            self.run::<S, 8>(simd);
        } else {
            self.run::<S, 4>(simd);
        }
    }
}

impl Gemm<'_> {
    #[inline(always)]
    fn run<S: Simd, const MR: usize>(self, simd: S) {
        let lanes = S::F32_LANES;
        let nr = 2 * lanes;
        let Dense { k, n, .. } = *self.dense;
        let rows = self.a.len() / k;
        // Rows past the end of the last block read zeros and are not written.
        let zeros = vec![0.0f32; k];
        for p in self.panels {
            let (b, _) = S::as_simd_f32s(&self.dense.panels[p * k * nr..(p + 1) * k * nr]);
            let (bias, _) = S::as_simd_f32s(&self.dense.bias[p * nr..(p + 1) * nr]);
            let (bias0, bias1) = (bias[0], bias[1]);
            let cols = p * nr - self.col0..((p + 1) * nr).min(n) - self.col0;
            for block in (0..rows).step_by(MR) {
                let a: [&[f32]; MR] = std::array::from_fn(|r| {
                    let row = block + r;
                    if row < rows {
                        &self.a[row * k..(row + 1) * k]
                    } else {
                        &zeros[..]
                    }
                });
                let acc = micro_kernel::<S, MR>(simd, a, b);
                for (r, acc) in acc.iter().enumerate().take(rows - block) {
                    let start = (block + r) * self.ld;
                    let dst = &mut self.out[start + cols.start..start + cols.end];
                    let v0 = simd.add_f32s(acc[0], bias0);
                    let v1 = simd.add_f32s(acc[1], bias1);
                    match S::as_mut_simd_f32s(dst) {
                        ([d0, d1], []) => (*d0, *d1) = (v0, v1),
                        _ => {
                            // The last panel of a width that is not a multiple of `nr`.
                            let (lo, hi) = dst.split_at_mut(lanes.min(dst.len()));
                            simd.partial_store_f32s(lo, v0);
                            simd.partial_store_f32s(hi, v1);
                        }
                    }
                    if let Some(act) = self.act {
                        activate(act, dst);
                    }
                }
            }
        }
    }
}

/// `MR` rows of activations times one weight panel (two vectors wide), over the whole input
/// width: `MR × 2` accumulators live in registers for the whole loop; each step broadcasts one
/// value of each row and loads two vectors of weights.
#[inline(always)]
fn micro_kernel<S: Simd, const MR: usize>(
    simd: S,
    a: [&[f32]; MR],
    b: &[S::f32s],
) -> [[S::f32s; 2]; MR] {
    let zero = simd.splat_f32s(0.0);
    let mut acc = [[zero; 2]; MR];
    let (b, _) = b.as_chunks::<2>();
    let k = b.len();
    // Same length as `b`, so that the compiler drops the bounds checks in the loop.
    let a = a.map(|row| &row[..k]);
    for (kk, b) in b.iter().enumerate() {
        for r in 0..MR {
            let x = simd.splat_f32s(a[r][kk]);
            acc[r][0] = simd.mul_add_f32s(x, b[0], acc[r][0]);
            acc[r][1] = simd.mul_add_f32s(x, b[1], acc[r][1]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use pulp::Arch;

    use super::super::{DetectTile, LayerNorm};
    use super::*;

    #[test]
    fn dense_matches_a_naive_matmul() {
        let arch = Arch::new();
        let tile = arch.dispatch(DetectTile);
        let (k, n) = (37, 70);
        let weight: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0)
            .collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 / 10.0).collect();
        let dense = Dense::new(&weight, &bias, k, n, tile.nr);
        for rows in [1, 5, 8, 13, 200] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0)
                .collect();
            let bert = Bert {
                arch,
                tile,
                hidden: 0,
                heads: 1,
                act: HiddenAct::Relu,
                vocab: 0,
                max_positions: 0,
                word: Vec::new(),
                position: Vec::new(),
                token_type: Vec::new(),
                embed_norm: LayerNorm {
                    weight: Vec::new(),
                    bias: Vec::new(),
                    eps: 0.0,
                },
                layers: Vec::new(),
                scratch: Mutex::default(),
            };
            let mut out = vec![0.0; rows * n];
            bert.dense(&x, rows, &dense, None, &mut out);
            for r in 0..rows {
                for c in 0..n {
                    let want: f32 = bias[c]
                        + (0..k)
                            .map(|i| x[r * k + i] * weight[c * k + i])
                            .sum::<f32>();
                    let got = out[r * n + c];
                    assert!(
                        (got - want).abs() < 1e-3,
                        "rows {rows} [{r}][{c}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
