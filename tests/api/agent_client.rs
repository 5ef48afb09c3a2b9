//! An agent console's websocket client for the tests: connects with the session cookie (and an
//! `Origin` when asked), sends frames, reads them as JSON.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::customer::QUIET;
use crate::helpers::TestApp;

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

    /// The latest `queue` snapshot, after reading whatever arrives within a short quiet period.
    pub async fn latest_queue(&mut self) -> Value {
        while let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(QUIET, self.socket.next()).await
        {
            let frame: Value = serde_json::from_str(text.as_str()).expect("frames are JSON");
            if frame["type"] == "queue" {
                self.queue = frame;
            }
        }
        self.queue.clone()
    }

    /// Waits for the server to close the socket and returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        crate::customer::close_code(&mut self.socket).await
    }
}
