//! The Chinese model (USE multilingual, [`crate::usem`]) being fine-tuned: every weight but the
//! piece embeddings trains, through the same forward pass as served with its layer norms in
//! plain ops.
//!
//! The piece embeddings stay frozen for the reason the BERT's word embeddings do (module
//! documentation of [`super`]), and more: they are 128k rows of 8-bit codes, 65 MB as stored
//! and 262 MB as `f32`, with two more copies for AdamW's moments; the rest is 3.4M weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Tensor, Var};

use super::trainee::Trainable;
use crate::ModelError;
use crate::usem::Usem;

/// USE multilingual with its dense weights as variables.
pub(super) struct UsemTrainee {
    model: Usem,
    vars: Vec<(String, Var)>,
}

impl UsemTrainee {
    /// Loads the model in `dir` (a shipped or an already tuned folder).
    pub(super) fn load(dir: &Path) -> Result<Self, ModelError> {
        let mut model = Usem::load(dir)?;
        let mut vars = Vec::new();
        for (name, tensor) in model.dense_mut() {
            let var = Var::from_tensor(&tensor.to_dtype(DType::F32)?)?;
            *tensor = var.as_tensor().clone();
            vars.push((name, var));
        }
        Ok(Self { model, vars })
    }
}

impl Trainable for UsemTrainee {
    fn embed(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        // Read as served: traditional Chinese as simplified (`Encoder::embed`).
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.model.piece_ids(&crate::features::simplified(t)))
            .collect::<Result<_, _>>()?;
        self.model.forward(&ids, true)
    }

    fn dim(&self) -> usize {
        self.model.dim()
    }

    fn vars(&self) -> Vec<Var> {
        self.vars.iter().map(|(_, v)| v.clone()).collect()
    }

    /// The trained weights only: a tuned folder shares the embeddings with the shipped one.
    fn tensors(&self) -> Result<HashMap<String, Tensor>, ModelError> {
        self.vars
            .iter()
            .map(|(name, var)| Ok((name.clone(), var.as_tensor().detach().copy()?)))
            .collect()
    }
}

/// Whether `dir` holds a USE model (rather than a BERT-family one).
pub(super) fn is_usem(dir: &Path) -> bool {
    crate::usem::FILES.iter().all(|f| dir.join(f).is_file())
}

/// Writes a tuned USE folder at `tmp`: the shipped tokenizer and embeddings (hard-linked where
/// the file system allows, copied otherwise) and the tuned weights.
pub(super) fn write_folder(
    tensors: &HashMap<String, Tensor>,
    base: &Path,
    tmp: &Path,
) -> Result<(), ModelError> {
    for file in crate::usem::FILES {
        let (from, to) = (base.join(file), tmp.join(file));
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to).map_err(|source| ModelError::Io { path: from, source })?;
        }
    }
    candle_core::safetensors::save(tensors, tmp.join(crate::usem::TUNED))?;
    Ok(())
}
