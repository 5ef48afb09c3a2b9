//! Training and using the intent head.

use super::*;

/// Two intents told apart only by their n-grams (embeddings are identical), as with Chinese
/// text the encoder cannot read.
fn examples() -> (Vec<Example>, Vec<String>) {
    let texts = [
        ("我想退货", 0),
        ("怎么退货", 0),
        ("退货流程", 0),
        ("物流信息", 1),
        ("查物流", 1),
        ("物流到哪了", 1),
    ];
    let examples = texts
        .iter()
        .map(|(t, label)| Example {
            embedding: vec![0.5; 4],
            ngrams: features::ngrams(t),
            label: *label,
        })
        .collect();
    (examples, vec!["returns".into(), "tracking".into()])
}

#[test]
fn the_head_learns_from_ngrams_when_embeddings_cannot_tell() {
    let (examples, labels) = examples();

    let head = IntentHead::train(&examples, labels, &TrainConfig::default()).expect("train");

    let emb = [0.5f32; 4];
    let query = features::ngrams("退货");
    let probs = head.probabilities(&[(&emb, &query)]).expect("probs");
    assert!(probs[0][0] > 0.8, "{probs:?}");
}

#[test]
fn a_saved_head_loads_with_identical_outputs() {
    let (examples, labels) = examples();
    let head = IntentHead::train(&examples, labels, &TrainConfig::default()).expect("train");
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("head.safetensors");

    head.save(&path).expect("save");
    let loaded = IntentHead::load(&path).expect("load");

    let emb = [0.5f32; 4];
    let query = features::ngrams("查物流");
    assert_eq!(loaded.labels(), head.labels());
    assert_eq!(
        loaded.probabilities(&[(&emb, &query)]).expect("probs"),
        head.probabilities(&[(&emb, &query)]).expect("probs")
    );
}

#[test]
fn training_needs_two_intents() {
    let (mut examples, _) = examples();
    examples.truncate(1);
    assert!(IntentHead::train(&examples, vec!["a".into()], &TrainConfig::default()).is_err());
}
