//! Saving and loading a trained [`IntentHead`]: the weights as safetensors, the labels as a JSON
//! file beside them.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::IntentHead;
use crate::ModelError;
use crate::features;

impl IntentHead {
    /// Saves the weights (safetensors) and labels (a JSON file beside them).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let device = Device::Cpu;
        let classes = self.labels.len();
        let tensors = HashMap::from([
            (
                "weight".to_owned(),
                Tensor::from_slice(&self.weight, (classes, self.embedding_dim), &device)?,
            ),
            (
                "bias".to_owned(),
                Tensor::from_slice(&self.bias, classes, &device)?,
            ),
            (
                "ngram".to_owned(),
                Tensor::from_slice(&self.ngram, (features::DIM, classes), &device)?,
            ),
        ]);
        candle_core::safetensors::save(&tensors, path)?;
        let meta = serde_json::json!({
            "labels": self.labels,
            "embedding_dim": self.embedding_dim,
            "ngram_scale": self.ngram_scale,
        });
        std::fs::write(path.with_extension("json"), meta.to_string()).map_err(|source| {
            ModelError::Io {
                path: path.with_extension("json"),
                source,
            }
        })
    }

    /// Loads a head saved by [`IntentHead::save`].
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        #[derive(serde::Deserialize)]
        struct Meta {
            labels: Vec<String>,
            embedding_dim: usize,
            ngram_scale: f32,
        }
        let meta_path = path.with_extension("json");
        let text = std::fs::read_to_string(&meta_path).map_err(|source| ModelError::Io {
            path: meta_path.clone(),
            source,
        })?;
        let meta: Meta = serde_json::from_str(&text)
            .map_err(|e| ModelError::Training(format!("{}: {e}", meta_path.display())))?;
        let tensors = candle_core::safetensors::load(path, &Device::Cpu)?;
        let classes = meta.labels.len();
        let take = |name: &str, len: usize| -> Result<Vec<f32>, ModelError> {
            let values = tensors
                .get(name)
                .ok_or_else(|| ModelError::Training(format!("{}: no {name}", path.display())))?
                .flatten_all()?
                .to_vec1::<f32>()?;
            if values.len() != len {
                return Err(ModelError::Training(format!(
                    "{}: {name} does not fit {classes} labels (feature version changed?)",
                    path.display()
                )));
            }
            Ok(values)
        };
        Ok(Self {
            weight: take("weight", classes * meta.embedding_dim)?,
            bias: take("bias", classes)?,
            ngram: take("ngram", features::DIM * classes)?,
            labels: meta.labels,
            embedding_dim: meta.embedding_dim,
            ngram_scale: meta.ngram_scale,
        })
    }
}
