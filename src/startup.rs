//! Assembling and running the server: [`Application::build`] loads the knowledge base, builds the
//! bot and binds the listener; [`Application::run_until_stopped`] serves until Ctrl-C or SIGTERM,
//! letting in-flight requests finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;

use arc_swap::ArcSwap;

use crate::app::App;
use crate::bot::Bot;
use crate::clock::Clock;
use crate::config::Settings;
use crate::http;
use crate::knowledge;
use crate::model::{BatchConfig, Embedder, Encoder};
use crate::reload::{Reloader, watch};
use crate::storage::Store;

/// What a server may be given instead of making it itself: an encoder already loaded (a test
/// process starts many servers on one model) and a clock (tests move time forward).
#[derive(Clone, Default)]
pub struct Provided {
    /// The sentence encoder; loaded from `model_dir` when `None`.
    pub encoder: Option<Arc<Encoder>>,
    /// The clock every timestamp comes from.
    pub clock: Clock,
}

/// A server that is bound and ready to run.
pub struct Application {
    port: u16,
    clock: Clock,
    listener: TcpListener,
    router: axum::Router,
    /// The load balancers in front of this node (`trusted_proxies`).
    trusted: Arc<[std::net::IpAddr]>,
    /// Tells chat sessions the server is shutting down.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Chat connection slots: all free again once every session has closed.
    chat_slots: Arc<tokio::sync::Semaphore>,
    max_chat_connections: usize,
}

/// How long shutdown waits for chat sessions to send their close frames.
const CHAT_DRAIN: std::time::Duration = std::time::Duration::from_secs(3);

impl Application {
    /// Loads the knowledge base named in `settings`, builds the bot and binds the listener.
    ///
    /// Fails, listing every problem, when the knowledge base is invalid: a server must not start
    /// answering customers from a half-broken FAQ.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Provided::default()).await
    }

    /// [`Application::build`] with the parts in `provided`.
    pub async fn build_with(settings: Settings, provided: Provided) -> anyhow::Result<Self> {
        let Provided { encoder, clock } = provided;
        crate::storage::private_dir(&settings.data_dir).with_context(|| {
            format!("cannot create data folder {}", settings.data_dir.display())
        })?;
        let started = Instant::now();
        // Parsing, rendering, indexing and loading the model are CPU work: keep them off the
        // async threads.
        let loading = settings.clone();
        let (bot, encoder) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let dir = &loading.knowledge_dir;
            let knowledge = knowledge::load(dir)
                .with_context(|| format!("knowledge base {}", dir.display()))?;
            let bot = Bot::new(knowledge)?;
            let encoder = match encoder {
                Some(encoder) => encoder,
                None => Arc::new(loading.load_encoder()?),
            };
            Ok((bot, encoder))
        })
        .await
        .context("knowledge loader panicked")??;
        tracing::info!(
            faq_entries = bot.knowledge().faqs.len(),
            intents = bot.knowledge().intents.len(),
            dir = %settings.knowledge_dir.display(),
            ms = started.elapsed().as_millis() as u64,
            "knowledge base loaded"
        );
        let store = Store::connect(&settings.database_url, &settings.data_dir)
            .await
            .context("cannot open the conversation store")?
            .with_clock(clock.clone());
        // The admin's one-time password goes to the log once; it is never stored in clear
        // and never printed again (the next start finds an agent and creates nothing).
        let queues = bot.knowledge().queue_names();
        if let Some(password) = crate::auth::ensure_first_admin(&store, queues).await? {
            tracing::warn!(
                email = crate::auth::FIRST_ADMIN_EMAIL,
                password = %password,
                "first start: created the admin account; sign in at /console/ and add agents with \
                 `tandem agents add` (this password is shown once; a new one: `tandem agents \
                 reset-password admin@localhost`)"
            );
        }
        let embedder = Embedder::spawn(Arc::clone(&encoder), BatchConfig::default())?;
        let bot = Arc::new(ArcSwap::from_pointee(bot));
        let metrics = Arc::new(crate::metrics::Metrics::new()?);
        let reloader = Arc::new(Reloader::new(
            Arc::clone(&bot),
            encoder,
            settings.clone(),
            Arc::clone(&metrics),
        ));
        // Until the model is trained the bot answers with search alone and `/health` says
        // `training`.
        tokio::spawn({
            let reloader = Arc::clone(&reloader);
            async move { reloader.train_initial().await }
        });

        let listener = TcpListener::bind(settings.address())
            .await
            .with_context(|| format!("cannot listen on {}", settings.address()))?;
        let port = listener.local_addr()?.port();
        if settings.allowed_origins.is_empty() {
            tracing::warn!(
                "allowed_origins is empty: pages on any web site may open customer chats; list \
                 your sites' origins (TANDEM_ALLOWED_ORIGINS) to stop others embedding the widget"
            );
        }
        if settings.identity_secret.is_empty() {
            tracing::info!("no identity_secret set: every chat customer is anonymous");
        }
        let policy = Arc::new(crate::bot::policy::PolicyConfig::from_settings(&settings)?);
        let sealer = Arc::new(crate::storage::seal::Sealer::load_or_create(
            settings.data_key.expose(),
            &settings.data_dir,
        )?);
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let chat_slots = Arc::new(tokio::sync::Semaphore::new(settings.max_chat_connections));
        let max_chat_connections = settings.max_chat_connections;
        let app = App {
            bot,
            embedder,
            clock: clock.clone(),
            chat_slots: Arc::clone(&chat_slots),
            shutdown: shutdown_rx,
            topics: Arc::default(),
            throttles: Arc::default(),
            ask_slots: Arc::new(tokio::sync::Semaphore::new(crate::app::ASK_SHARE)),
            hub: Arc::default(),
            node: uuid::Uuid::new_v4().simple().to_string().into(),
            reloader,
            metrics,
            sealer,
            policy,
            settings: Arc::new(settings),
            store,
        };
        // Offers, SLA breaches and auto-assignment; it stops at shutdown.
        crate::handoff::watch::spawn(app.clone());
        // With PostgreSQL, the hub across nodes: news, presence, heartbeats.
        crate::handoff::relay::spawn(&app);
        if app.settings.watch_knowledge {
            watch::spawn_file_watcher(
                Arc::clone(&app.reloader),
                &app.settings.knowledge_dir,
                app.shutdown.clone(),
            )?;
        }
        watch::spawn_sighup(Arc::clone(&app.reloader), app.shutdown.clone());
        Ok(Self {
            port,
            clock,
            listener,
            trusted: app.settings.trusted_proxies.clone().into(),
            router: http::router(app),
            shutdown,
            chat_slots,
            max_chat_connections,
        })
    }

    /// The port the server listens on (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's clock (tests advance it).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(port = self.port, "listening");
        let shutdown = self.shutdown;
        let signal = async move {
            signal.await;
            // Websockets are upgraded out of the HTTP server's sight, so its graceful shutdown
            // does not wait for them: tell each session to close with 1001 instead.
            let _ = shutdown.send(true);
        };
        http::serve::serve(self.listener, self.router, self.trusted, signal).await;
        let drained = tokio::time::timeout(CHAT_DRAIN, async {
            let all = u32::try_from(self.max_chat_connections).unwrap_or(u32::MAX);
            // Every slot back means every session has ended and flushed its close frame.
            let _ = self.chat_slots.acquire_many(all).await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!("chat sessions still open after shutdown; closing them abruptly");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM (what process managers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
