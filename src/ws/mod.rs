//! The websockets, part of the web layer: each parses frames, calls the application, and writes
//! frames back.
//!
//! - [`chat`]: `/ws/chat`, a customer's connection (the protocol is [`crate::protocol`], the
//!   conversation is [`crate::chat`]);
//! - [`agent`]: `/ws/agent`, an agent console's connection (the protocol is
//!   [`crate::protocol::agent`], the actions are [`crate::handoff`]).

pub mod agent;
pub mod chat;

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;

use crate::protocol::close_code;

/// How long a socket that sent its close frame keeps reading for the client's: closing a TCP
/// connection with unread data makes the kernel send a reset, which can destroy the close
/// frame before the client reads it (a flood of frames did exactly that).
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The close code and reason for a read error, when the peer is still there to be told:
/// 1002 for a protocol violation, 1007 for invalid UTF-8, 1009 for an oversized message.
/// `None` for a connection that is already gone (reset, closed, an I/O error).
pub fn close_for(error: &axum::Error) -> Option<(u16, &'static str)> {
    use std::error::Error as _;
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<tungstenite::Error>() {
            return match e {
                tungstenite::Error::Capacity(_) => Some((close_code::TOO_BIG, "frame too large")),
                tungstenite::Error::Utf8(_) => {
                    Some((close_code::INVALID_DATA, "text frames must be UTF-8"))
                }
                tungstenite::Error::Protocol(
                    tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                ) => None,
                tungstenite::Error::Protocol(_) => {
                    Some((close_code::PROTOCOL_ERROR, "websocket protocol error"))
                }
                _ => None,
            };
        }
        source = e.source();
    }
    None
}

/// After the server's close frame: reads (and drops) what the client still sends until its own
/// close frame, the end of the stream, or [`CLOSE_GRACE`], so that the close frame is not lost
/// to a reset.
pub async fn drain(stream: &mut SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
