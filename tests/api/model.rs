//! The real sentence encoder (all-MiniLM-L6-v2, fetched by `make model`): embeddings that mean
//! something, padding that changes nothing, and clear errors for missing or corrupt files.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tandem::model::{Encoder, ModelError};

/// The default model folder, as installed by `models/fetch`.
pub fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2")
}

/// One encoder for the whole test binary (loading takes a moment).
pub fn encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| Encoder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}")))
}

/// The served encoder (English and Chinese models, as `Settings::load_encoder` loads them), once
/// for the whole test binary.
pub fn served_encoder() -> &'static Encoder {
    static ENCODER: OnceLock<Encoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        Encoder::load(&model_dir())
            .and_then(|e| e.with_chinese(&crate::usem_reference::usem_dir()))
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn embeddings_are_unit_length_and_of_the_model_dimension() {
    let vectors = encoder()
        .embed(&["hello", "where is my order?"])
        .expect("embed");

    assert_eq!(vectors.len(), 2);
    for v in &vectors {
        assert_eq!(v.len(), encoder().dim());
        assert_eq!(v.len(), 384);
        let norm = cosine(v, v).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

#[test]
fn paraphrases_are_closer_than_unrelated_questions() {
    let v = encoder()
        .embed(&[
            "where is my package",
            "I'd like to track my parcel",
            "how do I reset my password",
        ])
        .expect("embed");

    let paraphrase = cosine(&v[0], &v[1]);
    let unrelated = cosine(&v[0], &v[2]);
    assert!(
        paraphrase > unrelated + 0.2,
        "paraphrase {paraphrase} vs unrelated {unrelated}"
    );
}

#[test]
fn batching_with_padding_gives_the_same_embedding_as_alone() {
    let short = "refund";
    let long = "I returned a blender three weeks ago and still have not received my refund";

    let alone = encoder().embed(&[short]).expect("embed");
    let batched = encoder().embed(&[short, long]).expect("embed");

    let same = cosine(&alone[0], &batched[0]);
    assert!(
        same > 0.9999,
        "padding changed the embedding: cosine {same}"
    );
}

#[test]
fn the_memo_embeds_each_new_text_once_and_forgets_what_two_builds_did_not_use() {
    use tandem::model::{Embeds, Memo, Memoised};
    let memo = Memo::default();
    let memoised = Memoised {
        encoder: encoder(),
        memo: &memo,
    };
    let texts: Vec<String> = [
        "where is my parcel",
        "how do I return shoes",
        "where is my parcel",
    ]
    .map(String::from)
    .to_vec();

    let first = memoised.embed_texts(&texts).expect("embed");
    let direct = encoder()
        .embed(&["where is my parcel", "how do I return shoes"])
        .expect("embed");
    assert!(
        cosine(&first[0], &direct[0]) > 0.9999,
        "the encoder's own embedding"
    );
    assert!(cosine(&first[1], &direct[1]) > 0.9999);
    assert_eq!(
        first[0], first[2],
        "a repeated text gets the same embedding"
    );
    assert_eq!(memo.embedded(), 2, "the repeated text is embedded once");

    // Seen before: nothing new to embed.
    assert_eq!(memoised.embed_texts(&texts).expect("embed"), first);
    assert_eq!(memo.embedded(), 2);

    // A build that no longer uses a text keeps it one build more (an editor may undo), then
    // forgets it.
    memo.end_build();
    memoised.embed_texts(&texts[..1]).expect("embed");
    memo.end_build();
    assert_eq!(memo.len(), 2, "kept through the next build");
    memoised.embed_texts(&texts[..1]).expect("embed");
    memo.end_build();
    assert_eq!(memo.len(), 1, "forgotten after two builds without it");
}

#[test]
fn a_missing_model_says_how_to_fetch_it() {
    let empty = tempfile::TempDir::new().expect("temp dir");

    let error = Encoder::load(empty.path()).expect_err("no files");

    assert!(matches!(error, ModelError::Missing { .. }), "{error}");
    assert!(error.to_string().contains("make model"), "{error}");
    assert_eq!(error.to_string().lines().count(), 1, "one line: {error}");
}

/// Copies the model's small files and writes `weights` as its safetensors file.
fn model_with_weights(weights: &[u8], with_checksums: bool) -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().expect("temp dir");
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(model_dir().join(file), dir.path().join(file)).expect("copy");
    }
    std::fs::write(dir.path().join("model.safetensors"), weights).expect("write weights");
    if with_checksums {
        std::fs::copy(
            model_dir().join("SHA256SUMS"),
            dir.path().join("SHA256SUMS"),
        )
        .expect("copy");
    }
    dir
}

#[test]
fn corrupt_weights_give_a_one_line_error_that_says_how_to_fetch_them() {
    let real = std::fs::read(model_dir().join("model.safetensors")).expect("model installed");
    let cases: [(&str, Vec<u8>, bool); 3] = [
        ("not a safetensors file", b"garbage".to_vec(), false),
        ("truncated download", real[..real.len() / 2].to_vec(), false),
        (
            "one flipped byte, caught by SHA256SUMS",
            {
                let mut flipped = real.clone();
                let middle = flipped.len() / 2;
                flipped[middle] ^= 0xff;
                flipped
            },
            true,
        ),
    ];
    for (what, weights, checksums) in cases {
        let dir = model_with_weights(&weights, checksums);

        let error = Encoder::load(dir.path()).expect_err(what);

        let text = error.to_string();
        assert!(
            matches!(error, ModelError::Corrupt { .. }),
            "{what}: {text}"
        );
        assert!(text.contains("model.safetensors"), "{what}: {text}");
        assert!(text.contains("make model"), "{what}: {text}");
        assert_eq!(text.lines().count(), 1, "{what}: one line: {text}");
    }
}
