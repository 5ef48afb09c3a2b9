//! Structured logging with `tracing`.
//!
//! Levels come from `TANDEM_LOG`, else `RUST_LOG`, else `info` (tantivy's per-commit chatter is
//! kept at `warn`). Logs go to stderr so command output on stdout stays clean for scripts.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once: later calls do nothing (tests
/// build many applications in one process).
pub fn init(format: LogFormat) {
    let filter = std::env::var("TANDEM_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,tantivy=warn".to_owned());
    // Colour codes only for a person at a terminal: in a file or a journal they are noise
    // around every value (the first admin's password among them).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _already_installed = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
