//! The sentence encoder: a BERT-family transformer (weights read with candle), mean-pooled over
//! the tokens and L2-normalised (the sentence-transformers recipe for all-MiniLM-L6-v2), so the
//! dot product of two embeddings is their cosine similarity.
//!
//! Any folder with `config.json`, `tokenizer.json` and `model.safetensors` of a BERT-family
//! encoder works. When the folder carries a `SHA256SUMS` file (written by `models/fetch`), every
//! file is checked against it at load, so a truncated or corrupted download is caught at
//! start-up with a message saying how to fetch it again, not as nonsense answers later.
//!
//! # Two backends
//!
//! The same model can run on either of two forward passes ([`EncoderBackend`]), which give the
//! same embeddings (cosine ≥ 0.9999, checked by the `encoder_backends` integration test):
//!
//! - [`EncoderBackend::Candle`]: candle-transformers' `BertModel`, the reference implementation.
//!   Each batch is padded to its longest text (`BatchLongest`) with an attention mask, and the
//!   mean is taken over the mask. It is also the fallback for BERT variants the fast kernels do
//!   not cover.
//! - [`EncoderBackend::Fast`] (the default): `src/bert`, a hand-written forward pass over
//!   the same weights (packed SIMD matmuls, no padding: each text attends over its own tokens).
//!   It exists for speed: on this project's 2-core CPU, candle 0.11's `BertModel` takes ~14 ms
//!   for one message and embeds ~250–300 messages/s in batches, the fast path ~3 ms and ~600/s
//!   (measured with `examples/encoder_probe`: single-message p50 14.9 ms → 3.1 ms; batch-64
//!   throughput 293 → ~620 messages/s).

use std::ops::Range;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::ModelError;
use super::bert::Bert;
use super::usem::{self, Usem};

/// The files an encoder folder must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Optional checksum file in the `sha256sum` format.
pub const CHECKSUMS: &str = "SHA256SUMS";
/// Longest input in tokens. Customer messages are far shorter; the cap bounds the cost of a
/// pasted essay (attention is quadratic in length).
pub const MAX_TOKENS: usize = 128;

/// Which forward pass runs the encoder (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EncoderBackend {
    /// The hand-written CPU forward pass: same embeddings, several times faster.
    #[default]
    Fast,
    /// candle-transformers' `BertModel`: the reference implementation.
    Candle,
}

/// The loaded forward pass.
enum Model {
    Fast(Bert),
    Candle(BertModel),
}

/// A loaded encoder. Inference takes `&self`; share it behind an `Arc`.
///
/// With a Chinese model ([`Encoder::with_chinese`]) it reads each text with the model for its
/// language: Chinese ([`features::is_chinese`](crate::features::is_chinese)) with USE
/// multilingual, everything else with the BERT-family model. The embedding then has one block
/// per model ([`Encoder::blocks`]): the English block for English texts and the Chinese block
/// for Chinese ones, the other block zero. Everything downstream (the intent head, nearest
/// examples, retrieval) works unchanged on that one vector, and an English text's embedding,
/// and so every English figure, is exactly what it was without the Chinese model; two texts in
/// different languages have similarity 0 (retrieval never compares them anyway).
pub struct Encoder {
    model: Model,
    tokenizer: Tokenizer,
    /// Width of the BERT model's embeddings (the English block).
    dim: usize,
    /// The model for Chinese texts, when loaded (shared with a fine-tuned copy of this encoder,
    /// [`Encoder::with_chinese_of`]).
    chinese: Option<std::sync::Arc<Usem>>,
    /// Identity of the models for cache keys ([`Encoder::fingerprint`]).
    fingerprint: String,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("backend", &self.backend())
            .field("dim", &self.dim)
            .field("chinese", &self.chinese.is_some())
            .finish()
    }
}

impl Encoder {
    /// Loads the encoder in `dir` with the default (fast) backend, checking its files first.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        Self::load_with(dir, EncoderBackend::Fast)
    }

    /// Loads the encoder in `dir` to run on `backend`, checking its files first.
    pub fn load_with(dir: &Path, backend: EncoderBackend) -> Result<Self, ModelError> {
        for file in MODEL_FILES {
            if !dir.join(file).is_file() {
                return Err(ModelError::Missing {
                    dir: dir.to_owned(),
                    file,
                });
            }
        }
        verify_checksums(dir)?;
        let corrupt = |file: &'static str| {
            let dir = dir.to_owned();
            move |e: &dyn std::fmt::Display| ModelError::Corrupt {
                dir,
                file,
                reason: e.to_string(),
            }
        };

        let config_text = read(&dir.join("config.json"))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| corrupt("config.json")(&e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| corrupt("tokenizer.json")(&e))?;
        // The shipped tokenizer pads every input to 128 tokens; a chat message is ~15.
        tokenizer.with_padding(match backend {
            // The fast forward pass runs each text over its own tokens (the same result as
            // padding the batch and masking the padding out, without computing the padding).
            EncoderBackend::Fast => None,
            // `BertModel` takes a rectangular batch: pad it to its longest member only.
            EncoderBackend::Candle => Some(PaddingParams {
                strategy: PaddingStrategy::BatchLongest,
                pad_id: u32::try_from(config.pad_token_id).unwrap_or(0),
                ..PaddingParams::default()
            }),
        });
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| corrupt("tokenizer.json")(&e))?;

        let weights =
            std::fs::read(dir.join("model.safetensors")).map_err(|source| ModelError::Io {
                path: dir.join("model.safetensors"),
                source,
            })?;
        let vb = VarBuilder::from_slice_safetensors(&weights, DType::F32, &Device::Cpu)
            .map_err(|e| corrupt("model.safetensors")(&e))?;
        let weights_error = corrupt("model.safetensors");
        let (model, dim) = match backend {
            EncoderBackend::Fast => {
                let model = Bert::load(vb, &config).map_err(|e| weights_error(&e))?;
                let dim = model.hidden_size();
                (Model::Fast(model), dim)
            }
            EncoderBackend::Candle => {
                let model = BertModel::load(vb, &config).map_err(|e| weights_error(&e))?;
                (Model::Candle(model), config.hidden_size)
            }
        };
        Ok(Self {
            model,
            tokenizer,
            dim,
            chinese: None,
            fingerprint: crate::fingerprint(dir),
        })
    }

    /// Adds the model for Chinese texts from `dir` (USE multilingual v3: `weights.npz` and
    /// `sp.model`, checked against its `SHA256SUMS` like the main model).
    pub fn with_chinese(mut self, dir: &Path) -> Result<Self, ModelError> {
        for file in usem::FILES {
            if !dir.join(file).is_file() {
                return Err(ModelError::Missing {
                    dir: dir.to_owned(),
                    file,
                });
            }
        }
        verify_checksums(dir)?;
        self.chinese = Some(std::sync::Arc::new(Usem::load(dir)?));
        self.fingerprint = format!("{}\nchinese\n{}", self.fingerprint, crate::fingerprint(dir));
        Ok(self)
    }

    /// Adds `other`'s Chinese model (shared, not loaded again): a fine-tuned copy of the
    /// English model reads Chinese as the encoder it was tuned from.
    pub fn with_chinese_of(mut self, other: &Encoder) -> Self {
        if let Some(chinese) = &other.chinese {
            self.chinese = Some(std::sync::Arc::clone(chinese));
            let suffix = other
                .fingerprint
                .split_once("\nchinese\n")
                .map_or("", |(_, s)| s);
            self.fingerprint = format!("{}\nchinese\n{suffix}", self.fingerprint);
        }
        self
    }

    /// Whether Chinese texts are read by a model of their own.
    pub fn reads_chinese(&self) -> bool {
        self.chinese.is_some()
    }

    /// The embedding's blocks, one per model: the English block first, then the Chinese one
    /// when loaded.
    pub fn blocks(&self) -> Vec<Range<usize>> {
        match &self.chinese {
            Some(chinese) => vec![0..self.dim, self.dim..self.dim + chinese.dim()],
            None => std::iter::once(0..self.dim).collect(),
        }
    }

    /// Identity of the models (their checksums), for cache keys: a cache filled by one set of
    /// models must never answer for another.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The forward pass this encoder runs on.
    pub fn backend(&self) -> EncoderBackend {
        match self.model {
            Model::Fast(_) => EncoderBackend::Fast,
            Model::Candle(_) => EncoderBackend::Candle,
        }
    }

    /// Length of the embeddings (all blocks).
    pub fn dim(&self) -> usize {
        self.dim + self.chinese.as_deref().map_or(0, Usem::dim)
    }

    /// The Chinese model, when loaded and `text` is Chinese.
    fn chinese_for(&self, text: &str) -> Option<&Usem> {
        self.chinese
            .as_deref()
            .filter(|_| crate::features::is_chinese(text))
    }

    /// Number of tokens the model sees for `text` (after truncation to [`MAX_TOKENS`]), for
    /// diagnostics and benchmarks.
    pub fn token_count(&self, text: &str) -> Result<usize, ModelError> {
        if let Some(chinese) = self.chinese_for(text) {
            return Ok(chinese.piece_ids(&crate::features::simplified(text))?.len());
        }
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(ModelError::tokenize)?;
        Ok(encoding.get_ids().len())
    }

    /// Embeds a batch of texts: one unit-length vector per text, in order, each read by the
    /// model for its language (see [`Encoder`]).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let Some(chinese) = &self.chinese else {
            return self.embed_bert(texts);
        };
        let (zh, en): (Vec<usize>, Vec<usize>) =
            (0..texts.len()).partition(|&i| crate::features::is_chinese(texts[i]));
        let total = self.dim();
        let mut out = vec![Vec::new(); texts.len()];
        let english: Vec<&str> = en.iter().map(|&i| texts[i]).collect();
        for (&i, mut v) in en.iter().zip(self.embed_bert(&english)?) {
            v.resize(total, 0.0);
            out[i] = v;
        }
        if !zh.is_empty() {
            // Traditional Chinese is read as simplified, like the n-grams and the index read
            // it: the knowledge base's Chinese is simplified.
            let simplified: Vec<String> = zh
                .iter()
                .map(|&i| crate::features::simplified(texts[i]).into_owned())
                .collect();
            let refs: Vec<&str> = simplified.iter().map(String::as_str).collect();
            for (&i, v) in zh.iter().zip(chinese.embed(&refs)?) {
                let mut row = vec![0.0; self.dim];
                row.extend(v);
                out[i] = row;
            }
        }
        Ok(out)
    }

    /// The BERT model's embeddings of `texts`.
    fn embed_bert(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // Traditional Chinese is read as simplified, like the n-grams and the index read it.
        let texts: Vec<String> = texts
            .iter()
            .map(|t| crate::features::simplified(t).into_owned())
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(texts, true)
            .map_err(ModelError::tokenize)?;
        match &self.model {
            Model::Fast(model) => {
                let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
                // Mean over each text's tokens (there is no padding to leave out), then unit
                // length.
                let mut out = model.mean_pooled(&ids)?;
                for mean in &mut out {
                    let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
                    mean.iter_mut().for_each(|m| *m /= norm);
                }
                Ok(out)
            }
            Model::Candle(model) => embed_padded(model, &encodings),
        }
    }
}

/// Runs candle-transformers' `BertModel` over a batch padded to its longest text, then takes
/// the mean over the attention mask and scales it to unit length.
fn embed_padded(
    model: &BertModel,
    encodings: &[tokenizers::Encoding],
) -> Result<Vec<Vec<f32>>, ModelError> {
    let device = Device::Cpu;
    let len = encodings.first().map_or(0, |e| e.get_ids().len());
    let mut ids = Vec::with_capacity(encodings.len() * len);
    let mut mask = Vec::with_capacity(encodings.len() * len);
    for encoding in encodings {
        ids.extend_from_slice(encoding.get_ids());
        mask.extend_from_slice(encoding.get_attention_mask());
    }
    let shape = (encodings.len(), len);
    let ids = Tensor::from_vec(ids, shape, &device)?;
    let mask = Tensor::from_vec(mask, shape, &device)?;
    let type_ids = ids.zeros_like()?;
    let hidden = model.forward(&ids, &type_ids, Some(&mask))?;

    // Mean over real tokens only: padding must not pull short messages towards each other.
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
}

fn read(path: &Path) -> Result<String, ModelError> {
    std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Checks the files listed in `dir/SHA256SUMS`, when there is one.
fn verify_checksums(dir: &Path) -> Result<(), ModelError> {
    let sums_path = dir.join(CHECKSUMS);
    let sums = match std::fs::read_to_string(&sums_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ModelError::Io {
                path: sums_path,
                source,
            });
        }
    };
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let Some((expected, name)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let name = name.trim().trim_start_matches('*');
        let path: PathBuf = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        let actual = format!("{:x}", Sha256::digest(&bytes));
        if actual != expected.trim() {
            return Err(ModelError::Corrupt {
                dir: dir.to_owned(),
                file: MODEL_FILES
                    .into_iter()
                    .chain(usem::FILES)
                    .find(|f| *f == name)
                    .unwrap_or("a model file"),
                reason: format!("sha256 of {name} is {actual}, expected {expected}"),
            });
        }
    }
    Ok(())
}
