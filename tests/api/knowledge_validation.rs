//! Every class of knowledge-base mistake stops the server from starting, and the error names the
//! file and line to fix. Each case breaks a copy of the fixture knowledge base in one way.

use std::path::Path;

use crate::helpers::{try_spawn_app_with, writable_fixture};

/// Starts a server over `dir` and returns the error it must fail with.
async fn startup_error(dir: &Path) -> String {
    match try_spawn_app_with(dir).await {
        Ok(_) => panic!("a broken knowledge base must not be served"),
        Err(e) => format!("{e:#}"),
    }
}

struct Case {
    what: &'static str,
    file: &'static str,
    content: &'static str,
    expected_line: usize,
    expected_message: &'static str,
}

const CASES: &[Case] = &[
    Case {
        what: "bad YAML",
        file: "faq/bad-yaml.md",
        content: "---\nquestion: Q?\nalternatives: a: b\n---\nA\n",
        expected_line: 3,
        expected_message: "invalid YAML",
    },
    Case {
        what: "missing question",
        file: "faq/no-question.md",
        content: "---\nalternatives: [a]\n---\nA\n",
        expected_line: 1,
        expected_message: "missing `question`",
    },
    Case {
        what: "missing answer",
        file: "faq/no-answer.md",
        content: "---\nquestion: Q?\nalternatives: [a]\n---\n\n",
        expected_line: 5,
        expected_message: "missing answer",
    },
    Case {
        what: "duplicate id",
        file: "faq/zz-copy.md",
        content: "---\nid: shipping-cost\nquestion: Q?\nalternatives: [a]\n---\nA\n",
        expected_line: 2,
        expected_message: "duplicate id `shipping-cost`",
    },
    Case {
        what: "unknown related entry",
        file: "faq/dangling.md",
        content: "---\nquestion: Q?\nalternatives: [a]\nrelated:\n  - delivery-time\n  - nope\n---\nA\n",
        expected_line: 6,
        expected_message: "unknown related entry `nope`",
    },
    Case {
        what: "unknown intent",
        file: "faq/no-intent.md",
        content: "---\nquestion: Q?\nalternatives: [a]\nintent: billing\n---\nA\n",
        expected_line: 4,
        expected_message: "unknown intent `billing`",
    },
    Case {
        what: "empty alternatives",
        file: "faq/empty-alternatives.md",
        content: "---\nquestion: Q?\nalternatives: []\n---\nA\n",
        expected_line: 3,
        expected_message: "`alternatives` is empty",
    },
    Case {
        what: "missing alternatives",
        file: "faq/no-alternatives.md",
        content: "---\nquestion: Q?\n---\nA\n",
        expected_line: 1,
        expected_message: "missing `alternatives`",
    },
    Case {
        what: "misspelt field",
        file: "faq/typo.md",
        content: "---\nquestion: Q?\nalternatives: [a]\nrelatd: [x]\n---\nA\n",
        expected_line: 4,
        expected_message: "relatd",
    },
    Case {
        what: "no front matter",
        file: "faq/plain.md",
        content: "Just an answer.\n",
        expected_line: 1,
        expected_message: "missing front matter",
    },
];

#[tokio::test]
async fn each_kind_of_faq_mistake_is_reported_with_file_and_line() {
    for case in CASES {
        let kb = writable_fixture();
        std::fs::write(kb.path().join(case.file), case.content).expect("write case");

        let error = startup_error(kb.path()).await;

        let location = format!("{}:{}:", case.file, case.expected_line);
        assert!(
            error.contains(&location),
            "{}: expected {location} in\n{error}",
            case.what
        );
        assert!(
            error.contains(case.expected_message),
            "{}: {error}",
            case.what
        );
    }
}

/// Replaces `from` with `to` in the fixture's intents.yaml and returns the 1-based line changed.
fn edit_intents(dir: &Path, from: &str, to: &str) -> usize {
    let path = dir.join("intents.yaml");
    let text = std::fs::read_to_string(&path).expect("read intents");
    let line = text
        .lines()
        .position(|l| l.contains(from))
        .expect("fixture line")
        + 1;
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write intents");
    line
}

#[tokio::test]
async fn each_kind_of_intents_mistake_is_reported_with_its_line() {
    let cases = [
        (
            "unknown queue",
            "queue: escalations",
            "queue: complaints",
            "unknown queue `complaints`",
        ),
        (
            "unknown action",
            "action: greet",
            "action: wave",
            "unknown action `wave`",
        ),
        (
            "unknown priority",
            "priority: high",
            "priority: asap",
            "unknown priority `asap`",
        ),
        (
            "duplicate intent",
            "name: complaint",
            "name: greeting",
            "`greeting` is declared twice",
        ),
        (
            "bad YAML",
            "examples: [hi,",
            "examples: {hi,",
            "invalid YAML",
        ),
        (
            "unknown time zone",
            "- name: general",
            "- name: general\n    hours: {timezone: Mars/Base, mon: \"09:00-17:00\"}",
            "queue `general`: unknown time zone `Mars/Base`",
        ),
        (
            "bad opening hours",
            "- name: general",
            "- name: general\n    hours: {timezone: UTC, mon: 9 to 5}",
            "write opening hours as HH:MM-HH:MM",
        ),
        (
            "bad wait timeout",
            "- name: general",
            "- name: general\n    wait_timeout: soon",
            "wait_timeout: `soon` is not a duration",
        ),
        (
            "unknown SLA priority",
            "- name: general",
            "- name: general\n    sla: {critical: {first_response: 5m}}",
            "sla: unknown priority `critical`",
        ),
    ];
    for (what, from, to, expected) in cases {
        let kb = writable_fixture();
        let line = edit_intents(kb.path(), from, to);

        let error = startup_error(kb.path()).await;

        let location = format!("intents.yaml:{line}:");
        assert!(
            error.contains(&location),
            "{what}: expected {location} in\n{error}"
        );
        assert!(error.contains(expected), "{what}: {error}");
    }
}

#[tokio::test]
async fn every_problem_is_reported_not_just_the_first() {
    let kb = writable_fixture();
    for case in &CASES[1..4] {
        std::fs::write(kb.path().join(case.file), case.content).expect("write case");
    }
    edit_intents(kb.path(), "queue: escalations", "queue: complaints");

    let error = startup_error(kb.path()).await;

    assert!(error.contains("4 problem(s)"), "{error}");
    for case in &CASES[1..4] {
        assert!(
            error.contains(case.expected_message),
            "{}: {error}",
            case.what
        );
    }
    assert!(error.contains("unknown queue"), "{error}");
}

#[tokio::test]
async fn a_missing_knowledge_folder_is_a_clear_error() {
    let error = startup_error(Path::new("/nonexistent/knowledge")).await;

    assert!(error.contains("/nonexistent/knowledge"), "{error}");
}
