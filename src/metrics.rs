//! Prometheus metrics (served at `GET /metrics` by the web layer): requests and websocket connections, active
//! conversations and queue lengths, model latency, the bot's decisions, knowledge reloads.
//! Every name starts with `tandem_`.
//!
//! One [`Registry`] per server (not the process-wide default), so that servers started side by
//! side (the tests do) count separately. Gauges that mirror the store (queue lengths) are read
//! when scraped rather than kept in step with every change.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::storage::Store;

/// Latency buckets for the model, in seconds: the encoder takes a few milliseconds per message
/// on a CPU, and a busy worker queue adds tens.
const MODEL_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Why the metrics could not be set up (a name registered twice: a programming error) or
/// encoded.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by method, route and status.
    pub requests: IntCounterVec,
    /// Websocket connections accepted, by socket (`chat`, `agent`).
    pub ws_connections: IntCounterVec,
    /// Websocket connections open now, by socket.
    pub ws_open: IntGaugeVec,
    /// Seconds to embed and classify a customer message.
    pub model_latency: HistogramVec,
    /// The bot's decisions by kind (`answer`, `clarify`, `fallback`, `handoff`, `reply`).
    pub decisions: IntCounterVec,
    /// Knowledge reloads applied.
    pub reloads: IntCounter,
    /// Knowledge reloads rejected.
    pub reload_failures: IntCounter,
    /// Chat sessions attached to a conversation (after `hello`).
    pub active_conversations: IntGauge,
    /// Conversations waiting, by queue (set when scraped).
    queue_length: IntGaugeVec,
    /// Conversations held by agents (set when scraped).
    with_agents: IntGauge,
}

impl Metrics {
    /// Registers every metric in a new registry.
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new_custom(Some("tandem".to_owned()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status.",
            ),
            &["method", "route", "status"],
        )?;
        let ws_connections = IntCounterVec::new(
            Opts::new(
                "websocket_connections_total",
                "Websocket connections accepted.",
            ),
            &["socket"],
        )?;
        let ws_open = IntGaugeVec::new(
            Opts::new(
                "websocket_connections_open",
                "Websocket connections open now.",
            ),
            &["socket"],
        )?;
        let model_latency = HistogramVec::new(
            HistogramOpts::new(
                "model_latency_seconds",
                "Time to embed and classify a customer message (queueing included).",
            )
            .buckets(MODEL_BUCKETS.to_vec()),
            &["stage"],
        )?;
        let decisions = IntCounterVec::new(
            Opts::new("decisions_total", "The bot's decisions by kind."),
            &["decision"],
        )?;
        let reloads = IntCounter::new("knowledge_reloads_total", "Knowledge reloads applied.")?;
        let reload_failures = IntCounter::new(
            "knowledge_reload_failures_total",
            "Knowledge reloads rejected (the previous version kept serving).",
        )?;
        let queue_length = IntGaugeVec::new(
            Opts::new(
                "queue_length",
                "Conversations waiting for an agent, by queue.",
            ),
            &["queue"],
        )?;
        let active_conversations = IntGauge::new(
            "active_conversations",
            "Conversations with a customer connected now.",
        )?;
        let with_agents = IntGauge::new(
            "conversations_with_agents",
            "Conversations an agent holds now.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(ws_connections.clone()))?;
        registry.register(Box::new(ws_open.clone()))?;
        registry.register(Box::new(model_latency.clone()))?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(reload_failures.clone()))?;
        registry.register(Box::new(queue_length.clone()))?;
        registry.register(Box::new(with_agents.clone()))?;
        registry.register(Box::new(active_conversations.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            ws_connections,
            ws_open,
            model_latency,
            decisions,
            reloads,
            reload_failures,
            active_conversations,
            queue_length,
            with_agents,
        })
    }

    /// Counts a websocket connection of `socket` until the returned guard drops.
    pub fn socket_opened(&self, socket: &'static str) -> Counted {
        self.ws_connections.with_label_values(&[socket]).inc();
        Counted::new(self.ws_open.with_label_values(&[socket]))
    }

    /// Counts an active conversation until the returned guard drops.
    pub fn conversation_active(&self) -> Counted {
        Counted::new(self.active_conversations.clone())
    }

    /// Records how long a model stage took.
    pub fn observe_model(&self, stage: &str, took: Duration) {
        self.model_latency
            .with_label_values(&[stage])
            .observe(took.as_secs_f64());
    }
}

/// Something counted in a gauge while it lives (an open socket, an active conversation).
#[derive(Debug)]
pub struct Counted(IntGauge);

impl Counted {
    fn new(gauge: IntGauge) -> Counted {
        gauge.inc();
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// The metrics in the Prometheus text format, after reading the gauges that mirror the
    /// store (queue lengths for every declared queue, conversations with agents).
    pub async fn render(&self, store: &Store, queues: &[String]) -> Result<Vec<u8>, MetricsError> {
        self.refresh_from_store(store, queues).await;
        let mut body = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut body)
            .map_err(MetricsError)?;
        Ok(body)
    }

    async fn refresh_from_store(&self, store: &Store, queues: &[String]) {
        match store.waiting().await {
            Ok(waiting) => {
                self.queue_length.reset();
                // Every declared queue shows, empty ones at 0, so a dashboard sees them all.
                for queue in queues {
                    self.queue_length.with_label_values(&[queue]).set(0);
                }
                for w in &waiting {
                    self.queue_length.with_label_values(&[&w.queue]).inc();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read queue lengths for /metrics"),
        }
        match store.clocked(None).await {
            Ok(clocked) => self.with_agents.set(
                i64::try_from(clocked.iter().filter(|c| !c.waiting).count()).unwrap_or(i64::MAX),
            ),
            Err(e) => tracing::warn!(error = %e, "cannot count conversations with agents"),
        }
    }
}
