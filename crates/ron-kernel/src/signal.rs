//! Waiting for the operator to stop the process.

/// Resolves when the process receives SIGINT (Ctrl-C) or, on unix, SIGTERM
/// (what `kill`, systemd and container runtimes send).
///
/// # Errors
///
/// An I/O error if the signal handlers cannot be installed.
pub async fn wait_for_ctrl_c() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
