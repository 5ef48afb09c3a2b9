//! Crash safety of the conversation store, with the real `tandem` binary: an acknowledged
//! message survives a SIGKILL of the server.
//!
//! What is tried: the server runs as a child process on a temporary data folder. A customer says
//! a few things one at a time (each acknowledged and answered), then sends four more without
//! waiting; as soon as the first of those is acknowledged the server is killed with SIGKILL, so
//! the others are somewhere between "never read" and "stored, ack lost". The server is started
//! again on the same folder and the customer resumes from `last_seq` 0. The replay must hold every
//! acknowledged message exactly once under the `seq` of its ack, numbered 1, 2, 3, ... without
//! gaps, and be followed by the bot's reply to the last message when the kill came between
//! storing that message and storing its reply (the reply the server owes). The customer then
//! resends every message it has no ack for, plus one it has: stored ones are acknowledged with
//! their first `seq` and nothing is stored twice, which a last full replay on a new connection
//! checks, along with every message having been answered.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::fixture;
use crate::server_process::Server;

/// How long a test waits for an expected frame.
const FRAME_TIMEOUT: Duration = Duration::from_secs(20);
/// No frame for this long means the server has said everything (replays are sent at once, the
/// bot answers in milliseconds). Also paces our messages well under the 5 frames/s rate limit.
const QUIET: Duration = Duration::from_millis(800);

/// Client id → seq, from acks or from a replay's `customer_message`s.
type Seqs = BTreeMap<String, u64>;

/// A customer's websocket. A task reads frames as they come, so that frames sent just before a
/// kill are still seen after it.
struct Customer {
    sink: SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>,
    frames: mpsc::UnboundedReceiver<Value>,
}

impl Customer {
    /// Connects to the chat of the server on `port` and says hello, resuming `token` from
    /// `last_seq` 0 when given; returns the welcome too.
    async fn connect(port: u16, token: Option<&str>) -> (Customer, Value) {
        let (socket, _) = connect_async(format!("ws://127.0.0.1:{port}/ws/chat"))
            .await
            .expect("the chat endpoint accepts websockets");
        let (sink, mut stream) = socket.split();
        let (tx, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            // Ends when the connection does (a killed server resets it).
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let frame = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|_| json!({"type": "not_json", "text": text.as_str()}));
                    if tx.send(frame).is_err() {
                        break;
                    }
                }
            }
        });
        let mut customer = Customer { sink, frames };
        let mut hello = json!({"type": "hello", "protocol": 1});
        if let Some(token) = token {
            hello["resume_token"] = json!(token);
            hello["last_seq"] = json!(0);
        }
        customer.send(hello).await;
        let welcome = customer.next().await.expect("the server answers hello");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (customer, welcome)
    }

    /// Sends one frame.
    async fn send(&mut self, frame: Value) {
        let sent = self.sink.send(Message::text(frame.to_string())).await;
        sent.expect("frame sent");
    }

    /// Sends a chat message.
    async fn say(&mut self, (client_id, text): (&str, &str)) {
        self.send(json!({"type": "message", "client_id": client_id, "text": text}))
            .await;
    }

    /// The next frame; `None` once the connection is closed.
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(FRAME_TIMEOUT, self.frames.recv())
            .await
            .expect("a frame (or the end of the connection) arrives in time")
    }

    /// Every frame until none arrives for [`QUIET`] or the connection ends.
    async fn until_quiet(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Ok(Some(frame)) = tokio::time::timeout(QUIET, self.frames.recv()).await {
            frames.push(frame);
        }
        frames
    }
}

/// Adds the `ack`s among `frames` to `acks`; one connection acks each client id once.
fn record_acks<'a>(frames: impl IntoIterator<Item = &'a Value>, acks: &mut Seqs) {
    for frame in frames.into_iter().filter(|f| f["type"] == "ack") {
        let id = frame["client_id"].as_str().expect("an ack has a client_id");
        let seq = frame["seq"].as_u64().expect("an ack has a seq");
        let first = acks.insert(id.to_owned(), seq).is_none();
        assert!(first, "{id} acked twice on one connection");
    }
}

/// Checks a full replay (from `last_seq` 0) against its welcome: numbered 1, 2, 3, ... without
/// gaps up to `welcome.last_seq`, each client id at most once. Returns the customer messages.
fn check_replay(replay: &[Value], welcome: &Value) -> Seqs {
    let seqs: Vec<Value> = replay.iter().map(|f| f["seq"].clone()).collect();
    let expected: Vec<Value> = (1..=seqs.len()).map(|n| json!(n)).collect();
    assert_eq!(seqs, expected, "numbered without gaps: {replay:#?}");
    assert_eq!(welcome["last_seq"], json!(seqs.len()), "{welcome}");
    let mut stored = Seqs::new();
    for frame in replay.iter().filter(|f| f["type"] == "customer_message") {
        let id = frame["client_id"].as_str().expect("a client_id");
        let first = stored.insert(id.to_owned(), frame["seq"].as_u64().unwrap_or(0));
        assert!(first.is_none(), "{id} stored twice: {replay:#?}");
    }
    stored
}

#[tokio::test]
async fn every_acknowledged_message_survives_a_sigkill_and_is_replayed_after_restart() {
    let data = tempfile::tempdir().expect("temp data folder");
    let one_by_one = [
        ("m1", "hi"),
        ("m2", "How long does delivery take?"),
        ("m3", "What is your return policy?"),
        ("m4", "How much does shipping cost?"),
    ];
    let in_flight = [
        ("m5", "When will my parcel arrive?"),
        ("m6", "Can I send an item back?"),
        ("m7", "Is shipping free?"),
        ("m8", "good morning"),
    ];
    let sent: Vec<(&str, &str)> = one_by_one.iter().chain(&in_flight).copied().collect();
    let mut acks = Seqs::new();

    // 1-2. A conversation, then four messages in flight when the server dies.
    let mut first = Server::start(data.path(), &fixture("knowledge"), &[]).await;
    let (mut customer, welcome) = Customer::connect(first.port, None).await;
    let token = welcome["resume_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    for (id, text) in one_by_one {
        customer.say((id, text)).await;
        record_acks(&customer.until_quiet().await, &mut acks);
        assert!(acks.contains_key(id), "{id} is acknowledged");
    }
    for message in in_flight {
        customer.say(message).await;
    }
    // Kill the moment the first in-flight message is acknowledged, while the others are still
    // being read, stored or answered.
    while !acks.contains_key("m5") {
        let frame = customer.next().await.expect("m5 acked before the kill");
        record_acks([&frame], &mut acks);
    }
    first.sigkill();
    // Whatever the server sent before dying counts: an ack is its promise.
    while let Some(frame) = customer.next().await {
        record_acks([&frame], &mut acks);
    }
    let acked_before_kill = acks.len();

    // 3. Restart on the same folder and replay the whole conversation.
    let second = Server::start(data.path(), &fixture("knowledge"), &[]).await;
    let (mut customer, resumed) = Customer::connect(second.port, Some(&token)).await;
    assert_eq!(resumed["resumed"], true, "the token resumes: {resumed}");
    assert_eq!(resumed["conversation_id"], welcome["conversation_id"]);
    let mut replay = customer.until_quiet().await;
    let replay_end = resumed["last_seq"].as_u64().expect("welcome.last_seq");
    // After the replay comes the reply the server owed when it died, if it owed one.
    let owed = replay.split_off(
        replay
            .iter()
            .position(|f| f["seq"].as_u64().is_some_and(|seq| seq > replay_end))
            .unwrap_or(replay.len()),
    );
    let stored = check_replay(&replay, &resumed);
    let pending = replay
        .last()
        .is_some_and(|f| f["type"] == "customer_message");
    assert_eq!(
        owed.len(),
        usize::from(pending),
        "one reply per pending message: {owed:#?}"
    );
    if let Some(reply) = owed.first() {
        assert_eq!(reply["seq"], json!(replay_end + 1), "{reply}");
        assert_ne!(reply["type"], "customer_message", "{reply}");
    }
    for (id, seq) in &acks {
        assert_eq!(stored.get(id), Some(seq), "acked {id} is replayed");
    }

    // 4. Resend what has no ack, and m2, which has one.
    let resend: Vec<(&str, &str)> = sent
        .iter()
        .filter(|(id, _)| !acks.contains_key(*id) || *id == "m2")
        .copied()
        .collect();
    for &message in &resend {
        customer.say(message).await;
    }
    let mut resent_acks = Seqs::new();
    record_acks(&customer.until_quiet().await, &mut resent_acks);
    for (id, _) in &resend {
        let seq = resent_acks.get(*id).copied();
        let seq = seq.unwrap_or_else(|| panic!("{id} is acked"));
        match stored.get(*id) {
            Some(&first_seq) => assert_eq!(seq, first_seq, "{id} is acked again, not restored"),
            None => assert!(seq > replay_end, "{id} is stored now, after the replay"),
        }
    }
    let acks_lost: Vec<&str> = (resend.iter().map(|m| m.0))
        .filter(|id| *id != "m2" && stored.contains_key(*id))
        .collect();
    acks.extend(resent_acks);

    // 5. A last full replay on a new connection: everything once, the old part unchanged.
    let (mut customer, welcome) = Customer::connect(second.port, Some(&token)).await;
    let final_replay = customer.until_quiet().await;
    let final_stored = check_replay(&final_replay, &welcome);
    assert_eq!(final_stored, acks, "everything stored once, as acked");
    let old_part = final_replay.get(..replay.len());
    assert_eq!(old_part, Some(&replay[..]), "history is never rewritten");

    // Every message is answered once the server is back, unless a handoff silenced the bot.
    let mut handed_off = false;
    for pair in final_replay.windows(2) {
        handed_off |= pair[0]["type"] == "handoff";
        let unanswered =
            pair[0]["type"] == "customer_message" && pair[1]["type"] == "customer_message";
        assert!(handed_off || !unanswered, "never answered: {}", pair[0]);
    }
    let last = final_replay.last().expect("a transcript");
    assert_ne!(
        last["type"], "customer_message",
        "the last message is answered: {last}"
    );
    eprintln!(
        "acked before the kill: {acked_before_kill}; reply owed at restart: {pending}; \
         stored, ack lost: {acks_lost:?}; resent: {}; {} frames in all",
        resend.len(),
        final_replay.len()
    );
}
