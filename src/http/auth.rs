//! The sign-in endpoints and the [`CurrentAgent`] extractor (see `docs/agent-protocol.md`); the
//! accounts and passwords themselves are [`crate::auth`].

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson};
use crate::app::App;
use crate::auth::{AuthError, SESSION_COOKIE, sign_in};
use crate::storage::Agent;

/// Longest email accepted at sign-in (RFC 5321's limit on a path).
const MAX_EMAIL_CHARS: usize = 254;
/// Longest password accepted at sign-in: far past any passphrase, short of making argon2 hash
/// a body's worth of bytes.
const MAX_PASSWORD_CHARS: usize = 1024;

/// `POST /api/agent/login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The agent's email (any case).
    pub email: String,
    /// Their password.
    pub password: String,
}

/// The body of a successful sign-in and of `GET /api/agent/me`.
#[derive(Debug, Serialize)]
pub struct Me {
    /// The signed-in agent.
    pub agent: Agent,
}

/// `POST /api/agent/login`: checks the password and sets the session cookie. Attempts are
/// throttled per client address and per account before any password is checked (429 with
/// `Retry-After`).
pub async fn login(
    State(app): State<App>,
    super::ClientAddr(address): super::ClientAddr,
    jar: CookieJar,
    ApiJson(body): ApiJson<Login>,
) -> Result<(CookieJar, Json<Me>), ApiError> {
    if body.email.chars().count() > MAX_EMAIL_CHARS
        || body.password.chars().count() > MAX_PASSWORD_CHARS
    {
        return Err(ApiError::Invalid {
            code: "too_long",
            message: format!(
                "email may have at most {MAX_EMAIL_CHARS} characters, password {MAX_PASSWORD_CHARS}"
            ),
        });
    }
    let too_many = |wait: std::time::Duration| {
        tracing::warn!(address = %address, "sign-in attempts throttled");
        ApiError::TooManyRequests {
            message: "too many sign-in attempts; wait before trying again",
            retry_after_secs: wait.as_secs_f64().ceil() as u64,
        }
    };
    app.throttles
        .login_address
        .check(&address)
        .map_err(too_many)?;
    app.throttles
        .login_account
        .check(&body.email.trim().to_lowercase())
        .map_err(too_many)?;
    match sign_in(&app.store, &body.email, &body.password).await {
        Ok((agent, token)) => {
            // A browser-session cookie: it goes when the browser closes, and the server ends
            // the session after SESSION_TTL whatever the browser does.
            let cookie = Cookie::build((SESSION_COOKIE, token))
                .http_only(true)
                .same_site(SameSite::Strict)
                .path("/");
            tracing::info!(agent = agent.id, "agent signed in");
            Ok((jar.add(cookie), Json(Me { agent })))
        }
        Err(AuthError::BadCredentials) => Err(ApiError::Unauthorized("wrong email or password")),
        Err(e) => Err(ApiError::Internal(e.into())),
    }
}

/// `POST /api/agent/logout`: deletes the session and clears the cookie.
pub async fn logout(State(app): State<App>, jar: CookieJar) -> Result<Response, ApiError> {
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        app.store
            .delete_session(&token)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, StatusCode::NO_CONTENT).into_response())
}

/// `GET /api/agent/me`: who is signed in.
pub async fn me(agent: CurrentAgent) -> Json<Me> {
    Json(Me { agent: agent.0 })
}

/// The session token in a request's cookies, if any.
pub fn session_token(parts: &Parts) -> Option<String> {
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// The signed-in agent of a request; rejects with `401` when there is none.
#[derive(Debug, Clone)]
pub struct CurrentAgent(pub Agent);

impl FromRequestParts<App> for CurrentAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = session_token(parts).ok_or(ApiError::Unauthorized("sign in first"))?;
        match app.store.agent_for_session(&token).await {
            Ok(Some(agent)) => Ok(CurrentAgent(agent)),
            Ok(None) => Err(ApiError::Unauthorized("sign in first")),
            Err(e) => Err(ApiError::Internal(e.into())),
        }
    }
}

/// `GET /api/agent/canned?q=` query.
#[derive(Debug, Deserialize)]
pub struct CannedQuery {
    /// Words that must all appear in the title or text; empty lists everything.
    #[serde(default)]
    pub q: String,
}

/// Most canned responses listed at once: the console shows a short pick list.
const CANNED_LIMIT: usize = 20;

/// The signed-in agent, who must be an admin (403 otherwise).
pub struct AdminAgent(pub Agent);

impl FromRequestParts<App> for AdminAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let CurrentAgent(agent) = CurrentAgent::from_request_parts(parts, app).await?;
        if agent.role == crate::storage::Role::Admin {
            Ok(AdminAgent(agent))
        } else {
            Err(ApiError::Forbidden("admins only"))
        }
    }
}

/// `GET /api/agent/canned?q=`: canned responses for the console's `/` picker.
pub async fn canned(
    _agent: CurrentAgent,
    State(app): State<App>,
    axum::extract::Query(query): axum::extract::Query<CannedQuery>,
) -> Json<serde_json::Value> {
    let bot = app.bot.load();
    let found = crate::knowledge::canned::search(&bot.knowledge().canned, &query.q, CANNED_LIMIT);
    Json(serde_json::json!({ "canned": found }))
}

/// `GET /api/agent/colleagues`: the other enabled agents, for the console's transfer dialog:
/// whether each is online now and which queues they serve.
pub async fn colleagues(
    CurrentAgent(agent): CurrentAgent,
    State(app): State<App>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let online: std::collections::HashSet<String> = app.hub.online_agents().into_iter().collect();
    let agents = app
        .store
        .agents()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let colleagues: Vec<serde_json::Value> = agents
        .into_iter()
        .filter(|a| !a.disabled && a.id != agent.id)
        .map(|a| {
            serde_json::json!({
                "id": a.id,
                "name": a.name,
                "skills": a.skills,
                "admin": a.role == crate::storage::Role::Admin,
                "online": online.contains(&a.id),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "colleagues": colleagues })))
}
