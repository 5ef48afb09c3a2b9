//! Settings: precedence of flags, file and defaults; validation.

use super::*;
use std::path::Path;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use super::file::DefaultsOnly;

fn parse(args: &[&str]) -> (Settings, ArgMatches) {
    let matches = DefaultsOnly::command().get_matches_from(args);
    let parsed = DefaultsOnly::from_arg_matches(&matches).expect("valid arguments");
    (parsed.settings, matches)
}

#[test]
fn config_file_overrides_defaults_but_not_flags() {
    let (settings, matches) = parse(&["tandem", "--port", "9000"]);
    let merged = settings
        .merge_toml(
            &matches,
            Path::new("t.toml"),
            "port = 1\nhost = \"0.0.0.0\"\n",
        )
        .expect("valid file");
    assert_eq!(merged.port, 9000, "a flag beats the file");
    assert_eq!(merged.host, "0.0.0.0", "the file beats the default");
}

#[test]
fn unknown_config_keys_are_rejected_by_name() {
    let (settings, matches) = parse(&["tandem"]);
    let err = settings
        .merge_toml(&matches, Path::new("t.toml"), "prot = 1\n")
        .expect_err("typo must be caught");
    assert!(err.to_string().contains("unknown setting `prot`"), "{err}");
}

#[test]
fn wrongly_typed_config_values_are_rejected() {
    let (settings, matches) = parse(&["tandem"]);
    let err = settings
        .merge_toml(&matches, Path::new("t.toml"), "port = \"eighty\"\n")
        .expect_err("a string is no port");
    assert!(err.to_string().contains("t.toml"), "{err}");
}

#[test]
fn defaults_are_documented_values() {
    let (defaults, _) = parse(&["tandem"]);
    assert_eq!(defaults.port, 8080);
    assert_eq!(defaults.knowledge_dir, PathBuf::from("knowledge"));
    assert!(DefaultsOnly::try_parse_from(["tandem", "--port", "x"]).is_err());
}
