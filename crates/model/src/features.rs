//! Surface features of a message: hashed word and character n-grams.
//!
//! The English sentence encoder knows little Chinese and nothing of a shop's product names or
//! typos it has not seen. Character n-grams cover both: in Chinese, single characters and pairs
//! are most words; in English, 3–4-grams of a word survive typos and inflections. Combined with
//! the embedding they let the intent head learn from a handful of examples in any script.
//!
//! Features are hashed into [`DIM`] buckets (FNV-1a, stable across builds and platforms, so a
//! cached head stays valid), weighted by sublinear term frequency and L2-normalised.

/// Number of hash buckets.
pub const DIM: usize = 1 << 13;
/// Bump when the feature definition changes, to invalidate cached heads.
pub const VERSION: u32 = 2;

/// A sparse feature vector: `(bucket, weight)` pairs, buckets unique, unit length.
pub type Sparse = Vec<(u32, f32)>;

fn fnv1a(kind: u8, parts: &[&str]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(kind).chain(parts.iter().flat_map(|p| p.bytes().chain([0x1f]))) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % DIM as u64) as u32
}

/// Whether `c` is a Chinese character (CJK unified ideographs, extension A, compatibility
/// ideographs): the one definition the features and the language of a message share.
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff)
}

/// Whether `c` is written without spaces between words: Chinese characters, kana, hangul.
fn is_cjk(c: char) -> bool {
    is_han(c) || matches!(c as u32, 0x3040..=0x30ff | 0xac00..=0xd7af)
}

/// Whether `text` is read as Chinese: it has a Han character (mixed "我的order" is Chinese). The
/// one rule for the encoder's choice of model and the knowledge base's choice of language.
pub fn is_chinese(text: &str) -> bool {
    text.chars().any(is_han)
}

/// Share of the letters in `text` from scripts written without spaces (CJK; 0 without letters): the
/// English encoder reads such text poorly, so its embedding-based scores are not to be trusted.
pub fn cjk_share(text: &str) -> f32 {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        cjk += usize::from(is_cjk(c));
    }
    if letters == 0 {
        0.0
    } else {
        cjk as f32 / letters as f32
    }
}

/// `text` with traditional Chinese characters written as simplified ones (臺灣 → 台湾), so that
/// a customer writing traditional Chinese matches entries written in simplified, and the other
/// way round; text without Chinese characters is returned as it is.
pub fn simplified(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(is_han) {
        std::borrow::Cow::Owned(simplet2s::convert(text))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The hashed n-gram features of `text` (traditional Chinese read as simplified).
pub fn ngrams(text: &str) -> Sparse {
    let lower = simplified(text).to_lowercase();
    let mut counts: std::collections::HashMap<u32, f32> = std::collections::HashMap::new();
    let mut add = |bucket: u32| *counts.entry(bucket).or_insert(0.0) += 1.0;

    // Words: runs of letters and digits; each CJK character is a word of its own.
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in lower.chars() {
        if is_cjk(c) {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            words.push(c.to_string());
        } else if c.is_alphanumeric() {
            current.push(c);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }

    for (i, word) in words.iter().enumerate() {
        add(fnv1a(b'w', &[word]));
        if let Some(next) = words.get(i + 1) {
            add(fnv1a(b'b', &[word, next]));
        }
        let cjk = word.chars().next().is_some_and(is_cjk);
        if !cjk {
            // Character 3- and 4-grams of the word with boundary marks: "^ship$" -> "^sh", ...
            let marked: Vec<char> = std::iter::once('^')
                .chain(word.chars())
                .chain(std::iter::once('$'))
                .collect();
            for n in 3..=4 {
                for gram in marked.windows(n) {
                    let gram: String = gram.iter().collect();
                    add(fnv1a(b'c', &[&gram]));
                }
            }
        }
    }

    let mut features: Sparse = counts
        .into_iter()
        .map(|(bucket, tf)| (bucket, 1.0 + tf.ln()))
        .collect();
    let norm = features.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, w) in &mut features {
            *w /= norm;
        }
    }
    features.sort_unstable_by_key(|(bucket, _)| *bucket);
    features
}

/// Dot product of two feature vectors (their cosine similarity: both are unit length).
pub fn dot(a: &Sparse, b: &Sparse) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Writes `features` into a dense row of [`DIM`] values, scaled by `scale`.
pub fn densify_into(features: &Sparse, scale: f32, row: &mut [f32]) {
    for (bucket, weight) in features {
        row[*bucket as usize] = weight * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: &Sparse, b: &Sparse) -> f32 {
        let b: std::collections::HashMap<u32, f32> = b.iter().copied().collect();
        a.iter()
            .map(|(k, w)| w * b.get(k).copied().unwrap_or(0.0))
            .sum()
    }

    #[test]
    fn features_are_unit_length_and_sorted() {
        let f = ngrams("Where is my parcel?");
        let norm: f32 = f.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(ngrams("?!").is_empty());
    }

    #[test]
    fn chinese_sentences_sharing_words_overlap() {
        let a = ngrams("我想退货");
        let b = ngrams("怎么退货");
        let c = ngrams("物流信息");
        assert!(overlap(&a, &b) > overlap(&a, &c) + 0.2);
    }

    #[test]
    fn traditional_chinese_reads_as_simplified() {
        assert_eq!(simplified("退款幾天能到賬？"), "退款几天能到账？");
        assert_eq!(ngrams("我的包裹還沒到"), ngrams("我的包裹还没到"));
        assert!(matches!(
            simplified("no chinese here"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn typos_keep_most_features() {
        let a = ngrams("refund");
        let b = ngrams("refnud");
        assert!(overlap(&a, &b) > 0.2, "{}", overlap(&a, &b));
    }

    #[test]
    fn hashing_is_stable() {
        // Cached heads depend on these buckets: a change here must bump VERSION.
        assert_eq!(fnv1a(b'w', &["order"]), 3363);
    }
}
