//! Test harness: [`spawn_app`] starts the real server on a free port with a temporary data folder
//! and the small fixture knowledge base in `tests/fixtures/knowledge`.
//!
//! The servers of one test process share what is safe to share and slow to make: the encoder
//! (loaded once per model folder and backend) and the trained intent models' cache (keyed by the
//! knowledge's content and the model, so two servers with the same knowledge need the same
//! files). Everything else (database, data folder, clock) is each server's own.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tandem::clock::Clock;
use tandem::config::{LogFormat, Settings};
use tandem::model::Encoder;
use tandem::startup::{Application, Provided};
use tempfile::TempDir;

/// A running server and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// The server's data folder (its database is `tandem.db` there).
    pub data_dir: PathBuf,
    /// The server's clock: advance it to see what happens later (timeouts, SLA breaches).
    pub clock: Clock,
    /// The server's `database_url`: empty for its SQLite file, or its PostgreSQL database.
    pub database_url: String,
    _data: TempDir,
}

impl TestApp {
    /// A handle on a `tandem serve` process listening on `port` (a node of the multi-node
    /// tests), so that the clients written for in-process servers work with it too. Its clock is
    /// the process's own, which the test cannot move.
    pub fn for_process(port: u16, data: TempDir, database_url: &str) -> TestApp {
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            data_dir: data.path().to_owned(),
            clock: Clock::default(),
            database_url: database_url.to_owned(),
            _data: data,
        }
    }

    /// `POST /api/ask` with a raw body.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request reaches the server")
    }

    /// Waits until `/health` reports the intent model ready (it trains in the background).
    pub async fn wait_for_model(&self) -> anyhow::Result<()> {
        eventually(
            "the intent model is ready",
            Duration::from_secs(120),
            || async {
                let health: serde_json::Value = self
                    .client
                    .get(format!("{}/health", self.address))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                (health["model"] == "ready").then_some(())
            },
        )
        .await
    }

    /// The server's store, opened a second time (SQLite in WAL mode takes both).
    pub async fn store(&self) -> tandem::storage::Store {
        tandem::storage::Store::connect(&self.database_url, &self.data_dir)
            .await
            .expect("the test server's database opens")
    }

    /// Whether `needle` is stored anywhere in the server's database in clear.
    pub async fn stored_in_clear(&self, needle: &str) -> bool {
        crate::database::stored_in_clear(&self.data_dir, &self.database_url, needle).await
    }

    /// Creates an agent with a known password and the given skills; returns the password.
    pub async fn add_agent(&self, email: &str, name: &str, skills: &[&str]) -> String {
        self.add_account(email, name, skills, tandem::storage::Role::Agent)
            .await
    }

    /// Creates an admin (skill `general`) with a known password; returns the password.
    pub async fn add_admin(&self, email: &str, name: &str) -> String {
        self.add_account(email, name, &["general"], tandem::storage::Role::Admin)
            .await
    }

    async fn add_account(
        &self,
        email: &str,
        name: &str,
        skills: &[&str],
        role: tandem::storage::Role,
    ) -> String {
        let password = format!("pw-{email}-long-enough");
        let skills = skills.iter().map(|s| (*s).to_owned()).collect();
        let store = self.store().await;
        tandem::auth::add_agent(&store, email, name, password.clone(), role, skills, 2)
            .await
            .expect("account created");
        store.close().await;
        password
    }

    /// Signs in and returns the `Cookie` header value for later requests.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let response = self
            .client
            .post(format!("{}/api/agent/login", self.address))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), 200, "login of {email}");
        let set_cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_owned();
        set_cookie.split(';').next().expect("name=value").to_owned()
    }

    /// `GET path` with a `Cookie` header (a signed-in agent's).
    pub async fn get_with(&self, cookie: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header("cookie", cookie)
            .send()
            .await
            .expect("request")
    }

    /// `ws://127.0.0.1:PORT/ws/chat`: the customer chat endpoint.
    pub fn chat_url(&self) -> String {
        format!("{}/ws/chat", self.address.replacen("http://", "ws://", 1))
    }

    /// `POST /api/ask {"text": text}`.
    pub async fn ask(&self, text: &str) -> reqwest::Response {
        self.post_raw("/api/ask", serde_json::json!({ "text": text }).to_string())
            .await
    }
}

/// The fixture knowledge base shipped with the tests.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The secret test servers share with the "company backend" that signs identities.
pub const IDENTITY_SECRET: &str = "test-identity-secret";

/// Settings for a test server: port 0, temp data folder, small limits that tests can exceed.
pub fn test_settings(knowledge_dir: &Path, data_dir: &Path) -> Settings {
    let policy = tandem::bot::policy::PolicyConfig::default();
    Settings {
        host: "127.0.0.1".into(),
        port: 0,
        knowledge_dir: knowledge_dir.to_owned(),
        model_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2"),
        chinese_model_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("models/use-multilingual-v3"),
        data_dir: data_dir.to_owned(),
        database_url: crate::database::database_for(data_dir),
        cache_dir: None,
        oos_threshold: tandem::model::mahalanobis::DEFAULT_THRESHOLD,
        encoder_backend: Default::default(),
        max_body_bytes: 4096,
        max_message_chars: 500,
        identity_secret: IDENTITY_SECRET.into(),
        data_key: "".into(),
        chat_idle_timeout_secs: 600,
        max_chat_connections: 1000,
        policy_min_answer_score: policy.min_answer_score,
        policy_clarify_margin: policy.clarify_margin,
        policy_max_misses: policy.max_misses,
        policy_max_unhelpful: policy.max_unhelpful,
        policy_repeat_similarity: policy.repeat_similarity,
        allowed_origins: Vec::new(),
        trusted_proxies: Vec::new(),
        watch_knowledge: true,
        // Fine-tuning is a minute of both cores: only the tests about it turn it on.
        fine_tune: false,
        log_format: LogFormat::Pretty,
    }
}

/// Starts a server over `knowledge_dir`, or returns why it would not start.
pub async fn try_spawn_app_with(knowledge_dir: &Path) -> anyhow::Result<TestApp> {
    try_spawn(knowledge_dir, |_| {}).await
}

/// Starts a server over `knowledge_dir` with settings changed by `tweak`.
pub async fn try_spawn(
    knowledge_dir: &Path,
    tweak: impl FnOnce(&mut Settings),
) -> anyhow::Result<TestApp> {
    try_spawn_at(knowledge_dir, tweak, Clock::default()).await
}

/// Starts a server over the fixture knowledge base on `clock` (e.g. [`Clock::frozen`], for
/// durations exact to the millisecond).
pub async fn spawn_app_at(clock: Clock) -> TestApp {
    try_spawn_at(&fixture("knowledge"), |_| {}, clock)
        .await
        .expect("the fixture knowledge base is valid")
}

async fn try_spawn_at(
    knowledge_dir: &Path,
    tweak: impl FnOnce(&mut Settings),
    clock: Clock,
) -> anyhow::Result<TestApp> {
    if std::env::var_os("TEST_LOG").is_some() {
        tandem::telemetry::init(LogFormat::Pretty);
    }
    let data = TempDir::new()?;
    let mut settings = test_settings(knowledge_dir, data.path());
    settings.cache_dir = Some(shared_cache_dir());
    tweak(&mut settings);
    let provided = Provided {
        encoder: Some(shared_encoder(&settings)?),
        clock,
    };
    let clock = provided.clock.clone();
    let database_url = settings.database_url.clone();
    let app = Application::build_with(settings, provided).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let app = TestApp {
        address,
        client: reqwest::Client::new(),
        data_dir: data.path().to_owned(),
        clock,
        database_url,
        _data: data,
    };
    app.wait_for_model().await?;
    Ok(app)
}

/// Starts a server over the fixture knowledge base.
pub async fn spawn_app() -> TestApp {
    spawn_app_tweaked(|_| {}).await
}

/// Starts a server over the fixture knowledge base with settings changed by `tweak`.
pub async fn spawn_app_tweaked(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    try_spawn(&fixture("knowledge"), tweak)
        .await
        .expect("the fixture knowledge base is valid")
}

/// A copy of the fixture knowledge base with `queues` (YAML lines of the list under `queues:`,
/// each ending in a newline) in place of its own `general` queue.
pub fn fixture_with_queues(queues: &str) -> TempDir {
    let dir = writable_fixture();
    let path = dir.path().join("intents.yaml");
    let text = std::fs::read_to_string(&path).expect("fixture intents");
    let (start, end) = (
        text.find("queues:").expect("a queues section"),
        text.find("intents:").expect("an intents section"),
    );
    // The fixture's complaint intent hands off to `escalations`, so that queue stays.
    let edited = format!(
        "{}queues:\n{queues}  - name: escalations\n{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&path, edited).expect("write intents");
    dir
}

/// Copies the fixture knowledge base into a temp folder that a test may break.
pub fn writable_fixture() -> TempDir {
    writable_copy(&fixture("knowledge"))
}

/// Copies the knowledge folder at `from` (the fixture, or the shipped sample) into a temp
/// folder that a test may break.
pub fn writable_copy(from: &Path) -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    copy_dir(from, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy fixture file");
        }
    }
}

/// The encoder for `model_dir` with `backend`, loaded once per test process: loading it reads
/// and checks 90 MB, which every server of the suite would otherwise repeat.
fn shared_encoder(settings: &Settings) -> anyhow::Result<Arc<Encoder>> {
    /// Encoders loaded so far, by model folders and backend.
    type Loaded = Mutex<HashMap<(PathBuf, PathBuf, String), Arc<Encoder>>>;
    static ENCODERS: OnceLock<Loaded> = OnceLock::new();
    let key = (
        settings.model_dir.clone(),
        settings.chinese_model_dir.clone(),
        format!("{:?}", settings.encoder_backend),
    );
    let encoders = ENCODERS.get_or_init(Mutex::default);
    if let Some(encoder) = encoders.lock().expect("encoders lock").get(&key) {
        return Ok(Arc::clone(encoder));
    }
    // Loaded outside the lock (two tests may load it at once; one copy is kept).
    // The served configuration: English and Chinese models (what `Settings::load_encoder` does).
    let encoder = Arc::new(settings.load_encoder()?);
    let mut encoders = encoders.lock().expect("encoders lock");
    Ok(Arc::clone(encoders.entry(key).or_insert(encoder)))
}

/// The trained intent models' cache the test servers share (under cargo's temp folder for
/// tests, so it survives between runs of the suite on one checkout and `cargo clean` clears it).
pub fn shared_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("brain-cache")
}

/// Waits until `check` returns `Some`, trying every 20 ms; fails with `what` after `limit`.
/// Tests wait with this for what the server does in the background (a reload, a breach the
/// watchdog records, a row the store writes), instead of sleeping a fixed time.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "waited {limit:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
