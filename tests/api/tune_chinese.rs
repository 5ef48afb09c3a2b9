//! Fine-tuning the real Chinese model (USE multilingual, `tandem::model::tune` on its folder):
//! the training forward pass is the served one, a fine-tune pulls each label's Chinese texts
//! together, the tuned folder loads as the Chinese model of an encoder (sharing the shipped
//! embeddings, with only the trained weights written), and a tuned folder with a damaged
//! weights file is a clear error.

use tandem::model::Encoder;
use tandem::model::tune::{self, Recipe, TuneConfig};

use crate::model::model_dir;
use crate::tune::{cosine, separation};
use crate::usem_reference::usem_dir;

/// Two labels the frozen model mixes up: the same words ("快递", "到") about a parcel's
/// whereabouts and about the courier's conduct.
fn texts() -> Vec<(String, usize)> {
    let whereabouts = [
        "我的快递到哪了",
        "快递怎么还没到",
        "包裹现在在哪里",
        "查一下我的物流",
        "快递几天能到",
        "我的货什么时候到",
    ];
    let courier = [
        "快递员态度很差",
        "快递员把包裹扔在门口",
        "我要投诉快递员",
        "送货的人骂我",
        "快递员没打电话就走了",
        "快递小哥太不礼貌了",
    ];
    whereabouts
        .iter()
        .map(|t| ((*t).to_owned(), 0))
        .chain(courier.iter().map(|t| ((*t).to_owned(), 1)))
        .collect()
}

/// The encoder with the English model and the Chinese one in `chinese`.
fn encoder_with(chinese: &std::path::Path) -> Encoder {
    Encoder::load(&model_dir())
        .and_then(|e| e.with_chinese(chinese))
        .expect("encoder with a Chinese model")
}

fn quick() -> TuneConfig {
    TuneConfig {
        recipe: Recipe::Proxy,
        epochs: 6,
        batch: 4,
        chinese_learning_rate: 1e-3,
        ..TuneConfig::default()
    }
}

#[test]
fn the_chinese_training_pass_gives_the_served_embeddings() {
    // Tried: simplified and traditional Chinese (read as simplified by both), mixed with
    // English, one character, mostly punctuation.
    let texts = [
        "包裹什么时候能到",
        "退款幾天能到賬",
        "我的order到哪了",
        "好",
        "？？好？！",
    ];
    let trained = tune::training_embeddings(&usem_dir(), &texts).expect("training pass");
    let served = encoder_with(&usem_dir()).embed(&texts).expect("served");
    for ((text, a), b) in texts.iter().zip(&trained).zip(&served) {
        // The served vector has the English block (zero for Chinese) first.
        let c = cosine(a, &b[b.len() - a.len()..]);
        assert!(c > 0.9999, "{text:?}: cosine {c} between the two passes");
    }
}

#[test]
fn a_chinese_fine_tune_separates_its_labels_and_loads_as_the_chinese_model() {
    let texts = texts();
    let before = separation(&encoder_with(&usem_dir()), &texts);
    let cache = tempfile::tempdir().expect("temp dir");
    let mut reported_chinese = Vec::new();
    let dir = tune::tuned_model(&usem_dir(), &texts, 2, &quick(), cache.path(), &mut |p| {
        reported_chinese.push(p.chinese);
        true
    })
    .expect("fine-tune")
    .expect("not stopped");
    // The status says which model the steps are of.
    assert!(
        !reported_chinese.is_empty() && reported_chinese.iter().all(|c| *c),
        "{reported_chinese:?}"
    );
    // Only the trained weights are written; the embeddings are the shipped file's.
    let tuned_file = dir.join(tandem::model::usem::TUNED);
    let size = std::fs::metadata(&tuned_file).expect("tuned weights").len();
    let shipped = std::fs::metadata(usem_dir().join("weights.npz"))
        .expect("shipped")
        .len();
    assert!(size < shipped / 2, "{size} bytes of tuned weights");

    let tuned = encoder_with(&dir);
    let after = separation(&tuned, &texts);
    assert!(
        after > before + 0.05,
        "separation {before:.3} before, {after:.3} after"
    );
    // English is read by the English model, untouched by a Chinese fine-tune.
    let english = ["where is my parcel"];
    assert_eq!(
        tuned.embed(&english).expect("embed"),
        encoder_with(&usem_dir()).embed(&english).expect("embed")
    );

    // The cache: the same request again is answered from the folder, without a step.
    let mut steps = 0;
    let again = tune::tuned_model(&usem_dir(), &texts, 2, &quick(), cache.path(), &mut |_| {
        steps += 1;
        true
    })
    .expect("cached")
    .expect("not stopped");
    assert_eq!((again, steps), (dir.clone(), 0));

    // Tried: the tuned weights file cut in half.
    let bytes = std::fs::read(&tuned_file).expect("read");
    std::fs::write(&tuned_file, &bytes[..bytes.len() / 2]).expect("write");
    let err = Encoder::load(&model_dir())
        .and_then(|e| e.with_chinese(&dir))
        .expect_err("a damaged tuned file");
    assert!(err.to_string().contains("tuned.safetensors"), "{err}");
}
