//! The HTTP surface: router, shared state, JSON extraction and errors.
//!
//! Each endpoint lives in its own file; [`router`] puts them together with the layers every
//! request goes through (body size limit, tracing).

mod analytics;
mod ask;
mod console;
mod error;
mod knowledge;
pub mod origin;
mod widget;

use std::sync::Arc;

use arc_swap::ArcSwap;

use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

pub use ask::{AskRequest, AskResponse, Match};
pub use error::ApiError;

use crate::bot::Bot;
use crate::config::Settings;
use crate::model::Embedder;
use crate::storage::Store;

/// State shared by every request; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The bot answering from the current knowledge base. Requests take a snapshot with
    /// `load()`; the background trainer (and later the knowledge reloader) swaps in a new one.
    pub bot: Arc<ArcSwap<Bot>>,
    /// The inference thread.
    pub embedder: Embedder,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The conversation store (a connection pool; clones share it).
    pub store: Store,
    /// One permit per open chat connection, `max_chat_connections` in all.
    pub chat_slots: Arc<tokio::sync::Semaphore>,
    /// The decision policy's thresholds, from the settings.
    pub policy: Arc<crate::bot::policy::PolicyConfig>,
    /// Seals customers' contact details at rest.
    pub sealer: Arc<crate::storage::seal::Sealer>,
    /// Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Reloads the knowledge base into `bot` (file watcher, SIGHUP, admin API).
    pub reloader: Arc<crate::reload::Reloader>,
    /// Live news between customer and agent sessions.
    pub hub: Arc<crate::handoff::Hub>,
    /// The most asked topics, for greetings.
    pub topics: Arc<crate::ws::topics::TopTopics>,
    /// Changes once, when the server begins to shut down: chat sessions then close with 1001
    /// so that widgets reconnect (to this server restarted, or another one).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The application's routes with their layers.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    Router::new()
        .route("/", get(widget::demo))
        .route("/widget.js", get(widget::script))
        .route("/health", get(health))
        .route("/metrics", get(crate::metrics::scrape))
        .route("/api/ask", post(ask::ask))
        .route("/ws/chat", get(crate::ws::session::chat))
        .route("/ws/agent", get(crate::handoff::agent_socket))
        .route("/console", get(console::redirect))
        .route("/console/", get(console::index))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        .route("/console/insights.js", get(console::insights_script))
        .route("/console/insights.css", get(console::insights_style))
        .route("/api/agent/login", post(crate::auth::login))
        .route("/api/agent/logout", post(crate::auth::logout))
        .route("/api/agent/me", get(crate::auth::me))
        .route("/api/agent/canned", get(crate::auth::canned))
        .route("/api/analytics", get(analytics::report))
        .route("/api/analytics/unanswered", get(analytics::unanswered_json))
        .route(
            "/api/analytics/unanswered.csv",
            get(analytics::unanswered_csv),
        )
        .route("/api/knowledge/status", get(knowledge::status))
        .route("/api/knowledge/reload", post(knowledge::reload))
        // After routing, so requests are counted by route pattern.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::count_requests,
        ))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /health` body.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// FAQ entries being served.
    pub faq_entries: usize,
    /// Intents known.
    pub intents: usize,
    /// `ready` once the intent model is trained, `training` before.
    pub model: &'static str,
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Health> {
    let bot = state.bot.load();
    let knowledge = bot.knowledge();
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        faq_entries: knowledge.faqs.len(),
        intents: knowledge.intents.len(),
        model: if bot.brain().is_some() {
            "ready"
        } else {
            "training"
        },
    })
}

/// `Json<T>` whose rejections are [`ApiError`]s, so a bad body gets the same
/// `{code, message}` shape as every other error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::from_json_rejection(
                rejection,
                state.settings.max_body_bytes,
            )),
        }
    }
}
