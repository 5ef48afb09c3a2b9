//! The config file: `tandem.toml` (or `--config`) fills in every setting that the command line
//! and the environment left at its default.

use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};

use super::{ConfigError, DEFAULT_CONFIG_FILE, Settings};

impl Settings {
    /// Fills in, from the config file at `path`, every setting whose value in `matches` came
    /// from its built-in default.
    pub fn merge_file(self, matches: &ArgMatches, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.merge_toml(matches, path, &text)
    }

    pub(super) fn merge_toml(
        self,
        matches: &ArgMatches,
        path: &Path,
        text: &str,
    ) -> Result<Self, ConfigError> {
        let file: toml::Table = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let known: Vec<String> = DefaultsOnly::command()
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
        let mut merged = toml::Table::try_from(&self).map_err(|e| ConfigError::Value {
            path: path.to_owned(),
            source: serde::de::Error::custom(e),
        })?;
        for (key, value) in file {
            if !known.contains(&key) {
                return Err(ConfigError::UnknownKey {
                    path: path.to_owned(),
                    key,
                });
            }
            let explicit = matches!(
                matches.value_source(&key),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if !explicit {
                merged.insert(key, value);
            }
        }
        merged.try_into().map_err(|source| ConfigError::Value {
            path: path.to_owned(),
            source,
        })
    }
}

/// A command that holds only the settings, to read their defaults and names.
#[derive(clap::Parser)]
pub(super) struct DefaultsOnly {
    #[command(flatten)]
    pub(super) settings: Settings,
}

/// Resolves the settings for a parsed command line: its values, then the config file at
/// `config` (or `tandem.toml` in the working directory when it exists).
pub fn resolve(
    settings: Settings,
    matches: &ArgMatches,
    config: Option<&Path>,
) -> Result<Settings, ConfigError> {
    match config {
        Some(path) => settings.merge_file(matches, path),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
            settings.merge_file(matches, Path::new(DEFAULT_CONFIG_FILE))
        }
        None => Ok(settings),
    }
}
