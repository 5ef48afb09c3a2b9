//! Loading a BERT checkpoint: reads the safetensors weights through candle's `VarBuilder`
//! (accepting the same parameter names and prefixes as candle-transformers' `BertModel`) and
//! packs them for the kernels once, at load.

use std::sync::Mutex;

use candle_core::{Error, Result};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use pulp::Arch;

use super::dense::Dense;
use super::{Bert, DetectTile, Layer, LayerNorm};

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
}
