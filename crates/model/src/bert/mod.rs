//! A BERT encoder forward pass for small batches of short texts on the CPU.
//!
//! candle's `BertModel` computes the same thing, but for a support-chat message (~12 tokens) most
//! of its time went to things other than arithmetic: every op allocates a tensor, the matrix
//! multiplications repack the weight matrix on every call, the exact GELU runs a scalar `erf`,
//! and a batch is padded to its longest member. This module keeps candle for reading the
//! safetensors weights and does the forward pass itself:
//!
//! - **Weights packed once at load** into column panels laid out for the matrix kernel, with
//!   the query, key and value projections fused into one matrix (and the attention scale folded
//!   into the query weights).
//! - **One matrix kernel** (`Gemm` in [`dense`]): an `MR × NR` register-tile micro-kernel written with
//!   `pulp`'s portable SIMD, dispatched at run time to AVX-512 (or AVX2, or scalar) without
//!   `unsafe`. Large matmuls are split over rows, small ones (a single message) over columns,
//!   across rayon's threads.
//! - **No padding**: the tokens of all texts in a batch are stacked into one matrix for the dense
//!   layers, and attention runs per text over its own tokens. Padded tokens are masked out of
//!   attention and pooling anyway, so the result is the same as the padded computation without
//!   its cost.
//! - **Vectorisable activations**: GELU uses a polynomial `erf` (absolute error < 5·10⁻⁷ in `f32`) and
//!   softmax a polynomial `exp`, both written so the compiler vectorises them.
//!
//! The module is split by job:
//!
//! - this file: the model's layout and the forward pass ([`Bert::mean_pooled`]);
//! - [`load`]: reading the safetensors weights and packing them;
//! - [`dense`]: the dense layers, i.e. the packed weight layout, the matrix kernel and how a
//!   matmul is split across threads;
//! - [`kernels`]: the vectorised element-wise kernels (GELU, `erf`, `exp`, sums), per-text
//!   attention and add & layer norm.

mod dense;
mod kernels;
mod load;

use std::ops::Range;
use std::sync::Mutex;

use candle_core::{Error, Result};
use candle_transformers::models::bert::HiddenAct;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use dense::Dense;
use kernels::{AddNorm, Attend};

/// Register tile of the matrix kernel for the SIMD level found at run time.
#[derive(Debug, Clone, Copy)]
struct Tile {
    /// Rows of the activations per micro-kernel call.
    mr: usize,
    /// Columns of the weights per panel: two SIMD vectors.
    nr: usize,
}

/// Asks `pulp` which tile suits the CPU: two vectors wide, and 8 rows tall when there are 32
/// vector registers (16 accumulators + 2 weight vectors + 1 broadcast), 4 when there are 16.
struct DetectTile;

impl WithSimd for DetectTile {
    type Output = Tile;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> Tile {
        Tile {
            mr: if S::REGISTER_COUNT >= 32 { 8 } else { 4 },
            nr: 2 * S::F32_LANES,
        }
    }
}

/// Layer normalisation over the hidden dimension.
struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

/// One transformer block.
struct Layer {
    /// Query (pre-scaled by 1/√head_dim), key and value projections side by side.
    qkv: Dense,
    attn_out: Dense,
    attn_norm: LayerNorm,
    ff_in: Dense,
    ff_out: Dense,
    ff_norm: LayerNorm,
}

/// Activation buffers of one forward pass, rows × width.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    mid: Vec<f32>,
}

/// A BERT encoder ready to run on the CPU.
pub struct Bert {
    arch: Arch,
    tile: Tile,
    hidden: usize,
    heads: usize,
    act: HiddenAct,
    vocab: usize,
    max_positions: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    /// Row 0 of the token-type embeddings: every text is a single segment.
    token_type: Vec<f32>,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    /// Reusable activation buffers (see [`Bert::take_scratch`]).
    scratch: Mutex<Vec<Scratch>>,
}

impl std::fmt::Debug for Bert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bert")
            .field("hidden", &self.hidden)
            .field("layers", &self.layers.len())
            .field("tile", &self.tile)
            .finish()
    }
}

impl Bert {
    /// Width of the hidden states.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Runs the encoder over each token sequence (token type 0, no padding) and returns, per
    /// sequence, the mean of its last hidden states.
    pub fn mean_pooled(&self, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let h = self.hidden;
        let mut spans = Vec::with_capacity(texts.len());
        let mut rows = 0;
        for ids in texts {
            if ids.len() > self.max_positions {
                return Err(Error::Msg(format!(
                    "{} tokens, more than the {} positions of the model",
                    ids.len(),
                    self.max_positions
                )));
            }
            if let Some(id) = ids.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(Error::Msg(format!("token id {id} outside the vocabulary")));
            }
            spans.push(rows..rows + ids.len());
            rows += ids.len();
        }

        let mut scratch = self.take_scratch();
        let Scratch {
            x,
            qkv,
            ctx,
            tmp,
            mid,
        } = &mut scratch;
        let inter = self.layers.first().map_or(0, |l| l.ff_in.n);
        // Every element of these is written before it is read: no need to clear them.
        for (buf, len) in [
            (&mut *x, rows * h),
            (&mut *qkv, rows * 3 * h),
            (&mut *ctx, rows * h),
            (&mut *tmp, rows * h),
            (&mut *mid, rows * inter),
        ] {
            buf.resize(len, 0.0);
        }

        // Embeddings: word + position + token type 0, then layer norm (of 0 + embeddings).
        for (ids, span) in texts.iter().zip(&spans) {
            let out = tmp[span.start * h..span.end * h].chunks_exact_mut(h);
            for (pos, (&id, out)) in ids.iter().zip(out).enumerate() {
                let word = &self.word[id as usize * h..][..h];
                let position = &self.position[pos * h..][..h];
                for (((o, w), p), t) in out.iter_mut().zip(word).zip(position).zip(&self.token_type)
                {
                    *o = w + p + t;
                }
            }
        }
        x.fill(0.0);
        self.add_norm(x, tmp, &self.embed_norm);

        for layer in &self.layers {
            self.dense(x, rows, &layer.qkv, None, qkv);
            self.attention(qkv, &spans, ctx);
            self.dense(ctx, rows, &layer.attn_out, None, tmp);
            self.add_norm(x, tmp, &layer.attn_norm);
            self.dense(x, rows, &layer.ff_in, Some(self.act), mid);
            self.dense(mid, rows, &layer.ff_out, None, tmp);
            self.add_norm(x, tmp, &layer.ff_norm);
        }

        let pooled = spans
            .iter()
            .map(|span| {
                let mut mean = vec![0.0f32; h];
                for row in x[span.start * h..span.end * h].chunks_exact(h) {
                    mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
                }
                let count = span.len().max(1) as f32;
                mean.iter_mut().for_each(|m| *m /= count);
                mean
            })
            .collect();
        self.give_back(scratch);
        Ok(pooled)
    }

    /// Activation buffers from the pool, or new ones. Reusing them spares the page faults of
    /// fresh multi-megabyte allocations on every batch.
    fn take_scratch(&self) -> Scratch {
        let mut pool = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        pool.pop().unwrap_or_default()
    }

    fn give_back(&self, scratch: Scratch) {
        let mut pool = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        // One set per concurrent caller is plenty; a burst of callers leaves no more than this.
        if pool.len() < 4 {
            pool.push(scratch);
        }
    }
    /// Self-attention of each text over its own tokens; writes the per-head contexts side by
    /// side into `ctx` (rows as in `qkv`).
    fn attention(&self, qkv: &[f32], spans: &[Range<usize>], ctx: &mut [f32]) {
        let h = self.hidden;
        let mut parts = Vec::with_capacity(spans.len());
        let mut rest = ctx;
        for span in spans {
            let (part, tail) = rest.split_at_mut(span.len() * h);
            parts.push((&qkv[span.start * 3 * h..span.end * 3 * h], part));
            rest = tail;
        }
        let op = |(qkv, out): (&[f32], &mut [f32])| {
            self.arch.dispatch(Attend {
                qkv,
                out,
                hidden: h,
                heads: self.heads,
            });
        };
        if parts.len() > 1 {
            parts.into_par_iter().for_each(op);
        } else {
            parts.into_iter().for_each(op);
        }
    }

    /// `x = LayerNorm(x + y)` row by row.
    fn add_norm(&self, x: &mut [f32], y: &[f32], norm: &LayerNorm) {
        let h = self.hidden;
        let chunk = 32 * h;
        let arch = self.arch;
        let op = |(x, y): (&mut [f32], &[f32])| {
            arch.dispatch(AddNorm {
                x,
                y,
                norm,
                hidden: h,
            })
        };
        if x.len() > chunk {
            x.par_chunks_mut(chunk)
                .zip(y.par_chunks(chunk))
                .for_each(op);
        } else {
            op((x, y));
        }
    }
}
