//! The two encoder backends: the fast hand-written forward pass gives the same embeddings as
//! candle-transformers' `BertModel` (the reference), batched or alone, and both report missing or
//! corrupt model files the same way.

use tandem::model::encoder::{EncoderBackend, MAX_TOKENS};
use tandem::model::{Encoder, ModelError};

use crate::model::model_dir;

/// Varied texts: one word, chat messages, long paragraphs, Chinese, mixed scripts, emoji, and
/// one paste longer than the 128-token cap (so truncation is exercised).
pub fn texts() -> Vec<String> {
    let long_paste = "I ordered a set of kitchen knives and a cutting board on the first of the \
                      month. The knives arrived but the board did not, and the tracking page \
                      says delivered. "
        .repeat(6);
    let mut texts: Vec<String> = [
        "hi",
        "?",
        "refund",
        "HELP",
        "order #12345",
        "where is my package, it was supposed to arrive yesterday",
        "can I return an item I bought last week?",
        "my card was charged twice for the same order",
        "I want to talk to a human agent now please",
        "wtf is going on with my acount???",
        "Can u pls chk my ordr status",
        "😀 great service, thanks!",
        "email: john.doe@example.com phone: +1 555 0100",
        "Bonjour, je voudrais annuler ma commande",
        "¿Dónde está mi pedido?",
        "tracking number 1Z999AA10123456784 not found",
        "The product description says waterproof but it got wet and stopped working.",
        "Hello, I have a problem: my subscription was cancelled without notice, and I have \
         already contacted support twice this week without any answer. Could you please look \
         into it and tell me what I should do next? Thanks a lot for your help.",
        "I returned a blender three weeks ago and still have not received my refund, although \
         the return label said the money would be back within five business days.",
        "我的包裹在哪里？",
        "我想退货",
        "请帮我转接人工客服",
        "快递三天了还没有到，怎么回事？",
        "账号被锁定了，无法登录，请尽快处理，谢谢！",
        "这个 iPhone 15 有现货吗？",
        "订单号 20240315 一直显示处理中",
        "会员怎么取消自动续费",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    texts.push(format!("{long_paste} 另外，我还想问一下退货政策。"));
    texts.push(long_paste);
    texts
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn load(backend: EncoderBackend) -> Encoder {
    let encoder = Encoder::load_with(&model_dir(), backend)
        .unwrap_or_else(|e| panic!("load the {backend:?} encoder: {e}"));
    assert_eq!(encoder.backend(), backend);
    encoder
}

/// The embeddings of `texts` in one batch, then one text at a time.
fn batched_and_alone(encoder: &Encoder, texts: &[&str]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let batched = encoder.embed(texts).expect("embed the batch");
    let alone = texts
        .iter()
        .map(|text| {
            let mut one = encoder.embed(&[text]).expect("embed one text");
            one.pop().expect("one embedding per text")
        })
        .collect();
    (batched, alone)
}

#[test]
fn the_fast_encoder_matches_candle_transformers_bert() {
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let fast = load(EncoderBackend::Fast);
    let candle = load(EncoderBackend::Candle);
    // Every word is at least one token, so the longest text is cut at the cap.
    let longest = texts
        .iter()
        .max_by_key(|text| text.split_whitespace().count())
        .expect("some texts");
    assert!(longest.split_whitespace().count() > MAX_TOKENS);
    for encoder in [&fast, &candle] {
        assert_eq!(encoder.token_count(longest).expect("tokenize"), MAX_TOKENS);
    }

    let (fast_batched, fast_alone) = batched_and_alone(&fast, &texts);
    let (candle_batched, candle_alone) = batched_and_alone(&candle, &texts);

    assert_eq!(fast.dim(), candle.dim());
    let mut worst = (f32::MAX, String::new(), "");
    for (fast_how, fast_vectors) in [("batched", &fast_batched), ("alone", &fast_alone)] {
        for (candle_how, candle_vectors) in [("batched", &candle_batched), ("alone", &candle_alone)]
        {
            assert_eq!(fast_vectors.len(), texts.len());
            assert_eq!(candle_vectors.len(), texts.len());
            for ((text, f), c) in texts.iter().zip(fast_vectors).zip(candle_vectors) {
                assert_eq!(f.len(), candle.dim());
                let similarity = cosine(f, c);
                if similarity < worst.0 {
                    worst = (
                        similarity,
                        format!("fast {fast_how}, candle {candle_how}"),
                        text,
                    );
                }
            }
        }
    }
    let (min, how, text) = worst;
    assert!(
        min >= 0.9999,
        "minimum cosine between the fast and the candle embeddings is {min} ({how}) for {text:?}"
    );
}

#[test]
fn the_backend_is_fast_by_default_and_named_in_lowercase() {
    assert_eq!(EncoderBackend::default(), EncoderBackend::Fast);
    assert_eq!(
        serde_json::to_string(&EncoderBackend::Candle).expect("serialize"),
        "\"candle\""
    );
    assert_eq!(
        serde_json::from_str::<EncoderBackend>("\"fast\"").expect("deserialize"),
        EncoderBackend::Fast
    );
    let encoder = Encoder::load(&model_dir()).unwrap_or_else(|e| panic!("load the encoder: {e}"));
    assert_eq!(encoder.backend(), EncoderBackend::Fast);
}

#[test]
fn both_backends_say_in_one_line_how_to_fetch_a_missing_or_corrupt_model() {
    let real = std::fs::read(model_dir().join("model.safetensors")).expect("model installed");
    let mut flipped = real.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let cases: [(&str, Option<Vec<u8>>, bool); 4] = [
        ("no model files", None, false),
        ("not a safetensors file", Some(b"garbage".to_vec()), false),
        (
            "truncated download",
            Some(real[..real.len() / 2].to_vec()),
            false,
        ),
        (
            "one flipped byte, caught by SHA256SUMS",
            Some(flipped),
            true,
        ),
    ];
    for backend in [EncoderBackend::Fast, EncoderBackend::Candle] {
        for (what, weights, checksums) in &cases {
            let dir = tempfile::TempDir::new().expect("temp dir");
            if let Some(weights) = weights {
                for file in ["config.json", "tokenizer.json"] {
                    std::fs::copy(model_dir().join(file), dir.path().join(file)).expect("copy");
                }
                std::fs::write(dir.path().join("model.safetensors"), weights).expect("write");
                if *checksums {
                    std::fs::copy(
                        model_dir().join("SHA256SUMS"),
                        dir.path().join("SHA256SUMS"),
                    )
                    .expect("copy");
                }
            }

            let error = Encoder::load_with(dir.path(), backend).expect_err(what);

            let text = error.to_string();
            match weights {
                None => assert!(
                    matches!(error, ModelError::Missing { .. }),
                    "{backend:?}, {what}: {text}"
                ),
                Some(_) => {
                    assert!(
                        matches!(error, ModelError::Corrupt { .. }),
                        "{backend:?}, {what}: {text}"
                    );
                    assert!(
                        text.contains("model.safetensors"),
                        "{backend:?}, {what}: {text}"
                    );
                }
            }
            assert!(text.contains("make model"), "{backend:?}, {what}: {text}");
            assert_eq!(
                text.lines().count(),
                1,
                "{backend:?}, {what}: one line: {text}"
            );
        }
    }
}
