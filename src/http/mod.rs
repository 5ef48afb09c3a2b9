//! The HTTP surface, part of the web layer: router, JSON extraction and errors. Each endpoint
//! parses the request, calls the application ([`App`]) and writes the answer.
//!
//! Each endpoint lives in its own file; [`router`] puts them together with the layers every
//! request goes through (body size limit, tracing), and with the two websockets (`crate::ws`).

mod analytics;
mod ask;
pub mod auth;
mod console;
mod error;
mod knowledge;
mod metrics;
pub mod origin;
pub mod serve;
mod widget;

use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_http::trace::TraceLayer;

pub use ask::{AskRequest, AskResponse, Match};
pub use error::ApiError;

use crate::app::App;

/// The application's routes with their layers.
pub fn router(app: App) -> Router {
    let body_limit = app.settings.max_body_bytes;
    Router::new()
        .route("/", get(widget::demo))
        .route("/widget.js", get(widget::script))
        .route("/health", get(health))
        .route("/metrics", get(metrics::scrape))
        .route("/api/ask", post(ask::ask))
        .route("/ws/chat", get(crate::ws::chat::chat))
        .route("/ws/agent", get(crate::ws::agent::agent_socket))
        .route("/console", get(console::redirect))
        .route("/console/", get(console::index))
        .route("/console/console.js", get(console::script))
        .route("/console/console.css", get(console::style))
        .route("/console/insights.js", get(console::insights_script))
        .route("/console/insights.css", get(console::insights_style))
        .route("/api/agent/login", post(auth::login))
        .route("/api/agent/logout", post(auth::logout))
        .route("/api/agent/me", get(auth::me))
        .route("/api/agent/canned", get(auth::canned))
        .route("/api/agent/colleagues", get(auth::colleagues))
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
            app.clone(),
            metrics::count_requests,
        ))
        .layer(axum::middleware::from_fn(same_origin_changes))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        // 5xx answers are not logged as errors here: a shed `503 busy` is the server working as
        // meant (an error line per shed request would flood the log under attack), and a real
        // failure (`ApiError::Internal`) logs its own error with its cause.
        .layer(
            TraceLayer::new_for_http().on_failure(
                tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
            ),
        )
        .with_state(app)
}

/// Refuses a state-changing request from another origin's page (see [`origin::cross_site`]).
/// `/api/ask` is exempt: it is a public, cookie-less API that other sites may call.
async fn same_origin_changes(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if !reads && request.uri().path() != "/api/ask" && origin::cross_site(request.headers()) {
        return axum::response::IntoResponse::into_response(ApiError::Forbidden(
            "this request came from another site's page; sign in to the console on this server",
        ));
    }
    next.run(request).await
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
    /// `ready` once the best model for the knowledge serving serves, `training` before the
    /// first intent model, `updating` while one for an edit trains in the background,
    /// `tuning` while the encoder's fine-tune for it runs (the version serves meanwhile).
    pub model: &'static str,
}

async fn health(axum::extract::State(app): axum::extract::State<App>) -> Json<Health> {
    let bot = app.bot.load();
    let knowledge = bot.knowledge();
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        faq_entries: knowledge.faqs.len(),
        intents: knowledge.intents.len(),
        // `updating`: an edit is served while the intent model for it trains in the background.
        model: match bot.brain().map(crate::bot::Brain::head_source) {
            None => "training",
            Some(crate::bot::HeadSource::Pending) => "updating",
            Some(_) if app.reloader.tuning() => "tuning",
            Some(_) => "ready",
        },
    })
}

/// The client's address, as a string key for rate limits: the connection's peer, or, when the
/// peer is one of the `trusted_proxies` (a load balancer carrying every client), the address
/// it forwarded ([`forwarded_client`]); `unknown` when the server runs without connection info
/// (a router driven directly).
pub struct ClientAddr(pub String);

impl axum::extract::FromRequestParts<App> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip())
        else {
            return Ok(ClientAddr("unknown".to_owned()));
        };
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = forwarded_client(peer, &forwarded.join(","), &app.settings.trusted_proxies);
        Ok(ClientAddr(client.to_string()))
    }
}

/// Who a request comes from: `peer` itself unless it is a trusted proxy; then the nearest
/// address in `forwarded` (`X-Forwarded-For`, the client first, each proxy appending the
/// address it heard from) that is not a trusted proxy. Read from the right, because only the
/// entries our own proxies appended can be believed: a client may send any header it likes,
/// and its made-up entries sit to the left of what our proxy appended. An unreadable entry
/// stops the walk at the last address believed.
pub fn forwarded_client(
    peer: std::net::IpAddr,
    forwarded: &str,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    let mut client = peer;
    if !trusted.contains(&client) {
        return client;
    }
    for entry in forwarded.rsplit(',') {
        match entry.trim().parse::<std::net::IpAddr>() {
            Ok(address) => {
                client = address;
                if !trusted.contains(&address) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// `Json<T>` whose rejections are [`ApiError`]s, so a bad body gets the same
/// `{code, message}` shape as every other error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<App> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, app).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::from_json_rejection(
                rejection,
                app.settings.max_body_bytes,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::forwarded_client;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_and_only_for_what_it_appended() {
        let (lb, lb2) = (ip("10.0.0.2"), ip("10.0.0.3"));
        let trusted = [lb, lb2];
        // No proxy configured, or a peer that is not one: the header is the client's own words.
        assert_eq!(
            forwarded_client(ip("198.51.100.7"), "1.2.3.4", &[]),
            ip("198.51.100.7")
        );
        assert_eq!(
            forwarded_client(ip("198.51.100.7"), "1.2.3.4", &trusted),
            ip("198.51.100.7")
        );
        // Through the balancer: the address it heard from.
        assert_eq!(
            forwarded_client(lb, "203.0.113.9", &trusted),
            ip("203.0.113.9")
        );
        // A client that forges entries gets the one our balancer appended: its own.
        assert_eq!(
            forwarded_client(lb, "1.1.1.1, 8.8.8.8, 203.0.113.9", &trusted),
            ip("203.0.113.9")
        );
        // Two of our proxies in a row are skipped.
        assert_eq!(
            forwarded_client(lb, "203.0.113.9, 10.0.0.3", &trusted),
            ip("203.0.113.9")
        );
        // No header, or garbage: the proxy itself, as before.
        assert_eq!(forwarded_client(lb, "", &trusted), lb);
        assert_eq!(forwarded_client(lb, "not-an-ip", &trusted), lb);
    }
}
