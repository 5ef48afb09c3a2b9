//! The model being fine-tuned (the weights, with the transformer layers as variables, and a
//! differentiable forward pass over them), what any model being fine-tuned offers the losses
//! ([`Trainable`]), and the two losses.

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, IndexOp, Tensor, Var};
use candle_transformers::models::bert::Config;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::net::Net;
use crate::ModelError;

/// A model being fine-tuned, as the losses see it.
pub(super) trait Trainable {
    /// Unit-length embeddings of `texts`, as a `[texts, dim]` tensor that carries gradients
    /// to the variables.
    fn embed(&self, texts: &[&str]) -> Result<Tensor, ModelError>;
    /// [`Trainable::embed`] without gradients (the label means' pass over all texts): a model
    /// whose graph is small may build it and drop it (this default); the BERT-family one
    /// records none, so every intermediate is freed as soon as it is used.
    fn embed_untracked(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        Ok(self.embed(texts)?.detach())
    }
    /// Width of the embeddings.
    fn dim(&self) -> usize;
    /// The weights the fine-tune trains.
    fn vars(&self) -> Vec<Var>;
    /// The weights to write out after training, by name.
    fn tensors(&self) -> Result<HashMap<String, Tensor>, ModelError>;
}

/// The BERT-family model being trained: the weights, with the transformer layers as variables.
pub(super) struct Trainee {
    config: Config,
    tokenizer: Tokenizer,
    tensors: HashMap<String, Tensor>,
    vars: Vec<Var>,
    hidden: usize,
}

impl Trainee {
    /// Loads the model in `dir`; the layers from `frozen_layers` up train.
    pub(super) fn load(
        dir: &Path,
        max_tokens: usize,
        frozen_layers: usize,
    ) -> Result<Self, ModelError> {
        let corrupt = |file: &'static str| {
            let dir = dir.to_owned();
            move |e: &dyn std::fmt::Display| ModelError::Corrupt {
                dir,
                file,
                reason: e.to_string(),
            }
        };
        let read = |file: &str| {
            std::fs::read(dir.join(file)).map_err(|source| ModelError::Io {
                path: dir.join(file),
                source,
            })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| corrupt("config.json")(&e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| corrupt("tokenizer.json")(&e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: u32::try_from(config.pad_token_id).unwrap_or(0),
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| corrupt("tokenizer.json")(&e))?;
        if frozen_layers >= config.num_hidden_layers {
            return Err(ModelError::Training(format!(
                "{frozen_layers} frozen layers leave none of the model's {} to train",
                config.num_hidden_layers
            )));
        }
        let mut tensors =
            candle_core::safetensors::load_buffer(&read("model.safetensors")?, &Device::Cpu)
                .map_err(|e| corrupt("model.safetensors")(&e))?;
        // The transformer layers train; the embeddings stay as shipped (module documentation).
        let mut vars = Vec::new();
        for (name, tensor) in tensors.iter_mut() {
            *tensor = tensor.to_dtype(DType::F32)?;
            if layer_of(name).is_some_and(|layer| layer >= frozen_layers) {
                let var = Var::from_tensor(tensor)?;
                *tensor = var.as_tensor().clone();
                vars.push(var);
            }
        }
        if vars.is_empty() {
            return Err(corrupt("model.safetensors")(&"no encoder layers"));
        }
        Net::new(&tensors, &config).map_err(|e| corrupt("model.safetensors")(&e))?;
        Ok(Self {
            hidden: config.hidden_size,
            config,
            tokenizer,
            tensors,
            vars,
        })
    }

    /// Mean-pooled, unit-length embeddings of `texts` through the weights `tensors` (this
    /// model's, tracked or detached).
    fn pooled(
        &self,
        tensors: &HashMap<String, Tensor>,
        texts: &[&str],
    ) -> Result<Tensor, ModelError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Tokenize(e.to_string()))?;
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(texts.len() * width);
        let mut mask = Vec::with_capacity(texts.len() * width);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend(e.get_attention_mask().iter().map(|&m| m as f32));
        }
        let shape = (texts.len(), width);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let hidden = Net::new(tensors, &self.config)?.forward(&ids, &mask)?;
        let summed = hidden.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        let pooled = summed.broadcast_div(&mask.sum_keepdim(1)?)?;
        normalise(&pooled)
    }
}

impl Trainable for Trainee {
    /// Mean-pooled, unit-length embeddings, as served.
    fn embed(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        self.pooled(&self.tensors, texts)
    }

    /// Through detached copies of the weights (the same storage): nothing records the graph.
    fn embed_untracked(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        let detached = self
            .tensors
            .iter()
            .map(|(name, t)| (name.clone(), t.detach()))
            .collect();
        self.pooled(&detached, texts)
    }

    fn dim(&self) -> usize {
        self.hidden
    }

    fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }

    /// All of the model's weights, frozen and trained: a tuned folder is a full model.
    fn tensors(&self) -> Result<HashMap<String, Tensor>, ModelError> {
        // The variables were updated in place; the map holds the same storage.
        self.tensors
            .iter()
            .map(|(name, t)| Ok((name.clone(), t.detach().copy()?)))
            .collect()
    }
}

/// The transformer layer a parameter belongs to (`encoder.layer.3.output.dense.weight` → 3).
fn layer_of(name: &str) -> Option<usize> {
    let (_, rest) = name.split_once("encoder.layer.")?;
    rest.split('.').next()?.parse().ok()
}

/// Rows scaled to unit length.
pub(super) fn normalise(x: &Tensor) -> Result<Tensor, ModelError> {
    let norm = (x.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}

/// Normalised mean frozen embedding of each label: the proxies' starting directions, so the
/// first steps refine the geometry instead of undoing a random classifier's gradients.
pub(super) fn label_means(
    trainee: &dyn Trainable,
    texts: &[(String, usize)],
    labels: usize,
) -> Result<Tensor, ModelError> {
    let mut sums: Vec<Option<Tensor>> = vec![None; labels];
    for chunk in texts.chunks(64) {
        let refs: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
        let rows = trainee.embed_untracked(&refs)?;
        for (i, (_, label)) in chunk.iter().enumerate() {
            let row = rows.i(i)?;
            sums[*label] = Some(match sums[*label].take() {
                Some(sum) => (sum + row)?,
                None => row,
            });
        }
    }
    let hidden = trainee.dim();
    let rows = sums
        .into_iter()
        .map(|s| s.map_or_else(|| Tensor::zeros(hidden, DType::F32, &Device::Cpu), Ok))
        .collect::<Result<Vec<_>, _>>()?;
    normalise(&Tensor::stack(&rows, 0)?)
}

/// [`Recipe::Proxy`](super::Recipe::Proxy)'s cross-entropy over the scaled cosines of each text
/// of `batch` with every label's direction.
pub(super) fn proxy_loss(
    trainee: &dyn Trainable,
    texts: &[(String, usize)],
    batch: &[usize],
    proxies: &Var,
    scale: f64,
) -> Result<Tensor, ModelError> {
    let refs: Vec<&str> = batch.iter().map(|&i| texts[i].0.as_str()).collect();
    let targets: Vec<u32> = batch.iter().map(|&i| texts[i].1 as u32).collect();
    let embedded = trainee.embed(&refs)?;
    let logits = (embedded.matmul(&normalise(proxies.as_tensor())?.t()?)? * scale)?;
    let targets = Tensor::new(targets, &Device::Cpu)?;
    Ok(candle_nn::loss::cross_entropy(&logits, &targets)?)
}

/// Texts per forward and backward pass of a [`Recipe::Proxy`] step. The graph a pass keeps for
/// its backward grows with its texts (BANKING77's longer texts took a batch of 32 to 1.8 GB
/// peak), so a step's batch runs in micro-batches whose gradients are summed, each weighted by
/// its share of the batch: the loss is a mean over texts, so the sum is the whole batch's
/// gradient, and only the optimiser's step sees it.
pub(super) const MICRO_BATCH: usize = 8;

/// The gradients of [`proxy_loss`] over `batch`, computed [`MICRO_BATCH`] texts at a time, and
/// the batch's loss.
pub(super) fn proxy_grads(
    trainee: &dyn Trainable,
    texts: &[(String, usize)],
    batch: &[usize],
    proxies: &Var,
    scale: f64,
) -> Result<(GradStore, f32), ModelError> {
    let mut total: Option<GradStore> = None;
    let mut loss = 0.0;
    for micro in batch.chunks(MICRO_BATCH) {
        let share = micro.len() as f64 / batch.len().max(1) as f64;
        let part = (proxy_loss(trainee, texts, micro, proxies, scale)? * share)?;
        loss += part.to_scalar::<f32>()?;
        let grads = part.backward()?;
        // `extend` adds the gradients of the variables both stores hold.
        match &mut total {
            None => total = Some(grads),
            Some(sum) => sum.extend(grads)?,
        }
    }
    let grads = total.ok_or_else(|| ModelError::Training("an empty fine-tuning step".into()))?;
    Ok((grads, loss))
}

/// [`Recipe::Pairs`](super::Recipe::Pairs)' in-batch negatives loss, both ways.
pub(super) fn pair_loss(
    trainee: &dyn Trainable,
    texts: &[(String, usize)],
    batch: &[usize],
    scale: f64,
) -> Result<Tensor, ModelError> {
    // `batch` is anchor, partner, anchor, partner, ...: one pair per label.
    let refs: Vec<&str> = batch.iter().map(|&i| texts[i].0.as_str()).collect();
    let embedded = trainee.embed(&refs)?;
    let pairs = batch.len() / 2;
    let embedded = embedded.reshape((pairs, 2, ()))?;
    let anchors = embedded.i((.., 0))?.contiguous()?;
    let partners = embedded.i((.., 1))?.contiguous()?;
    let logits = (anchors.matmul(&partners.t()?)? * scale)?;
    let targets = Tensor::arange(0u32, pairs as u32, &Device::Cpu)?;
    let forward = candle_nn::loss::cross_entropy(&logits, &targets)?;
    let backward = candle_nn::loss::cross_entropy(&logits.t()?, &targets)?;
    Ok(((forward + backward)? * 0.5)?)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The shipped English model (`make test` fetches it before the tests run).
    fn model_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
    }

    #[test]
    fn micro_batches_sum_to_the_whole_batch_gradient() {
        // Tried: 11 texts of different lengths over 3 labels, so one full micro-batch and a
        // short one, each padded to its own longest text; a weighting by micro-batches instead
        // of texts, or a lost micro-batch, would move the sum away from the whole batch's.
        let texts: Vec<(String, usize)> = [
            ("my card was declined", 0),
            ("why was my card refused at the shop yesterday evening", 0),
            ("card rejected", 0),
            ("the payment with my card did not go through", 0),
            ("where is my parcel", 1),
            (
                "my order has not arrived and it has been two weeks already",
                1,
            ),
            ("track my order", 1),
            ("how do i reset my password", 2),
            ("forgot password", 2),
            (
                "i cannot sign in to my account because the code never comes",
                2,
            ),
            ("change my password", 2),
        ]
        .iter()
        .map(|(t, l)| ((*t).to_owned(), *l))
        .collect();
        assert!(texts.len() > MICRO_BATCH);
        let trainee = Trainee::load(&model_dir(), 48, 4).expect("load the model");
        let proxies =
            Var::from_tensor(&label_means(&trainee, &texts, 3).expect("means")).expect("proxies");
        let mut vars = trainee.vars();
        vars.push(proxies.clone());
        let batch: Vec<usize> = (0..texts.len()).collect();

        let (micro, loss) =
            proxy_grads(&trainee, &texts, &batch, &proxies, 20.0).expect("micro-batches");
        let whole_loss = proxy_loss(&trainee, &texts, &batch, &proxies, 20.0).expect("loss");
        let whole = whole_loss.backward().expect("backward");

        let whole_loss = whole_loss.to_scalar::<f32>().expect("scalar");
        assert!((loss - whole_loss).abs() < 1e-4, "{loss} vs {whole_loss}");
        for var in &vars {
            let a = micro
                .get(var.as_tensor())
                .expect("a micro-batched gradient");
            let b = whole.get(var.as_tensor()).expect("a whole-batch gradient");
            let largest = b
                .abs()
                .and_then(|t| t.max_all())
                .and_then(|t| t.to_scalar::<f32>());
            let diff = (a - b).and_then(|t| t.abs()).and_then(|t| t.max_all());
            let (largest, diff) = (largest.expect("max"), diff.expect("diff"));
            let diff = diff.to_scalar::<f32>().expect("scalar");
            assert!(largest > 0.0, "a variable without gradient");
            // The floor is for gradients that are zero but for rounding (the attention keys'
            // bias: a constant added to every key does not change the softmax).
            assert!(
                diff <= 1e-3 * largest + 1e-6,
                "gradients differ by {diff} (largest {largest})"
            );
        }
    }
}
