//! A customer's websocket client for the chat tests: send frames, read them as JSON, and check
//! that nothing else came ([`Customer::expect_quiet`], which waits for an event, not for time).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::TestApp;

/// How long a test waits for a frame: the bot's turn is milliseconds, debug builds are slower.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(20);
/// A seq no conversation reaches: feedback on it is refused with `bad_state`, which makes it a
/// barrier (see [`Customer::expect_quiet`]).
const BARRIER_SEQ: u64 = 999_999_999;

/// A customer's websocket connection.
pub struct Customer {
    /// The socket, for tests that send or expect raw websocket messages.
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Customer {
    /// Connects to the app's chat endpoint.
    pub async fn connect(app: &TestApp) -> Customer {
        Customer::connect_url(&app.chat_url()).await
    }

    /// Connects to a chat endpoint by URL.
    pub async fn connect_url(url: &str) -> Customer {
        let (socket, _) = connect_async(url)
            .await
            .expect("the chat endpoint accepts websockets");
        Customer { socket }
    }

    /// Sends a text frame as it is.
    pub async fn send_raw(&mut self, text: &str) {
        self.socket
            .send(Message::text(text))
            .await
            .expect("frame sent");
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.send_raw(&frame.to_string()).await;
    }

    /// The next text frame as JSON.
    pub async fn next(&mut self) -> Value {
        next_json(&mut self.socket).await
    }

    /// Asserts the server sent nothing more in answer to what this customer sent so far.
    ///
    /// A session handles a connection's frames in order and writes its answers in order, so it
    /// sends a barrier (feedback on a seq that cannot exist) and expects the barrier's own
    /// `bad_state` error as the very next frame: anything the earlier frames caused (a bot
    /// reply, a handoff, a queue update) would arrive before it. No time is waited on.
    pub async fn expect_quiet(&mut self) {
        self.send(json!({"type": "feedback", "seq": BARRIER_SEQ, "helpful": true}))
            .await;
        let next = self.next().await;
        assert_eq!(
            next["type"], "error",
            "expected nothing before the barrier, got {next}"
        );
        assert_eq!(next["code"], "bad_state", "{next}");
        assert!(
            next["message"]
                .as_str()
                .is_some_and(|m| m.contains(&BARRIER_SEQ.to_string())),
            "expected the barrier's error, got {next}"
        );
    }

    /// Says hello (resuming when a token is given) and returns the welcome.
    pub async fn hello(&mut self, resume: Option<(&str, u64)>) -> Value {
        let mut hello = json!({"type": "hello", "protocol": 1});
        if let Some((token, last_seq)) = resume {
            hello["resume_token"] = json!(token);
            hello["last_seq"] = json!(last_seq);
        }
        self.send(hello).await;
        let welcome = self.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        welcome
    }

    /// Connects, says hello and asks for a person; returns the customer after the `handoff`
    /// frame, with the conversation id.
    pub async fn hand_off(app: &TestApp) -> (Customer, String) {
        let (customer, id, _) = Customer::hand_off_resumable(app).await;
        (customer, id)
    }

    /// [`Customer::hand_off`], with the resume token too.
    pub async fn hand_off_resumable(app: &TestApp) -> (Customer, String, String) {
        let mut customer = Customer::connect(app).await;
        let welcome = customer.hello(None).await;
        customer
            .send(json!({"type": "request_human", "client_id": "b1"}))
            .await;
        let handoff = customer.next_reply().await;
        assert_eq!(handoff["type"], "handoff", "{handoff}");
        let id = welcome["conversation_id"].as_str().expect("id").to_owned();
        let token = welcome["resume_token"].as_str().expect("token").to_owned();
        (customer, id, token)
    }

    /// Sends a `message` frame.
    pub async fn say(&mut self, client_id: &str, text: &str) {
        self.send(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
    }

    /// Sends a message and returns its ack and the bot's reply.
    pub async fn ask(&mut self, client_id: &str, text: &str) -> (Value, Value) {
        self.say(client_id, text).await;
        let ack = self.next().await;
        assert_eq!(ack["type"], "ack", "{ack}");
        assert_eq!(ack["client_id"], client_id);
        (ack, self.next().await)
    }

    /// Sends a `choose` for a button (`id` and `label` as the server sent them) and returns its
    /// ack and the bot's reply.
    pub async fn send_choice(
        &mut self,
        client_id: &str,
        id: &Value,
        label: &Value,
    ) -> (Value, Value) {
        self.send(
            json!({"type": "choose", "client_id": client_id, "choice_id": id, "label": label}),
        )
        .await;
        let ack = self.next().await;
        assert_eq!(ack["type"], "ack", "{ack}");
        (ack, self.next().await)
    }

    /// The next text frame as JSON, or the close code when the server closes instead.
    pub async fn next_frame_or_close(&mut self) -> Result<Value, Option<u16>> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("frames are JSON"));
                }
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                _ => return Err(None),
            }
        }
    }

    /// Sends a message and returns its ack and the frame its handling sent after the ack, if
    /// any (told apart from nothing by a barrier, as in [`Customer::expect_quiet`]).
    pub async fn ask_expecting_only_ack(
        &mut self,
        client_id: &str,
        text: &str,
    ) -> (Value, Option<Value>) {
        self.say(client_id, text).await;
        let ack = self.next().await;
        assert_eq!(ack["type"], "ack", "{ack}");
        self.send(json!({"type": "feedback", "seq": BARRIER_SEQ, "helpful": true}))
            .await;
        let next = self.next().await;
        let is_barrier = next["type"] == "error"
            && next["message"]
                .as_str()
                .is_some_and(|m| m.contains(&BARRIER_SEQ.to_string()));
        if is_barrier {
            return (ack, None);
        }
        let barrier = self.next().await;
        assert_eq!(barrier["code"], "bad_state", "{barrier}");
        (ack, Some(next))
    }

    /// The next frame that is not an ack (replies arrive after the ack of their message).
    pub async fn next_reply(&mut self) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] != "ack" {
                return frame;
            }
        }
    }

    /// The next frame of `kind`; frames of other types on the way (notices, queue updates,
    /// typing) are skipped.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Waits for the server to close the connection and returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        close_code(&mut self.socket).await
    }
}

/// The next text frame on a test socket, as JSON (other messages are skipped).
pub async fn next_json(socket: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Value {
    loop {
        let message = tokio::time::timeout(FRAME_TIMEOUT, socket.next())
            .await
            .expect("a frame arrives in time")
            .expect("the connection is open")
            .expect("a valid websocket message");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).expect("frames are JSON");
        }
    }
}

/// Waits for the server to close a test socket and returns the close code.
pub async fn close_code(socket: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> Option<u16> {
    loop {
        match tokio::time::timeout(FRAME_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
