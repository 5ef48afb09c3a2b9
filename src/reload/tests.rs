//! Unit tests of the reloader's pure parts: which tests count as regressions, and how
//! problems are shown.

use std::collections::HashSet;

use super::build::regressions;
use super::*;

fn set(items: &[(&str, &str)]) -> HashSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn only_tests_that_passed_before_and_fail_now_are_regressions() {
    let before = set(&[
        ("shipping", "how much is postage"),
        ("returns", "send it back"),
    ]);
    let after = set(&[("returns", "send it back"), ("greeting", "hi")]);
    assert_eq!(
        regressions(&before, &after),
        vec!["\"how much is postage\" should get shipping".to_owned()]
    );
    assert!(
        regressions(&HashSet::new(), &after).is_empty(),
        "no baseline, no regression"
    );
}

#[test]
fn problems_are_shown_relative_to_the_knowledge_folder() {
    let dir = Path::new("/srv/knowledge");
    let error = ReloadError::Knowledge(KnowledgeError::Invalid(vec![Problem {
        file: dir.join("faq/shipping.md"),
        line: 3,
        message: "invalid YAML".to_owned(),
    }]));
    assert_eq!(
        problems_of(&error, dir),
        vec![StatusProblem {
            file: "faq/shipping.md".to_owned(),
            line: 3,
            message: "invalid YAML".to_owned()
        }]
    );
}
