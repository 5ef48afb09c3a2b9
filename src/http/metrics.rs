//! `GET /metrics` and the middleware that counts every request (the metrics themselves are in
//! [`crate::metrics`]).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::App;

/// Counts every request by method, matched route (not the raw path, which would make a series
/// per conversation id) and status.
pub async fn count_requests(State(app): State<App>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    app.metrics
        .requests
        .with_label_values(&[&method, &route, response.status().as_str()])
        .inc();
    response
}

/// `GET /metrics`.
pub async fn scrape(State(app): State<App>) -> Response {
    let started = Instant::now();
    let queues = app.bot.load().knowledge().queue_names();
    match app.metrics.render(&app.store, &queues).await {
        Ok(body) => {
            tracing::debug!(us = started.elapsed().as_micros() as u64, "metrics scraped");
            ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], body).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            ApiError::Internal(e.into()).into_response()
        }
    }
}
