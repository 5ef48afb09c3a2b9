//! A `tandem serve` child process for tests that need the real binary (a crash, a signal).

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

/// Loading the model and, on a fresh folder, training the intent head take seconds; a debug build
/// on a busy machine takes longer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);

/// A `tandem serve` child process; killed (and reaped) when dropped, even if the test panics.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

/// `tandem serve` on a free loopback port over `knowledge`, writing to `data_dir` (its working
/// folder too, so that no stray `tandem.toml` is read), logs on a piped stderr.
pub fn serve_command(data_dir: &Path, knowledge: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    command
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--knowledge-dir",
        ])
        .arg(knowledge)
        .arg("--model-dir")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--database-url")
        .arg(crate::database::database_for(data_dir))
        .current_dir(data_dir)
        .env_remove("TANDEM_CONFIG")
        // A minute of both cores per server; the fine-tune's own tests turn it on.
        .env("TANDEM_FINE_TUNE", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl Server {
    /// Starts `tandem serve` on `data_dir` over `knowledge` with `extra` arguments, and waits
    /// until it listens and its model is ready.
    pub async fn start(data_dir: &Path, knowledge: &Path, extra: &[&str]) -> Server {
        let mut child = serve_command(data_dir, knowledge)
            .args(extra)
            .env("TANDEM_LOG_FORMAT", "json")
            // The `listening` line that carries the port is at info level.
            .env("TANDEM_LOG", "info,tantivy=warn")
            .spawn()
            .expect("the tandem binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (port_tx, port_rx) = oneshot::channel();
        // Logs go to stderr. Keep draining it for the child's whole life: a full pipe would block
        // the server. The lines are echoed so that a failing test shows them.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[tandem] {line}");
                if let Some(port) = listening_port(&line)
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let mut server = Server { child, port: 0 };
        server.port = tokio::time::timeout(STARTUP_TIMEOUT, port_rx)
            .await
            .expect("the server logs `listening` in time")
            .expect("the server exited before listening (see its log above)");
        server.wait_for_model().await;
        server
    }

    /// Polls `/health` until the intent model is trained, so that replies are the real bot's.
    pub async fn wait_for_model(&self) {
        let url = format!("http://127.0.0.1:{}/health", self.port);
        let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
        loop {
            let response = reqwest::get(&url).await.expect("/health answers");
            let health: Value = response.json().await.expect("/health is JSON");
            if health["model"] == "ready" {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not ready: {health}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the server with SIGKILL (what `Child::kill` sends on Unix): no shutdown handler,
    /// no flush, no closing of the database runs.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("the server can be killed");
        let status = self.child.wait().expect("the killed server is reaped");
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    }

    /// Sends a signal (`HUP`, `TERM`...) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Errors mean the child is already gone, which is what we want.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in the server's JSON `listening` log line, if `line` is that line.
fn listening_port(line: &str) -> Option<u16> {
    let entry: Value = serde_json::from_str(line).ok()?;
    let fields = &entry["fields"];
    if fields["message"] != "listening" {
        return None;
    }
    fields["port"].as_u64().and_then(|p| u16::try_from(p).ok())
}
