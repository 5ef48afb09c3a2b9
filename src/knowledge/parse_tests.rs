//! Reading FAQ files and intents.yaml, with the lines of mistakes.

use super::*;

fn faq(text: &str) -> Result<ParsedFaq, Vec<Problem>> {
    read_faq_file(Path::new("faq/x.md"), text)
}

#[test]
fn a_complete_entry_is_read_with_defaults() {
    let parsed = faq("---\nquestion: Q?\nalternatives: [a, b]\n---\nThe **answer**.\n")
        .expect("valid entry");
    assert_eq!(parsed.entry.id, "x", "id defaults to the file name");
    assert_eq!(parsed.entry.lang, "en");
    assert_eq!(parsed.entry.alternatives, vec!["a", "b"]);
    assert_eq!(parsed.entry.answer_markdown, "The **answer**.");
    assert!(parsed.entry.answer_html.contains("<strong>answer</strong>"));
}

#[test]
fn problems_point_at_the_line_of_the_value() {
    let problems = faq("---\nquestion: Q?\nalternatives:\n  - a\n  - ''\n---\nA\n")
        .err()
        .expect("empty alternative");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 5, "{}", problems[0]);
}

#[test]
fn unknown_fields_are_reported_with_their_line() {
    let problems = faq("---\nquestion: Q?\nalternatvies: [a]\n---\nA\n")
        .err()
        .expect("typo in a field name");
    assert_eq!(problems[0].line, 3, "{}", problems[0]);
    assert!(
        problems[0].message.contains("alternatvies"),
        "{}",
        problems[0]
    );
}

#[test]
fn missing_question_and_answer_are_both_reported() {
    let problems = faq("---\nalternatives: [a]\n---\n\n")
        .err()
        .expect("two problems");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(
        problems[1].line, 4,
        "the answer starts after the closing ---"
    );
}

#[test]
fn a_field_given_twice_is_reported_at_the_second() {
    let problems = faq("---\nquestion: Q?\nalternatives: [a]\nquestion: R?\n---\nA\n")
        .err()
        .expect("duplicate key");
    assert_eq!(problems[0].line, 4, "{}", problems[0]);
    assert!(
        problems[0].message.contains("`question` is given twice"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_file_without_front_matter_is_rejected() {
    let problems = faq("Just an answer\n").err().expect("no front matter");
    assert!(problems[0].message.contains("front matter"));
}

#[test]
fn crlf_files_are_read() {
    let parsed = faq("---\r\nquestion: Q?\r\nalternatives: [a]\r\n---\r\nA\r\n");
    assert!(parsed.is_ok());
}
