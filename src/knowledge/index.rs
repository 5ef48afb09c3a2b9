//! The tantivy index over FAQ entries: BM25 over question (boosted), alternatives, answer and
//! tags, for English and Chinese alike.
//!
//! One analyzer serves both languages. jieba segments Chinese into words (Chinese has no spaces,
//! so a whitespace tokenizer would index whole sentences as one token) and passes other scripts
//! through as words; punctuation and spaces are dropped, then words are lower-cased and
//! stemmed with the English Porter stemmer, which leaves CJK words untouched.
//!
//! The index lives in a temporary folder that is removed when the [`FaqIndex`] is dropped; it is
//! rebuilt from the files at start-up (a few milliseconds for hundreds of entries), so there is
//! never a stale index on disk to reconcile. One reader serves the process; each search takes a
//! fresh searcher from it.

use std::collections::HashSet;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use super::FaqEntry;
use super::render::markdown_to_plain_text;
use crate::model::features::simplified;

/// Name the analyzer is registered under.
const ANALYZER: &str = "tandem_text";
/// Indexing memory budget; the minimum tantivy accepts per thread is ample for an FAQ.
const WRITER_MEMORY: usize = 15_000_000;

/// Field boosts. The canonical question is the editor's best phrasing and weighs most;
/// alternatives are phrasings too but a long list dilutes each; the answer and tags say what an
/// entry is about but also mention many things it is not about.
const BOOSTS: [(&str, f32); 4] = [
    ("question", 2.5),
    ("alternatives", 2.0),
    ("answer", 1.0),
    ("tags", 1.0),
];

/// Errors from building or searching the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed (disk full, temp folder not writable, ...).
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// A stored document lacks its ordinal; the index is not ours.
    #[error("search index: document without ordinal")]
    Corrupt,
}

/// A search result: the position of the entry in the slice the index was built from, and its
/// BM25 score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchHit {
    /// Index into the entries given to [`FaqIndex::build`].
    pub ord: usize,
    /// BM25 score, higher is better; comparable only within one query.
    pub score: f32,
}

/// A built index with its single reader.
pub struct FaqIndex {
    reader: IndexReader,
    analyzer: TextAnalyzer,
    ord: Field,
    fields: Vec<(Field, f32)>,
    // Keeps the temp folder alive (and removes it on drop) through the index's directory.
    _index: Index,
}

impl std::fmt::Debug for FaqIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaqIndex")
            .field("docs", &self.reader.searcher().num_docs())
            .finish()
    }
}

/// The analyzer used for indexing and queries.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(tantivy_jieba::JiebaTokenizer::new())
        .filter(WordsOnly)
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

impl FaqIndex {
    /// Indexes `entries` into a fresh temporary folder.
    pub fn build(entries: &[FaqEntry]) -> Result<Self, IndexError> {
        let mut schema = Schema::builder();
        let ord = schema.add_u64_field("ord", INDEXED | STORED);
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields: Vec<(Field, f32)> = BOOSTS
            .iter()
            .map(|(name, boost)| (schema.add_text_field(name, text.clone()), *boost))
            .collect();
        let index = Index::create_from_tempdir(schema.build())?;
        index.tokenizers().register(ANALYZER, analyzer());

        // One thread: the FAQ is small and the other core is serving customers.
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_MEMORY)?;
        let [question, alternatives, answer, tags] = [0, 1, 2, 3].map(|i| fields[i].0);
        for (i, entry) in entries.iter().enumerate() {
            let mut doc = TantivyDocument::default();
            doc.add_u64(ord, i as u64);
            // Traditional Chinese is indexed (and searched, see `terms`) as simplified.
            doc.add_text(question, simplified(&entry.question));
            for alt in &entry.alternatives {
                doc.add_text(alternatives, simplified(alt));
            }
            let plain = markdown_to_plain_text(&entry.answer_markdown);
            doc.add_text(answer, simplified(&plain));
            for tag in &entry.tags {
                doc.add_text(tags, tag);
            }
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            reader,
            analyzer: analyzer(),
            ord,
            fields,
            _index: index,
        })
    }

    /// The words of `text` as the index sees them, deduplicated, in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let text = simplified(text);
        let mut stream = analyzer.token_stream(&text);
        let mut seen = HashSet::new();
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            if seen.insert(token.text.clone()) {
                terms.push(token.text.clone());
            }
        }
        terms
    }

    /// The best `limit` entries for `text`, best first. Any text is accepted: it is analysed
    /// into words, never parsed as query syntax, so customers' quotes and colons are harmless.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<SearchHit>, IndexError> {
        let terms = self.terms(text);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in &self.fields {
            for term in &terms {
                let query = TermQuery::new(
                    Term::from_field_text(*field, term),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(query), *boost)),
                ));
            }
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(limit).order_by_score(),
        )?;
        top.into_iter()
            .map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                let ord = doc
                    .get_first(self.ord)
                    .and_then(|v| v.as_u64())
                    .ok_or(IndexError::Corrupt)?;
                Ok(SearchHit {
                    ord: usize::try_from(ord).map_err(|_| IndexError::Corrupt)?,
                    score,
                })
            })
            .collect()
    }

    /// Number of indexed entries.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops tokens with no letter or digit (jieba emits spaces and punctuation as tokens).
#[derive(Clone)]
struct WordsOnly;

impl TokenFilter for WordsOnly {
    type Tokenizer<T: Tokenizer> = WordsOnlyTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> WordsOnlyTokenizer<T> {
        WordsOnlyTokenizer(tokenizer)
    }
}

#[derive(Clone)]
struct WordsOnlyTokenizer<T>(T);

impl<T: Tokenizer> Tokenizer for WordsOnlyTokenizer<T> {
    type TokenStream<'a> = WordsOnlyStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        WordsOnlyStream(self.0.token_stream(text))
    }
}

struct WordsOnlyStream<S>(S);

impl<S: TokenStream> TokenStream for WordsOnlyStream<S> {
    fn advance(&mut self) -> bool {
        while self.0.advance() {
            if self.0.token().text.chars().any(char::is_alphanumeric) {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.0.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, question: &str, alternatives: &[&str], answer: &str) -> FaqEntry {
        FaqEntry {
            id: id.into(),
            question: question.into(),
            alternatives: alternatives.iter().map(|s| s.to_string()).collect(),
            tags: vec![],
            lang: "en".into(),
            intent: None,
            related: vec![],
            answer_markdown: answer.into(),
            answer_html: String::new(),
            source: "x.md".into(),
        }
    }

    #[test]
    fn english_words_are_stemmed_and_punctuation_dropped() {
        let index = FaqIndex::build(&[]).expect("empty index");
        assert_eq!(
            index.terms("Shipping costs?! Shipped."),
            vec!["ship", "cost"]
        );
    }

    #[test]
    fn chinese_text_is_segmented_into_words() {
        let index = FaqIndex::build(&[]).expect("empty index");
        let terms = index.terms("我想退货");
        assert!(terms.contains(&"退货".to_string()), "{terms:?}");
    }

    #[test]
    fn search_finds_stemmed_and_chinese_matches() {
        let entries = [
            entry(
                "ship",
                "How much does shipping cost?",
                &["delivery fee"],
                "It is free.",
            ),
            entry(
                "ret",
                "How do I return an item?",
                &["send back"],
                "Use the form.",
            ),
            entry("ret-zh", "如何退货？", &["我想退货"], "请填写退货表格。"),
        ];
        let index = FaqIndex::build(&entries).expect("index");
        let top = |q: &str| index.search(q, 1).expect("search")[0].ord;
        assert_eq!(top("what are your shipping costs"), 0);
        assert_eq!(top("returning a jacket"), 1);
        assert_eq!(top("怎么退货"), 2);
        assert!(index.search("", 3).expect("search").is_empty());
        assert!(index.search("?? !!", 3).expect("search").is_empty());
        assert!(
            index.search("title:\"x AND (y", 3).is_ok(),
            "query syntax is not parsed"
        );
    }
}
