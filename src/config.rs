//! Typed settings: built-in defaults < config file < `TANDEM_*` environment < command line.
//!
//! One struct serves clap and serde (the meilisearch pattern): its doc comments are the
//! `tandem --help` text, its field names are the config file keys and, upper-cased behind
//! `TANDEM_`, the environment variables. clap resolves flags, environment and defaults; the config
//! file then fills in every setting that clap took from its default, so anything set explicitly
//! wins over the file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod encoder;
mod file;
mod secret;

pub use file::resolve;
pub use secret::Secret;

/// Config file read when `--config` is not given and the file exists.
pub const DEFAULT_CONFIG_FILE: &str = "tandem.toml";

/// Errors while assembling the settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML.
    #[error("config file {path} is not valid TOML: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: toml::de::Error,
    },
    /// The config file names a setting that does not exist.
    #[error("config file {path}: unknown setting `{key}` (see `tandem --help` for the list)")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The offending key.
        key: String,
    },
    /// A score setting is outside 0–1.
    #[error("{name} must be between 0 and 1, got {value}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f32,
    },
    /// A value in the config file has the wrong type or range.
    #[error("config file {path}: {source}")]
    Value {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: toml::de::Error,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Every setting of a tandem server.
///
/// Defaults are chosen for a single small deployment on one machine; each field says why.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct Settings {
    /// Address to listen on. The default only accepts local connections; use 0.0.0.0 behind a
    /// reverse proxy or in a container.
    #[arg(long, global = true, env = "TANDEM_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// TCP port to listen on; 0 picks a free port (tests do this).
    #[arg(long, global = true, env = "TANDEM_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Folder of the knowledge base: `faq/**/*.md` and `intents.yaml` (see knowledge/README.md).
    #[arg(
        long,
        global = true,
        env = "TANDEM_KNOWLEDGE_DIR",
        default_value = "knowledge"
    )]
    pub knowledge_dir: PathBuf,

    /// Folder of the sentence encoder: `config.json`, `tokenizer.json`, `model.safetensors` of any
    /// BERT-family model (see models/MODEL.md). The default is installed by `make model`.
    #[arg(
        long,
        global = true,
        env = "TANDEM_MODEL_DIR",
        default_value = "models/all-MiniLM-L6-v2"
    )]
    pub model_dir: PathBuf,

    /// Folder of the encoder for Chinese messages and entries: USE multilingual v3's
    /// `weights.npz` and `sp.model` (see models/MODEL.md), installed by `make model`. When the
    /// folder is missing, Chinese is read by its wording alone (and a warning says so); an
    /// empty value turns it off.
    #[arg(
        long,
        global = true,
        env = "TANDEM_CHINESE_MODEL_DIR",
        default_value = "models/use-multilingual-v3"
    )]
    pub chinese_model_dir: PathBuf,

    /// Which forward pass runs the encoder: `fast` (hand-written SIMD kernels, the default) or
    /// `candle` (candle-transformers' BERT, the reference; slower, same embeddings).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TANDEM_ENCODER_BACKEND",
        default_value = "fast"
    )]
    pub encoder_backend: crate::model::encoder::EncoderBackend,

    /// Out-of-scope threshold: messages whose out-of-scope score (0–1, the mean of 1 − the top
    /// intent probability and the squashed Mahalanobis distance to the nearest intent) reaches
    /// it are treated as not understood. Chosen on the benchmarks' held-out splits (see
    /// README); lower it to hand off more readily, raise it to let the bot try more.
    #[arg(
        long,
        global = true,
        env = "TANDEM_OOS_THRESHOLD",
        default_value_t = crate::model::mahalanobis::DEFAULT_THRESHOLD
    )]
    pub oos_threshold: f32,

    /// Folder for state the server writes (database, model caches). Created when missing.
    #[arg(long, global = true, env = "TANDEM_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Where conversations, agents and tickets are stored: empty for the SQLite file
    /// DATA_DIR/tandem.db (one node), `sqlite://PATH` for another file, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for a PostgreSQL server that several nodes
    /// share (see README, Deployment).
    #[arg(
        long,
        global = true,
        env = "TANDEM_DATABASE_URL",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Folder for the trained intent models, one file pair per knowledge version (keyed by its
    /// content, so servers with the same knowledge and model may share it). Default:
    /// DATA_DIR/cache.
    #[arg(long, global = true, env = "TANDEM_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Largest HTTP request body accepted, in bytes. Chat messages are small; a low limit keeps
    /// a flood of large bodies from costing memory.
    #[arg(long, global = true, env = "TANDEM_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Longest customer question accepted, in characters. Real questions are a few sentences;
    /// longer text is rarely a question and slows retrieval.
    #[arg(
        long,
        global = true,
        env = "TANDEM_MAX_MESSAGE_CHARS",
        default_value_t = 2000
    )]
    pub max_message_chars: usize,

    /// Secret shared with the company's backend for signing customer identities
    /// (HMAC-SHA256; see docs/protocol.md). Empty: every customer is anonymous.
    #[arg(
        long,
        global = true,
        env = "TANDEM_IDENTITY_SECRET",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub identity_secret: Secret,

    /// Key that seals customers' contact details at rest (32 bytes, base64; e.g. `openssl rand
    /// -base64 32`). Empty: a key is generated into `DATA_DIR/data.key` on first start.
    #[arg(
        long,
        global = true,
        env = "TANDEM_DATA_KEY",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub data_key: Secret,

    /// Seconds a chat connection the bot is serving may stay silent before the server closes it
    /// (code 1000; the conversation stays resumable). Frees the sockets of forgotten tabs;
    /// connections waiting for or talking to a person are kept open (pinged) however long.
    #[arg(
        long,
        global = true,
        env = "TANDEM_CHAT_IDLE_TIMEOUT_SECS",
        default_value_t = 600
    )]
    pub chat_idle_timeout_secs: u64,

    /// Most chat connections at once; a connection beyond it is closed with 1013 (try again
    /// later). An idle connection costs about 15 KiB (measured with 10,000) and a file
    /// descriptor: raise `ulimit -n` above this.
    #[arg(
        long,
        global = true,
        env = "TANDEM_MAX_CHAT_CONNECTIONS",
        default_value_t = 20_000
    )]
    pub max_chat_connections: usize,

    /// Decision policy: lowest fused FAQ score worth answering with (0–1). Exact or close
    /// phrasings of an FAQ question score 0.7–0.95, unrelated messages 0.1–0.35. Raise it to
    /// answer less and ask to rephrase more.
    #[arg(long, global = true, env = "TANDEM_POLICY_MIN_ANSWER_SCORE", default_value_t = policy_defaults::MIN_ANSWER_SCORE)]
    pub policy_min_answer_score: f32,

    /// Decision policy: FAQ candidates closer than this (in fused score) are offered as a
    /// clarifying question instead of answering with the first.
    #[arg(long, global = true, env = "TANDEM_POLICY_CLARIFY_MARGIN", default_value_t = policy_defaults::CLARIFY_MARGIN)]
    pub policy_clarify_margin: f32,

    /// Decision policy: messages not understood in a row before a person takes over.
    #[arg(long, global = true, env = "TANDEM_POLICY_MAX_MISSES", default_value_t = policy_defaults::MAX_MISSES, value_parser = clap::value_parser!(u32).range(1..))]
    pub policy_max_misses: u32,

    /// Decision policy: answers marked not helpful before a person takes over.
    #[arg(long, global = true, env = "TANDEM_POLICY_MAX_UNHELPFUL", default_value_t = policy_defaults::MAX_UNHELPFUL, value_parser = clap::value_parser!(u32).range(1..))]
    pub policy_max_unhelpful: u32,

    /// Decision policy: cosine similarity (0–1) from which a message repeating the previous one
    /// hands off. Measured: repeats 0.905–0.997, paraphrases 0.61–0.79.
    #[arg(long, global = true, env = "TANDEM_POLICY_REPEAT_SIMILARITY", default_value_t = policy_defaults::REPEAT_SIMILARITY)]
    pub policy_repeat_similarity: f32,

    /// Reload the knowledge base when its files change (debounced). Off: reload with SIGHUP or
    /// `POST /api/knowledge/reload` only.
    #[arg(long, global = true, env = "TANDEM_WATCH_KNOWLEDGE", default_value_t = true, action = clap::ArgAction::Set)]
    pub watch_knowledge: bool,

    /// Fine-tune the encoder on the knowledge base in the background (see the README).
    #[arg(long, global = true, env = "TANDEM_FINE_TUNE", default_value_t = true, action = clap::ArgAction::Set)]
    pub fine_tune: bool,

    /// Web sites whose pages may open customer chats (the widget), comma-separated origins such
    /// as `https://shop.example`. Empty: any site may (the log warns); the server's own pages
    /// always may.
    #[arg(
        long,
        global = true,
        env = "TANDEM_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub allowed_origins: Vec<String>,

    /// Addresses of the load balancers or reverse proxies in front of this node, comma
    /// separated. A connection from one of them is not held to the per-address connection
    /// limit (it carries many clients), and its requests' client address for rate limits is
    /// taken from `X-Forwarded-For` (the nearest entry that is not a listed proxy). Empty: no
    /// header is believed.
    #[arg(
        long,
        global = true,
        env = "TANDEM_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Log format: pretty for terminals, json for log shippers. Levels come from `TANDEM_LOG`
    /// (or `RUST_LOG`), e.g. `info,tandem=debug`.
    #[arg(
        long,
        global = true,
        env = "TANDEM_LOG_FORMAT",
        value_enum,
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
}

impl Settings {
    /// Where trained intent models are cached: `cache_dir`, or `DATA_DIR/cache` by default.
    pub fn model_cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("cache"))
    }

    /// `host:port`, for binding.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Defaults of the decision policy's settings. `bot::policy::PolicyConfig` starts from the same
/// values and says why each is what it is; they are here so that the settings need not know the
/// bot.
pub mod policy_defaults {
    /// `policy_min_answer_score`.
    pub const MIN_ANSWER_SCORE: f32 = 0.5;
    /// `policy_clarify_margin`.
    pub const CLARIFY_MARGIN: f32 = 0.03;
    /// `policy_max_misses`.
    pub const MAX_MISSES: u32 = 2;
    /// `policy_max_unhelpful`.
    pub const MAX_UNHELPFUL: u32 = 2;
    /// `policy_repeat_similarity`.
    pub const REPEAT_SIMILARITY: f32 = 0.85;
}

#[cfg(test)]
mod tests;
