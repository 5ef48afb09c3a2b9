//! tandem: a self-service support chat where a local AI answers customers from an FAQ and hands
//! them to a human agent the moment it should.
//!
//! # Layout
//!
//! Three layers, each importing only the ones below it:
//!
//! **Web** (parses, calls the application, writes back):
//! - [`http`]: axum router, endpoints, sign-in, `{code, message}` errors;
//! - [`ws`]: the customer chat socket and the agent console socket.
//!
//! **Application** (what the product does; never imports the web layer):
//! - [`app`]: the shared state every request and session gets, built by [`startup`];
//! - [`chat`]: a customer's conversation: hello, the turn (store, read, decide, record), rating;
//! - [`handoff`]: human agents: the live hub, the handoff service, claim / reply / resolve...;
//! - [`bot`]: what the bot makes of a message (classify → retrieve → decide);
//! - [`model`]: the local sentence encoder and the intent model;
//! - [`knowledge`]: the FAQ and intents editors write as files; validation; tantivy index;
//! - [`reload`]: live knowledge updates (file watcher, SIGHUP, admin API) with status;
//! - [`auth`]: agent accounts: argon2id passwords, sessions, the first admin;
//! - [`analytics`]: containment, handoffs, waits, CSAT and unanswered questions;
//! - [`storage`]: sqlx store (SQLite) for conversations, their numbered events, agents;
//! - [`metrics`]: Prometheus metrics;
//! - [`throttle`]: rate limits keyed by account or client address.
//!
//! **Shared vocabulary**: [`protocol`] (the frames both sockets speak, which are also what the
//! store keeps), [`config`], [`clock`], [`telemetry`].
//!
//! And the binary's: [`cli`] (serve, check, ask, import, eval, agents) and [`eval`] (public
//! benchmarks).

pub mod analytics;
pub mod app;
pub mod auth;
pub mod bot;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod eval;
pub mod handoff;
pub mod http;
pub mod knowledge;
pub mod metrics;
pub use tandem_model as model;
pub mod protocol;
pub mod reload;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod throttle;
pub mod ws;
