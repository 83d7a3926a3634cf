//! The accept loop: one task per connection, bounded in number, all of them
//! drained or aborted on shutdown.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::service::MetricsService;
use super::write_deadline::WriteDeadline;

/// Pause after an accept error that is not about one connection (running out
/// of file descriptors, say), so the loop does not spin while it lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What accepted connections speak before HTTP.
#[derive(Clone)]
pub(super) enum Transport {
    /// Plain HTTP/1.1.
    Plain,
    /// TLS first (the handshake must finish within the header-read timeout).
    #[cfg(feature = "tls")]
    Tls(tokio_rustls::TlsAcceptor),
}

pub(super) async fn run(
    listener: TcpListener,
    service: MetricsService,
    transport: Transport,
    cancel: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(service.options().max_connections));
    let graceful = GracefulShutdown::new();
    // Owns every connection task, so shutdown can abort the stragglers and
    // nothing outlives the server.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            Some(finished) = connections.join_next() => {
                if let Err(e) = finished {
                    tracing::error!(error = %e, "metrics connection task failed");
                }
            }
            accepted = accept_within_limit(&listener, &slots) => match accepted {
                Ok((stream, permit)) => {
                    let connection = serve_accepted(stream, transport.clone(), service.clone(), graceful.watcher());
                    connections.spawn(async move {
                        connection.await;
                        drop(permit);
                    });
                }
                Err(e) if is_per_connection(&e) => tracing::debug!(error = %e, "accept failed"),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    let open = connections.len();
    tokio::select! {
        () = graceful.shutdown() => tracing::info!(open, "metrics server stopped gracefully"),
        () = tokio::time::sleep(service.options().shutdown_timeout) => {
            tracing::warn!(left = connections.len(), "metrics server shutdown timed out; closing connections");
        }
    }
    connections.shutdown().await;
}

/// Waits for a free connection slot, then for a connection. Cancel-safe: a
/// slot taken before cancellation is simply released.
async fn accept_within_limit(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let permit = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(|_closed| io::Error::other("connection limiter closed"))?;
    let (stream, _peer) = listener.accept().await?;
    Ok((stream, permit))
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Runs the transport's handshake (if any) inside the connection's task,
/// so a slow or hostile handshake never holds up the accept loop.
async fn serve_accepted(
    stream: TcpStream,
    transport: Transport,
    service: MetricsService,
    watcher: Watcher,
) {
    match transport {
        Transport::Plain => serve_connection(stream, service, watcher).await,
        #[cfg(feature = "tls")]
        Transport::Tls(acceptor) => {
            let limit = service.options().header_read_timeout;
            let handshake = async {
                if speaks_plain_http(&stream).await {
                    refuse_plain_http(stream).await;
                    return None;
                }
                acceptor
                    .accept(stream)
                    .await
                    .map_err(|e| tracing::debug!(error = %e, "TLS handshake failed"))
                    .ok()
            };
            match tokio::time::timeout(limit, handshake).await {
                Ok(Some(tls)) => serve_connection(tls, service, watcher).await,
                // Plain HTTP (answered with a 400), a bad handshake or a
                // stall: the connection is dropped.
                Ok(None) => {}
                Err(_elapsed) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

/// Whether the client's first byte is a letter: an HTTP method, where a TLS
/// client would send a handshake record (0x16).
#[cfg(feature = "tls")]
async fn speaks_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0].is_ascii_uppercase())
}

/// Tells a plain-HTTP client, in plain HTTP, that this port speaks TLS.
#[cfg(feature = "tls")]
async fn refuse_plain_http(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    const BODY: &str = "this port speaks HTTPS\n";
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

pub(super) fn serve_connection<I>(
    io: I,
    service: MetricsService,
    watcher: Watcher,
) -> impl Future<Output = ()> + Send + 'static
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let options = service.options();
    let io = WriteDeadline::new(
        io,
        options.write_timeout,
        service.metrics().write_timeouts(),
    );
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(options.max_header_bytes);
    let connection = watcher.watch(builder.serve_connection(TokioIo::new(io), service));
    async move {
        // Timeouts, resets and parse errors end one connection, not the server.
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "metrics connection closed with an error");
        }
    }
}
