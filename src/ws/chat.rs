//! A customer's live chat socket at `/ws/chat`: connection limits, timeouts, the frame rate
//! limit, and one call into the chat service ([`Chat`]) per frame.
//!
//! One task per connection reads frames and handles them in order; a second task writes what the
//! first queues, so a slow client never blocks the store or the bot (axum `examples/chat`).
//! What each frame does to the conversation is the application's business (`crate::chat`); this
//! file only parses, dispatches and writes back.

mod rate;

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;

use self::rate::RateLimit;

use crate::app::App;
use crate::chat::{Chat, ChatError, Gone, Out, Outbox};
use crate::handoff::CustomerNews;
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame, close_code};

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

/// `GET /ws/chat`: upgrades to a websocket and runs a session on it, or closes it with 1013 when
/// the server has `max_chat_connections` already.
pub async fn chat(
    ws: WebSocketUpgrade,
    State(app): State<App>,
    headers: axum::http::HeaderMap,
) -> Response {
    if !crate::http::origin::chat_allowed(&headers, &app.settings.allowed_origins) {
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
    match app.chat_slots.clone().try_acquire_owned() {
        Ok(slot) => ws.on_upgrade(move |socket| run(socket, app, slot)),
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

/// The connection's outbox: frames queued for the writer task.
struct Socket {
    queued: mpsc::Sender<Message>,
    /// Set once a close frame is queued: the reader stops after the current frame.
    closed: bool,
}

impl Outbox for Socket {
    async fn send(&mut self, out: Out) -> Result<(), Gone> {
        let message = match out {
            Out::Frame(frame) => match serde_json::to_string(&frame) {
                Ok(text) => Message::Text(Utf8Bytes::from(text)),
                Err(e) => {
                    // Our own frame types always serialise; should one not, the customer
                    // misses that frame, not the connection.
                    tracing::error!(error = %e, "cannot serialise a chat frame");
                    return Ok(());
                }
            },
            Out::Stored(json) => Message::Text(Utf8Bytes::from(json)),
            Out::Close(code, reason) => {
                self.closed = true;
                Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(reason),
                }))
            }
        };
        self.queued.send(message).await.map_err(|_| Gone)
    }
}

impl Socket {
    async fn frame(&mut self, frame: ServerFrame) -> Result<(), Gone> {
        self.send(Out::Frame(frame)).await
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = self.send(Out::Close(code, reason)).await;
    }
}

async fn run(socket: WebSocket, app: App, _slot: OwnedSemaphorePermit) {
    let _counted = app.metrics.socket_opened("chat");
    let (mut sink, mut stream) = socket.split();
    let (queued, mut outgoing) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let last = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || last {
                break;
            }
        }
    });
    let mut socket = Socket {
        queued,
        closed: false,
    };
    let mut chat: Option<Chat> = None;
    let mut rate = RateLimit::new();
    let idle = Duration::from_secs(app.settings.chat_idle_timeout_secs);
    let connected_at = Instant::now();
    let mut last_active = connected_at;
    let mut ping = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut last_heard = Instant::now();
    let mut shutdown = app.shutdown.clone();
    // The hub's channel for this conversation, once a person is involved.
    let mut news: Option<tokio::sync::broadcast::Receiver<CustomerNews>> = None;
    loop {
        if news.is_none() {
            news = chat.as_mut().and_then(Chat::take_news);
        }
        // Closed for silence: soon without hello, after the idle timeout while the bot serves,
        // never while a person is involved (the customer is waiting, or reading the agent).
        let idle_deadline = match &chat {
            None => Some(connected_at + idle.min(HELLO_TIMEOUT)),
            Some(chat) if chat.bot_active() => Some(last_active + idle),
            Some(_) => None,
        };
        let idle_timer = async {
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
                let result = match (heard, chat.as_mut()) {
                    (Ok(heard), Some(chat)) => chat.on_news(&mut socket, heard).await,
                    // Missed some: what was stored is in the store, so resend from there.
                    (Err(RecvError::Lagged(_)), Some(chat)) => chat.catch_up(&mut socket).await,
                    _ => Ok(()),
                };
                if result.is_err() {
                    break;
                }
                continue;
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= DEAD_AFTER
                    || socket.queued.send(Message::Ping(Default::default())).await.is_err()
                {
                    break;
                }
                continue;
            }
            _ = shutdown.changed() => {
                socket.close(close_code::GOING_AWAY, "server shutting down").await;
                break;
            }
            () = idle_timer => {
                let reason = if chat.is_some() { "idle" } else { "no hello" };
                socket.close(close_code::NORMAL, reason).await;
                break;
            }
        };
        let Some(received) = received else { break };
        last_heard = Instant::now();
        let result = match received {
            Ok(Message::Text(text)) => {
                last_active = Instant::now();
                handle(&app, &mut chat, &mut socket, &mut rate, text.as_str()).await
            }
            Ok(Message::Binary(_)) => socket
                .frame(ServerFrame::error(
                    ErrorCode::BadFrame,
                    "frames are JSON text, not binary",
                ))
                .await
                .map_err(ChatError::from),
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => Ok(()),
            Err(e) => {
                // A protocol violation, invalid UTF-8 or an oversized frame is told with its
                // close code; anything else is a broken connection with no one to tell.
                if let Some((code, reason)) = super::close_for(&e) {
                    socket.close(code, reason).await;
                }
                break;
            }
        };
        match result {
            Ok(()) if socket.closed => break,
            Ok(()) => {}
            Err(ChatError::Gone(_)) => break,
            Err(e) => {
                tracing::error!(error = %e, conversation = chat.as_ref().map(Chat::id), "chat frame failed");
                let e = ServerFrame::error(
                    ErrorCode::Internal,
                    "the server failed on this frame; a message that has its ack is saved and \
                     will be answered, one without an ack was not stored: resend it",
                );
                if socket.frame(e).await.is_err() {
                    break;
                }
            }
        }
    }
    // The hub's receiver goes first, so that the chat, dropped next, can remove a channel
    // nobody listens to; dropping the outbox lets the writer send what is queued and end.
    let closed_by_us = socket.closed;
    drop(news);
    drop(chat);
    drop(socket);
    let _ = writer.await;
    if closed_by_us {
        super::drain(&mut stream).await;
    }
}

/// One text frame: rate limit, parse, then the chat service.
async fn handle(
    app: &App,
    chat: &mut Option<Chat>,
    socket: &mut Socket,
    rate: &mut RateLimit,
    text: &str,
) -> Result<(), ChatError> {
    if !rate.allow() {
        if rate.refused_in_a_row >= rate::FLOOD_CLOSE {
            socket.close(close_code::POLICY, "flooding").await;
            return Ok(());
        }
        return Ok(socket
            .frame(ServerFrame::error(
                ErrorCode::RateLimited,
                "too many frames; this one was dropped, slow down",
            ))
            .await?);
    }
    let frame = match ClientFrame::parse(text) {
        Ok(frame) => frame,
        Err(e) => return Ok(socket.frame(e.to_frame()).await?),
    };
    let Some(current) = chat.as_mut() else {
        let ClientFrame::Hello(hello) = frame else {
            return bad_state(socket, "the first frame must be hello").await;
        };
        *chat = Chat::start(app.clone(), hello, socket).await?;
        return Ok(());
    };
    match frame {
        ClientFrame::Hello(_) => bad_state(socket, "this connection already said hello").await,
        ClientFrame::Message { client_id, text } => {
            current.message(socket, &client_id, &text).await
        }
        ClientFrame::Choose {
            client_id,
            choice_id,
            label,
        } => current.choose(socket, &client_id, &choice_id, &label).await,
        ClientFrame::RequestHuman { client_id } => {
            current.request_human(socket, client_id.as_deref()).await
        }
        ClientFrame::Feedback { seq, helpful } => current.feedback(socket, seq, helpful).await,
        ClientFrame::Typing { active } => {
            current.typing(active);
            Ok(())
        }
        ClientFrame::Rate { score, comment } => current.rate(socket, score, comment).await,
        ClientFrame::LeaveMessage {
            client_id,
            email,
            text,
        } => {
            current
                .leave_message(socket, &client_id, &email, &text)
                .await
        }
        ClientFrame::Close {} => current.close(socket).await,
    }
}

async fn bad_state(socket: &mut Socket, message: &str) -> Result<(), ChatError> {
    Ok(socket
        .frame(ServerFrame::error(ErrorCode::BadState, message))
        .await?)
}
