//! `GET /api/knowledge/status` (signed-in agents) and `POST /api/knowledge/reload` (admins):
//! whether the knowledge serving is the latest the editors wrote, and if not, why.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::{AdminAgent, CurrentAgent};
use crate::app::App;

/// What `GET /api/knowledge/status` answers: the reloader's status, which node answered and
/// what it serves, and every node that is up with the version it serves (several nodes on one
/// PostgreSQL; empty on SQLite).
#[derive(serde::Serialize)]
struct NodeStatus {
    #[serde(flatten)]
    status: crate::reload::Status,
    node: String,
    version: String,
    nodes: Vec<crate::storage::NodeRecord>,
}

/// `GET /api/knowledge/status`.
pub async fn status(_agent: CurrentAgent, State(app): State<App>) -> Response {
    let nodes = match crate::handoff::relay::nodes(&app).await {
        Ok(nodes) => nodes,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the nodes");
            Vec::new()
        }
    };
    Json(NodeStatus {
        status: app.reloader.status(),
        node: app.node.to_string(),
        version: app.bot.load().version().to_owned(),
        nodes,
    })
    .into_response()
}

/// `POST /api/knowledge/reload`: reloads now and answers with the status after it: 200 when
/// the new knowledge serves, 422 when it was rejected (the problems are in the status).
pub async fn reload(AdminAgent(admin): AdminAgent, State(app): State<App>) -> Response {
    tracing::info!(admin = admin.email, "knowledge reload requested");
    let status = app.reloader.reload("admin request").await;
    app.hub.reload_elsewhere();
    let code = if status.status == "error" {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (code, Json(status)).into_response()
}
