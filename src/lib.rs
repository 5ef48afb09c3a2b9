//! tandem: a self-service support chat where a local AI answers customers from an FAQ and hands
//! them to a human agent the moment it should.
//!
//! # Layout
//!
//! - [`analytics`]: containment, handoffs, waits, CSAT and unanswered questions from the store.
//! - [`config`]: typed settings; defaults < config file < `TANDEM_*` environment < flags.
//! - [`telemetry`]: structured logging.
//! - [`knowledge`]: the FAQ and intents editors write as files; validation; tantivy index.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`model`]: the local sentence encoder (candle BERT) and intent model.
//! - [`bot`]: the pipeline every customer message goes through (classify → retrieve → decide).
//! - [`http`]: axum router, endpoints, `{code, message}` errors.
//! - [`ws`]: live chat over a websocket: the protocol's frames, signed customer identities.
//! - [`auth`]: agent accounts: argon2id passwords, session cookies, the first admin.
//! - [`handoff`]: human agents: the live hub, the agent websocket, claim / reply / resolve...
//! - [`reload`]: live knowledge updates (file watcher, SIGHUP, admin API) with status.
//! - [`storage`]: sqlx store (SQLite by default) for conversations, their numbered events, feedback.
//! - [`startup`]: [`startup::Application`] builds the server and runs it until stopped.
//! - [`cli`]: the `tandem` command line (serve, check, ask, import, eval).
//! - [`eval`]: evaluation on public benchmarks.

pub mod analytics;
pub mod auth;
pub mod bot;
pub mod cli;
pub mod config;
pub mod eval;
pub mod handoff;
pub mod http;
pub mod knowledge;
pub mod metrics;
pub mod model;
pub mod reload;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod ws;
