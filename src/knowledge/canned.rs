//! Canned responses: ready-made replies agents insert with `/` in the console, one Markdown file
//! each in `knowledge/canned/`.
//!
//! A file's id is its name without `.md`; its title is its first line when that is a `# `
//! heading (otherwise the id), and its text is the rest. Agents edit the text before sending, so
//! it is kept as the editor wrote it (plain text; customers see agent messages as text).

use std::path::Path;

use super::Problem;

/// The folder of canned responses inside a knowledge folder.
pub const CANNED_DIR: &str = "canned";
/// Longest canned text accepted: a reply, not a document.
const MAX_CHARS: usize = 4000;

/// One canned response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Canned {
    /// The file name without `.md`.
    pub id: String,
    /// What the console lists.
    pub title: String,
    /// What is inserted into the composer.
    pub text: String,
}

/// Reads `dir` (missing is fine: no canned responses); every problem is added to `problems`.
pub(super) fn read_dir(dir: &Path, problems: &mut Vec<Problem>) -> Vec<Canned> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    paths.sort();
    let mut canned = Vec::with_capacity(paths.len());
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(Problem::new(&path, 1, format!("cannot read file: {e}")));
                continue;
            }
        };
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (title, body) = match text.split_once('\n') {
            Some((first, rest)) if first.starts_with("# ") => (first[2..].trim().to_owned(), rest),
            _ if text.starts_with("# ") => (text[2..].trim().to_owned(), ""),
            _ => (id.clone(), text.as_str()),
        };
        let body = body.trim();
        if body.is_empty() {
            problems.push(Problem::new(
                &path,
                1,
                "a canned response needs text after its title",
            ));
        } else if body.chars().count() > MAX_CHARS {
            problems.push(Problem::new(
                &path,
                1,
                format!("a canned response may have at most {MAX_CHARS} characters"),
            ));
        } else {
            canned.push(Canned {
                id,
                title,
                text: body.to_owned(),
            });
        }
    }
    canned
}

/// The canned responses matching `query` (every word, in the title or the text, any case),
/// at most `limit`, in file order; all of them for an empty query.
pub fn search<'a>(canned: &'a [Canned], query: &str, limit: usize) -> Vec<&'a Canned> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    canned
        .iter()
        .filter(|c| {
            let haystack = format!("{} {} {}", c.id, c.title, c.text).to_lowercase();
            words.iter().all(|w| haystack.contains(w.as_str()))
        })
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_become_titled_responses_and_empty_ones_are_problems() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let write =
            |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        write("greeting.md", "# Say hello\nHi, I'm here to help.\n");
        write("refund.md", "Refunds take 5-10 business days.");
        write("empty.md", "# Nothing\n\n");
        write("notes.txt", "not markdown, ignored");
        let mut problems = Vec::new();

        let canned = read_dir(dir.path(), &mut problems);

        let titles: Vec<&str> = canned.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, ["Say hello", "refund"]);
        assert_eq!(canned[0].text, "Hi, I'm here to help.");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].file.ends_with("empty.md"));
        assert!(read_dir(&dir.path().join("missing"), &mut problems).is_empty());
    }

    #[test]
    fn search_needs_every_word_in_any_case() {
        let canned = vec![
            Canned {
                id: "a".into(),
                title: "Refund delay".into(),
                text: "Refunds take a week.".into(),
            },
            Canned {
                id: "b".into(),
                title: "Hello".into(),
                text: "Hi there".into(),
            },
        ];
        let ids = |q: &str| {
            search(&canned, q, 10)
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("REFUND week"), ["a"]);
        assert_eq!(ids("refund hello"), Vec::<String>::new());
        assert_eq!(ids(""), ["a", "b"]);
    }
}
