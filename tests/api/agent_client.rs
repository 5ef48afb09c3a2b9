//! An agent console's websocket client for the tests: connects with the session cookie (and an
//! `Origin` when asked), sends frames, reads them as JSON.

use futures_util::SinkExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::TestApp;

/// A conversation id no conversation has: `open` on it is the console's barrier.
const BARRIER: &str = "barrier-no-such-conversation";

/// An agent's console connection.
pub struct Console {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The latest `queue` snapshot seen by [`Console::agent`] or [`Console::latest_queue`].
    queue: Value,
}

/// Opens `/ws/agent` with these headers; the HTTP status when the upgrade is refused.
pub async fn open(
    app: &TestApp,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Console, u16> {
    let url = format!("{}/ws/agent", app.address.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("a valid request");
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("header value"));
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header value"));
    }
    match connect_async(request).await {
        Ok((socket, _)) => Ok(Console {
            socket,
            queue: Value::Null,
        }),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

impl Console {
    /// Signs an agent in with the given skills and opens their console; skips `welcome` and
    /// the first `queue` snapshot.
    pub async fn agent(app: &TestApp, email: &str, name: &str, skills: &[&str]) -> Console {
        let password = app.add_agent(email, name, skills).await;
        let cookie = app.sign_in(email, &password).await;
        let mut console = open(app, Some(&cookie), None)
            .await
            .expect("the console connects");
        assert_eq!(console.next().await["type"], "welcome");
        console.queue = console.next().await;
        assert_eq!(console.queue["type"], "queue");
        console
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .expect("frame sent");
    }

    /// The next text frame as JSON.
    pub async fn next(&mut self) -> Value {
        crate::customer::next_json(&mut self.socket).await
    }

    /// The next frame of this type, skipping others (queue snapshots come with every change;
    /// a skipped one is still kept as the latest).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == "queue" {
                self.queue = frame.clone();
            }
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The latest `queue` snapshot, once the console has caught up with everything the server
    /// announced before this call.
    ///
    /// It sends a barrier (`open` of a conversation that cannot exist) and reads up to its
    /// `not_found` error: the agent session handles the hub's news before the console's next
    /// frame, so every snapshot owed for a change announced before the barrier was sent comes
    /// first. No time is waited on. Frames other than snapshots on the way are dropped.
    pub async fn latest_queue(&mut self) -> Value {
        self.send(serde_json::json!({"type": "open", "conversation_id": BARRIER}))
            .await;
        loop {
            let frame = self.next().await;
            if frame["type"] == "queue" {
                self.queue = frame;
            } else if frame["type"] == "error"
                && frame["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(BARRIER))
            {
                return self.queue.clone();
            }
        }
    }

    /// Reads snapshots until one for which `holds` is true (the latest one read counts): for
    /// a change the server announces after the event the test saw (a ticket stored after the
    /// message's ack).
    pub async fn queue_where(&mut self, holds: impl Fn(&Value) -> bool) -> Value {
        while !holds(&self.queue) {
            self.queue = self.next_of("queue").await;
        }
        self.queue.clone()
    }

    /// Waits for the server to close the socket and returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        crate::customer::close_code(&mut self.socket).await
    }
}
