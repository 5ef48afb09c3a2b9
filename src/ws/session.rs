//! A customer's live chat session at `/ws/chat`: connection limits, timeouts, and dispatching
//! each frame.
//!
//! One task per connection reads frames and handles them in order; a second task writes what the
//! first queues, so a slow client never blocks the store or the bot (axum `examples/chat`). Every
//! frame that belongs to the conversation is stored before it is sent, so a reconnecting client
//! gets exactly what it missed from the store ([`Store::events_after`]).
//!
//! - `hello.rs`: starting or resuming a conversation, identity, replay;
//! - `live.rs`: what the hub says while a person handles the conversation;
//! - `turn.rs`: storing customer events and the bot's turn;
//! - `reply.rs`: the frame for each decision; `rate.rs`: the frame rate limit.

mod hello;
mod live;
mod rate;
mod reply;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;

use self::rate::RateLimit;

use super::protocol::close_code;
use super::{ClientFrame, ErrorCode, ServerFrame};
use crate::bot::BotError;
use crate::bot::policy::{Memory, PolicyConfig};
use crate::http::AppState;
use crate::model::ModelError;
use crate::storage::{ConversationState, StorageError, Store};

/// Largest websocket frame or message accepted; a bigger one closes the connection with 1009.
/// A chat message is at most a few thousand characters, so 64 KiB leaves ample room while
/// keeping what one connection can make the server buffer small.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Frames queued for the writer before the reader waits for it.
const OUTBOX: usize = 64;
/// Initial read and write buffer per socket.
const IO_BUFFER_BYTES: usize = 4 * 1024;
/// How often the server pings: often enough that proxies, which commonly cut a connection
/// silent for 60 s, see traffic; rare enough to cost nothing with thousands of customers.
const PING_INTERVAL: Duration = Duration::from_secs(25);
/// Silence (not even a pong) after which the peer is taken for gone: two missed pings.
const DEAD_AFTER: Duration = Duration::from_secs(60);
/// How long a new connection may take to say hello: a widget says it at once.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// What can go wrong while handling a frame; the customer gets an `internal` error frame.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The encoder failed or is overloaded.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The bot pipeline failed.
    #[error(transparent)]
    Bot(#[from] BotError),
    /// A frame could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Personal data could not be sealed.
    #[error("cannot seal personal data: {0}")]
    Seal(String),
    /// The bot's worker task panicked or was cancelled.
    #[error("the bot's worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    /// The client went away while frames were queued for it.
    #[error("the connection is closed")]
    Gone,
}

/// `GET /ws/chat`: upgrades to a websocket and runs a session on it, or closes it with 1013 when
/// the server has `max_chat_connections` already.
pub async fn chat(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !crate::http::origin::chat_allowed(&headers, &state.settings.allowed_origins) {
        return axum::response::IntoResponse::into_response(crate::http::ApiError::Forbidden(
            "this site may not open a chat: add its origin to allowed_origins",
        ));
    }
    // tungstenite reserves 128 KiB read and write buffers per socket by default, which is most
    // of an idle customer's memory; chat frames are a few hundred bytes, and the buffers grow
    // on demand up to the frame limit when one is not.
    let ws = ws
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(IO_BUFFER_BYTES)
        .write_buffer_size(IO_BUFFER_BYTES);
    match state.chat_slots.clone().try_acquire_owned() {
        Ok(slot) => ws.on_upgrade(move |socket| run(socket, state, slot)),
        // Refusing the upgrade with a 503 would reach a browser as a bare "connection failed";
        // a close code tells the widget to come back later.
        Err(_) => ws.on_upgrade(|mut socket| async move {
            tracing::warn!("chat connection refused: max_chat_connections reached");
            let frame = CloseFrame {
                code: close_code::TRY_AGAIN_LATER,
                reason: Utf8Bytes::from_static("server full, try again later"),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
        }),
    }
}

async fn run(socket: WebSocket, state: AppState, _slot: OwnedSemaphorePermit) {
    let _counted = state.metrics.socket_opened("chat");
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut queued) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(message) = queued.recv().await {
            let last = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || last {
                break;
            }
        }
    });
    let mut session = Session::new(state, outbox);
    let mut ping = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut last_heard = Instant::now();
    let mut shutdown = session.state.shutdown.clone();
    // The hub's channel for this conversation, once hello has named it.
    let mut news: Option<tokio::sync::broadcast::Receiver<crate::handoff::CustomerNews>> = None;
    loop {
        if news.is_none() {
            news = session.news.take();
        }
        let idle_deadline = session.idle_deadline();
        let idle = async {
            match idle_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let heard = async {
            match news.as_mut() {
                Some(news) => news.recv().await,
                None => std::future::pending().await,
            }
        };
        let received = tokio::select! {
            received = stream.next() => received,
            heard = heard => {
                let result = match heard {
                    Ok(heard) => session.on_news(heard).await,
                    // Missed some: what was stored is in the store, so resend from there.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => session.catch_up().await,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => Ok(()),
                };
                if result.is_err() {
                    break;
                }
                continue;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= DEAD_AFTER
                    || session.outbox.send(Message::Ping(Default::default())).await.is_err()
                {
                    break;
                }
                continue;
            }
            _ = shutdown.changed() => {
                session.close(close_code::GOING_AWAY, "server shutting down").await;
                break;
            }
            () = idle => {
                let reason = if session.conversation.is_some() { "idle" } else { "no hello" };
                session.close(close_code::NORMAL, reason).await;
                break;
            }
        };
        let Some(received) = received else { break };
        last_heard = Instant::now();
        let result = match received {
            Ok(Message::Text(text)) => session.handle(text.as_str()).await,
            Ok(Message::Binary(_)) => {
                let e = ServerFrame::error(ErrorCode::BadFrame, "frames are JSON text, not binary");
                session.send(&e).await
            }
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => Ok(()),
            Err(e) => {
                // tungstenite reports an oversized frame as a read error ("Space limit
                // exceeded"); anything else is a broken connection with no one to tell.
                if e.to_string().contains("Space limit exceeded") {
                    session.close(close_code::TOO_BIG, "frame too large").await;
                }
                break;
            }
        };
        match result {
            Ok(()) if session.closed => break,
            Ok(()) => {}
            Err(SessionError::Gone) => break,
            Err(e) => {
                tracing::error!(error = %e, conversation = ?session.conversation, "chat frame failed");
                let e = ServerFrame::error(
                    ErrorCode::Internal,
                    "the server failed; a message without an ack was not stored: resend it",
                );
                if session.send(&e).await.is_err() {
                    break;
                }
            }
        }
    }
    // Dropping the session drops the outbox, so the writer sends what is queued and ends.
    drop(news);
    if let Some(conversation) = session.conversation.as_ref().filter(|_| session.listening) {
        session.state.hub.forget(conversation);
    }
    drop(session);
    let _ = writer.await;
}

/// One connection's state.
struct Session {
    state: AppState,
    store: Store,
    outbox: mpsc::Sender<Message>,
    /// The conversation, once `hello` arrived.
    conversation: Option<String>,
    /// Whether the bot still talks in this conversation (false once handed off).
    bot_active: bool,
    memory: Memory,
    policy: Arc<PolicyConfig>,
    rate: RateLimit,
    /// The embedding of the customer's previous message, for repeat detection.
    previous: Option<Vec<f32>>,
    /// The previous message's text when resuming, embedded when the next message arrives.
    previous_text: Option<String>,
    /// The hub's channel, from hello until the connection loop takes it.
    news: Option<tokio::sync::broadcast::Receiver<crate::handoff::CustomerNews>>,
    /// The highest seq sent on this connection, so a frame the hub announces after the replay
    /// sent it is not sent twice.
    sent_seq: u64,
    /// Whether this session listens to the hub (see `Session::listen`).
    listening: bool,
    /// The queue and place last told to the customer.
    place: Option<(String, u32)>,
    /// The language of the customer's latest message (`en` or `zh`), for quick replies in it.
    lang: &'static str,
    /// Counts this session in `tandem_active_conversations` once it has a conversation.
    active: Option<crate::metrics::Counted>,
    connected_at: Instant,
    /// When the customer last sent a frame.
    last_active: Instant,
    closed: bool,
}

impl Session {
    fn new(state: AppState, outbox: mpsc::Sender<Message>) -> Self {
        let now = Instant::now();
        let policy = Arc::clone(&state.policy);
        Session {
            store: state.store.clone(),
            state,
            outbox,
            conversation: None,
            bot_active: true,
            memory: Memory::default(),
            policy,
            rate: RateLimit::new(),
            previous: None,
            previous_text: None,
            news: None,
            sent_seq: 0,
            place: None,
            lang: "en",
            active: None,
            listening: false,
            connected_at: now,
            last_active: now,
            closed: false,
        }
    }

    /// When the connection is closed for silence: soon without hello, after the idle timeout
    /// while the bot serves, never while a person is involved (the customer is waiting, or
    /// reading the agent's replies).
    fn idle_deadline(&self) -> Option<Instant> {
        let idle = Duration::from_secs(self.state.settings.chat_idle_timeout_secs);
        match &self.conversation {
            None => Some(self.connected_at + idle.min(HELLO_TIMEOUT)),
            Some(_) if self.bot_active => Some(self.last_active + idle),
            Some(_) => None,
        }
    }

    async fn send(&self, frame: &ServerFrame) -> Result<(), SessionError> {
        self.send_text(serde_json::to_string(frame)?).await
    }

    async fn send_text(&self, text: String) -> Result<(), SessionError> {
        self.outbox
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .map_err(|_| SessionError::Gone)
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        self.closed = true;
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = self.outbox.send(Message::Close(Some(frame))).await;
    }

    async fn bad_state(&self, message: impl Into<String>) -> Result<(), SessionError> {
        self.send(&ServerFrame::error(ErrorCode::BadState, message))
            .await
    }

    async fn handle(&mut self, text: &str) -> Result<(), SessionError> {
        self.last_active = Instant::now();
        if !self.rate.allow() {
            if self.rate.refused_in_a_row >= rate::FLOOD_CLOSE {
                self.close(close_code::POLICY, "flooding").await;
                return Ok(());
            }
            return self
                .send(&ServerFrame::error(
                    ErrorCode::RateLimited,
                    "too many frames; this one was dropped, slow down",
                ))
                .await;
        }
        let frame = match ClientFrame::parse(text) {
            Ok(frame) => frame,
            Err(e) => return self.send(&e.to_frame()).await,
        };
        let conversation = match (&frame, self.conversation.clone()) {
            (ClientFrame::Hello { .. }, Some(_)) => {
                return self.bad_state("this connection already said hello").await;
            }
            (ClientFrame::Hello { .. }, None) => return self.hello(frame).await,
            (_, None) => return self.bad_state("the first frame must be hello").await,
            (_, Some(id)) => id,
        };
        match frame {
            ClientFrame::Message { client_id, text } => {
                self.message(&conversation, &client_id, text.trim()).await
            }
            ClientFrame::Choose {
                client_id,
                choice_id,
                label,
            } => {
                self.choose(&conversation, &client_id, &choice_id, &label)
                    .await
            }
            ClientFrame::RequestHuman { client_id } => {
                self.request_human(&conversation, client_id.as_deref())
                    .await
            }
            ClientFrame::Feedback { seq, helpful } => {
                self.feedback(&conversation, seq, helpful).await
            }
            ClientFrame::Typing { active } => {
                // Only a person reads it; the bot does not care.
                if !self.bot_active {
                    self.state
                        .hub
                        .tell_agents(crate::handoff::AgentNews::CustomerTyping {
                            conversation_id: conversation.as_str().into(),
                            active,
                        });
                }
                Ok(())
            }
            ClientFrame::Rate { score, comment } => self.rate(&conversation, score, comment).await,
            ClientFrame::LeaveMessage {
                client_id,
                email,
                text,
            } => {
                self.leave_message(&conversation, &client_id, &email, &text)
                    .await
            }
            ClientFrame::Close {} => {
                self.store
                    .set_state(&conversation, ConversationState::Closed, None)
                    .await?;
                self.close(close_code::NORMAL, "conversation closed").await;
                Ok(())
            }
            ClientFrame::Hello { .. } => Ok(()),
        }
    }
}
