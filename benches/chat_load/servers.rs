//! The tandem nodes under test: started here (one on its own SQLite file, or several sharing one
//! PostgreSQL database and data key), or already running (`--url`). Nodes started here are
//! killed when dropped; a PostgreSQL cluster `scripts/postgres` started is left running
//! (`scripts/postgres stop` ends it).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use serde_json::Value;
use tandem::storage::redacted;

/// How long one node may take to get its model ready. Nodes started together share the
/// machine's cores while they train, so the limit grows with their number.
const READY_PER_NODE: Duration = Duration::from_secs(120);

/// Where nodes started here keep conversations.
pub enum Database {
    /// Each node's SQLite file in its own data folder (today's default; one node only).
    Sqlite,
    /// A fresh database on the throw-away cluster `scripts/postgres start` runs (or finds).
    FreshPostgres,
    /// An existing database, as `--database-url` names it (PostgreSQL, or a SQLite URL).
    Url(String),
}

impl Database {
    /// Whether each node would keep a SQLite file, which only one node may use.
    pub fn sqlite(&self) -> bool {
        match self {
            Database::Sqlite => true,
            Database::FreshPostgres => false,
            Database::Url(url) => url.trim_start().starts_with("sqlite:"),
        }
    }
}

/// Which servers the load goes to.
pub enum Plan {
    /// `nodes` processes started here on `database`, all with `data_key` (random where the
    /// database is PostgreSQL and none is given).
    Start {
        nodes: usize,
        database: Database,
        data_key: Option<String>,
    },
    /// Servers already running: their chat URLs, and their pids where given (for RSS).
    Running { urls: Vec<String>, pids: Vec<u32> },
}

/// One node, killed when dropped if started here.
pub struct Server {
    child: Option<Child>,
    // After `child` is killed (in `drop`), so the process is gone before its data folder.
    _data: Option<tempfile::TempDir>,
    /// Its `/ws/chat` URL.
    pub url: String,
    /// Its process id, where known.
    pub pid: Option<u32>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    /// Its HTTP base URL (`http://HOST:PORT`).
    pub fn base(&self) -> String {
        self.url
            .replacen("ws://", "http://", 1)
            .trim_end_matches("/ws/chat")
            .to_owned()
    }

    /// Its resident memory in MiB, 0 when unknown (no pid, or not on this machine).
    pub fn rss_mib(&self) -> f64 {
        rss_mib(self.pid).unwrap_or(0.0)
    }
}

/// The nodes under test, and what they are (`1 node on SQLite`, `2 nodes on PostgreSQL`).
pub struct Servers {
    /// In the order customers are dealt to them.
    pub nodes: Vec<Server>,
    /// The configuration, as the summary prints it.
    pub config: String,
}

impl Servers {
    /// How the output names node `i`: `server` when it is the only one, else `node i+1`.
    pub fn name(&self, i: usize) -> String {
        if self.nodes.len() == 1 {
            "server".to_owned()
        } else {
            format!("node {}", i + 1)
        }
    }

    /// Each node's RSS in MiB, in order.
    pub fn rss(&self) -> Vec<f64> {
        self.nodes.iter().map(Server::rss_mib).collect()
    }
}

/// `1 node` / `2 nodes`.
fn count(nodes: usize) -> String {
    format!("{nodes} node{}", if nodes == 1 { "" } else { "s" })
}

/// RSS of the nodes: `T MiB` for one; for several, `T MiB in all (node 1 A, node 2 B MiB)`.
/// `total` is passed rather than summed because a peak's total is the highest sum seen at once,
/// not the sum of each node's peak.
pub fn rss_text(total: f64, each: &[f64]) -> String {
    if each.len() <= 1 {
        return format!("{total:.0} MiB");
    }
    let nodes: Vec<String> = each
        .iter()
        .enumerate()
        .map(|(i, mib)| format!("node {} {mib:.0}", i + 1))
        .collect();
    format!("{total:.0} MiB in all ({} MiB)", nodes.join(", "))
}

/// Starts the nodes of `plan` (all at once) and waits until each serves its model; or, for
/// servers already running, just names them.
pub async fn start(plan: &Plan) -> anyhow::Result<Servers> {
    let (nodes, database, data_key) = match plan {
        Plan::Running { urls, pids } => {
            let nodes = urls
                .iter()
                .enumerate()
                .map(|(i, url)| Server {
                    child: None,
                    _data: None,
                    url: url.clone(),
                    pid: pids.get(i).copied(),
                })
                .collect::<Vec<_>>();
            let config = format!("{} already running", count(nodes.len()));
            return Ok(Servers { nodes, config });
        }
        Plan::Start {
            nodes,
            database,
            data_key,
        } => (*nodes, database, data_key),
    };
    let backend = if database.sqlite() {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let database_url = match database {
        Database::Sqlite => None,
        Database::FreshPostgres => Some(fresh_postgres().await?),
        Database::Url(url) => Some(url.clone()),
    };
    // Nodes sharing a database must seal personal data with the same key; a fresh database has
    // none yet, so any key will do. On SQLite each node generates its own, as it does today.
    let data_key = match data_key {
        Some(key) => Some(key.clone()),
        None if !database.sqlite() => Some(random_key()?),
        None => None,
    };
    let config = format!("{} on {backend}", count(nodes));
    match &database_url {
        Some(url) => eprintln!("starting {config} ({})", redacted(url)),
        None => eprintln!("starting {config}"),
    }
    let ready_within = READY_PER_NODE * nodes as u32;
    let starts =
        (0..nodes).map(|_| start_node(database_url.as_deref(), data_key.as_deref(), ready_within));
    // The first failure drops the other starts, and with them (killed) their processes.
    let nodes = futures_util::future::try_join_all(starts).await?;
    Ok(Servers { nodes, config })
}

/// Starts one `tandem serve` on a free loopback port with the sample knowledge base and a
/// temporary data folder, and waits until `/health` says its model is ready.
async fn start_node(
    database_url: Option<&str>,
    data_key: Option<&str>,
    ready_within: Duration,
) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let data = tempfile::TempDir::new()?;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    command
        .args(["serve", "--port", &port.to_string(), "--knowledge-dir"])
        .arg(format!("{root}/knowledge"))
        .arg("--model-dir")
        .arg(format!("{root}/models/all-MiniLM-L6-v2"))
        .arg("--data-dir")
        .arg(data.path())
        .env("TANDEM_LOG", "warn")
        .stdout(Stdio::null());
    // Through the environment rather than as arguments: the URL holds a password and the key is
    // a secret, and a process's arguments are visible to every user (`ps`), its environment
    // only to its owner. Set even when empty, so that an inherited TANDEM_DATABASE_URL cannot
    // put the SQLite run on another database than the summary says.
    command.env("TANDEM_DATABASE_URL", database_url.unwrap_or(""));
    if let Some(key) = data_key {
        command.env("TANDEM_DATA_KEY", key);
    }
    let child = command.spawn().context("starting tandem")?;
    let pid = child.id();
    let mut server = Server {
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
        // A node that cannot start (a database it cannot reach, a bad key) says why on its
        // stderr and exits: no point waiting out the limit.
        if let Some(child) = &mut server.child
            && let Some(status) = child.try_wait()?
        {
            bail!("the server on port {port} exited ({status}) before it was ready");
        }
        if started.elapsed() > ready_within {
            bail!(
                "the server on port {port} did not get ready in {} s",
                ready_within.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts (or finds) the throw-away PostgreSQL cluster and creates a database of its own for
/// this run, so no earlier run's conversations weigh on it; returns the database's URL.
async fn fresh_postgres() -> anyhow::Result<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres");
    // Its progress (installing PostgreSQL, initdb) goes to stderr and is shown as it happens;
    // stdout ends with the server's URL. Blocking is fine: nothing else runs yet.
    let output = Command::new(script)
        .arg("start")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {script} start"))?;
    if !output.status.success() {
        bail!("{script} start failed ({})", output.status);
    }
    let stdout = String::from_utf8(output.stdout).context("scripts/postgres printed non-UTF-8")?;
    let server = stdout
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .context("scripts/postgres start printed no URL")?;
    if !(server.starts_with("postgres://") || server.starts_with("postgresql://")) {
        bail!(
            "scripts/postgres start printed {:?} last, not a postgres:// URL",
            redacted(server)
        );
    }
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    tandem::storage::create_postgres_database(server, &name)
        .await
        .with_context(|| format!("creating database {name} on {}", redacted(server)))
}

/// A data key for this run: 32 random bytes, base64, as `--data-key` takes it.
fn random_key() -> anyhow::Result<String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow!("no randomness for the data key: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
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
