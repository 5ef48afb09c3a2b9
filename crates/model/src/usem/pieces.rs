//! The SentencePiece tokenizer of USE multilingual v3: `sp.model` read into the `tokenizers`
//! crate's parts (the `Precompiled` NFKC normaliser and the `Unigram` Viterbi segmenter), with
//! SentencePiece's whitespace rules around them.
//!
//! Two things are done here rather than by a `tokenizers::Tokenizer` pipeline, both so that the
//! ids are the ones SentencePiece (and the package's reference tokenizer) produce:
//!
//! - **Whitespace** (`add_dummy_prefix`, `remove_extra_whitespaces`, `escape_whitespaces`):
//!   leading and trailing spaces dropped, runs of spaces collapsed, each space written as `▁`,
//!   one `▁` in front. `Metaspace` with splitting would cut the Viterbi at every space; the
//!   vocabulary has no piece with an inner `▁`, so segmenting the whole string at once is the
//!   same and simpler.
//! - **Unknown characters**: `tokenizers`' `Unigram` fuses a run of unknown characters into one
//!   `<unk>` (and offers no public switch); SentencePiece keeps one `<unk>` per character
//!   ("😀😀" is two). Each fused `<unk>` is expanded back, which is exact: fusing happens after
//!   the Viterbi path is chosen.
//!
//! The model file is a protobuf `ModelProto`; only three fields are needed (pieces with their
//! scores, and the normaliser's precompiled character map), so they are read by a 40-line
//! reader below rather than a protobuf code generator and its build step.

use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::precompiled::Precompiled;
use tokenizers::{Model, NormalizedString, Normalizer};

/// Id of `<unk>` in the model.
const UNK: u32 = 0;
/// Id of `<s>`, put before every text.
pub(super) const BOS: u32 = 1;
/// Id of `</s>`, put after every text.
pub(super) const EOS: u32 = 2;
/// SentencePiece's escaped space.
const SPACE: char = '\u{2581}';

/// A loaded SentencePiece unigram tokenizer.
pub(super) struct Pieces {
    normalizer: Option<Precompiled>,
    unigram: Unigram,
    /// Number of pieces, for range checks against the embedding table.
    pub(super) len: usize,
}

impl Pieces {
    /// Reads a SentencePiece `.model` file's bytes.
    pub(super) fn from_model(bytes: &[u8]) -> Result<Self, String> {
        let mut vocab = Vec::new();
        let mut charsmap: Option<&[u8]> = None;
        for field in Fields::new(bytes) {
            match field? {
                // `repeated SentencePiece pieces = 1`: `piece = 1` (string), `score = 2` (float).
                (1, Value::Bytes(piece)) => {
                    let (mut text, mut score) = (None, 0.0f32);
                    for inner in Fields::new(piece) {
                        match inner? {
                            (1, Value::Bytes(t)) => {
                                text = Some(std::str::from_utf8(t).map_err(|e| e.to_string())?)
                            }
                            (2, Value::Fixed32(bits)) => score = f32::from_bits(bits),
                            _ => {}
                        }
                    }
                    let text = text.ok_or("a piece without text")?;
                    vocab.push((text.to_owned(), f64::from(score)));
                }
                // `NormalizerSpec normalizer_spec = 3`: `precompiled_charsmap = 2` (bytes).
                (3, Value::Bytes(spec)) => {
                    for inner in Fields::new(spec) {
                        if let (2, Value::Bytes(map)) = inner? {
                            charsmap = Some(map);
                        }
                    }
                }
                _ => {}
            }
        }
        if vocab.len() <= EOS as usize {
            return Err(format!("only {} pieces", vocab.len()));
        }
        let normalizer = match charsmap {
            Some(map) if !map.is_empty() => {
                Some(Precompiled::from(map).map_err(|e| format!("character map: {e}"))?)
            }
            _ => None,
        };
        let len = vocab.len();
        let unigram = Unigram::from(vocab, Some(UNK as usize), false).map_err(|e| e.to_string())?;
        Ok(Self {
            normalizer,
            unigram,
            len,
        })
    }

    /// The piece ids of `text`, with `<s>` and `</s>` around them (an empty text is `<unk>`).
    pub(super) fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        let mut normalized = NormalizedString::from(text);
        if let Some(normalizer) = &self.normalizer {
            normalizer
                .normalize(&mut normalized)
                .map_err(|e| e.to_string())?;
        }
        let escaped = escape_whitespace(normalized.get());
        let mut ids = vec![BOS];
        if escaped.is_empty() {
            ids.push(UNK);
        } else {
            for token in self.unigram.tokenize(&escaped).map_err(|e| e.to_string())? {
                if token.id == UNK {
                    let (start, end) = token.offsets;
                    let chars = escaped.get(start..end).map_or(1, |s| s.chars().count());
                    ids.extend(std::iter::repeat_n(UNK, chars.max(1)));
                } else {
                    ids.push(token.id);
                }
            }
        }
        ids.push(EOS);
        Ok(ids)
    }
}

/// SentencePiece's whitespace rules: words separated by single `▁`, one `▁` in front, nothing
/// for a text of spaces only.
fn escape_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        out.push(SPACE);
        out.push_str(word);
    }
    out
}

/// One protobuf field value (the wire types this file uses; others are skipped).
enum Value<'a> {
    Varint,
    Fixed32(u32),
    Fixed64,
    Bytes(&'a [u8]),
}

/// The top-level fields of one protobuf message, as `(field number, value)`.
struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or("truncated field")?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.data.len() {
            return None;
        }
        let mut read = || {
            let key = self.varint()?;
            let value = match key & 7 {
                0 => self.varint().map(|_| Value::Varint)?,
                1 => self.take(8).map(|_| Value::Fixed64)?,
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
                    Value::Bytes(self.take(len)?)
                }
                5 => {
                    let b = self.take(4)?;
                    Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                }
                wire => return Err(format!("unsupported wire type {wire}")),
            };
            Ok((key >> 3, value))
        };
        let item = read();
        if item.is_err() {
            // Stop after the first error instead of reading garbage.
            self.pos = self.data.len();
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_collapsed_escaped_and_prefixed() {
        assert_eq!(escape_whitespace("  Hello   world!  "), "▁Hello▁world!");
        assert_eq!(escape_whitespace("我的order"), "▁我的order");
        assert_eq!(escape_whitespace("   "), "");
    }

    #[test]
    fn a_truncated_model_file_is_an_error_not_a_panic() {
        // Field 1, length 10, but only 2 bytes follow.
        assert!(Pieces::from_model(&[0x0a, 10, b'a', b'b']).is_err());
        assert!(Pieces::from_model(&[]).is_err());
    }
}
