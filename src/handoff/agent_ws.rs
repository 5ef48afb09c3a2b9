//! `/ws/agent`: an agent's live connection (see `docs/agent-protocol.md`).
//!
//! The upgrade needs a valid session cookie (401 otherwise) and, when the browser sends an
//! `Origin`, the server's own origin (403 otherwise): a page on another site cannot open an
//! agent socket with the agent's cookie (cross-site websocket hijacking). The session is checked
//! again on every frame and every few seconds, so a disabled agent is signed out at once.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::AgentNews;
use super::actions::{self, ActionError};
use crate::auth::session_token;
use crate::http::{ApiError, AppState};
use crate::storage::Agent;

/// Close code for a signed-out (disabled, expired) agent: the console goes back to sign-in.
pub const SIGNED_OUT: u16 = 4001;
/// How often an idle agent socket re-checks its session.
const RECHECK: Duration = Duration::from_secs(5);

/// A frame from the console.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Presence {
        status: String,
    },
    Open {
        conversation_id: String,
    },
    Claim {
        conversation_id: String,
    },
    Reply {
        conversation_id: String,
        client_id: String,
        text: String,
    },
    Typing {
        conversation_id: String,
        active: bool,
    },
    Note {
        conversation_id: String,
        text: String,
    },
    Transfer {
        conversation_id: String,
        #[serde(default)]
        queue: Option<String>,
        #[serde(default)]
        agent_id: Option<String>,
    },
    Resolve {
        conversation_id: String,
    },
    HandBack {
        conversation_id: String,
    },
    TicketDone {
        ticket_id: String,
    },
}

const TYPES: &[&str] = &[
    "presence",
    "open",
    "claim",
    "reply",
    "typing",
    "note",
    "transfer",
    "resolve",
    "hand_back",
    "ticket_done",
];

/// `GET /ws/agent`.
pub async fn agent_socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    parts: Parts,
    ws: WebSocketUpgrade,
) -> Response {
    if !crate::http::origin::same_origin(&headers) {
        return ApiError::Forbidden("this origin may not open an agent connection").into_response();
    }
    let Some(token) = session_token(&parts) else {
        return ApiError::Unauthorized("sign in first").into_response();
    };
    match state.store.agent_for_session(&token).await {
        Ok(Some(agent)) => ws.on_upgrade(move |socket| run(socket, state, agent, token)),
        Ok(None) => ApiError::Unauthorized("sign in first").into_response(),
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}

/// One agent console's connection state.
pub(super) struct AgentSession {
    pub(super) state: AppState,
    pub(super) agent: Agent,
    token: String,
    /// This console's number in the hub's presence list.
    pub(super) console: u64,
    /// Conversations whose live events this console shows.
    pub(super) open: HashSet<String>,
    pub(super) out: Vec<Value>,
}

async fn run(socket: WebSocket, state: AppState, agent: Agent, token: String) {
    let _counted = state.metrics.socket_opened("agent");
    let (mut sink, mut stream) = socket.split();
    let mut news = state.hub.listen_agents();
    let mut shutdown = state.shutdown.clone();
    let mut recheck = tokio::time::interval(RECHECK);
    let console = state.hub.arrive(&agent.id, agent.skills.clone());
    let mut session = AgentSession {
        state,
        agent,
        token,
        console,
        open: HashSet::new(),
        out: Vec::new(),
    };
    session.welcome().await;
    // One more online agent: waiting conversations of auto-assigned queues may go to them.
    super::assign::run(&session.state).await;
    let mut close = None;
    loop {
        for frame in session.out.drain(..) {
            if sink
                .send(Message::Text(Utf8Bytes::from(frame.to_string())))
                .await
                .is_err()
            {
                return;
            }
        }
        tokio::select! {
            received = stream.next() => match received {
                Some(Ok(Message::Text(text))) => {
                    if !session.still_signed_in().await {
                        close = Some((SIGNED_OUT, "signed out"));
                        break;
                    }
                    session.handle(text.as_str()).await;
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            heard = news.recv() => match heard {
                Ok(AgentNews::SignedOut { agent_id }) if *agent_id == *session.agent.id => {
                    close = Some((SIGNED_OUT, "signed out"));
                    break;
                }
                Ok(heard) => session.on_news(heard).await,
                Err(RecvError::Lagged(_)) => session.snapshot().await,
                Err(RecvError::Closed) => break,
            },
            _ = recheck.tick() => {
                if !session.still_signed_in().await {
                    close = Some((SIGNED_OUT, "signed out"));
                    break;
                }
            }
            _ = shutdown.changed() => {
                close = Some((crate::ws::protocol::close_code::GOING_AWAY, "server shutting down"));
                break;
            }
        }
    }
    session.state.hub.leave(session.console);
    // Fewer agents online: the waiting customers' estimates change.
    super::announce_positions(&session.state).await;
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
}

impl AgentSession {
    async fn still_signed_in(&self) -> bool {
        // A store error is not a sign-out: keep the agent, the next check decides.
        self.state
            .store
            .agent_for_session(&self.token)
            .await
            .map_or(true, |a| a.is_some())
    }

    pub(super) fn error(&mut self, code: &str, message: impl Into<String>) {
        self.out
            .push(json!({"type": "error", "code": code, "message": message.into()}));
    }

    async fn welcome(&mut self) {
        let queues: Vec<String> = self
            .state
            .bot
            .load()
            .knowledge()
            .queues
            .iter()
            .map(|q| q.name.clone())
            .collect();
        self.out
            .push(json!({"type": "welcome", "agent": self.agent, "queues": queues}));
        self.snapshot().await;
    }

    async fn on_news(&mut self, news: AgentNews) {
        match news {
            AgentNews::QueueChanged => self.snapshot().await,
            AgentNews::Event {
                conversation_id,
                entry,
            } if self.open.contains(&*conversation_id) => {
                self.out.push(
                    json!({"type": "event", "conversation_id": &*conversation_id, "event": *entry}),
                );
            }
            AgentNews::Note {
                conversation_id,
                note,
            } if self.open.contains(&*conversation_id) => {
                self.out.push(
                    json!({"type": "note", "conversation_id": &*conversation_id, "note": *note}),
                );
            }
            AgentNews::Assigned {
                agent_id,
                conversation_id,
            } if *agent_id == *self.agent.id => {
                self.out.push(
                    json!({"type": "claimed", "conversation_id": &*conversation_id, "auto": true}),
                );
                if let Err(e) = self.show(&conversation_id).await {
                    tracing::warn!(error = %e, "cannot show an assigned conversation");
                }
            }
            AgentNews::CustomerTyping {
                conversation_id,
                active,
            } if self.open.contains(&*conversation_id) => {
                self.out.push(json!({"type": "typing", "conversation_id": &*conversation_id, "active": active}));
            }
            _ => {}
        }
    }

    async fn handle(&mut self, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => return self.error("bad_frame", format!("not valid JSON: {e}")),
        };
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !TYPES.contains(&kind.as_str()) {
            return self.error(
                "unknown_type",
                format!(
                    "unknown frame type {kind:?}; expected one of: {}",
                    TYPES.join(", ")
                ),
            );
        }
        let command: Command = match serde_json::from_value(value) {
            Ok(command) => command,
            Err(e) => return self.error("bad_frame", format!("{kind}: {e}")),
        };
        let (state, agent) = (self.state.clone(), self.agent.clone());
        let result = match command {
            Command::Presence { status } => match status.as_str() {
                "online" | "away" => {
                    state.hub.set_online(self.console, status == "online");
                    super::announce_positions(&state).await;
                    super::assign::run(&state).await;
                    Ok(())
                }
                _ => return self.error("bad_frame", "presence: status is online or away"),
            },
            Command::Open { conversation_id } => self.show(&conversation_id).await,
            Command::Claim { conversation_id } => {
                let claimed = actions::claim(&state, &agent, &conversation_id).await;
                if claimed.is_ok() {
                    self.out
                        .push(json!({"type": "claimed", "conversation_id": conversation_id}));
                    let shown = self.show(&conversation_id).await;
                    shown.and(claimed)
                } else {
                    claimed
                }
            }
            Command::Reply {
                conversation_id,
                client_id,
                text,
            } => actions::reply(&state, &agent, &conversation_id, text.trim())
                .await
                .map(|stored| {
                    self.out
                        .push(json!({"type": "ack", "client_id": client_id, "seq": stored.seq}));
                }),
            Command::Typing {
                conversation_id,
                active,
            } => actions::typing(&state, &agent, &conversation_id, active).await,
            Command::Note {
                conversation_id,
                text,
            } => actions::note(&state, &agent, &conversation_id, text.trim()).await,
            Command::Transfer {
                conversation_id,
                queue: Some(queue),
                agent_id: None,
            } => actions::transfer_to_queue(&state, &agent, &conversation_id, &queue).await,
            Command::Transfer {
                conversation_id,
                queue: None,
                agent_id: Some(target),
            } => actions::transfer_to_agent(&state, &agent, &conversation_id, &target).await,
            Command::Transfer { .. } => {
                return self.error("bad_frame", "transfer: give either queue or agent_id");
            }
            Command::Resolve { conversation_id } => {
                actions::resolve(&state, &agent, &conversation_id).await
            }
            Command::HandBack { conversation_id } => {
                actions::hand_back(&state, &agent, &conversation_id).await
            }
            Command::TicketDone { ticket_id } => {
                actions::ticket_done(&state, &agent, &ticket_id).await
            }
        };
        if let Err(e) = result {
            if matches!(e, ActionError::Storage(_) | ActionError::Json(_)) {
                tracing::error!(error = %e, "agent action failed");
            }
            let message = e.to_string();
            self.error(e.code(), message);
        }
    }
}
