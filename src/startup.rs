//! Assembling and running the server: [`Application::build`] loads the knowledge base, builds the
//! bot and binds the listener; [`Application::run_until_stopped`] serves until Ctrl-C or SIGTERM,
//! letting in-flight requests finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::bot::Bot;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::knowledge;

/// A server that is bound and ready to run.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: axum::Router,
}

impl Application {
    /// Loads the knowledge base named in `settings`, builds the bot and binds the listener.
    ///
    /// Fails, listing every problem, when the knowledge base is invalid: a server must not start
    /// answering customers from a half-broken FAQ.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!("cannot create data folder {}", settings.data_dir.display())
        })?;
        let dir = settings.knowledge_dir.clone();
        let started = Instant::now();
        // Parsing, rendering and indexing are CPU work: keep them off the async threads.
        let bot = tokio::task::spawn_blocking(move || -> anyhow::Result<Bot> {
            let knowledge = knowledge::load(&dir)
                .with_context(|| format!("knowledge base {}", dir.display()))?;
            Ok(Bot::new(knowledge)?)
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

        let listener = TcpListener::bind(settings.address())
            .await
            .with_context(|| format!("cannot listen on {}", settings.address()))?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            bot: Arc::new(bot),
            settings: Arc::new(settings),
        };
        Ok(Self {
            port,
            listener,
            router: http::router(state),
        })
    }

    /// The port the server listens on (useful when the settings asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
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
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .await?;
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
