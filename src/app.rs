//! The application's shared state: everything a request, a chat turn or an agent action needs,
//! built once by [`crate::startup`] and handed to the router as axum state (cheap to clone).
//!
//! It lives here, below the web layer, so that the application's services (`chat`, `handoff`,
//! `reload`) take it without importing `http` or `ws`.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::bot::Bot;
use crate::bot::policy::PolicyConfig;
use crate::chat::topics::TopTopics;
use crate::clock::Clock;
use crate::config::Settings;
use crate::handoff::Hub;
use crate::metrics::Metrics;
use crate::model::Embedder;
use crate::reload::Reloader;
use crate::storage::Store;
use crate::storage::seal::Sealer;

/// `/api/ask` reads in the model's queue at once, at most: a small share of a batch (32), so
/// chat turns keep their latency whatever `/api/ask` callers do.
pub const ASK_SHARE: usize = 4;

/// State shared by every request and session; clones share it.
#[derive(Clone)]
pub struct App {
    /// The bot answering from the current knowledge base. Requests take a snapshot with
    /// `load()`; the background trainer and the knowledge reloader swap in a new one.
    pub bot: Arc<ArcSwap<Bot>>,
    /// The inference thread.
    pub embedder: Embedder,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The conversation store (a connection pool; clones share it).
    pub store: Store,
    /// The clock every timestamp comes from (the store's too).
    pub clock: Clock,
    /// One permit per open chat connection, `max_chat_connections` in all.
    pub chat_slots: Arc<tokio::sync::Semaphore>,
    /// The decision policy's thresholds, from the settings.
    pub policy: Arc<PolicyConfig>,
    /// Seals customers' contact details at rest.
    pub sealer: Arc<Sealer>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Reloads the knowledge base into `bot` (file watcher, SIGHUP, admin API).
    pub reloader: Arc<Reloader>,
    /// Live news between customer and agent sessions.
    pub hub: Arc<Hub>,
    /// This node's id (fresh at every start): how other nodes on the same PostgreSQL tell it
    /// apart, and what `/api/knowledge/status` lists it as.
    pub node: Arc<str>,
    /// [`ASK_SHARE`] permits: the `/api/ask` reads the model takes at once.
    pub ask_slots: Arc<tokio::sync::Semaphore>,
    /// Rate limits on sign-in and `/api/ask`.
    pub throttles: Arc<crate::throttle::Throttles>,
    /// The most asked topics, for greetings.
    pub topics: Arc<TopTopics>,
    /// Changes once, when the server begins to shut down: chat sessions then close with 1001
    /// so that widgets reconnect (to this server restarted, or another one).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}
