//! The sentence encoder: a BERT-family transformer (read with candle, run by [`super::bert`]),
//! mean-pooled over the tokens and L2-normalised (the sentence-transformers recipe for all-MiniLM-L6-v2), so the dot
//! product of two embeddings is their cosine similarity.
//!
//! Any folder with `config.json`, `tokenizer.json` and `model.safetensors` of a BERT-family
//! encoder works. When the folder carries a `SHA256SUMS` file (written by `models/fetch`), every
//! file is checked against it at load, so a truncated or corrupted download is caught at
//! start-up with a message saying how to fetch it again, not as nonsense answers later.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use sha2::{Digest, Sha256};
use tokenizers::{Tokenizer, TruncationParams};

use super::ModelError;
use super::bert::Bert;

/// The files an encoder folder must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Optional checksum file in the `sha256sum` format.
pub const CHECKSUMS: &str = "SHA256SUMS";
/// Longest input in tokens. Customer messages are far shorter; the cap bounds the cost of a
/// pasted essay (attention is quadratic in length).
pub const MAX_TOKENS: usize = 128;

/// A loaded encoder. Inference takes `&self`; share it behind an `Arc`.
pub struct Encoder {
    model: Bert,
    tokenizer: Tokenizer,
    dim: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("dim", &self.dim).finish()
    }
}

impl Encoder {
    /// Loads the encoder in `dir`, checking its files first.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
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
        // The shipped tokenizer pads every input to 128 tokens; a chat message is ~15. The
        // forward pass runs each text over its own tokens (the same result as padding the batch
        // and masking the padding out, without computing the padding), so no padding at all.
        tokenizer.with_padding(None);
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
        let model = Bert::load(vb, &config).map_err(|e| corrupt("model.safetensors")(&e))?;
        Ok(Self {
            dim: model.hidden_size(),
            model,
            tokenizer,
        })
    }

    /// Length of the embeddings.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of tokens `text` is cut into (before truncation), for diagnostics and benchmarks.
    pub fn token_count(&self, text: &str) -> Result<usize, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(ModelError::tokenize)?;
        Ok(encoding.get_ids().len())
    }

    /// Embeds a batch of texts: one unit-length vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(ModelError::tokenize)?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        // Mean over each text's tokens (there is no padding to leave out), then unit length.
        let mut out = self.model.mean_pooled(&ids)?;
        for mean in &mut out {
            let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
            mean.iter_mut().for_each(|m| *m /= norm);
        }
        Ok(out)
    }
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
                    .find(|f| *f == name)
                    .unwrap_or("a model file"),
                reason: format!("sha256 of {name} is {actual}, expected {expected}"),
            });
        }
    }
    Ok(())
}
