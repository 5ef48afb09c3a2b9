//! Reading knowledge files: FAQ Markdown with YAML front matter (and, in
//! [`intents_file`](super::intents_file), `intents.yaml`).
//!
//! YAML is read with `marked-yaml` so every value keeps the line it came from: a problem is
//! reported at the line the editor has to change, not at the top of the file. Each file is read
//! on its own and its problems are collected, so one broken file never hides the others.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use marked_yaml::Spanned;
use serde::Deserialize;

use super::render::markdown_to_safe_html;
use super::yaml::{line_of, parse_yaml};
use super::{FaqEntry, Problem};

/// FAQ front matter as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaq {
    id: Option<Spanned<String>>,
    question: Option<Spanned<String>>,
    alternatives: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    tags: Vec<String>,
    lang: Option<Spanned<String>>,
    intent: Option<Spanned<String>>,
    #[serde(default)]
    related: Vec<Spanned<String>>,
}

/// A FAQ entry as read from its file, with the lines of the values that other files refer to.
pub(super) struct ParsedFaq {
    pub entry: FaqEntry,
    pub id_line: usize,
    pub intent_line: usize,
    pub related_lines: Vec<usize>,
}

/// Splits a FAQ file into its front matter and body. Returns the front matter, the body and the
/// 1-based line the body starts on.
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\r\n")
        .or_else(|| text.strip_prefix("---\n"))?;
    let mut offset = 0;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        if line.trim_end() == "---" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            // Line 1 is the opening `---`, front matter lines follow, then the closing `---`.
            return Some((front, body, i + 3));
        }
        offset += line.len();
    }
    None
}

/// Reads one FAQ file, or reports why it cannot be used.
pub(super) fn read_faq_file(path: &Path, text: &str) -> Result<ParsedFaq, Vec<Problem>> {
    let Some((front, body, body_line)) = split_front_matter(text) else {
        return Err(vec![Problem::new(
            path,
            1,
            "missing front matter: start the file with a line `---`, then the fields \
             (question, alternatives, ...), then a line `---`, then the answer",
        )]);
    };
    let raw: RawFaq = parse_yaml(path, front, 1).map_err(|p| vec![p])?;
    let mut problems = Vec::new();

    let file_stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (id, id_line) = match &raw.id {
        Some(id) if id.trim().is_empty() => {
            problems.push(Problem::new(path, line_of(id, 1), "`id` is empty"));
            (file_stem, line_of(id, 1))
        }
        Some(id) => (id.trim().to_owned(), line_of(id, 1)),
        None => (file_stem, 1),
    };
    let question = match &raw.question {
        Some(q) if !q.trim().is_empty() => q.trim().to_owned(),
        Some(q) => {
            problems.push(Problem::new(path, line_of(q, 1), "`question` is empty"));
            String::new()
        }
        None => {
            problems.push(Problem::new(
                path,
                1,
                "missing `question`: the canonical question",
            ));
            String::new()
        }
    };
    let mut alternatives = Vec::new();
    match &raw.alternatives {
        None => problems.push(Problem::new(
            path,
            1,
            "missing `alternatives`: list at least one other way customers ask this",
        )),
        Some(list) if list.is_empty() => problems.push(Problem::new(
            path,
            line_of(list, 1),
            "`alternatives` is empty: list at least one other way customers ask this",
        )),
        Some(list) => {
            for alt in list.iter() {
                if alt.trim().is_empty() {
                    problems.push(Problem::new(path, line_of(alt, 1), "empty alternative"));
                } else {
                    alternatives.push(alt.trim().to_owned());
                }
            }
        }
    }
    let answer = body.trim();
    if answer.is_empty() {
        problems.push(Problem::new(
            path,
            body_line,
            "missing answer: write it as Markdown after the closing `---`",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let lang = raw
        .lang
        .as_ref()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "en".to_owned());
    Ok(ParsedFaq {
        entry: FaqEntry {
            id,
            question,
            alternatives,
            tags: raw.tags,
            lang,
            intent: raw.intent.as_ref().map(|i| i.trim().to_owned()),
            related: raw.related.iter().map(|r| r.trim().to_owned()).collect(),
            answer_html: markdown_to_safe_html(answer),
            answer_markdown: answer.to_owned(),
            source: path.to_owned(),
        },
        id_line,
        intent_line: raw.intent.as_ref().map_or(1, |i| line_of(i, 1)),
        related_lines: raw.related.iter().map(|r| line_of(r, 1)).collect(),
    })
}

/// What could not be read, so that the checks across files do not blame the files that refer to
/// it: one broken file is reported once, at its own line, not again at every `related:` or
/// `intent:` that names what it declares.
#[derive(Debug, Default)]
pub(super) struct Unreadable {
    /// Ids FAQ files that could not be read would have declared (the file name, and the `id:`
    /// line if one can be made out).
    pub faq_ids: HashSet<String>,
    /// Names of intents declared with mistakes.
    pub intents: HashSet<String>,
    /// `intents.yaml` could not be read at all: every intent name is unknown.
    pub intents_file: bool,
}

/// Reads every `*.md` file below `dir` (sorted, hidden files skipped), collecting problems and
/// noting in `unreadable` the ids of the files that could not be used.
pub(super) fn read_faq_dir(
    dir: &Path,
    problems: &mut Vec<Problem>,
    unreadable: &mut Unreadable,
) -> std::io::Result<Vec<ParsedFaq>> {
    let mut files: Vec<PathBuf> = Vec::new();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(std::io::Error::other)?;
        let is_md = entry.path().extension().is_some_and(|e| e == "md");
        if entry.file_type().is_file() && is_md {
            files.push(entry.into_path());
        }
    }
    let mut parsed = Vec::with_capacity(files.len());
    for path in files {
        let text = std::fs::read_to_string(&path);
        match text.as_deref().map(|text| read_faq_file(&path, text)) {
            Ok(Ok(faq)) => {
                parsed.push(faq);
                continue;
            }
            Ok(Err(mut found)) => problems.append(&mut found),
            Err(e) => problems.push(Problem::new(&path, 1, format!("cannot read file: {e}"))),
        }
        if let Some(stem) = path.file_stem() {
            unreadable
                .faq_ids
                .insert(stem.to_string_lossy().into_owned());
        }
        if let Some(id) = text.as_deref().ok().and_then(declared_id) {
            unreadable.faq_ids.insert(id);
        }
    }
    Ok(parsed)
}

/// The `id:` a FAQ file whose front matter does not parse seems to declare: read line by line,
/// since the YAML as a whole is what is broken.
fn declared_id(text: &str) -> Option<String> {
    let front = text.split("\n---").next()?;
    front.lines().find_map(|line| {
        let value = line.strip_prefix("id:")?.trim().trim_matches(['"', '\'']);
        (!value.is_empty()).then(|| value.to_owned())
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
