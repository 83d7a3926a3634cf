//! The crate's error type.

use std::net::SocketAddr;

/// An error from the metrics registry or its HTTP server.
///
/// A message says what failed; the underlying error is the
/// [`source`](std::error::Error::source), never repeated in the message, so
/// a report that walks the chain (anyhow's `{:#}`, eyre) says each cause
/// once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A metric or collector could not be created or registered (bad name,
    /// or a series with the same name and labels is already registered).
    #[error("cannot register metric")]
    Register(#[source] prometheus::Error),
    /// The registry could not be encoded in the Prometheus text format.
    #[error("cannot render metrics")]
    Render(#[source] prometheus::Error),
    /// The HTTP server could not listen on the requested address.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// A bus could not be built.
    #[error("cannot build bus")]
    Bus(#[from] ron_bus::BusError),
    /// The HTTP server's task panicked or was cancelled before it shut down.
    #[error("metrics server task ended abnormally")]
    ServerTask(#[source] tokio::task::JoinError),
}
