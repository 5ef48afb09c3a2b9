//! A BERT forward pass built from candle's differentiable tensor ops, for training.
//!
//! Why not candle-transformers' `BertModel`: its layer norms run candle-nn's fused
//! `layer_norm` op, which has no backward pass in candle 0.11, so the gradient stops at the
//! first layer norm it meets (the last layer's output) and nothing below it learns (measured:
//! every weight came out of a CLINC150 epoch bit-identical). This pass writes the layer norm out
//! in elementary ops; the rest (linear layers, exact GELU, softmax attention, padding mask) is
//! what `BertModel` computes. Inference never runs it: the tuned weights are served by the fast
//! kernels in `src/bert`.

use std::collections::HashMap;

use candle_core::{D, Result, Tensor};
use candle_transformers::models::bert::Config;

/// `x · wᵀ + b` over the last dimension.
fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.broadcast_matmul(&w.t()?)?.broadcast_add(b)
}

/// Layer normalisation over the last dimension, in differentiable ops.
pub(crate) fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred
        .broadcast_div(&(var + eps)?.sqrt()?)?
        .broadcast_mul(w)?
        .broadcast_add(b)
}

/// The weights, looked up by the checkpoint's parameter names.
pub(super) struct Net<'a> {
    tensors: &'a HashMap<String, Tensor>,
    prefix: &'static str,
    config: &'a Config,
}

impl<'a> Net<'a> {
    /// The network over `tensors` (with or without a `bert.` prefix on the names).
    pub(super) fn new(tensors: &'a HashMap<String, Tensor>, config: &'a Config) -> Result<Self> {
        let prefix = ["", "bert."]
            .into_iter()
            .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
            .ok_or_else(|| candle_core::Error::Msg("no BERT embeddings in the weights".into()))?;
        Ok(Self {
            tensors,
            prefix,
            config,
        })
    }

    fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .get(&format!("{}{name}", self.prefix))
            .ok_or_else(|| candle_core::Error::Msg(format!("weight {name} is missing")))
    }

    fn dense(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        linear(
            x,
            self.get(&format!("{name}.weight"))?,
            self.get(&format!("{name}.bias"))?,
        )
    }

    fn norm(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        layer_norm(
            x,
            self.get(&format!("{name}.weight"))?,
            self.get(&format!("{name}.bias"))?,
            self.config.layer_norm_eps,
        )
    }

    /// Hidden states `[batch, tokens, hidden]` of `ids` `[batch, tokens]` with `mask` (1 for a
    /// token, 0 for padding, `f32`).
    pub(super) fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        let hidden = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let head = hidden / heads;

        let word = self
            .get("embeddings.word_embeddings.weight")?
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((batch, tokens, hidden))?;
        let position = self
            .get("embeddings.position_embeddings.weight")?
            .narrow(0, 0, tokens)?;
        let token_type = self
            .get("embeddings.token_type_embeddings.weight")?
            .narrow(0, 0, 1)?;
        let mut x = word.broadcast_add(&position)?.broadcast_add(&token_type)?;
        x = self.norm(&x, "embeddings.LayerNorm")?;

        // Padding gets a large negative score before the softmax.
        let bias = ((mask.ones_like()? - mask)? * -10_000.0)?.reshape((batch, 1, 1, tokens))?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((batch, tokens, heads, head))?
                .transpose(1, 2)?
                .contiguous()
        };
        let scale = 1.0 / (head as f64).sqrt();
        for layer in 0..self.config.num_hidden_layers {
            let at = |part: &str| format!("encoder.layer.{layer}.{part}");
            let q = split(self.dense(&x, &at("attention.self.query"))?)?;
            let k = split(self.dense(&x, &at("attention.self.key"))?)?;
            let v = split(self.dense(&x, &at("attention.self.value"))?)?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&bias)?;
            let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let context = weights
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch, tokens, hidden))?;
            let attended = self.dense(&context, &at("attention.output.dense"))?;
            x = self.norm(&(attended + &x)?, &at("attention.output.LayerNorm"))?;
            let inner = self.dense(&x, &at("intermediate.dense"))?.gelu_erf()?;
            let out = self.dense(&inner, &at("output.dense"))?;
            x = self.norm(&(out + &x)?, &at("output.LayerNorm"))?;
        }
        Ok(x)
    }
}
