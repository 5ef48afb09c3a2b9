//! `/ws/agent`: an agent's live connection (see `docs/agent-protocol.md`). It parses console
//! frames, calls the handoff actions, and writes agent frames back.
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
use tokio::sync::broadcast::error::RecvError;

use crate::app::App;
use crate::handoff::{ActionError, AgentNews, actions, views};
use crate::http::ApiError;
use crate::http::auth::session_token;
use crate::protocol::agent::{AgentFrame, ConsoleFrame, Presence};
use crate::protocol::close_code;
use crate::storage::Agent;

/// Close code for a signed-out (disabled, expired) agent: the console goes back to sign-in.
pub const SIGNED_OUT: u16 = 4001;
/// Largest console frame: a reply is at most `max_message_chars` (a few KiB); this leaves room
/// for a longer one to be refused with an error frame rather than a closed console, and keeps
/// what a console can make the server buffer small (tungstenite's default is 64 MiB).
const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// How often an idle agent socket re-checks its session.
const RECHECK: Duration = Duration::from_secs(5);

/// `GET /ws/agent`.
pub async fn agent_socket(
    State(app): State<App>,
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
    match app.store.agent_for_session(&token).await {
        Ok(Some(agent)) => ws
            .max_message_size(MAX_FRAME_BYTES)
            .max_frame_size(MAX_FRAME_BYTES)
            .on_upgrade(move |socket| run(socket, app, agent, token)),
        Ok(None) => ApiError::Unauthorized("sign in first").into_response(),
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}

/// One agent console's connection state.
struct AgentSession {
    app: App,
    agent: Agent,
    token: String,
    /// This console's number in the hub's presence list.
    console: u64,
    /// Conversations whose live events this console shows.
    open: HashSet<String>,
    out: Vec<AgentFrame>,
}

async fn run(socket: WebSocket, app: App, agent: Agent, token: String) {
    let _counted = app.metrics.socket_opened("agent");
    let (mut sink, mut stream) = socket.split();
    let mut news = app.hub.listen_agents();
    let mut shutdown = app.shutdown.clone();
    let mut recheck = tokio::time::interval(RECHECK);
    let console = app.hub.arrive(&agent.id, agent.skills.clone());
    let mut session = AgentSession {
        app,
        agent,
        token,
        console,
        open: HashSet::new(),
        out: Vec::new(),
    };
    session
        .out
        .push(views::welcome(&session.app, &session.agent));
    session.snapshot().await;
    // One more online agent: waiting conversations of auto-assigned queues may go to them.
    crate::handoff::auto_assign(&session.app).await;
    let mut close = None;
    loop {
        for frame in session.out.drain(..) {
            let text = match serde_json::to_string(&frame) {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!(error = %e, "cannot serialise an agent frame");
                    continue;
                }
            };
            if sink
                .send(Message::Text(Utf8Bytes::from(text)))
                .await
                .is_err()
            {
                return;
            }
        }
        // Biased, news first: the console acts on a view that includes every change announced
        // before its frame arrived (a claim sees the snapshot of the handoff that preceded it).
        tokio::select! {
            biased;
            heard = news.recv() => match heard {
                Ok(heard) => session.on_news(heard).await,
                Err(RecvError::Lagged(_)) => session.snapshot().await,
                Err(RecvError::Closed) => break,
            },
            received = stream.next() => match received {
                Some(Ok(Message::Text(text))) => {
                    if !session.still_signed_in().await {
                        close = Some((SIGNED_OUT, "signed out"));
                        break;
                    }
                    session.handle(text.as_str()).await;
                }
                Some(Err(e)) => {
                    close = super::close_for(&e);
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
            },
            _ = recheck.tick() => {
                if !session.still_signed_in().await {
                    close = Some((SIGNED_OUT, "signed out"));
                    break;
                }
            }
            _ = shutdown.changed() => {
                close = Some((close_code::GOING_AWAY, "server shutting down"));
                break;
            }
        }
    }
    session.app.hub.leave(session.console);
    // Fewer agents online: the waiting customers' estimates change.
    crate::handoff::announce_positions(&session.app).await;
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        if sink.send(Message::Close(Some(frame))).await.is_ok() {
            super::drain(&mut stream).await;
        }
    }
}

impl AgentSession {
    async fn still_signed_in(&self) -> bool {
        // A store error is not a sign-out: keep the agent, the next check decides.
        self.app
            .store
            .agent_for_session(&self.token)
            .await
            .map_or(true, |a| a.is_some())
    }

    fn error(&mut self, code: &str, message: impl Into<String>) {
        self.out.push(AgentFrame::error(code, message));
    }

    /// Queues a fresh `queue` snapshot.
    async fn snapshot(&mut self) {
        match views::snapshot(&self.app, &self.agent).await {
            Ok(frame) => self.out.push(frame),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the queue");
                self.error("internal", "the queue could not be read");
            }
        }
    }

    /// Queues the `conversation` frame; from now on this console gets its live events.
    async fn show(&mut self, id: &str) -> Result<(), ActionError> {
        let frame = views::conversation(&self.app, &self.agent, id).await?;
        self.open.insert(id.to_owned());
        self.out.push(frame);
        Ok(())
    }

    async fn on_news(&mut self, news: AgentNews) {
        match news {
            AgentNews::QueueChanged => self.snapshot().await,
            AgentNews::Event {
                conversation_id,
                entry,
            } if self.open.contains(&*conversation_id) => {
                self.out.push(AgentFrame::Event {
                    conversation_id: conversation_id.to_string(),
                    event: (*entry).clone(),
                });
            }
            AgentNews::Note {
                conversation_id,
                note,
            } if self.open.contains(&*conversation_id) => {
                self.out.push(AgentFrame::Note {
                    conversation_id: conversation_id.to_string(),
                    note: (*note).clone(),
                });
            }
            AgentNews::Assigned {
                agent_id,
                conversation_id,
                by,
            } if *agent_id == *self.agent.id => {
                self.out.push(AgentFrame::Claimed {
                    conversation_id: conversation_id.to_string(),
                    auto: true,
                    transferred_by: by.map(|name| name.to_string()),
                });
                if let Err(e) = self.show(&conversation_id).await {
                    tracing::warn!(error = %e, "cannot show an assigned conversation");
                }
            }
            AgentNews::CustomerTyping {
                conversation_id,
                active,
            } if self.open.contains(&*conversation_id) => {
                self.out.push(AgentFrame::Typing {
                    conversation_id: conversation_id.to_string(),
                    active,
                });
            }
            _ => {}
        }
    }

    async fn handle(&mut self, text: &str) {
        let frame = match ConsoleFrame::parse(text) {
            Ok(frame) => frame,
            Err(refused) => return self.out.push(refused.to_frame()),
        };
        let (app, agent) = (self.app.clone(), self.agent.clone());
        let result = match frame {
            ConsoleFrame::Presence { status } => {
                app.hub.set_online(self.console, status == Presence::Online);
                crate::handoff::announce_positions(&app).await;
                crate::handoff::auto_assign(&app).await;
                Ok(())
            }
            ConsoleFrame::Open { conversation_id } => self.show(&conversation_id).await,
            ConsoleFrame::Claim { conversation_id } => {
                match actions::claim(&app, &agent, &conversation_id).await {
                    Ok(()) => {
                        self.out.push(AgentFrame::Claimed {
                            conversation_id: conversation_id.clone(),
                            auto: false,
                            transferred_by: None,
                        });
                        self.show(&conversation_id).await
                    }
                    Err(e) => Err(e),
                }
            }
            ConsoleFrame::Reply {
                conversation_id,
                client_id,
                text,
            } => actions::reply(&app, &agent, &conversation_id, &text)
                .await
                .map(|stored| {
                    self.out.push(AgentFrame::Ack {
                        client_id,
                        seq: stored.seq,
                    });
                }),
            ConsoleFrame::Typing {
                conversation_id,
                active,
            } => actions::typing(&app, &agent, &conversation_id, active).await,
            ConsoleFrame::Note {
                conversation_id,
                text,
            } => actions::note(&app, &agent, &conversation_id, &text).await,
            ConsoleFrame::Transfer {
                conversation_id,
                queue: Some(queue),
                agent_id: None,
            } => actions::transfer_to_queue(&app, &agent, &conversation_id, queue.as_str()).await,
            ConsoleFrame::Transfer {
                conversation_id,
                queue: None,
                agent_id: Some(target),
            } => actions::transfer_to_agent(&app, &agent, &conversation_id, &target).await,
            ConsoleFrame::Transfer { .. } => {
                return self.error("bad_frame", "transfer: give either queue or agent_id");
            }
            ConsoleFrame::Resolve { conversation_id } => {
                actions::resolve(&app, &agent, &conversation_id).await
            }
            ConsoleFrame::HandBack { conversation_id } => {
                actions::hand_back(&app, &agent, &conversation_id).await
            }
            ConsoleFrame::TicketDone { ticket_id } => {
                actions::ticket_done(&app, &agent, &ticket_id).await
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
