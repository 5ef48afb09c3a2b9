//! The layering the code tour describes holds: the web layer (`http`, `ws`) is imported by
//! nothing below it; `bot` and `knowledge` import nothing from `ws`, `handoff`, `chat`, `app` or
//! `http`; `config` does not import `bot`; the model crate (`crates/model`, `tandem::model`)
//! depends on no other part of tandem; and no source file is over 400 lines.

use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const MODEL_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/model/src");

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The top-level module a file belongs to (`src/chat/turn.rs` → `chat`, `src/app.rs` → `app`).
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(SRC).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a file")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_owned()
}

/// The modules `path` imports, from `crate::NAME` paths outside comments.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let name: String = rest[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
            rest = &rest[at + 7..];
        }
    }
    found
}

#[test]
fn the_web_layer_is_imported_only_by_itself_and_the_application_knows_nothing_of_it() {
    let web = ["http", "ws"];
    let rules: &[(&[&str], &[&str])] = &[
        // The application and the vocabulary under it never import the web layer.
        (
            &[
                "analytics",
                "app",
                "auth",
                "bot",
                "chat",
                "clock",
                "config",
                "eval",
                "handoff",
                "knowledge",
                "metrics",
                "protocol",
                "reload",
                "storage",
                "telemetry",
                "throttle",
            ],
            &web,
        ),
        (
            // The model is a crate of its own, checked below: it cannot import tandem at all.
            &["bot", "knowledge"],
            &["ws", "handoff", "http", "chat", "app"],
        ),
        (&["config"], &["bot"]),
    ];
    let mut broken = Vec::new();
    for path in sources(Path::new(SRC)) {
        let module = module_of(&path);
        let text = std::fs::read_to_string(&path).expect("readable");
        for (modules, forbidden) in rules {
            if !modules.contains(&module.as_str()) {
                continue;
            }
            for imported in imports(&text) {
                if forbidden.contains(&imported.as_str()) {
                    broken.push(format!("{} imports crate::{imported}", path.display()));
                }
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_model_crate_depends_on_nothing_of_tandem() {
    let manifest = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/model/Cargo.toml"
    ))
    .expect("readable");
    assert!(
        !manifest.contains("path = \"../.."),
        "the model crate must not depend on tandem"
    );
    assert!(!sources(Path::new(MODEL_SRC)).is_empty());
}

#[test]
fn no_source_file_is_over_400_lines() {
    let mut files = sources(Path::new(SRC));
    files.extend(sources(Path::new(MODEL_SRC)));
    let long: Vec<String> = files
        .into_iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(&path)
                .expect("readable")
                .lines()
                .count();
            (lines > 400).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}

#[test]
fn the_import_scanner_sees_a_forbidden_import() {
    let text = "use crate::http::ApiError; // crate::ws in a comment\nfn f() { crate::bot::x(); }";

    assert_eq!(imports(text), vec!["http".to_owned(), "bot".to_owned()]);
}
