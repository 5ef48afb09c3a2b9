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
//! - **One matrix kernel** ([`Gemm`]): an `MR × NR` register-tile micro-kernel written with
//!   `pulp`'s portable SIMD, dispatched at run time to AVX-512 (or AVX2, or scalar) without
//!   `unsafe`. Large matmuls are split over rows, small ones (a single message) over columns,
//!   across rayon's threads.
//! - **No padding**: the tokens of all texts in a batch are stacked into one matrix for the dense
//!   layers, and attention runs per text over its own tokens. Padded tokens are masked out of
//!   attention and pooling anyway, so the result is the same as the padded computation without
//!   its cost.
//! - **Vectorisable activations**: GELU uses a polynomial `erf` (absolute error < 5·10⁻⁷ in `f32`) and
//!   softmax a polynomial `exp`, both written so the compiler vectorises them.

use std::ops::Range;
use std::sync::Mutex;

use candle_core::{Error, Result};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Activation rows per task when a matmul is split over rows: a multiple of every `MR`, and
/// small enough that a task's rows stay in the L2 cache.
const ROWS_PER_TASK: usize = 48;
/// Below this many rows per thread, a matmul is split over column panels instead: each thread
/// then streams only its share of the weights, which is what bounds a single short message.
const MIN_ROWS_PER_THREAD_FOR_ROW_SPLIT: usize = 2 * ROWS_PER_TASK;

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

/// A dense layer `y = x·Wᵀ + b` with `W` packed for the kernel.
struct Dense {
    /// Input width.
    k: usize,
    /// Output width.
    n: usize,
    /// `W` in panels of `nr` output columns; panel `p` holds, for each input index `kk`, the
    /// `nr` weights `W[p·nr + j][kk]` contiguously (zero past `n`).
    panels: Vec<f32>,
    /// The bias, zero-padded to a whole number of panels.
    bias: Vec<f32>,
}

impl Dense {
    /// Packs a row-major `n × k` weight matrix (PyTorch's `Linear` layout) and its bias.
    fn new(weight: &[f32], bias: &[f32], k: usize, n: usize, nr: usize) -> Self {
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

/// Reads a tensor of `shape` as a flat `Vec<f32>`.
fn get(vb: &VarBuilder, shape: &[usize], name: &str) -> Result<Vec<f32>> {
    vb.get(shape, name)?.flatten_all()?.to_vec1::<f32>()
}

fn load_norm(vb: &VarBuilder, size: usize, eps: f64) -> Result<LayerNorm> {
    // Older checkpoints name the parameters gamma/beta, as candle's `layer_norm` accepts too.
    let weight = if vb.contains_tensor("gamma") {
        "gamma"
    } else {
        "weight"
    };
    let bias = if vb.contains_tensor("beta") {
        "beta"
    } else {
        "bias"
    };
    Ok(LayerNorm {
        weight: get(vb, &[size], weight)?,
        bias: get(vb, &[size], bias)?,
        eps: eps as f32,
    })
}

fn load_dense(vb: &VarBuilder, k: usize, n: usize, nr: usize) -> Result<Dense> {
    let weight = get(vb, &[n, k], "weight")?;
    let bias = get(vb, &[n], "bias")?;
    Ok(Dense::new(&weight, &bias, k, n, nr))
}

impl Bert {
    /// Loads the weights of a `BertModel` (with or without a `bert.` or `<model_type>.` prefix,
    /// as candle's loader accepts) and packs them for the kernels.
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !hidden.is_multiple_of(heads) {
            return Err(Error::Msg(format!(
                "hidden size {hidden} is not a multiple of the {heads} attention heads"
            )));
        }
        let mut prefixes = vec![String::new(), "bert.".to_owned()];
        if let Some(model_type) = &config.model_type {
            prefixes.push(format!("{model_type}."));
        }
        let vb = match prefixes
            .iter()
            .find(|p| vb.contains_tensor(&format!("{p}embeddings.word_embeddings.weight")))
        {
            Some(p) if !p.is_empty() => vb.pp(p.trim_end_matches('.')),
            _ => vb,
        };

        let arch = Arch::new();
        let tile = arch.dispatch(DetectTile);
        let nr = tile.nr;
        let emb = vb.pp("embeddings");
        let word = get(
            &emb.pp("word_embeddings"),
            &[config.vocab_size, hidden],
            "weight",
        )?;
        let position = get(
            &emb.pp("position_embeddings"),
            &[config.max_position_embeddings, hidden],
            "weight",
        )?;
        let token_type = get(
            &emb.pp("token_type_embeddings"),
            &[config.type_vocab_size, hidden],
            "weight",
        )?;
        let token_type = token_type
            .get(..hidden)
            .ok_or_else(|| Error::Msg("empty token type embeddings".to_owned()))?
            .to_vec();
        let embed_norm = load_norm(&emb.pp("LayerNorm"), hidden, config.layer_norm_eps)?;

        let scale = 1.0 / ((hidden / heads) as f32).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let vb = vb.pp(format!("encoder.layer.{index}"));
            let attn = vb.pp("attention");
            let mut qkv_weight = Vec::with_capacity(3 * hidden * hidden);
            let mut qkv_bias = Vec::with_capacity(3 * hidden);
            for (name, factor) in [("query", scale), ("key", 1.0), ("value", 1.0)] {
                let part = attn.pp("self").pp(name);
                qkv_weight.extend(
                    get(&part, &[hidden, hidden], "weight")?
                        .iter()
                        .map(|w| w * factor),
                );
                qkv_bias.extend(get(&part, &[hidden], "bias")?.iter().map(|b| b * factor));
            }
            let inter = config.intermediate_size;
            layers.push(Layer {
                qkv: Dense::new(&qkv_weight, &qkv_bias, hidden, 3 * hidden, nr),
                attn_out: load_dense(&attn.pp("output").pp("dense"), hidden, hidden, nr)?,
                attn_norm: load_norm(
                    &attn.pp("output").pp("LayerNorm"),
                    hidden,
                    config.layer_norm_eps,
                )?,
                ff_in: load_dense(&vb.pp("intermediate").pp("dense"), hidden, inter, nr)?,
                ff_out: load_dense(&vb.pp("output").pp("dense"), inter, hidden, nr)?,
                ff_norm: load_norm(
                    &vb.pp("output").pp("LayerNorm"),
                    hidden,
                    config.layer_norm_eps,
                )?,
            });
        }
        Ok(Self {
            arch,
            tile,
            hidden,
            heads,
            act: config.hidden_act,
            vocab: config.vocab_size,
            max_positions: config.max_position_embeddings,
            word,
            position,
            token_type,
            embed_norm,
            layers,
            scratch: Mutex::default(),
        })
    }

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

    /// `out = act(x·Wᵀ + b)` for `rows` rows of `x`, in parallel.
    fn dense(
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

/// Applies the activation in place.
#[inline(always)]
fn activate(act: HiddenAct, xs: &mut [f32]) {
    match act {
        HiddenAct::Gelu => xs.iter_mut().for_each(|x| *x = gelu_erf(*x)),
        HiddenAct::GeluApproximate => xs.iter_mut().for_each(|x| *x = gelu_tanh(*x)),
        HiddenAct::Relu => xs.iter_mut().for_each(|x| *x = x.max(0.0)),
    }
}

/// Exact GELU, `x·Φ(x)`, with [`erf`].
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// The tanh approximation of GELU.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let z = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    // tanh(z) = 1 − 2 / (e^{2z} + 1), well-behaved at both ends with a clamped exp.
    let tanh = 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
    0.5 * x * (1.0 + tanh)
}

/// `erf` by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5·10⁻⁷, < 5·10⁻⁷ after `f32`
/// rounding), branch-free so that it
/// vectorises, unlike the scalar library `erf`.
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152,
        1.061_405_4,
    ];
    let z = x.abs();
    let t = 1.0 / (1.0 + P * z);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp(-z * z);
    y.copysign(x)
}

/// `eˣ` for `f32` (relative error ~2·10⁻⁷), branch-free so that it vectorises: `x = n·ln2 + r`
/// with a Cephes polynomial for `eʳ` and `2ⁿ` built from the exponent bits. Clamped to the range
/// where the result is a normal float; below it, returns ~1e-38 (attention and erf only need
/// "negligible").
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2²³ rounds to the nearest integer n without a rounding instruction (which
    // baseline x86-64 lacks) and leaves n in the low mantissa bits: bits = ROUND_BITS + n. Going
    // through the bits avoids a float → int cast, which Rust saturates and LLVM then scalarises.
    const ROUND: f32 = 12_582_912.0;
    const ROUND_BITS: u32 = 0x4b40_0000;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // 2ⁿ: exponent field n + 127 (n is in [-126, 127] after the clamp).
    let scale = f32::from_bits(shifted.to_bits().wrapping_sub(ROUND_BITS).wrapping_add(127) << 23);
    er * scale
}

/// Sum of `a[i]·b[i]` in SIMD vectors (a plain float sum must keep its sequential order, which
/// the compiler does not vectorise).
#[inline(always)]
fn dot<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (av, at) = S::as_simd_f32s(a);
    let (bv, bt) = S::as_simd_f32s(b);
    let mut acc = simd.splat_f32s(0.0);
    for (x, y) in av.iter().zip(bv) {
        acc = simd.mul_add_f32s(*x, *y, acc);
    }
    simd.reduce_sum_f32s(acc) + at.iter().zip(bt).map(|(x, y)| x * y).sum::<f32>()
}

/// Sum of `a[i]` in SIMD vectors, like [`dot`].
#[inline(always)]
fn sum<S: Simd>(simd: S, a: &[f32]) -> f32 {
    let (av, at) = S::as_simd_f32s(a);
    let mut acc = simd.splat_f32s(0.0);
    for x in av {
        acc = simd.add_f32s(*x, acc);
    }
    simd.reduce_sum_f32s(acc) + at.iter().sum::<f32>()
}

/// Self-attention of one text: `qkv` holds its rows `[q | k | v]`, `out` its context rows.
struct Attend<'a> {
    qkv: &'a [f32],
    out: &'a mut [f32],
    hidden: usize,
    heads: usize,
}

impl WithSimd for Attend<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let h = self.hidden;
        let d = h / self.heads;
        let len = self.out.len() / h;
        // Padded to whole vectors so that the exp loop vectorises without a scalar remainder;
        // only the first `len` scores are used.
        let mut scores = vec![0.0f32; len.next_multiple_of(16)];
        for head in 0..self.heads {
            let col = head * d;
            let key = |j: usize| &self.qkv[j * 3 * h + h + col..][..d];
            let value = |j: usize| &self.qkv[j * 3 * h + 2 * h + col..][..d];
            for i in 0..len {
                // The query weights carry the 1/√d scale already.
                let q = &self.qkv[i * 3 * h + col..][..d];
                for (j, s) in scores[..len].iter_mut().enumerate() {
                    *s = dot(simd, q, key(j));
                }
                let max = scores[..len]
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max);
                scores.iter_mut().for_each(|s| *s = exp(*s - max));
                let inv = 1.0 / sum(simd, &scores[..len]);
                // out = Σ_j p_j·v_j, accumulated in registers when the head is whole vectors.
                let out = &mut self.out[i * h + col..][..d];
                out.fill(0.0);
                let (out_v, out_t) = S::as_mut_simd_f32s(out);
                for (j, &s) in scores[..len].iter().enumerate() {
                    let p = s * inv;
                    let pv = simd.splat_f32s(p);
                    let (v_v, v_t) = S::as_simd_f32s(value(j));
                    for (o, v) in out_v.iter_mut().zip(v_v) {
                        *o = simd.mul_add_f32s(pv, *v, *o);
                    }
                    for (o, v) in out_t.iter_mut().zip(v_t) {
                        *o += p * v;
                    }
                }
            }
        }
    }
}

/// `x = LayerNorm(x + y)` for whole rows of `x`.
struct AddNorm<'a> {
    x: &'a mut [f32],
    y: &'a [f32],
    norm: &'a LayerNorm,
    hidden: usize,
}

impl WithSimd for AddNorm<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let h = self.hidden;
        let inv_h = 1.0 / h as f32;
        for (x, y) in self.x.chunks_exact_mut(h).zip(self.y.chunks_exact(h)) {
            x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
            let mean = sum(simd, x) * inv_h;
            x.iter_mut().for_each(|x| *x -= mean);
            let var = dot(simd, x, x) * inv_h;
            let inv_std = 1.0 / (var + self.norm.eps).sqrt();
            for ((x, w), b) in x.iter_mut().zip(&self.norm.weight).zip(&self.norm.bias) {
                *x = *x * inv_std * w + b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_are_accurate() {
        for i in -2000..=2000 {
            let x = i as f32 / 100.0;
            let e = exp(x);
            let want = x.exp();
            assert!(
                (e - want).abs() <= 4e-7 * want.max(1e-30),
                "exp({x}) = {e}, want {want}"
            );
        }
        // The series loses precision beyond |x| = 4, where erf is within 2e-8 of ±1 anyway.
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let want = erf_f64(f64::from(x)) as f32;
            assert!(
                (erf(x) - want).abs() < 5e-7,
                "erf({x}) = {}, want {want}",
                erf(x)
            );
        }
    }

    /// Reference erf by its Taylor series (accurate to ~1e-9 for |x| ≤ 4 in f64).
    fn erf_f64(x: f64) -> f64 {
        let mut term = x;
        let mut total = x;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -x * x / n;
            let add = term / (2.0 * n + 1.0);
            total += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

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
