//! The accept loop: one task per connection, bounded in number, all of them
//! drained or aborted on shutdown.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::routes::{self, Context};

/// Pause after an accept error that is not about one connection (running out
/// of file descriptors, say), so the loop does not spin while it lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

pub(super) async fn run(listener: TcpListener, ctx: Arc<Context>, cancel: CancellationToken) {
    let slots = Arc::new(Semaphore::new(ctx.options.max_connections));
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
                    let connection = serve_connection(stream, Arc::clone(&ctx), &graceful);
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
        () = tokio::time::sleep(ctx.options.shutdown_timeout) => {
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

fn serve_connection(
    stream: TcpStream,
    ctx: Arc<Context>,
    graceful: &GracefulShutdown,
) -> impl Future<Output = ()> + Send + 'static {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.options.header_read_timeout)
        .max_buf_size(ctx.options.max_header_bytes);
    let service = service_fn(move |request| {
        let ctx = Arc::clone(&ctx);
        async move { routes::handle(request, &ctx).await }
    });
    let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
    async move {
        // Timeouts, resets and parse errors end one connection, not the server.
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "metrics connection closed with an error");
        }
    }
}
