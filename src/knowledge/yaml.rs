//! YAML with lines: the helpers both the FAQ files and `intents.yaml` (its intents and its
//! queues) are read with, so a problem is reported at the line the editor has to change.

use std::path::Path;

use marked_yaml::{LoadError, Spanned};

use super::Problem;

/// Line of a spanned value (1-based), shifted by `offset` lines.
pub(super) fn line_of<T>(value: &Spanned<T>, offset: usize) -> usize {
    value.span().start().map_or(1, |m| m.line()) + offset
}

/// A queue or intent with the line it is declared on.
pub(super) struct Located<T> {
    pub value: T,
    pub line: usize,
    /// Line of the `queue:` value, for intents.
    pub queue_line: usize,
}

/// Parses YAML into `T`, turning any error into a located problem. `offset` is the number of
/// lines before the YAML starts in the file.
pub(super) fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    offset: usize,
) -> Result<T, Problem> {
    use marked_yaml::FromYamlError;
    // A key given twice is almost always a copy-paste slip; the default would silently keep
    // the last value.
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true);
    marked_yaml::from_yaml_with_options(0, text, options).map_err(|err| {
        let (line, message) = match &err {
            FromYamlError::ParseYaml(load) => load_error(load),
            FromYamlError::FromNode(node) => {
                let mut line = node.start_mark().map_or(1, |m| m.line());
                // marked-yaml places unknown fields at their mapping; the editor needs the key.
                if let marked_yaml::Error::UnknownFieldError(key, _, _) = &**node {
                    line = key_line(text, key).unwrap_or(line);
                }
                (line, format!("{node}"))
            }
        };
        Problem::new(file, line + offset, message)
    })
}

/// 1-based line of the first `key:` in `yaml` (possibly as a list item).
pub(super) fn key_line(yaml: &str, key: &str) -> Option<usize> {
    yaml.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

fn load_error(err: &LoadError) -> (usize, String) {
    match err {
        LoadError::TopLevelMustBeMapping(m) => (m.line(), "expected `key: value` fields".into()),
        LoadError::TopLevelMustBeSequence(m) => (m.line(), "expected a list".into()),
        LoadError::UnexpectedAnchor(m) => (m.line(), "YAML anchors are not supported".into()),
        LoadError::MappingKeyMustBeScalar(m) => (m.line(), "keys must be plain words".into()),
        LoadError::UnexpectedTag(m) => (m.line(), "YAML tags (`!foo`) are not supported".into()),
        LoadError::ScanError(m, e) => {
            // The commonest slip: a `: ` inside a value ("question: Change: my email?").
            let hint = if e.info().contains("mapping values are not allowed") {
                " (a value that contains `: ` must be in quotes: question: \"Change: my email?\")"
            } else {
                ""
            };
            (m.line(), format!("invalid YAML: {}{hint}", e.info()))
        }
        LoadError::DuplicateKey(inner) => {
            let line = inner.key.span().start().map_or(1, |m| m.line());
            (
                line,
                format!("field `{}` is given twice", inner.prev_key.as_str()),
            )
        }
    }
}
