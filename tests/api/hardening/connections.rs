//! Finding 3: idle TCP connections never timed out, so enough silent ones exhausted the file
//! descriptors and stalled `/health` and every chat.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app;

/// Reads until the server closes the connection (end of stream or reset).
async fn closed_by_server(mut stream: TcpStream) {
    let mut buffer = [0u8; 512];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn silent_and_half_sent_connections_are_closed_and_health_answers_meanwhile() {
    // Tried: 300 connections that send nothing, 50 that send half a request line, and one
    // keep-alive connection left idle after a full request; `/health` is asked meanwhile.
    let app = spawn_app().await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    let mut idle = Vec::new();
    for n in 0..350 {
        let mut stream = TcpStream::connect(&host).await.expect("connect");
        if n >= 300 {
            stream.write_all(b"GET /health HT").await.expect("half");
        }
        idle.push(stream);
    }
    let mut kept_alive = TcpStream::connect(&host).await.expect("connect");
    kept_alive
        .write_all(format!("GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut first = [0u8; 12];
    kept_alive.read_exact(&mut first).await.expect("response");
    assert_eq!(&first, b"HTTP/1.1 200");
    idle.push(kept_alive);

    let health = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .expect("health answers while the silent connections are open");
    assert_eq!(health.status(), 200);

    let all_closed = futures_util::future::join_all(idle.into_iter().map(closed_by_server));
    tokio::time::timeout(Duration::from_secs(30), all_closed)
        .await
        .expect("every idle connection is closed within 30 s");
    let took = started.elapsed();
    assert!(
        took >= tandem::http::serve::HEADER_READ_TIMEOUT / 2,
        "closed by the timeout, not at once: {took:?}"
    );
}
