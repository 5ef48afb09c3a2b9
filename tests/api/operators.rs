//! What operators and the sample's readers see: the first-start admin password printed plainly
//! in a log that is not a terminal (with how to reset it), and one order-number format across
//! the sample (demo page, canned replies, FAQ).

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::helpers::fixture;

#[test]
fn the_first_admin_password_is_plain_text_in_a_log_file_and_says_how_to_reset_it() {
    // Tried: a first start with the log going to a pipe (as to a file or a journal), in the
    // default pretty format.
    let data = tempfile::TempDir::new().expect("temp dir");
    let mut child = crate::server_process::serve_command(data.path(), &fixture("knowledge"))
        .env_remove("TANDEM_LOG_FORMAT")
        .env("TANDEM_LOG", "info,tantivy=warn")
        .spawn()
        .expect("tandem starts");
    let stderr = child.stderr.take().expect("piped");
    let line = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("first start"));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("the first start logs the admin password");
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes in a log file: {line:?}"
    );
    let password = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix("password="))
        .expect("password=... in plain text");
    assert!(password.len() >= 20, "{line}");
    assert!(
        line.contains("tandem agents reset-password admin@localhost"),
        "{line}"
    );
}

/// Order numbers (`XX-1234`) in `text`.
fn order_numbers(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for i in 0..bytes.len().saturating_sub(4) {
        let prefix = &bytes[i..i + 3];
        let starts = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts
            && prefix[0].is_ascii_uppercase()
            && prefix[1].is_ascii_uppercase()
            && prefix[2] == b'-'
            && bytes[i + 3].is_ascii_digit()
        {
            found.push(String::from_utf8_lossy(&bytes[i..i + 2]).into_owned());
        }
    }
    found
}

#[test]
fn the_sample_uses_one_order_number_format_everywhere() {
    // Tried: every order number on the demo page, in the canned replies, the FAQ and the
    // intents, against the prefix the FAQ tells customers to look for.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &Path| std::fs::read_to_string(path).expect("readable");
    let mut files = vec![
        root.join("widget/demo.html"),
        root.join("knowledge/intents.yaml"),
    ];
    for folder in ["knowledge/faq", "knowledge/canned"] {
        for entry in walkdir::WalkDir::new(root.join(folder)) {
            let entry = entry.expect("entry");
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    let mut prefixes = std::collections::BTreeMap::<String, Vec<String>>::new();
    for file in &files {
        for prefix in order_numbers(&read(file)) {
            prefixes
                .entry(prefix)
                .or_default()
                .push(file.display().to_string());
        }
    }
    assert_eq!(prefixes.len(), 1, "one order-number prefix: {prefixes:?}");
    let (prefix, _) = prefixes.iter().next().expect("one");
    assert!(
        files
            .iter()
            .any(|f| read(f).contains(&format!("starts with **{prefix}-**"))),
        "the FAQ tells customers the prefix {prefix}"
    );
}
