//! A customer's live chat session at `/ws/chat`: hello and resume, storing and acknowledging
//! messages, the bot's turn, handoff, limits.
//!
//! One task per connection reads frames and handles them in order; a second task writes what the
//! first queues, so a slow client never blocks the store or the bot (axum `examples/chat`). Every
//! frame that belongs to the conversation is stored before it is sent, so a reconnecting client
//! gets exactly what it missed from the store ([`Store::events_after`]).

mod rate;
mod reply;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use self::rate::RateLimit;

use super::protocol::close_code;
use super::{ClientFrame, ErrorCode, HandoffReason, PROTOCOL_VERSION, ServerFrame};
use crate::bot::policy::{Decision, Memory, PolicyConfig, Turn, decide};
use crate::bot::{Bot, BotError};
use crate::http::AppState;
use crate::model::ModelError;
use crate::storage::{
    Appended, ConversationState, NewConversation, NewEvent, Sender, StorageError, Store,
};

/// Largest websocket frame or message accepted; a bigger one closes the connection with 1009.
/// A chat message is at most a few thousand characters, so 64 KiB leaves ample room while
/// keeping what one connection can make the server buffer small.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Frames queued for the writer before the reader waits for it.
const OUTBOX: usize = 64;
/// FAQ candidates the bot looks at: enough for a three-way clarification.
const CANDIDATES: usize = 3;

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
    /// The client went away while frames were queued for it.
    #[error("the connection is closed")]
    Gone,
}

/// Initial read and write buffer per socket.
const IO_BUFFER_BYTES: usize = 4 * 1024;

/// `GET /ws/chat`: upgrades to a websocket and runs a [`Session`] on it.
pub async fn chat(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    // tungstenite reserves 128 KiB read and write buffers per socket by default, which is most
    // of an idle customer's memory; chat frames are a few hundred bytes, and the buffers grow
    // on demand up to the frame limit when one is not.
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(IO_BUFFER_BYTES)
        .write_buffer_size(IO_BUFFER_BYTES)
        .on_upgrade(move |socket| run(socket, state))
}

async fn run(socket: WebSocket, state: AppState) {
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
    while let Some(received) = stream.next().await {
        let result = match received {
            Ok(Message::Text(text)) => session.handle(text.as_str()).await,
            Ok(Message::Binary(_)) => {
                session
                    .send(&ServerFrame::error(
                        ErrorCode::BadFrame,
                        "frames are JSON text, not binary",
                    ))
                    .await
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
                if session
                    .send(&ServerFrame::error(
                        ErrorCode::Internal,
                        "the server failed; a message without an ack was not stored: resend it",
                    ))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    // Dropping the session drops the outbox, so the writer sends what is queued and ends.
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
    policy: PolicyConfig,
    rate: RateLimit,
    closed: bool,
}

impl Session {
    fn new(state: AppState, outbox: mpsc::Sender<Message>) -> Self {
        Session {
            store: state.store.clone(),
            state,
            outbox,
            conversation: None,
            bot_active: true,
            memory: Memory::default(),
            policy: PolicyConfig::default(),
            rate: RateLimit::new(),
            closed: false,
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

    async fn handle(&mut self, text: &str) -> Result<(), SessionError> {
        if !self.rate.allow() {
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
                let text = text.trim().to_owned();
                if text.is_empty() {
                    let e = ServerFrame::error(ErrorCode::BadFrame, "the message text is empty");
                    return self.send(&e).await;
                }
                let max = self.state.settings.max_message_chars;
                if text.chars().count() > max {
                    let message = format!("a message may have at most {max} characters");
                    return self
                        .send(&ServerFrame::error(ErrorCode::TooLarge, message))
                        .await;
                }
                if self
                    .customer_event(&conversation, &client_id, &text, None)
                    .await?
                {
                    self.bot_turn(&conversation, &text).await?;
                }
                Ok(())
            }
            ClientFrame::Choose {
                client_id,
                choice_id,
                label,
            } => {
                let stored = self
                    .customer_event(&conversation, &client_id, &label, Some(&choice_id))
                    .await?;
                if stored && self.bot_active {
                    let bot = self.state.bot.load_full();
                    if bot.knowledge().faq(&choice_id).is_some() {
                        let decision = Decision::Answer { faq_id: choice_id };
                        self.memory.observe(&decision);
                        self.respond(&conversation, &bot, decision, bot_event)
                            .await?;
                    } else {
                        self.bot_turn(&conversation, &label).await?;
                    }
                }
                Ok(())
            }
            ClientFrame::RequestHuman { client_id } => {
                let stored = match &client_id {
                    Some(id) => {
                        self.customer_event(&conversation, id, "(asked for a person)", None)
                            .await?
                    }
                    None => true,
                };
                if stored && self.bot_active {
                    let bot = self.state.bot.load_full();
                    let decision = Decision::Handoff {
                        reason: HandoffReason::CustomerRequest,
                        queue: crate::knowledge::DEFAULT_QUEUE.to_owned(),
                        priority: crate::knowledge::Priority::Normal,
                    };
                    self.respond(&conversation, &bot, decision, bot_event)
                        .await?;
                }
                Ok(())
            }
            ClientFrame::Feedback { seq, helpful } => {
                match self
                    .store
                    .record_feedback(&conversation, seq, helpful)
                    .await
                {
                    Err(StorageError::UnknownEvent { .. }) => {
                        self.bad_state(format!("there is no answer with seq {seq}"))
                            .await
                    }
                    other => Ok(other?),
                }
            }
            ClientFrame::Typing { .. } => Ok(()),
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

    async fn bad_state(&self, message: impl Into<String>) -> Result<(), SessionError> {
        self.send(&ServerFrame::error(ErrorCode::BadState, message))
            .await
    }

    /// Starts or resumes the conversation, sends `welcome` and replays what the client missed.
    async fn hello(&mut self, frame: ClientFrame) -> Result<(), SessionError> {
        let ClientFrame::Hello {
            protocol,
            resume_token,
            last_seq,
            locale,
            page_url,
            identity: _,
        } = frame
        else {
            return Ok(());
        };
        if protocol != PROTOCOL_VERSION {
            let message = format!("this server speaks protocol {PROTOCOL_VERSION}");
            self.send(&ServerFrame::error(ErrorCode::UnsupportedProtocol, message))
                .await?;
            self.close(close_code::POLICY, "unsupported protocol").await;
            return Ok(());
        }
        let existing = match &resume_token {
            Some(token) => self.store.conversation_by_token(token).await?,
            None => None,
        };
        let (conversation, token, resumed) = match (existing, resume_token) {
            (Some(conversation), Some(token)) => (conversation, token, true),
            _ => {
                let new = NewConversation {
                    locale,
                    page_url,
                    ..NewConversation::default()
                };
                let (conversation, token) = self.store.create_conversation(new).await?;
                (conversation, token, false)
            }
        };
        self.bot_active = conversation.state == ConversationState::Bot;
        self.conversation = Some(conversation.id.clone());
        self.send(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            conversation_id: conversation.id.clone(),
            resume_token: token,
            last_seq: conversation.last_seq,
            resumed,
        })
        .await?;
        if resumed {
            let after = last_seq.unwrap_or(0);
            for event in self.store.events_after(&conversation.id, after).await? {
                self.send_text(event.frame).await?;
            }
        }
        Ok(())
    }

    /// Stores a customer message and acknowledges it; false when it was a duplicate (acked again
    /// with its first seq, not answered again).
    async fn customer_event(
        &mut self,
        conversation: &str,
        client_id: &str,
        text: &str,
        choice_id: Option<&str>,
    ) -> Result<bool, SessionError> {
        let frame = ServerFrame::CustomerMessage {
            seq: 0,
            client_id: client_id.to_owned(),
            text: text.to_owned(),
            choice_id: choice_id.map(str::to_owned),
        };
        let event = NewEvent::new(Sender::Customer, serde_json::to_value(&frame)?);
        let (seq, new) = match self
            .store
            .append_customer_message(conversation, client_id, event)
            .await?
        {
            Appended::New(stored) => (stored.seq, true),
            Appended::Duplicate(seq) => (seq, false),
        };
        let ack = ServerFrame::Ack {
            client_id: client_id.to_owned(),
            seq,
        };
        self.send(&ack).await?;
        Ok(new)
    }

    /// Runs the bot on a stored message: embed, analyse, decide, store and send the reply.
    async fn bot_turn(&mut self, conversation: &str, text: &str) -> Result<(), SessionError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.state.bot.load_full();
        let embedding = self.state.embedder.embed(text).await?;
        let (decision, turn) = match bot.analyse(text, &embedding, CANDIDATES)? {
            Some(analysis) => {
                let turn = Turn::from_analysis(&analysis, bot.knowledge());
                (decide(&self.policy, &turn, &self.memory), Some(turn))
            }
            // The model is still training: say so rather than count a miss.
            None => (Decision::Fallback, None),
        };
        if turn.is_some() {
            self.memory.observe(&decision);
        }
        let (intent, confidence) = turn
            .as_ref()
            .and_then(|t| t.intent.as_ref())
            .map_or((None, None), |i| {
                (Some(i.name.clone()), Some(f64::from(i.probability)))
            });
        let annotate = |frame| NewEvent {
            intent: intent.clone(),
            confidence,
            ..NewEvent::new(Sender::Bot, frame)
        };
        self.respond(conversation, &bot, decision, annotate).await
    }

    /// Builds the frame for `decision`, stores it, sends it; a handoff also queues the
    /// conversation and silences the bot.
    async fn respond(
        &mut self,
        conversation: &str,
        bot: &Bot,
        decision: Decision,
        event: impl Fn(serde_json::Value) -> NewEvent,
    ) -> Result<(), SessionError> {
        let frame = reply::frame_for(bot.knowledge(), &decision);
        let faq_id = match (&decision, &frame) {
            (Decision::Answer { .. }, ServerFrame::Answer { faq_id, .. }) => faq_id.clone(),
            _ => None,
        };
        let reason = match &decision {
            Decision::Handoff { reason, .. } => Some(reason.as_str().to_owned()),
            _ => None,
        };
        let new = NewEvent {
            faq_id,
            decision: Some(decision.name().to_owned()),
            reason: reason.clone(),
            ..event(serde_json::to_value(&frame)?)
        };
        let stored = self.store.append(conversation, new).await?;
        if let Some(reason) = reason {
            self.store
                .set_state(conversation, ConversationState::Queued, Some(&reason))
                .await?;
            self.bot_active = false;
        }
        self.send_text(stored.frame).await
    }
}

/// A bot event with nothing known about the message (a choice, the request-a-person button).
fn bot_event(frame: serde_json::Value) -> NewEvent {
    NewEvent::new(Sender::Bot, frame)
}
