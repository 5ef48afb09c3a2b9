//! The `tandem` binary as editors and operators use it: check, ask, import, eval, help and
//! configuration precedence.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::{fixture, writable_copy, writable_fixture};

fn tandem(args: &[&str]) -> Output {
    tandem_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[])
}

fn tandem_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    command
        .current_dir(dir)
        .args(args)
        .env("TANDEM_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("tandem runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn check_passes_on_the_shipped_sample_knowledge_base() {
    let output = tandem(&["check", "knowledge"]);

    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.starts_with("ok: "), "{text}");
}

#[test]
fn check_reports_all_five_mistakes_with_file_and_line_and_fails() {
    let output = tandem(&["check", "tests/fixtures/broken-knowledge"]);

    let text = stdout(&output);
    assert!(
        !output.status.success(),
        "a broken folder must fail: {text}"
    );
    let expected = [
        "faq/bad-yaml.md:3: invalid YAML",
        "faq/dangling.md:5: unknown related entry `no-such-entry`",
        "faq/duplicate.md:2: duplicate id `dangling`",
        "faq/no-question.md:1: missing `question`",
        "intents.yaml:10: intent `complaint`: unknown queue `complaints`",
    ];
    for line in expected {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("5 problem(s)"), "{text}");
}

/// The sample knowledge base with `change-email.md` broken the way an editor breaks it: a
/// colon inside the question, unquoted (four other files name `change-email` as related).
fn sample_with_a_broken_file() -> tempfile::TempDir {
    let dir = writable_copy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge"));
    let file = dir.path().join("faq/account/change-email.md");
    let text = std::fs::read_to_string(&file).expect("sample entry");
    let broken = text.replacen(
        "question: How do I change the email",
        "question: Email: how do I change the email",
        1,
    );
    assert_ne!(text, broken, "the sample's question line moved");
    std::fs::write(&file, broken).expect("break the entry");
    dir
}

#[test]
fn one_broken_file_is_reported_once_not_at_every_file_that_names_it() {
    let dir = sample_with_a_broken_file();

    let output = tandem(&["check", &dir.path().to_string_lossy()]);

    let text = stdout(&output);
    assert!(
        !output.status.success(),
        "a broken folder must fail: {text}"
    );
    assert!(
        text.contains("faq/account/change-email.md:2: invalid YAML"),
        "the root cause, at its line: {text}"
    );
    assert!(
        text.contains("must be in quotes"),
        "and how to fix it: {text}"
    );
    assert!(
        !text.contains("unknown related entry"),
        "files that name the broken entry are not blamed: {text}"
    );
    assert!(text.contains("\n1 problem(s)"), "{text}");
}

#[test]
fn an_intent_with_a_mistake_is_reported_once_too() {
    let dir = writable_fixture();
    let intents = dir.path().join("intents.yaml");
    let text = std::fs::read_to_string(&intents).expect("fixture intents");
    // `shipping` answers from the FAQ and fixture entries name it as their intent.
    let broken = text.replacen("action: answer", "action: anwser", 1);
    assert_ne!(text, broken);
    std::fs::write(&intents, broken).expect("break an intent");

    let output = tandem(&["check", &dir.path().to_string_lossy()]);

    let text = stdout(&output);
    assert!(text.contains("unknown action `anwser`"), "{text}");
    assert!(
        !text.contains("unknown intent"),
        "entries naming it are not blamed: {text}"
    );
    assert!(text.contains("\n1 problem(s)"), "{text}");
}

#[test]
fn a_language_with_entries_but_without_the_bots_words_is_an_error() {
    // Tried: the fixture (one Chinese entry) without its Chinese texts and greeting.
    let dir = writable_fixture();
    let intents = dir.path().join("intents.yaml");
    let text = std::fs::read_to_string(&intents).expect("fixture intents");
    let cut = text.find("\ntexts:").expect("the fixture has texts");
    let broken = text[..cut].replacen(
        "reply: {en: \"Hello! How can I help?\", zh: \"你好！请问有什么可以帮您？\"}",
        "reply: Hello! How can I help?",
        1,
    );
    std::fs::write(&intents, broken).expect("write");

    let output = tandem(&["check", &dir.path().to_string_lossy()]);

    let text = stdout(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("FAQ entries are written in `zh` but `texts.zh` lacks fallback, clarify"),
        "{text}"
    );
    assert!(
        text.contains("intent `greeting` has no reply in zh"),
        "{text}"
    );
    assert!(text.contains("\n2 problem(s)"), "{text}");
}

#[test]
fn ask_answers_from_the_valid_files_while_one_is_broken() {
    let dir = sample_with_a_broken_file();

    let output = tandem(&[
        "--knowledge-dir",
        &dir.path().to_string_lossy(),
        "ask",
        "i forgot my password",
        "-n",
        "1",
    ]);

    let text = stdout(&output);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("change-email.md:2: invalid YAML"),
        "the problem is printed: {text}"
    );
    assert!(
        text.contains("answering from the valid files only"),
        "{text}"
    );
    assert!(text.contains("\n1. reset-password  (score "), "{text}");
}

#[test]
fn ask_prints_the_top_matches_with_scores() {
    let output = tandem(&[
        "--knowledge-dir",
        "tests/fixtures/knowledge",
        "ask",
        "is shipping free",
        "-n",
        "2",
    ]);

    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.starts_with("intents: shipping "), "{text}");
    assert!(text.contains("\n1. shipping-cost  (score "), "{text}");
    assert!(text.contains("\n2. "), "two matches: {text}");
    assert!(!text.contains("\n3. "), "no more than asked: {text}");
}

#[test]
fn imported_csv_and_jsonl_exports_become_valid_faq_files() {
    let kb = writable_fixture();
    let csv = kb.path().join("export.csv");
    std::fs::write(
        &csv,
        "Question,Answer,Alternatives,Tags\n\
         \"Do you gift wrap?\",\"Yes, for **$4**.\",\"gift wrapping|can you wrap it: as a present\",\"gifts, orders\"\n\
         Can I pick up in store?,No: we are online only.,store pickup,\n",
    )
    .expect("write csv");
    let jsonl = kb.path().join("export.jsonl");
    std::fs::write(
        &jsonl,
        "{\"question\": \"Do you ship to Mars?\", \"answer\": \"Not yet.\", \"alternatives\": [\"mars delivery\", \"space shipping\"], \"tags\": [\"shipping\"]}\n\
         {\"id\": \"yes\", \"question\": \"是否包邮？\", \"answer\": \"满 50 美元包邮。\", \"alternatives\": \"包邮吗\", \"lang\": \"zh\"}\n",
    )
    .expect("write jsonl");
    let kb_dir = kb.path().to_str().expect("utf-8 path");

    let first = tandem(&[
        "--knowledge-dir",
        kb_dir,
        "import",
        csv.to_str().expect("utf-8"),
    ]);
    let second = tandem(&[
        "--knowledge-dir",
        kb_dir,
        "import",
        jsonl.to_str().expect("utf-8"),
    ]);
    let again = tandem(&[
        "--knowledge-dir",
        kb_dir,
        "import",
        jsonl.to_str().expect("utf-8"),
    ]);
    let check = tandem(&["check", kb_dir]);

    assert!(
        stdout(&first).contains("wrote 2 file(s)"),
        "{}",
        stdout(&first)
    );
    assert!(
        stdout(&second).contains("wrote 2 file(s)"),
        "{}",
        stdout(&second)
    );
    assert!(
        stdout(&again).contains("skipped"),
        "existing files are kept: {}",
        stdout(&again)
    );
    assert!(
        check.status.success(),
        "imported files are valid:\n{}",
        stdout(&check)
    );
    assert!(
        stdout(&check).starts_with("ok: 8 FAQ entries (2 in Chinese)"),
        "{}",
        stdout(&check)
    );
    let wrap = std::fs::read_to_string(kb.path().join("faq/imported/do-you-gift-wrap.md"))
        .expect("file named after the question");
    assert!(wrap.contains("Yes, for **$4**."), "{wrap}");
    assert!(wrap.contains("tags: [gifts, orders]"), "{wrap}");
    assert!(
        kb.path().join("faq/imported/yes.md").exists(),
        "id column is used"
    );
}

#[test]
fn eval_faq_prints_the_four_figures() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    std::fs::write(
        dir.path().join("faq.jsonl"),
        "{\"id\": \"a\", \"question\": \"How do I reset my password?\", \"answer\": \"Use the reset link.\"}\n\
         {\"id\": \"b\", \"question\": \"How do I cancel an order?\", \"answer\": \"Open your orders.\"}\n",
    )
    .expect("write faq");
    std::fs::write(
        dir.path().join("queries.tsv"),
        // The third query is deliberately labelled with the wrong entry: out of two entries
        // the right one must rank first, so the labelled one ranks second.
        "query\tfaq_id\nforgot my password\ta\ncancel my order please\tb\nI can't remember my password\tb\n",
    )
    .expect("write queries");

    let output = tandem(&["eval", "faq", dir.path().to_str().expect("utf-8")]);

    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("queries      3"), "{text}");
    assert!(
        text.contains("top-1        66.7%"),
        "third query ranks `a` first: {text}"
    );
    assert!(text.contains("recall@3     100.0%"), "{text}");
    assert!(text.contains("MRR@10       0.833"), "{text}");
    assert!(text.contains("latency p50"), "{text}");
    assert!(text.contains("latency p99"), "{text}");
}

#[test]
fn help_lists_every_setting_with_its_environment_variable() {
    let output = tandem(&["--help"]);

    let text = stdout(&output);
    for var in [
        "TANDEM_CONFIG",
        "TANDEM_HOST",
        "TANDEM_PORT",
        "TANDEM_KNOWLEDGE_DIR",
        "TANDEM_DATA_DIR",
        "TANDEM_MAX_BODY_BYTES",
        "TANDEM_MAX_MESSAGE_CHARS",
        "TANDEM_LOG_FORMAT",
    ] {
        assert!(text.contains(var), "{var} missing from --help");
    }
}

#[test]
fn config_file_is_read_and_environment_overrides_it() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let fixture_kb = fixture("knowledge");
    std::fs::write(
        dir.path().join("tandem.toml"),
        format!(
            "knowledge_dir = {:?}\n",
            fixture_kb.to_str().expect("utf-8")
        ),
    )
    .expect("write config");
    let broken = fixture("broken-knowledge");

    let from_file = tandem_in(dir.path(), &["check"], &[]);
    let from_env = tandem_in(
        dir.path(),
        &["check"],
        &[("TANDEM_KNOWLEDGE_DIR", broken.to_str().expect("utf-8"))],
    );
    std::fs::write(dir.path().join("tandem.toml"), "knowledge_dri = \"x\"\n").expect("write");
    let typo = tandem_in(dir.path(), &["check"], &[]);

    assert!(
        stdout(&from_file).starts_with("ok: 4 FAQ entries"),
        "{}",
        stdout(&from_file)
    );
    assert!(
        stdout(&from_env).contains("5 problem(s)"),
        "{}",
        stdout(&from_env)
    );
    assert!(!typo.status.success());
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("unknown setting `knowledge_dri`"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
}

#[test]
fn check_runs_a_probe_file_and_says_how_each_first_message_was_served() {
    // What was tried: a probe outside the knowledge folder with one answerable question and one
    // greeting, then one that names an entry that does not exist.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("data dir");
    let probe = dir.path().join("probe.yaml");
    let data_env = data.path().to_string_lossy().into_owned();
    let check = |tests: &str| {
        std::fs::write(&probe, tests).expect("write probe");
        let probe = probe.to_str().expect("utf-8 path");
        tandem_in(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            &["check", "tests/fixtures/knowledge", "--tests", probe],
            &[("TANDEM_DATA_DIR", &data_env)],
        )
    };

    let output = check(
        "tests:\n  - text: \"how much do you charge for delivery\"\n    intent: shipping\n    \
         faq: shipping-cost\n  - text: \"hey there\"\n    intent: greeting\n",
    );
    let text = stdout(&output);
    assert!(text.contains("tests: 2 of 2 passed"), "{text}");
    assert!(
        text.contains("handled right: 2 of 2 (100.0%), wrong answers: 0, missed: 0"),
        "{text}"
    );
    assert!(output.status.success(), "{text}");

    let output =
        check("tests:\n  - text: \"hello\"\n    intent: greeting\n    faq: no-such-entry\n");
    let text = stdout(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("no-such-entry"), "{text}");
}
