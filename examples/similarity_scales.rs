//! Similarity scales of the encoders on a knowledge base: for each language, the mean cosine
//! between two phrasings of the same FAQ entry (paraphrases) and of different entries, and the
//! mean best similarity of each phrasing to another entry's; then repeats against paraphrases
//! in Chinese. It showed that the Chinese model's cosines sit on the English model's scale (no
//! recalibration needed) and that the repeat threshold holds for Chinese (`bot/policy.rs`).
//!
//! `cargo run --release --example similarity_scales -- knowledge`

use std::path::Path;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "knowledge".into());
    let knowledge = tandem::knowledge::load(Path::new(&dir))?;
    let encoder = tandem::model::Encoder::load(Path::new("models/all-MiniLM-L6-v2"))?
        .with_chinese(Path::new("models/use-multilingual-v3"))?;
    for lang in ["en", "zh"] {
        let entries: Vec<Vec<String>> = knowledge
            .faqs
            .iter()
            .filter(|e| e.lang.starts_with(lang))
            .map(|e| {
                std::iter::once(e.question.clone())
                    .chain(e.alternatives.clone())
                    .collect()
            })
            .collect();
        let flat: Vec<(usize, String)> = entries
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.iter().map(move |t| (i, t.clone())))
            .collect();
        let texts: Vec<String> = flat.iter().map(|(_, t)| t.clone()).collect();
        let vectors = tandem::model::embed_many(&encoder, &texts)?;
        let (mut same, mut other, mut best_same, mut best_other) = (vec![], vec![], vec![], vec![]);
        for (i, (ei, _)) in flat.iter().enumerate() {
            let (mut bs, mut bo) = (f32::MIN, f32::MIN);
            for (j, (ej, _)) in flat.iter().enumerate() {
                if i == j {
                    continue;
                }
                let c = tandem::model::cosine(&vectors[i], &vectors[j]);
                if ei == ej {
                    same.push(c);
                    bs = bs.max(c);
                } else {
                    other.push(c);
                    bo = bo.max(c);
                }
            }
            best_same.push(bs);
            best_other.push(bo);
        }
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
        eprintln!(
            "{lang}: {} entries, {} phrasings; mean cosine same entry {:.3}, other entries {:.3}; \
             mean best same {:.3}, best other {:.3}",
            entries.len(),
            flat.len(),
            mean(&same),
            mean(&other),
            mean(&best_same),
            mean(&best_other)
        );
    }
    // Repeats (the same words, other punctuation or spacing) against paraphrases, for the
    // repeat-detection threshold (`policy_repeat_similarity`).
    let pairs = [
        ("我的快递到哪了", "我的快递到哪了？？", true),
        ("退款什么时候到账", "退款什么时候到账啊", true),
        ("怎么退货", "怎么退货。", true),
        ("订单还能取消吗", "订单还能取消吗!!", true),
        ("我的快递到哪了", "包裹现在在哪里", false),
        ("退款什么时候到账", "钱多久能退回来", false),
        ("怎么退货", "我想把东西退了", false),
        ("订单还能取消吗", "刚下的单可以撤销吗", false),
    ];
    for (a, b, repeat) in pairs {
        let v = encoder.embed(&[a, b])?;
        let kind = if repeat { "repeat" } else { "paraphrase" };
        eprintln!(
            "{kind:10} {:.3}  {a} / {b}",
            tandem::model::cosine(&v[0], &v[1])
        );
    }
    Ok(())
}
