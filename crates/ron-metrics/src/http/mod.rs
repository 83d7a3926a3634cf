//! The HTTP endpoints: `/metrics`, `/healthz` and `/readyz` over hyper 1.x.
//!
//! # Routes
//!
//! | request | answer |
//! |---|---|
//! | `GET /metrics` | 200, Prometheus text format ([`TEXT_CONTENT_TYPE`](crate::TEXT_CONTENT_TYPE)) |
//! | `GET /healthz` | 200 `ok` while the process serves (liveness) |
//! | `GET /readyz` | 503 `booting; missing=a,b` with `Retry-After: 1` until every gate passes, then 200 `ready` |
//! | `GET /readyz?verbose` | same status, one `gate: state` line per gate |
//! | other path | 404 |
//! | other method on a route | 405 with `Allow: GET, HEAD` |
//!
//! `HEAD` is answered like `GET`, body included: [`MetricsService`] does not
//! tell them apart, and it is the HTTP server (hyper, in [`Metrics::serve`]
//! and under axum) that sends no body for a `HEAD`. A caller answering
//! through the service by other means drops that body itself.
//!
//! # In your own server
//!
//! [`Metrics::service`] gives the same answers as a [`MetricsService`], a
//! `tower` and `hyper` service with no socket: routing, status codes,
//! `request_latency_seconds` and the `kernel_ready` gauge are exactly those
//! of [`Metrics::serve`], which answers through it. With the `axum` feature,
//! `Metrics::router` wraps it in an `axum::Router` to `merge` into an app or
//! `nest` under a prefix (`/ops/metrics`). The defences below are then the
//! hosting server's: only the body limits travel with the service.
//!
//! # Defences
//!
//! A client gets [`ServeOptions::header_read_timeout`] to send its request head
//! (and, on a kept-alive connection, the next one), or it is dropped. Heads
//! larger than [`ServeOptions::max_header_bytes`] get 431. Bodies are read only
//! up to [`ServeOptions::max_body_bytes`] (413 beyond) and within
//! [`ServeOptions::body_read_timeout`] (408 beyond). A client that stops
//! reading its answers is dropped once a response has waited
//! [`ServeOptions::write_timeout`] without progress. At most
//! [`ServeOptions::max_connections`] connections are served at once; more wait
//! in the listen backlog. Every request records `request_latency_seconds`.

#[cfg(feature = "axum")]
mod router;
mod routes;
mod server;
mod service;
mod write_deadline;

pub use service::{MetricsService, ResponseFuture};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ron_health::HealthState;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Metrics, MetricsError};

/// The smallest read buffer hyper accepts; smaller values are raised to it.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// The shortest write timeout: smaller values are raised to it. Zero would
/// close a connection at its first backpressure, that is cut off every
/// response larger than the socket buffers even for a client reading at
/// full speed.
const MIN_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Limits and timeouts of the HTTP server; the defaults suit a scrape endpoint.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use ron_metrics::ServeOptions;
///
/// let options = ServeOptions::default()
///     .header_read_timeout(Duration::from_secs(2))
///     .max_connections(64);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct ServeOptions {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    max_header_bytes: usize,
    max_body_bytes: usize,
    max_connections: usize,
    write_timeout: Duration,
    shutdown_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
            max_body_bytes: 4 * 1024,
            max_connections: 1024,
            write_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeOptions {
    /// Time a client has to send a complete request head, also the idle limit
    /// of a kept-alive connection (default 5 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Time a client has to send a request body (default 5 s).
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Largest request head in bytes (default 16 KiB, at least 8 KiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// Largest request body read and discarded in bytes (default 4 KiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Most connections served at once (default 1024, at least 1).
    ///
    /// A stuck client holds its slot for a bounded time:
    /// [`header_read_timeout`](Self::header_read_timeout) if it sends no
    /// request, [`body_read_timeout`](Self::body_read_timeout) if it sends a
    /// body too slowly, [`write_timeout`](Self::write_timeout) if it reads
    /// no answer. With every slot taken by such clients, a new connection (a
    /// `/healthz` probe) is served once they time out, unless more of them
    /// still wait in the listen backlog ahead of it than there are slots.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a response may wait to be written without any progress
    /// before its connection is closed (default 10 s): a client that
    /// pipelines requests and never reads the answers frees its slot after
    /// this long. Counted in `http_write_timeouts_total`, once per
    /// connection.
    ///
    /// At least 1 s: smaller values, zero included, are raised to it. The
    /// defence cannot be turned off, since a zero timeout would close a
    /// connection at its first backpressure (any response larger than the
    /// socket buffers, even to a client reading at full speed).
    ///
    /// This bounds stalls, not whole responses: a slow reader that keeps
    /// draining gets a body of any size. Progress is the socket accepting
    /// more bytes, which Linux reports only once about a third of the
    /// connection's send buffer has drained, so a reader must take in that
    /// much per timeout (a few tens of KiB on an Ethernet path, where a
    /// 10 KB/s reader is never cut off by the default).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.max(MIN_WRITE_TIMEOUT);
        self
    }

    /// How long [`ServerHandle::shutdown`] lets open requests finish before
    /// closing their connections (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }
}

/// A running server, returned by [`Metrics::serve`].
///
/// Dropping the handle leaves the server running until the runtime stops;
/// call [`shutdown`](Self::shutdown) to stop it.
#[derive(Debug)]
#[must_use = "dropping the handle detaches the server; keep it to shut the server down"]
pub struct ServerHandle {
    local_addr: SocketAddr,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server gracefully: the listening socket closes at once, idle
    /// connections close, requests in flight are answered (within the
    /// [shutdown timeout](ServeOptions::shutdown_timeout), after which their
    /// connections are closed too). Returns once every connection is gone.
    ///
    /// # Errors
    ///
    /// [`MetricsError::ServerTask`] if the server task panicked.
    pub async fn shutdown(self) -> Result<(), MetricsError> {
        self.cancel.cancel();
        self.task.await.map_err(MetricsError::ServerTask)
    }
}

impl Metrics {
    /// Serves `/metrics`, `/healthz` and `/readyz` on `addr` with default
    /// [`ServeOptions`]; returns the handle and the bound address.
    ///
    /// Must be called within a tokio runtime; the server runs on it.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bind`] if `addr` cannot be listened on.
    ///
    /// # Example
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ron_health::HealthState;
    /// use ron_metrics::Metrics;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ron_metrics::MetricsError> {
    /// let metrics = Metrics::new(false)?;
    /// let health = Arc::new(HealthState::new());
    /// let (server, addr) = metrics.serve("127.0.0.1:0".parse().unwrap(), health).await?;
    /// assert_ne!(addr.port(), 0);
    /// server.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve(
        &self,
        addr: SocketAddr,
        health: Arc<HealthState>,
    ) -> Result<(ServerHandle, SocketAddr), MetricsError> {
        self.serve_with(addr, health, ServeOptions::default()).await
    }

    /// [`serve`](Self::serve) with explicit limits and timeouts.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bind`] if `addr` cannot be listened on.
    pub async fn serve_with(
        &self,
        addr: SocketAddr,
        health: Arc<HealthState>,
        options: ServeOptions,
    ) -> Result<(ServerHandle, SocketAddr), MetricsError> {
        self.start(addr, health, options, server::Transport::Plain)
            .await
    }

    /// [`serve`](Self::serve) over TLS: the same routes, limits and graceful
    /// shutdown. A plain-HTTP request gets a plain `400` saying the port
    /// speaks HTTPS; a client that does not complete a TLS handshake within
    /// the header-read timeout (garbage, a stall) is disconnected.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bind`] if `addr` cannot be listened on.
    #[cfg(feature = "tls")]
    pub async fn serve_tls(
        &self,
        addr: SocketAddr,
        health: Arc<HealthState>,
        config: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> Result<(ServerHandle, SocketAddr), MetricsError> {
        self.serve_tls_with(addr, health, config, ServeOptions::default())
            .await
    }

    /// [`serve_tls`](Self::serve_tls) with explicit limits and timeouts.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bind`] if `addr` cannot be listened on.
    #[cfg(feature = "tls")]
    pub async fn serve_tls_with(
        &self,
        addr: SocketAddr,
        health: Arc<HealthState>,
        config: impl Into<Arc<tokio_rustls::rustls::ServerConfig>>,
        options: ServeOptions,
    ) -> Result<(ServerHandle, SocketAddr), MetricsError> {
        let transport = server::Transport::Tls(tokio_rustls::TlsAcceptor::from(config.into()));
        self.start(addr, health, options, transport).await
    }

    /// Serves one connection that was accepted elsewhere (a Unix socket, a
    /// custom listener, an in-memory pipe) with the same routes and limits,
    /// until the client is done or a limit ends it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ron_metrics::{Metrics, ServeOptions};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let metrics = Metrics::new(false)?;
    /// let (mut client, server_side) = tokio::io::duplex(64 * 1024);
    /// let serving = tokio::spawn({
    ///     let metrics = metrics.clone();
    ///     async move { metrics.serve_connection(server_side, Arc::default(), ServeOptions::default()).await }
    /// });
    /// client.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await?;
    /// let mut response = String::new();
    /// client.read_to_string(&mut response).await?;
    /// assert!(response.starts_with("HTTP/1.1 200"));
    /// serving.await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_connection<I>(&self, io: I, health: Arc<HealthState>, options: ServeOptions)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        // No shutdown to coordinate: the watcher's owner lives as long as
        // the connection.
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let service = self.service_with(health, options);
        server::serve_connection(io, service, graceful.watcher()).await;
    }

    async fn start(
        &self,
        addr: SocketAddr,
        health: Arc<HealthState>,
        options: ServeOptions,
        transport: server::Transport,
    ) -> Result<(ServerHandle, SocketAddr), MetricsError> {
        let bind_error = |source| MetricsError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let cancel = CancellationToken::new();
        let service = self.service_with(health, options);
        let task = tokio::spawn(server::run(listener, service, transport, cancel.clone()));
        tracing::info!(%local_addr, "metrics server listening");
        Ok((
            ServerHandle {
                local_addr,
                cancel,
                task,
            },
            local_addr,
        ))
    }
}
