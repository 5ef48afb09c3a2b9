//! `tandem import`: turns a spreadsheet-style FAQ export into FAQ files.
//!
//! Accepts CSV (a header row naming the columns) or JSON Lines (one object per line). Columns or
//! keys, case-insensitive: `question` and `answer` (required), `alternatives`, `tags`, and
//! optionally `id`, `intent`, `lang`. In CSV, alternatives are separated by `|` or new lines
//! within the cell and tags by `,` or `|`; in JSON they may also be arrays.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why an import failed. Nothing is written when the input cannot be read completely.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input or output could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CSV row could not be read.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: csv::Error,
    },
    /// A JSON line could not be read.
    #[error("{path}:{line}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        source: serde_json::Error,
    },
    /// A row lacks its question or answer.
    #[error("{path}: row {row}: {what} is empty")]
    Missing {
        /// The file.
        path: PathBuf,
        /// 1-based data row (CSV header not counted) or line.
        row: usize,
        /// `question` or `answer`.
        what: &'static str,
    },
    /// The file is neither `.csv` nor `.jsonl`/`.ndjson`.
    #[error("{0}: expected a .csv or .jsonl file")]
    Format(PathBuf),
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Files written.
    pub written: Vec<PathBuf>,
    /// Files that already existed and were left alone (use `force` to overwrite).
    pub skipped: Vec<PathBuf>,
    /// Ids of entries that have no alternatives yet; `tandem check` flags them until added.
    pub without_alternatives: Vec<String>,
}

/// One row of the export, as read from either format.
#[derive(Debug, Deserialize)]
struct Row {
    #[serde(default, alias = "ID", alias = "Id")]
    id: Option<String>,
    #[serde(alias = "Question", alias = "QUESTION")]
    question: String,
    #[serde(alias = "Answer", alias = "ANSWER")]
    answer: String,
    #[serde(default, alias = "Alternatives", alias = "ALTERNATIVES")]
    alternatives: ListOrText,
    #[serde(default, alias = "Tags", alias = "TAGS")]
    tags: ListOrText,
    #[serde(default, alias = "Intent")]
    intent: Option<String>,
    #[serde(default, alias = "Lang", alias = "Language", alias = "language")]
    lang: Option<String>,
}

/// A list given either as an array or as one delimited string.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum ListOrText {
    #[default]
    None,
    List(Vec<String>),
    Text(String),
}

impl ListOrText {
    fn split(self, separators: &[char]) -> Vec<String> {
        let items = match self {
            ListOrText::None => Vec::new(),
            ListOrText::List(items) => items,
            ListOrText::Text(text) => text.split(separators).map(str::to_owned).collect(),
        };
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// Imports `input` into FAQ files under `out_dir`. Existing files are kept unless `force`.
pub fn import_file(input: &Path, out_dir: &Path, force: bool) -> Result<ImportReport, ImportError> {
    let io = |source| ImportError::Io {
        path: input.to_owned(),
        source,
    };
    let ext = input
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "csv" => read_csv(input)?,
        "jsonl" | "ndjson" => read_jsonl(input, &std::fs::read_to_string(input).map_err(io)?)?,
        _ => return Err(ImportError::Format(input.to_owned())),
    };
    for (i, row) in rows.iter().enumerate() {
        for (what, value) in [("question", &row.question), ("answer", &row.answer)] {
            if value.trim().is_empty() {
                return Err(ImportError::Missing {
                    path: input.to_owned(),
                    row: i + 1,
                    what,
                });
            }
        }
    }

    std::fs::create_dir_all(out_dir).map_err(|source| ImportError::Io {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut report = ImportReport::default();
    let mut used = HashSet::new();
    for (i, mut row) in rows.into_iter().enumerate() {
        let base = row
            .id
            .as_deref()
            .map(slug)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| slug(&row.question));
        let base = if base.is_empty() {
            format!("faq-{}", i + 1)
        } else {
            base
        };
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let path = out_dir.join(format!("{id}.md"));
        if path.exists() && !force {
            report.skipped.push(path);
            continue;
        }
        let alternatives = std::mem::take(&mut row.alternatives).split(&['|', '\n']);
        if alternatives.is_empty() {
            report.without_alternatives.push(id.clone());
        }
        let tags = std::mem::take(&mut row.tags).split(&[',', '|']);
        let text = render(&id, &alternatives, tags, &row);
        std::fs::write(&path, text).map_err(|source| ImportError::Io {
            path: path.clone(),
            source,
        })?;
        report.written.push(path);
    }
    Ok(report)
}

fn read_csv(input: &Path) -> Result<Vec<Row>, ImportError> {
    let csv_err = |source| ImportError::Csv {
        path: input.to_owned(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_path(input)
        .map_err(csv_err)?;
    let mut rows = Vec::new();
    for row in reader.deserialize() {
        rows.push(row.map_err(csv_err)?);
    }
    Ok(rows)
}

fn read_jsonl(input: &Path, text: &str) -> Result<Vec<Row>, ImportError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows.push(
            serde_json::from_str(line).map_err(|source| ImportError::Json {
                path: input.to_owned(),
                line: i + 1,
                source,
            })?,
        );
    }
    Ok(rows)
}

/// Lower-case ASCII words joined by `-`, at most 60 characters.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if out.len() + word.len() + 1 > 60 {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

/// A YAML scalar: plain when that is unambiguous, otherwise double-quoted (JSON string syntax
/// is valid YAML).
fn yaml_str(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || " ,.?'()-/".contains(c))
        && value.starts_with(|c: char| c.is_alphanumeric())
        && !matches!(
            value.to_lowercase().as_str(),
            "yes" | "no" | "true" | "false" | "null"
        );
    if plain {
        value.to_owned()
    } else {
        serde_json::Value::String(value.to_owned()).to_string()
    }
}

fn render(id: &str, alternatives: &[String], tags: Vec<String>, row: &Row) -> String {
    let mut out = format!(
        "---\nid: {}\nquestion: {}\n",
        yaml_str(id),
        yaml_str(row.question.trim())
    );
    out.push_str("alternatives:\n");
    for alt in alternatives {
        out.push_str(&format!("  - {}\n", yaml_str(alt)));
    }
    if !tags.is_empty() {
        let tags: Vec<String> = tags.iter().map(|t| yaml_str(t)).collect();
        out.push_str(&format!("tags: [{}]\n", tags.join(", ")));
    }
    if let Some(lang) = row.lang.as_deref().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!("lang: {}\n", yaml_str(lang.trim())));
    }
    if let Some(intent) = row.intent.as_deref().filter(|i| !i.trim().is_empty()) {
        out.push_str(&format!("intent: {}\n", yaml_str(intent.trim())));
    }
    out.push_str("---\n");
    out.push_str(row.answer.trim());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_kebab_case() {
        assert_eq!(slug("How do I track my order?"), "how-do-i-track-my-order");
        assert_eq!(slug("如何退货"), "");
    }

    #[test]
    fn yaml_strings_are_quoted_only_when_needed() {
        assert_eq!(yaml_str("Where is my order?"), "Where is my order?");
        assert_eq!(yaml_str("Note: a colon"), "\"Note: a colon\"");
        assert_eq!(yaml_str("yes"), "\"yes\"");
        assert_eq!(yaml_str("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
