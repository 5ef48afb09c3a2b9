//! Fine-tuning the real encoder with candle (`tandem::model::tune`): the training forward pass
//! is the served one, a fine-tune moves the weights in the direction its labels ask, the result
//! loads and serves like the shipped model, a stopped fine-tune leaves nothing, and the cache
//! answers a second request without tuning again; frozen layers keep their weights.

use tandem::model::Encoder;
use tandem::model::tune::{self, Recipe, TuneConfig, TuneProgress};

use crate::model::{encoder, model_dir};

/// Dot product of two unit-length embeddings: their cosine.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Two labels whose texts the frozen model does not separate well: the same words about
/// different things ("card" for a bank card and for a gift card).
fn texts() -> Vec<(String, usize)> {
    let bank = [
        "my card was declined",
        "the card payment failed",
        "why was my card refused",
        "card not working at checkout",
        "my bank card got rejected",
        "payment with my card did not go through",
    ];
    let gift = [
        "how do i use a gift card",
        "redeem my gift card",
        "where do i enter the gift card code",
        "can i pay with a gift voucher",
        "check my gift card balance",
        "add a gift card to my order",
    ];
    bank.iter()
        .map(|t| ((*t).to_owned(), 0))
        .chain(gift.iter().map(|t| ((*t).to_owned(), 1)))
        .collect()
}

/// Mean within-label cosine minus mean across-label cosine of `texts` under `encoder`.
pub fn separation(encoder: &Encoder, texts: &[(String, usize)]) -> f32 {
    let refs: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
    let vectors = encoder.embed(&refs).expect("embed");
    let (mut same, mut same_n, mut other, mut other_n) = (0.0, 0, 0.0, 0);
    for i in 0..texts.len() {
        for j in i + 1..texts.len() {
            let c = cosine(&vectors[i], &vectors[j]);
            if texts[i].1 == texts[j].1 {
                same += c;
                same_n += 1;
            } else {
                other += c;
                other_n += 1;
            }
        }
    }
    same / same_n as f32 - other / other_n as f32
}

fn quick(recipe: Recipe) -> TuneConfig {
    TuneConfig {
        recipe,
        epochs: 4,
        batch: 4,
        learning_rate: 1e-4,
        ..TuneConfig::default()
    }
}

#[test]
fn the_training_forward_pass_gives_the_served_embeddings() {
    // Tried: texts of different lengths in one padded batch (the training pass pads, the
    // served one does not), punctuation and an emoji.
    let texts = [
        "hi",
        "where is my order?",
        "I was charged twice for the same order and nobody answers my emails 😡",
        "refund",
    ];
    let trained = tune::training_embeddings(&model_dir(), &texts).expect("training pass");
    let served = encoder().embed(&texts).expect("served pass");
    for ((text, a), b) in texts.iter().zip(&trained).zip(&served) {
        let c = cosine(a, b);
        assert!(c > 0.9999, "{text:?}: cosine {c} between the two passes");
    }
}

#[test]
fn a_fine_tune_pulls_each_labels_texts_together_and_serves_from_the_fast_pass() {
    let texts = texts();
    let before = separation(encoder(), &texts);
    for recipe in [Recipe::Proxy, Recipe::Pairs] {
        let cache = tempfile::tempdir().expect("temp dir");
        let mut reports: Vec<TuneProgress> = Vec::new();
        let dir = tune::tuned_model(
            &model_dir(),
            &texts,
            2,
            &quick(recipe),
            cache.path(),
            &mut |p| {
                reports.push(p.clone());
                true
            },
        )
        .expect("fine-tune")
        .expect("not stopped");
        let last = reports.last().expect("progress reported");
        assert_eq!(last.step, last.steps, "{recipe:?}: every planned step ran");
        assert!(
            reports.iter().all(|p| !p.chinese),
            "the English model's steps"
        );
        // The ETA is paced by the steps alone, not the setup before the first (label means).
        assert!(reports.iter().all(|p| p.stepping <= p.elapsed));
        assert_eq!(last.eta(), std::time::Duration::ZERO);
        assert!(reports.windows(2).all(|w| w[0].step < w[1].step));
        let tuned = Encoder::load(&dir).expect("the tuned folder loads like the shipped model");
        let after = separation(&tuned, &texts);
        assert!(
            after > before + 0.05,
            "{recipe:?}: separation {before:.3} before, {after:.3} after"
        );

        // The cache: the same request again is answered from the folder, without a step.
        let mut steps = 0;
        let again = tune::tuned_model(
            &model_dir(),
            &texts,
            2,
            &quick(recipe),
            cache.path(),
            &mut |_| {
                steps += 1;
                true
            },
        )
        .expect("cached")
        .expect("not stopped");
        assert_eq!((again, steps), (dir, 0));
    }
}

#[test]
fn a_stopped_fine_tune_returns_nothing_and_writes_nothing() {
    let cache = tempfile::tempdir().expect("temp dir");
    let tuned = tune::tuned_model(
        &model_dir(),
        &texts(),
        2,
        &quick(Recipe::Proxy),
        cache.path(),
        &mut |p| p.step < 2,
    )
    .expect("no error");
    assert!(tuned.is_none());
    let left: Vec<_> = std::fs::read_dir(cache.path()).expect("read").collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}

#[test]
fn fine_tuning_needs_two_labels() {
    // Tried: one label only, and a label index past the count.
    let one: Vec<(String, usize)> = vec![("a".into(), 0), ("b".into(), 0)];
    let err = tune::fine_tune(&model_dir(), &one, 1, &quick(Recipe::Proxy), &mut |_| true)
        .expect_err("one label");
    assert!(err.to_string().contains("at least 2"), "{err}");
    let bad: Vec<(String, usize)> = vec![("a".into(), 0), ("b".into(), 5)];
    assert!(tune::fine_tune(&model_dir(), &bad, 2, &quick(Recipe::Proxy), &mut |_| true).is_err());
}

#[test]
fn frozen_layers_keep_their_weights_and_the_layers_above_train() {
    // Tried: the bottom 5 of the 6 layers frozen (only the top one trains), then all 6 (an
    // error: nothing would train).
    let config = TuneConfig {
        frozen_layers: 5,
        epochs: 1,
        ..quick(Recipe::Proxy)
    };
    let tuned = tune::fine_tune(&model_dir(), &texts(), 2, &config, &mut |_| true)
        .expect("fine-tune")
        .expect("not stopped");
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("tuned");
    tuned.write_model(&model_dir(), &dir).expect("written");
    let load = |path: std::path::PathBuf| {
        candle_core::safetensors::load(path, &candle_core::Device::Cpu).expect("safetensors")
    };
    let base = load(model_dir().join("model.safetensors"));
    let after = load(dir.join("model.safetensors"));
    let differs = |name: &str| {
        let key = base
            .keys()
            .find(|k| k.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in the model"));
        let a = base[key].to_dtype(candle_core::DType::F32).expect("f32");
        let b = after[key].to_dtype(candle_core::DType::F32).expect("f32");
        let diff: f32 = (a - b)
            .expect("same shape")
            .abs()
            .expect("abs")
            .max_all()
            .expect("max")
            .to_scalar()
            .expect("scalar");
        diff > 0.0
    };
    assert!(!differs("encoder.layer.0.attention.self.query.weight"));
    assert!(!differs("encoder.layer.4.output.dense.weight"));
    assert!(differs("encoder.layer.5.output.dense.weight"));

    let all = TuneConfig {
        frozen_layers: 6,
        ..config
    };
    let err = tune::fine_tune(&model_dir(), &texts(), 2, &all, &mut |_| true)
        .expect_err("nothing to train");
    assert!(err.to_string().contains("none of the model's 6"), "{err}");
}
