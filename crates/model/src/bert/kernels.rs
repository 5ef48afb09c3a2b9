//! Vectorised element-wise kernels: the GELU activations with a polynomial `erf`, a polynomial
//! `exp` for softmax, SIMD dot products and sums, self-attention of one text over its own tokens,
//! and add & layer norm. All are branch-free or written with `pulp`'s SIMD types so that they
//! vectorise; [`Attend`] and [`AddNorm`] are dispatched at run time to the CPU's SIMD level.

use candle_transformers::models::bert::HiddenAct;
use pulp::{Simd, WithSimd};

use super::LayerNorm;

/// Applies the activation in place.
#[inline(always)]
pub(super) fn activate(act: HiddenAct, xs: &mut [f32]) {
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
pub(super) struct Attend<'a> {
    pub(super) qkv: &'a [f32],
    pub(super) out: &'a mut [f32],
    pub(super) hidden: usize,
    pub(super) heads: usize,
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
pub(super) struct AddNorm<'a> {
    pub(super) x: &'a mut [f32],
    pub(super) y: &'a [f32],
    pub(super) norm: &'a LayerNorm,
    pub(super) hidden: usize,
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
}
