//! Finding 10: protocol violations ended in a bare TCP close (the client cannot tell why), and
//! past ~100 flooded frames the 1008 close was lost to a reset. Raw frames are written by hand
//! here, since a well-behaved client library cannot send them.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::customer::{Customer, FRAME_TIMEOUT};
use crate::helpers::{TestApp, spawn_app};

/// Opens `/ws/chat` over a plain TCP stream (the handshake by hand).
async fn raw_socket(app: &TestApp) -> TcpStream {
    let host = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "GET /ws/chat HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("handshake");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A client frame: FIN, `opcode`, masked (when `masked`) with a fixed key.
fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut bytes = vec![0x80 | opcode];
    let length = u8::try_from(payload.len()).expect("short payload");
    if masked {
        bytes.push(0x80 | length);
        bytes.extend(key);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        bytes.push(length);
        bytes.extend(payload);
    }
    bytes
}

/// Reads server frames until a close frame; returns its code (`None` if the connection ended
/// without one).
async fn close_code_of(stream: &mut TcpStream) -> Option<u16> {
    let read = async {
        loop {
            let mut header = [0u8; 2];
            stream.read_exact(&mut header).await.ok()?;
            let mut length = u64::from(header[1] & 0x7f);
            if length == 126 {
                let mut extended = [0u8; 2];
                stream.read_exact(&mut extended).await.ok()?;
                length = u64::from(u16::from_be_bytes(extended));
            }
            let mut payload = vec![0u8; usize::try_from(length).ok()?];
            stream.read_exact(&mut payload).await.ok()?;
            if header[0] & 0x0f == 0x8 {
                return Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
            }
        }
    };
    tokio::time::timeout(FRAME_TIMEOUT, read)
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn each_protocol_violation_is_answered_with_its_close_code() {
    // Tried: an unmasked frame from the client, a frame with a reserved opcode (0x3), and a
    // text frame that is not UTF-8; each on its own connection.
    let app = spawn_app().await;
    let hello = json!({"type": "hello", "protocol": 1}).to_string();
    for (what, bytes, code) in [
        (
            "an unmasked frame",
            frame(0x1, hello.as_bytes(), false),
            1002,
        ),
        ("a reserved opcode", frame(0x3, b"x", true), 1002),
        ("invalid UTF-8", frame(0x1, &[0xff, 0xfe, 0xfd], true), 1007),
    ] {
        let mut stream = raw_socket(&app).await;
        stream.write_all(&bytes).await.expect("send");
        assert_eq!(close_code_of(&mut stream).await, Some(code), "{what}");
    }
}

#[tokio::test]
async fn a_flood_gets_its_1008_close_frame_even_past_a_hundred_frames() {
    // Tried: after hello, 300 frames written at once without reading a thing, then reading
    // everything the server sent until its close frame.
    let app = spawn_app().await;
    let mut stream = raw_socket(&app).await;
    let hello = json!({"type": "hello", "protocol": 1}).to_string();
    stream
        .write_all(&frame(0x1, hello.as_bytes(), true))
        .await
        .expect("hello");
    let typing = json!({"type": "typing", "active": true}).to_string();
    let mut flood = Vec::new();
    for _ in 0..300 {
        flood.extend(frame(0x1, typing.as_bytes(), true));
    }
    stream.write_all(&flood).await.expect("flood");
    assert_eq!(close_code_of(&mut stream).await, Some(1008));
    // The server is still fine for everyone else.
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
}
