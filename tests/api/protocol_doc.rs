//! The protocol documents match the serde types: every ```json example in `docs/protocol.md`
//! parses as the frame its marker says (`<!-- client -->` → `ClientFrame`, `<!-- server -->` →
//! `ServerFrame`), every example in `docs/agent-protocol.md` likewise (`<!-- console -->` →
//! `ConsoleFrame`, `<!-- server -->` → `AgentFrame`), and every frame type is shown at least
//! once in each.

use std::collections::BTreeSet;

use tandem::protocol::agent::{AgentFrame, ConsoleFrame};
use tandem::protocol::{ClientFrame, ServerFrame};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md");
const AGENT_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/agent-protocol.md");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Client,
    Server,
}

/// One example: which side sends it, the line its fence opens on, and its text.
struct Example {
    side: Side,
    line: usize,
    json: String,
}

/// Every ```json block, each with the marker on the line right above its fence.
fn examples(doc: &str) -> Result<Vec<Example>, String> {
    let mut examples = Vec::new();
    let mut previous = "";
    let mut lines = doc.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let line = line.trim_end();
        if line == "```json" {
            let side = match previous.trim() {
                "<!-- client -->" | "<!-- console -->" => Side::Client,
                "<!-- server -->" => Side::Server,
                other => {
                    return Err(format!(
                        "line {}: a ```json block needs <!-- client -->, <!-- console --> or \
                         <!-- server --> on the line above, found {other:?}",
                        index + 1
                    ));
                }
            };
            let mut json = String::new();
            loop {
                match lines.next() {
                    Some((_, "```")) => break,
                    Some((_, text)) => {
                        json.push_str(text);
                        json.push('\n');
                    }
                    None => return Err(format!("line {}: unclosed ```json block", index + 1)),
                }
            }
            examples.push(Example {
                side,
                line: index + 1,
                json,
            });
        } else if ["<!-- client", "<!-- console", "<!-- server"]
            .iter()
            .any(|marker| previous.trim().starts_with(marker))
        {
            return Err(format!(
                "line {index}: a marker not followed by a ```json block"
            ));
        }
        previous = line;
    }
    Ok(examples)
}

fn frame_type(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Fails listing every example that does not parse: `client` parses the client's (or
/// console's) frames, `server` the server's.
fn assert_all_parse(
    examples: &[Example],
    client: impl Fn(&str) -> Result<(), String>,
    server: impl Fn(&str) -> Result<(), String>,
) {
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|example| {
            let parse = match example.side {
                Side::Client => &client as &dyn Fn(&str) -> Result<(), String>,
                Side::Server => &server,
            };
            parse(&example.json)
                .err()
                .map(|error| format!("line {} ({:?}): {error}", example.line, example.side))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "examples that do not parse:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_json_example_in_the_protocol_doc_parses_as_its_side_s_frame() {
    let doc = std::fs::read_to_string(DOC).expect("docs/protocol.md is readable");

    let examples = examples(&doc).expect("the examples are well marked");

    assert!(
        examples.len() >= 20,
        "only {} examples found",
        examples.len()
    );
    assert_all_parse(
        &examples,
        |json| {
            ClientFrame::parse(json)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
        |json| {
            serde_json::from_str::<ServerFrame>(json)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    );
}

#[test]
fn the_protocol_doc_shows_every_frame_type() {
    let doc = std::fs::read_to_string(DOC).expect("docs/protocol.md is readable");
    let examples = examples(&doc).expect("the examples are well marked");

    for (side, types) in [
        (Side::Client, ClientFrame::TYPES),
        (Side::Server, ServerFrame::TYPES),
    ] {
        let shown: BTreeSet<String> = examples
            .iter()
            .filter(|e| e.side == side)
            .map(|e| frame_type(&e.json))
            .collect();
        let missing: Vec<_> = types.iter().filter(|t| !shown.contains(**t)).collect();
        assert!(
            missing.is_empty(),
            "{side:?} frames without an example: {missing:?}"
        );
    }
}

#[test]
fn the_documented_unknown_type_error_is_the_one_the_server_sends() {
    let doc = std::fs::read_to_string(DOC).expect("docs/protocol.md is readable");
    let examples = examples(&doc).expect("the examples are well marked");
    let documented = examples
        .iter()
        .find(|e| e.json.contains("\"unknown_type\""))
        .expect("an unknown_type error example");

    let error = ClientFrame::parse(r#"{"type": "shout"}"#).expect_err("unknown type");

    let documented: ServerFrame = serde_json::from_str(&documented.json).expect("parses");
    assert_eq!(documented, error.to_frame());
}

#[test]
fn a_json_block_without_a_marker_is_reported() {
    let doc = "# Title\n\n```json\n{\"type\": \"close\"}\n```\n";

    let result = examples(doc);

    assert!(result.is_err(), "an unmarked block must not pass unchecked");
}

#[test]
fn every_json_example_in_the_agent_protocol_doc_parses_as_its_side_s_frame() {
    let doc = std::fs::read_to_string(AGENT_DOC).expect("docs/agent-protocol.md is readable");

    let examples = examples(&doc).expect("the examples are well marked");

    assert_all_parse(
        &examples,
        |json| {
            ConsoleFrame::parse(json)
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        },
        |json| {
            serde_json::from_str::<AgentFrame>(json)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    );
    let shown = |side: Side| -> BTreeSet<String> {
        examples
            .iter()
            .filter(|e| e.side == side)
            .map(|e| frame_type(&e.json))
            .collect()
    };
    let console = shown(Side::Client);
    let missing: Vec<_> = ConsoleFrame::TYPES
        .iter()
        .filter(|t| !console.contains(**t))
        .collect();
    assert!(
        missing.is_empty(),
        "console frames without an example: {missing:?}"
    );
    let server = shown(Side::Server);
    for kind in [
        "welcome",
        "queue",
        "claimed",
        "conversation",
        "event",
        "note",
        "typing",
        "ack",
        "error",
    ] {
        assert!(
            server.contains(kind),
            "no example of the server's {kind:?} frame"
        );
    }
}

#[test]
fn a_documented_field_the_server_does_not_send_fails_the_agent_doc_check() {
    let with_unknown = r#"{"type": "ack", "client_id": "a-1", "seq": 4, "unread": 1}"#;

    let parsed = serde_json::from_str::<AgentFrame>(with_unknown);

    assert!(
        parsed.is_err(),
        "an undocumented field must not pass: {parsed:?}"
    );
}
