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
//! Several nodes (one service on a shared PostgreSQL) instead of one on SQLite:
//!
//! - `--nodes N` (default 1) starts N `tandem serve` processes, each with its own data folder
//!   and port, all on the same database and with the same data key. More than one needs
//!   PostgreSQL: a SQLite file belongs to one node.
//! - `--postgres` puts them on PostgreSQL: `scripts/postgres start` starts a throw-away
//!   cluster (or finds the one running; it is left running, `scripts/postgres stop` ends it),
//!   and a fresh database `bench_<random hex>` is created on it for this run.
//! - `--database-url URL` puts them on an existing database instead (`postgres://...`), with
//!   `--data-key BASE64` if its data was sealed with a key of its own (default: a random key).
//! - `--url URL,URL,...` (with `--pid PID,PID,...` in the same order, for their RSS) runs against
//!   nodes already running instead of starting any.
//!
//! Customers are dealt to the nodes round-robin (customer i to node i % N), in both phases;
//! `--silent` and the bursts go to the first node. For example, two nodes on PostgreSQL:
//!
//! ```text
//! cargo bench --bench chat_load -- --idle 0 --conversations 200 --rate 100 --duration 20 --postgres --nodes 2
//! ```
//!
//! It prints the configuration (`1 node on SQLite`, `2 nodes on PostgreSQL`), reply latency
//! p50/p99/max, messages per second, errors (error frames other than `busy`, dropped
//! connections, replies later than 10 s) over all nodes, each node's replies, errors and
//! latency when there are several, and the RSS of each node and of all together at rest, after
//! the idle phase and at the peak. Bounded in count and time; loopback only. Without `--bench`
//! (as `cargo test --all-targets` runs it) it only prints how to run it.

// Beside this file rather than in it, to keep the load itself readable.
#[path = "chat_load/servers.rs"]
mod servers;

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

use servers::{Database, Plan, Servers, rss_text};

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
    plan: Plan,
    conversations: usize,
    rate: f64,
    duration: Duration,
    idle: usize,
    ask_burst: usize,
    login_burst: usize,
    silent: usize,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut conversations = 1000;
    let mut rate = 200.0;
    let mut duration = Duration::from_secs(30);
    let mut idle = 10_000;
    let (mut ask_burst, mut login_burst, mut silent) = (0, 0, 0);
    let mut urls: Vec<String> = Vec::new();
    let mut pids: Vec<u32> = Vec::new();
    let mut nodes: Option<usize> = None;
    let mut postgres = false;
    let mut database_url: Option<String> = None;
    let mut data_key: Option<String> = None;
    let mut bench = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" => bench = true,
            "--url" => urls = list(&value()?).map(str::to_owned).collect(),
            "--pid" => {
                pids = list(&value()?)
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .context("--pid takes process ids, separated by commas")?;
            }
            "--nodes" => nodes = Some(value()?.parse()?),
            "--postgres" => postgres = true,
            "--database-url" => database_url = Some(value()?),
            "--data-key" => data_key = Some(value()?),
            "--conversations" => conversations = value()?.parse()?,
            "--rate" => rate = value()?.parse()?,
            "--duration" => duration = Duration::from_secs(value()?.parse()?),
            "--idle" => idle = value()?.parse()?,
            "--ask-burst" => ask_burst = value()?.parse()?,
            "--login-burst" => login_burst = value()?.parse()?,
            "--silent" => silent = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    let plan = if urls.is_empty() {
        if !pids.is_empty() {
            bail!("--pid names servers already running: give their chat URLs with --url");
        }
        let nodes = nodes.unwrap_or(1);
        let database = match (postgres, database_url) {
            (true, Some(_)) => {
                bail!("--postgres and --database-url both choose the database: give one")
            }
            (true, None) => Database::FreshPostgres,
            // Checked here, so that a typo fails before any node starts.
            (false, Some(url)) if !url.trim().is_empty() => {
                tandem::storage::Location::parse(&url, std::path::Path::new("."))
                    .context("--database-url")?;
                Database::Url(url)
            }
            (false, _) => Database::Sqlite,
        };
        if nodes == 0 {
            bail!("--nodes must be at least 1");
        }
        if nodes > 1 && database.sqlite() {
            bail!(
                "--nodes {nodes} needs a PostgreSQL database that the nodes share (a SQLite file \
                 belongs to one node): add --postgres for a throw-away one, or --database-url \
                 postgres://..."
            );
        }
        Plan::Start {
            nodes,
            database,
            data_key,
        }
    } else {
        if nodes.is_some() || postgres || database_url.is_some() || data_key.is_some() {
            bail!(
                "--url runs against servers already running; --nodes, --postgres, \
                 --database-url and --data-key are for servers started here"
            );
        }
        if !pids.is_empty() && pids.len() != urls.len() {
            bail!(
                "--pid has {} ids for {} --url servers: give one per URL, in the same order",
                pids.len(),
                urls.len()
            );
        }
        Plan::Running { urls, pids }
    };
    let args = Args {
        plan,
        conversations,
        rate,
        duration,
        idle,
        ask_burst,
        login_burst,
        silent,
    };
    Ok(bench.then_some(args))
}

/// The items of a comma-separated option value, blanks left out.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
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
            "chat_load: run with `cargo bench --bench chat_load [-- --conversations N --rate R --duration S --idle N --ask-burst N --login-burst N --silent N --nodes N --postgres | --database-url URL --data-key BASE64 | --url URL,... --pid PID,...]`"
        );
        return Ok(());
    };
    let servers = servers::start(&args.plan).await?;
    let nodes = servers.nodes.len();
    let rest = servers.rss();
    for (i, (server, mib)) in servers.nodes.iter().zip(&rest).enumerate() {
        eprintln!(
            "{} {} (pid {:?}), RSS {mib:.0} MiB at rest",
            servers.name(i),
            server.url,
            server.pid,
        );
    }
    if nodes > 1 {
        eprintln!("RSS at rest: {}", rss_text(rest.iter().sum(), &rest));
    }
    // What goes to one server (silent connections, bursts) goes to the first node.
    let first = servers.nodes.first().context("no server to run against")?;
    let on_first = if nodes > 1 { " on node 1" } else { "" };

    if args.silent > 0 {
        silent_connections(&first.base(), args.silent).await?;
    }

    // Phase 1: idle customers, dealt round-robin to the nodes.
    let started = Instant::now();
    let mut idle = Vec::with_capacity(args.idle);
    let mut idle_errors = 0usize;
    for i in 0..args.idle {
        match connect(&servers.nodes[i % nodes].url).await {
            Ok(s) => idle.push(s),
            Err(_) => idle_errors += 1,
        }
    }
    let rss = servers.rss();
    eprintln!(
        "idle: {} connected in {:.1} s, {} errors, server RSS {}",
        idle.len(),
        started.elapsed().as_secs_f64(),
        idle_errors,
        rss_text(rss.iter().sum(), &rss)
    );
    drop(idle);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Phase 2: active conversations, dealt round-robin to the nodes; a tally per node.
    let tallies: Vec<Arc<Tally>> = (0..nodes).map(|_| Arc::default()).collect();
    let urls: Vec<Arc<str>> = servers
        .nodes
        .iter()
        .map(|server| server.url.as_str().into())
        .collect();
    let period = Duration::from_secs_f64(args.conversations as f64 / args.rate);
    let started = Instant::now();
    let until = started + args.duration;
    let mut tasks = Vec::with_capacity(args.conversations);
    for id in 0..args.conversations {
        let offset = period.mul_f64(id as f64 / args.conversations as f64);
        tasks.push(tokio::spawn(customer(
            id,
            urls[id % nodes].clone(),
            period,
            offset,
            until,
            tallies[id % nodes].clone(),
        )));
    }
    let base = first.base();
    let before = first.rss_mib();
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
            "ask bursts{on_first}: {bursts} x {} concurrent requests of 2,000 characters from {SOURCES} addresses, by status {totals:?}",
            args.ask_burst
        );
    }
    if args.login_burst > 0 {
        let body = json!({"email": "admin@localhost", "password": "not the password"});
        let started = Instant::now();
        let counts = burst(&base, "/api/agent/login", args.login_burst, body, false).await;
        eprintln!(
            "login burst{on_first}: {} wrong sign-ins in {:.1} s, by status {counts:?}, RSS {before:.0} -> {:.0} MiB",
            args.login_burst,
            started.elapsed().as_secs_f64(),
            first.rss_mib()
        );
    }
    // Each node's own peak, and the peak of all together (the highest sum seen at once).
    let mut peaks = vec![0.0f64; nodes];
    let mut peak_total = 0.0f64;
    while tasks.iter().any(|t| !t.is_finished()) {
        let rss = servers.rss();
        for (peak, mib) in peaks.iter_mut().zip(&rss) {
            *peak = peak.max(*mib);
        }
        peak_total = peak_total.max(rss.iter().sum());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    summarize(&args, &servers, &tallies, elapsed, peak_total, &peaks).await;
    Ok(())
}

/// Prints the active phase's results: over all nodes, then, with several, node by node.
async fn summarize(
    args: &Args,
    servers: &Servers,
    tallies: &[Arc<Tally>],
    elapsed: f64,
    peak_total: f64,
    peaks: &[f64],
) {
    let mut by_node = Vec::with_capacity(tallies.len());
    for tally in tallies {
        let mut latencies = tally.latencies_us.lock().await.clone();
        latencies.sort_unstable();
        by_node.push(latencies);
    }
    let mut latencies = by_node.concat();
    latencies.sort_unstable();
    let total = |count: fn(&Tally) -> &AtomicU64| -> u64 {
        tallies
            .iter()
            .map(|tally| count(tally).load(Ordering::Relaxed))
            .sum()
    };
    eprintln!("config: {}", servers.config);
    eprintln!(
        "active: {} conversations, {:.0} messages/s offered for {:.0} s",
        args.conversations,
        args.rate,
        args.duration.as_secs_f64()
    );
    eprintln!(
        "  sent {}, replies {}, {:.0} replies/s, handoffs {}, errors {}",
        total(|t| &t.sent),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        total(|t| &t.handoffs),
        total(|t| &t.errors)
    );
    eprintln!(
        "  reply latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server peak RSS {}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        rss_text(peak_total, peaks)
    );
    if servers.nodes.len() > 1 {
        for (i, ((server, tally), latencies)) in
            servers.nodes.iter().zip(tallies).zip(&by_node).enumerate()
        {
            eprintln!(
                "  {} {}: sent {}, replies {}, {:.0} replies/s, errors {}, p50 {:.1} ms, p99 {:.1} ms",
                servers.name(i),
                server.url,
                tally.sent.load(Ordering::Relaxed),
                latencies.len(),
                latencies.len() as f64 / elapsed,
                tally.errors.load(Ordering::Relaxed),
                percentile(latencies, 0.50),
                percentile(latencies, 0.99),
            );
        }
    }
}
