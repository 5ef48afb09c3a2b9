//! Load generator for the live chat: many customers on `/ws/chat` at once.
//!
//! `cargo bench --bench chat_load [-- OPTIONS]` starts the release `tandem` binary on a free
//! loopback port with the sample knowledge base and a temporary data folder (or uses `--url`
//! with `--pid` for a server already running), then runs two phases:
//!
//! 1. **idle**: `--idle N` customers connect, say hello and stay connected; the server's
//!    resident memory is read from `/proc/PID/status` once all are in;
//! 2. **active**: `--conversations N` customers each send a message every `N / --rate` seconds
//!    for `--duration S` seconds, from a mix of FAQ questions, small talk and off-topic
//!    messages, and time each bot reply (from sending to the first answer, clarify, handoff or
//!    notice frame). A conversation that was handed off starts a new one, since the bot is
//!    silent after a handoff.
//!
//! With `--ask-burst N`, N concurrent `/api/ask` requests of 2,000 characters start with the
//! active phase; with `--login-burst N`, N concurrent wrong sign-ins. Their answers are counted
//! by status, and the RSS before and after is printed. With `--silent N`, before anything else,
//! N TCP connections that never send a byte are opened; `/health` is timed while they are, and
//! so is the moment the server has closed them all.
//!
//! It prints reply latency p50/p99/max, messages per second, errors (error frames other than
//! `busy`, dropped connections, replies later than 10 s) and the server's peak RSS. Bounded in count and time;
//! loopback only. Without `--bench` (as `cargo test --all-targets` runs it) it only prints how
//! to run it.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A realistic mix for the sample shop: mostly FAQ questions, some small talk, some off-topic.
const MIX: &[&str] = &[
    "where is my package?",
    "how do I return an item?",
    "do you ship to Canada?",
    "can I pay with PayPal?",
    "how do I reset my password?",
    "is shipping free?",
    "when will my refund arrive?",
    "can I change my delivery address?",
    "my order arrived damaged",
    "do you sell gift cards?",
    "how long does delivery take",
    "运费多少",
    "hi",
    "thanks!",
    "what's the weather like tomorrow",
    "tell me a joke",
];

/// A reply later than this counts as an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    url: Option<String>,
    pid: Option<u32>,
    conversations: usize,
    rate: f64,
    duration: Duration,
    idle: usize,
    ask_burst: usize,
    login_burst: usize,
    silent: usize,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut args = Args {
        url: None,
        pid: None,
        conversations: 1000,
        rate: 200.0,
        duration: Duration::from_secs(30),
        idle: 10_000,
        ask_burst: 0,
        login_burst: 0,
        silent: 0,
    };
    let mut bench = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" => bench = true,
            "--url" => args.url = Some(value()?),
            "--pid" => args.pid = Some(value()?.parse()?),
            "--conversations" => args.conversations = value()?.parse()?,
            "--rate" => args.rate = value()?.parse()?,
            "--duration" => args.duration = Duration::from_secs(value()?.parse()?),
            "--idle" => args.idle = value()?.parse()?,
            "--ask-burst" => args.ask_burst = value()?.parse()?,
            "--login-burst" => args.login_burst = value()?.parse()?,
            "--silent" => args.silent = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(bench.then_some(args))
}

/// The server under test, killed when dropped.
struct Server {
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
    url: String,
    pid: Option<u32>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn start_server(args: &Args) -> anyhow::Result<Server> {
    if let Some(url) = &args.url {
        return Ok(Server {
            child: None,
            _data: None,
            url: url.clone(),
            pid: args.pid,
        });
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let data = tempfile::TempDir::new()?;
    let root = env!("CARGO_MANIFEST_DIR");
    let child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["serve", "--port", &port.to_string(), "--knowledge-dir"])
        .arg(format!("{root}/knowledge"))
        .arg("--model-dir")
        .arg(format!("{root}/models/all-MiniLM-L6-v2"))
        .arg("--data-dir")
        .arg(data.path())
        .env("TANDEM_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("starting tandem")?;
    let pid = child.id();
    let server = Server {
        child: Some(child),
        _data: Some(data),
        url: format!("ws://127.0.0.1:{port}/ws/chat"),
        pid: Some(pid),
    };
    let health = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    loop {
        if let Ok(response) = reqwest::get(&health).await
            && let Ok(body) = response.json::<Value>().await
            && body["model"] == "ready"
        {
            return Ok(server);
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the server did not get ready in 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rss_mib(pid: Option<u32>) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Connects and says hello; returns the socket once welcomed.
async fn connect(url: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let hello = json!({"type": "hello", "protocol": 1, "locale": "en"});
    socket.send(Message::text(hello.to_string())).await?;
    loop {
        let frame = next_json(&mut socket).await?;
        if frame["type"] == "welcome" {
            return Ok(socket);
        }
    }
}

async fn next_json(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended"),
        }
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Mutex<Vec<u64>>,
    sent: AtomicU64,
    errors: AtomicU64,
    handoffs: AtomicU64,
}

/// Sends one message and waits for the bot's reply; `Ok(true)` when the bot handed off.
async fn exchange(
    socket: &mut Socket,
    client_id: String,
    text: &str,
    tally: &Tally,
) -> anyhow::Result<bool> {
    let frame = json!({"type": "message", "client_id": client_id, "text": text});
    let sent = Instant::now();
    socket.send(Message::text(frame.to_string())).await?;
    tally.sent.fetch_add(1, Ordering::Relaxed);
    let reply = tokio::time::timeout(REPLY_TIMEOUT, async {
        loop {
            let frame = next_json(socket).await?;
            match frame["type"].as_str() {
                Some("answer" | "clarify" | "handoff" | "notice") => return Ok(frame),
                // The message is stored and its answer is coming.
                Some("error") if frame["code"] == "busy" => continue,
                Some("error") => bail!("error frame: {frame}"),
                _ => continue,
            }
        }
    })
    .await
    .context("no reply in time")??;
    let elapsed = sent.elapsed().as_micros() as u64;
    tally.latencies_us.lock().await.push(elapsed);
    Ok(reply["type"] == "handoff")
}

/// One customer: a message every `period`, for `duration`, starting after `offset`.
async fn customer(
    id: usize,
    url: Arc<str>,
    period: Duration,
    offset: Duration,
    until: Instant,
    tally: Arc<Tally>,
) {
    let mut seed = (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    tokio::time::sleep(offset).await;
    let mut socket: Option<Socket> = None;
    let mut ticker = tokio::time::interval(period);
    for n in 0.. {
        ticker.tick().await;
        if Instant::now() >= until {
            break;
        }
        if socket.is_none() {
            match connect(&url).await {
                Ok(s) => socket = Some(s),
                Err(_) => {
                    tally.errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let text = MIX[(seed % MIX.len() as u64) as usize];
        let Some(s) = socket.as_mut() else { continue };
        match exchange(s, format!("load-{id}-{n}"), text, &tally).await {
            Ok(false) => {}
            Ok(true) => {
                tally.handoffs.fetch_add(1, Ordering::Relaxed);
                socket = None;
            }
            Err(_) => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                socket = None;
            }
        }
    }
    if let Some(mut s) = socket {
        let _ = s.close(None).await;
    }
}

/// Opens `n` connections that say nothing, times `/health` meanwhile, then waits (at most 60 s)
/// for the server to close them.
async fn silent_connections(base: &str, n: usize) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let address = base.trim_start_matches("http://");
    let started = Instant::now();
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        open.push(TcpStream::connect(address).await?);
    }
    let asked = Instant::now();
    let health = reqwest::get(format!("{base}/health")).await?.status();
    let health_ms = asked.elapsed().as_secs_f64() * 1000.0;
    let closes = open.into_iter().map(|mut stream| async move {
        let mut buffer = [0u8; 64];
        while let Ok(read) = stream.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    });
    let all = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(closes),
    )
    .await;
    eprintln!(
        "silent: {n} connections; /health {health} in {health_ms:.1} ms meanwhile; {} after {:.1} s",
        if all.is_ok() {
            "all closed by the server"
        } else {
            "NOT all closed"
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Source addresses a burst comes from: loopback has all of 127.0.0.0/8, so one machine can play
/// 250 clients, each with its own per-address limits on the server.
const SOURCES: u8 = 250;

/// `n` concurrent POSTs of `body` to `path`, spread over [`SOURCES`] client addresses (or one,
/// with `one_address`); returns the count of each status (0: no answer).
async fn burst(
    base: &str,
    path: &str,
    n: usize,
    body: Value,
    one_address: bool,
) -> std::collections::BTreeMap<u16, usize> {
    let clients: Vec<reqwest::Client> = (0..if one_address { 1 } else { SOURCES })
        .map(|i| {
            reqwest::Client::builder()
                .local_address(std::net::IpAddr::from([127, 0, 0, 2 + i]))
                .build()
                .unwrap_or_default()
        })
        .collect();
    let url = format!("{base}{path}");
    let sends = (0..n).map(|i| {
        let request = clients[i % clients.len()].post(&url).json(&body).send();
        async move { request.await.map_or(0, |r| r.status().as_u16()) }
    });
    let mut counts = std::collections::BTreeMap::new();
    for status in futures_util::future::join_all(sends).await {
        *counts.entry(status).or_insert(0) += 1;
    }
    counts
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[k] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(args) = parse_args()? else {
        eprintln!(
            "chat_load: run with `cargo bench --bench chat_load [-- --conversations N --rate R --duration S --idle N --ask-burst N --login-burst N --silent N]`"
        );
        return Ok(());
    };
    let server = start_server(&args).await?;
    eprintln!(
        "server {} (pid {:?}), RSS {:.0} MiB at rest",
        server.url,
        server.pid,
        rss_mib(server.pid).unwrap_or(0.0)
    );

    if args.silent > 0 {
        let base = server
            .url
            .replacen("ws://", "http://", 1)
            .trim_end_matches("/ws/chat")
            .to_owned();
        silent_connections(&base, args.silent).await?;
    }

    // Phase 1: idle customers.
    let started = Instant::now();
    let mut idle = Vec::with_capacity(args.idle);
    let mut idle_errors = 0usize;
    for _ in 0..args.idle {
        match connect(&server.url).await {
            Ok(s) => idle.push(s),
            Err(_) => idle_errors += 1,
        }
    }
    eprintln!(
        "idle: {} connected in {:.1} s, {} errors, server RSS {:.0} MiB",
        idle.len(),
        started.elapsed().as_secs_f64(),
        idle_errors,
        rss_mib(server.pid).unwrap_or(0.0)
    );
    drop(idle);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Phase 2: active conversations.
    let tally = Arc::new(Tally::default());
    let url: Arc<str> = server.url.clone().into();
    let period = Duration::from_secs_f64(args.conversations as f64 / args.rate);
    let started = Instant::now();
    let until = started + args.duration;
    let mut tasks = Vec::with_capacity(args.conversations);
    for id in 0..args.conversations {
        let offset = period.mul_f64(id as f64 / args.conversations as f64);
        tasks.push(tokio::spawn(customer(
            id,
            url.clone(),
            period,
            offset,
            until,
            tally.clone(),
        )));
    }
    let base = server
        .url
        .replacen("ws://", "http://", 1)
        .trim_end_matches("/ws/chat")
        .to_owned();
    let before = rss_mib(server.pid).unwrap_or(0.0);
    if args.ask_burst > 0 {
        // A burst every second of the active phase, from 250 addresses.
        let long = "where is my parcel, it has not arrived and I need it ".repeat(40);
        let body = json!({"text": &long[..2000]});
        let mut totals = std::collections::BTreeMap::<u16, usize>::new();
        let mut bursts = 0;
        while Instant::now() + Duration::from_secs(1) < until {
            let second = Instant::now();
            for (status, count) in
                burst(&base, "/api/ask", args.ask_burst, body.clone(), false).await
            {
                *totals.entry(status).or_insert(0) += count;
            }
            bursts += 1;
            tokio::time::sleep_until((second + Duration::from_secs(1)).into()).await;
        }
        eprintln!(
            "ask bursts: {bursts} x {} concurrent requests of 2,000 characters from {SOURCES} addresses, by status {totals:?}",
            args.ask_burst
        );
    }
    if args.login_burst > 0 {
        let body = json!({"email": "admin@localhost", "password": "not the password"});
        let started = Instant::now();
        let counts = burst(&base, "/api/agent/login", args.login_burst, body, false).await;
        eprintln!(
            "login burst: {} wrong sign-ins in {:.1} s, by status {counts:?}, RSS {before:.0} -> {:.0} MiB",
            args.login_burst,
            started.elapsed().as_secs_f64(),
            rss_mib(server.pid).unwrap_or(0.0)
        );
    }
    let mut peak = 0.0f64;
    while tasks.iter().any(|t| !t.is_finished()) {
        peak = peak.max(rss_mib(server.pid).unwrap_or(0.0));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = tally.latencies_us.lock().await.clone();
    latencies.sort_unstable();
    eprintln!(
        "active: {} conversations, {:.0} messages/s offered for {:.0} s",
        args.conversations,
        args.rate,
        args.duration.as_secs_f64()
    );
    eprintln!(
        "  sent {}, replies {}, {:.0} replies/s, handoffs {}, errors {}",
        tally.sent.load(Ordering::Relaxed),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        tally.handoffs.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed)
    );
    eprintln!(
        "  reply latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server peak RSS {:.0} MiB",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        peak
    );
    Ok(())
}
