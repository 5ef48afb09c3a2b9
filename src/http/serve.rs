//! The accept loop: axum's router on hyper's HTTP/1 server, with the limits `axum::serve`
//! leaves out, so that idle or slow connections cannot pile up until the server runs out of
//! file descriptors (2 × 10,100 silent connections did exactly that, stalling `/health` and
//! every chat for ~40 s):
//!
//! - a connection must send its request headers within [`HEADER_READ_TIMEOUT`], and an idle
//!   keep-alive connection is closed after the same time (hyper starts the header timer as soon
//!   as it waits for the next request);
//! - at most [`MAX_PER_ADDRESS`] connections from one client address are served at once (not
//!   counting upgraded websockets, which have their own limit); loopback and the configured
//!   `trusted_proxies` are exempt, since a reverse proxy or load balancer carries every client;
//! - accept errors (out of descriptors) back off instead of spinning.
//!
//! Each request carries the peer address as axum's `ConnectInfo` (for rate limits).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Time a client has to send a request's headers, and an idle keep-alive connection's life.
/// Browsers reopen a closed keep-alive connection without a sound; 10 s is plenty for headers
/// over a slow mobile link.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once from one (non-loopback) address: a large office behind one NAT
/// opens a few per browser, far below this.
pub const MAX_PER_ADDRESS: usize = 256;
/// Longest pause after failed accepts (it doubles from 5 ms).
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Open connections per client address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One counted connection; uncounted when dropped.
struct Counted {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// Counts a new connection from `ip`, or `None` when it has `MAX_PER_ADDRESS` already.
    fn admit(table: &Arc<PerAddress>, ip: IpAddr, max: usize) -> Option<Counted> {
        // A poisoned lock only means another connection panicked mid-update; the counts are
        // still usable.
        let mut open = table.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Counted {
            table: Arc::clone(table),
            ip,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `signal` completes, then lets in-flight requests finish.
/// Connections from `trusted` (the load balancers in front of this node) are not counted per
/// address, like loopback: each carries many clients.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    trusted: Arc<[IpAddr]>,
    signal: impl Future<Output = ()> + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop_tx.send(true);
    });
    // Every connection task holds a clone; all dropped means all finished.
    let (done_tx, done_rx) = watch::channel(());
    let table = Arc::new(PerAddress::default());
    let mut backoff = Duration::from_millis(5);
    let mut stopping = stop_rx.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::from_millis(5);
                accepted
            }
            Err(e) => {
                tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        let counted = if peer.ip().is_loopback() || trusted.contains(&peer.ip()) {
            None
        } else {
            match PerAddress::admit(&table, peer.ip(), MAX_PER_ADDRESS) {
                Some(counted) => Some(counted),
                None => {
                    tracing::warn!(address = %peer.ip(), "too many connections from one address");
                    drop(stream);
                    continue;
                }
            }
        };
        let router = router.clone();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let _counted = counted;
            let _done = done;
            connection(stream, peer, router, &mut stop).await;
        });
    }
    drop(done_rx);
    drop(listener);
    done_tx.closed().await;
}

/// Serves one connection, shutting it down gracefully (the request in flight finishes) when
/// `stop` turns true.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    stop: &mut watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move {
            let response: Result<_, Infallible> =
                tower_service::Service::call(&mut router, request).await;
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let mut conn = pin!(
        builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
    );
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_of_connections_and_each_closed_one_frees_a_place() {
        let table = Arc::new(PerAddress::default());
        let ip: IpAddr = "203.0.113.7".parse().expect("ip");
        let other: IpAddr = "203.0.113.8".parse().expect("ip");
        let held: Vec<Counted> = (0..3)
            .map(|_| PerAddress::admit(&table, ip, 3).expect("admitted"))
            .collect();
        assert!(
            PerAddress::admit(&table, ip, 3).is_none(),
            "the fourth is refused"
        );
        assert!(
            PerAddress::admit(&table, other, 3).is_some(),
            "another address is not"
        );
        drop(held);
        assert!(
            PerAddress::admit(&table, ip, 3).is_some(),
            "places are freed"
        );
        assert!(
            table.0.lock().expect("lock").len() <= 2,
            "addresses with no connection are forgotten"
        );
    }
}
