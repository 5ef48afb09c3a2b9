//! A minimal Chrome DevTools Protocol client for the browser tests: it launches headless
//! Chromium, opens one page and drives it with `Page.navigate`, `Runtime.evaluate` and
//! `Page.captureScreenshot`.
//!
//! Written by hand over the `tokio-tungstenite` dev-dependency on purpose: a CDP crate such as
//! chromiumoxide brings a generated protocol crate that adds minutes of compile time on the
//! 2-core CI, for the handful of commands used here.
//!
//! Chromium is found through `$CHROMIUM`, then `chromium`, `chromium-browser` or
//! `google-chrome` on `PATH`, and is installed with `scripts/install-chromium` when none is
//! there: the browser tests never skip themselves, they fail saying why.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// How long Chromium may take to print its DevTools URL (a cold start on a busy CI box).
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one CDP command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Browser::wait_for`] checks its condition.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// A headless Chromium with one page attached; killed (and its profile removed) on drop.
pub struct Browser {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session_id: String,
    next_id: u64,
    child: Child,
    // Dropped after `drop` has killed the browser, so the profile is no longer in use.
    _profile: TempDir,
}

impl Browser {
    /// Launches Chromium and opens an `about:blank` page; panics saying why when it cannot.
    pub async fn launch() -> Browser {
        let executable = chromium_path().unwrap_or_else(|e| panic!("no Chromium: {e:#}"));
        Browser::launch_with(&executable)
            .await
            .unwrap_or_else(|e| panic!("{} does not start: {e:#}", executable.display()))
    }

    /// Starts `executable`, connects to its DevTools socket and attaches to a new page.
    async fn launch_with(executable: &Path) -> anyhow::Result<Browser> {
        let profile = TempDir::new().context("a temporary profile folder")?;
        let mut child = Command::new(executable)
            // --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
            .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
            .args(["--remote-debugging-port=0", "--window-size=1280,800"])
            .args([
                "--no-first-run",
                "--no-default-browser-check",
                "--mute-audio",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            // Chromium keeps its singleton socket in a folder under TMPDIR that only a graceful
            // exit removes; in the profile folder it goes away with the profile.
            .env("TMPDIR", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning the browser")?;
        let stderr = child.stderr.take().context("the browser's stderr")?;
        // A plain thread reads stderr (tokio's `process` feature is off) and keeps draining it
        // after the URL, so that Chromium never blocks on a full pipe.
        let (lines, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut seen = Vec::new();
        let url = tokio::time::timeout(LAUNCH_TIMEOUT, async {
            while let Some(line) = received.recv().await {
                if let Some(at) = line.find("ws://") {
                    return Some(line[at..].trim().to_owned());
                }
                seen.push(line);
            }
            None
        })
        .await;
        let url = match url {
            Ok(Some(url)) => url,
            Ok(None) => bail!("it exited before listening; stderr:\n{}", seen.join("\n")),
            Err(_) => bail!(
                "no DevTools URL in {LAUNCH_TIMEOUT:?}; stderr:\n{}",
                seen.join("\n")
            ),
        };
        let (socket, _) = connect_async(url.as_str())
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let mut browser = Browser {
            socket,
            session_id: String::new(),
            next_id: 0,
            child,
            _profile: profile,
        };
        let target = browser
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target_id = target["targetId"].clone();
        // `flatten` lets page commands go over this one socket, tagged with the session id.
        let attached = browser
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await?;
        browser.session_id = attached["sessionId"]
            .as_str()
            .context("attachToTarget answers a sessionId")?
            .to_owned();
        browser.page("Page.enable", json!({})).await?;
        Ok(browser)
    }

    /// Sends one command (to the page's session, or to the browser when `session` is `None`)
    /// and returns its `result`; events and other answers read meanwhile are ignored.
    async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .with_context(|| format!("sending {method}"))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = tokio::time::timeout(left, self.socket.next())
                .await
                .map_err(|_| anyhow!("no answer to {method} in {COMMAND_TIMEOUT:?}"))?
                .ok_or_else(|| anyhow!("the browser closed the connection during {method}"))?
                .with_context(|| format!("reading the answer to {method}"))?;
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).context("CDP sends JSON")?;
            if answer["id"] != id {
                continue; // an event, or nothing we wait for
            }
            if let Some(error) = answer.get("error") {
                bail!("{method} failed: {error}");
            }
            return Ok(answer["result"].clone());
        }
    }

    /// A command to the attached page.
    async fn page(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let session = self.session_id.clone();
        self.call(Some(&session), method, params).await
    }

    /// Evaluates `js` in the page (awaiting a promise), or says why it threw.
    async fn try_eval(&mut self, js: &str) -> anyhow::Result<Value> {
        let params = json!({"expression": js, "awaitPromise": true, "returnByValue": true});
        let answer = self.page("Runtime.evaluate", params).await?;
        if let Some(details) = answer.get("exceptionDetails") {
            let message = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("an exception");
            bail!("`{js}` threw: {message}");
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Loads `url` and waits until its document has finished loading.
    pub async fn navigate(&mut self, url: &str) {
        let answer = self
            .page("Page.navigate", json!({"url": url}))
            .await
            .unwrap_or_else(|e| panic!("navigating to {url}: {e:#}"));
        if let Some(error) = answer["errorText"].as_str() {
            panic!("navigating to {url}: {error}");
        }
        self.wait_for(
            &format!(
                "location.href !== 'about:blank' && document.readyState === 'complete' // {url}"
            ),
            COMMAND_TIMEOUT,
        )
        .await;
    }

    /// The value of `js` (a promise is awaited), as JSON; panics with the page's exception.
    pub async fn eval(&mut self, js: &str) -> Value {
        self.try_eval(js).await.unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Polls `condition` every 100 ms until it is truthy; panics after `timeout` with the
    /// condition and the last error, if evaluating it failed.
    pub async fn wait_for(&mut self, condition: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let js = format!("!!({condition}\n)");
        let mut last_error = None;
        loop {
            match self.try_eval(&js).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                // The page may be between documents: the next poll tells.
                Err(e) => last_error = Some(format!("{e:#}")),
            }
            if Instant::now() >= deadline {
                let why = last_error.map(|e| format!(" (last error: {e})"));
                panic!(
                    "still false after {timeout:?}: {condition}{}",
                    why.unwrap_or_default()
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Types `text` into the focused element as a keyboard would insert it (`input` events
    /// included).
    pub async fn insert_text(&mut self, text: &str) {
        self.page("Input.insertText", json!({"text": text}))
            .await
            .unwrap_or_else(|e| panic!("typing {text:?}: {e:#}"));
    }

    /// Makes the page `width` × `height` CSS pixels, as a phone (`mobile`) or a desktop window.
    pub async fn set_viewport(&mut self, width: u32, height: u32, mobile: bool) {
        let params =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.page("Emulation.setDeviceMetricsOverride", params)
            .await
            .unwrap_or_else(|e| panic!("viewport {width}x{height}: {e:#}"));
    }

    /// Saves a PNG of the page's viewport to `path`, creating its folder.
    pub async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .page("Page.captureScreenshot", json!({"format": "png"}))
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e:#}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("a screenshot carries data"))
            .expect("screenshot data is base64");
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("the screenshot folder can be created");
        }
        std::fs::write(path, png).expect("the screenshot can be written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Its helper processes watch this one and exit with it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `$CHROMIUM`, else the first browser on `PATH`, else what `scripts/install-chromium` installs.
fn chromium_path() -> anyhow::Result<PathBuf> {
    if let Some(named) = std::env::var_os("CHROMIUM").filter(|v| !v.is_empty()) {
        let named = PathBuf::from(named);
        if named.components().count() > 1 {
            return Ok(named);
        }
        if let Some(found) = on_path(&named) {
            return Ok(found);
        }
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(found) = on_path(Path::new(name)) {
            return Ok(found);
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-chromium");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let printed = String::from_utf8_lossy(&output.stdout);
    let path = printed.lines().last().unwrap_or_default().trim();
    if !output.status.success() || path.is_empty() {
        bail!(
            "{} could not install Chromium ({}); install it or set CHROMIUM=/path/to/chromium",
            script.display(),
            output.status
        );
    }
    Ok(PathBuf::from(path))
}

/// The executable file called `name` in a folder of `PATH`.
fn on_path(name: &Path) -> Option<PathBuf> {
    let folders = std::env::var_os("PATH")?;
    std::env::split_paths(&folders)
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}
