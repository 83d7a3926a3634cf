//! How a supervisor tells the world what happens: events to a [`Reporter`].

use std::sync::Arc;
use std::time::Duration;

/// Something that happened to a supervised child.
///
/// With the `serde` feature it (de)serializes internally tagged,
/// `{"event": "crashed", "service": "db", "reason": "...", "restart_in": {"secs": 1, "nanos": 0}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "event", rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum SupervisorEvent {
    /// The child was started (first start or restart).
    Started {
        /// The child's name.
        service: Arc<str>,
    },
    /// The child counts as healthy (on start, or when it said so).
    Healthy {
        /// The child's name.
        service: Arc<str>,
    },
    /// The child crashed: it returned an error or panicked.
    Crashed {
        /// The child's name.
        service: Arc<str>,
        /// The error's text followed by each of its sources'
        /// (`outer: inner: root`, as anyhow's `{:#}`; a source the text
        /// already ends with is not repeated), or the panic message.
        reason: Arc<str>,
        /// Delay before its restart, or `None` when it will not restart.
        restart_in: Option<Duration>,
    },
    /// The child exited cleanly.
    Exited {
        /// The child's name.
        service: Arc<str>,
        /// Delay before its restart, or `None` when it will not restart
        /// (its work is done).
        restart_in: Option<Duration>,
    },
    /// The child is about to be stopped to be restarted with a sibling
    /// (one-for-all, rest-for-one): reported before it is cancelled, so it
    /// counts as not ready for the whole stop, which may take its shutdown
    /// timeout plus the abort grace. [`StoppedForSibling`](Self::StoppedForSibling)
    /// follows once the stop is over.
    StoppingForSibling {
        /// The child's name.
        service: Arc<str>,
        /// The sibling whose crash causes it.
        sibling: Arc<str>,
    },
    /// The child was stopped to be restarted with a sibling (one-for-all,
    /// rest-for-one); reported once the stop is over, after
    /// [`StoppingForSibling`](Self::StoppingForSibling).
    StoppedForSibling {
        /// The child's name.
        service: Arc<str>,
        /// The sibling whose crash caused it.
        sibling: Arc<str>,
        /// Whether it stopped within its timeout, was aborted, or blocked
        /// its thread and was left [`Detached`](StopKind::Detached) (its
        /// restarted instance may then run beside the old one until that
        /// one next reaches an `.await`).
        how: StopKind,
    },
    /// Restart intensity was exceeded: the supervisor gives up on every
    /// child and stops.
    GaveUp {
        /// The child whose restart tripped the limit.
        service: Arc<str>,
        /// Restarts allowed...
        max_restarts: u32,
        /// ...within this window.
        within: Duration,
    },
    /// The child is stopped for good (shutdown or give-up).
    Stopped {
        /// The child's name.
        service: Arc<str>,
        /// Whether it stopped within its timeout or had to be aborted.
        how: StopKind,
        /// Why the supervisor stopped it.
        cause: StopCause,
    },
}

/// Why a supervisor stopped its children for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum StopCause {
    /// Shutdown was requested through the cancellation token.
    Shutdown,
    /// Restart intensity was exceeded: the child is failed.
    GaveUp,
}

/// How a child stopped (at shutdown, after give-up, or for a sibling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum StopKind {
    /// It finished within its shutdown timeout.
    Clean,
    /// It ignored cancellation past its timeout and was aborted.
    Aborted,
    /// It was aborted past its timeout but its task had still not ended
    /// after the abort grace ([`ABORT_GRACE`](crate::ABORT_GRACE) unless
    /// [set](crate::SupervisorBuilder::abort_grace)): it blocks its thread
    /// (a blocking call, a CPU loop, a slow `Drop` after the abort) and
    /// never reaches the `.await` where the abort would land. The
    /// supervisor stopped waiting and left the task detached; it ends at its
    /// next `.await`, if it ever reaches one, and holds whatever it holds
    /// until then.
    ///
    /// Only a supervisor whose task still runs can give up: this needs a
    /// multi-thread runtime with a worker the blocked child leaves free. On
    /// a `current_thread` runtime a blocking child stalls the supervisor
    /// (and everything else) until it returns, and no stop ends before.
    Detached,
    /// It was not running (exited earlier or waiting to restart).
    NotRunning,
}

/// Receives a supervisor's events. Called from the supervisor's task: keep
/// it quick and non-blocking (count, log, publish on a bus).
pub trait Reporter: Send + Sync + 'static {
    /// Called for every event, in order.
    fn report(&self, event: &SupervisorEvent);
}

/// Logs every event with `tracing` and does nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogReporter;

impl Reporter for LogReporter {
    fn report(&self, event: &SupervisorEvent) {
        match event {
            SupervisorEvent::Started { service } => tracing::info!(%service, "service started"),
            SupervisorEvent::Healthy { service } => tracing::info!(%service, "service healthy"),
            SupervisorEvent::Crashed {
                service,
                reason,
                restart_in: Some(delay),
            } => {
                tracing::warn!(%service, %reason, restart_in = ?delay, "service crashed; restarting after backoff");
            }
            SupervisorEvent::Crashed {
                service,
                reason,
                restart_in: None,
            } => {
                tracing::error!(%service, %reason, "service crashed; not restarting");
            }
            SupervisorEvent::Exited {
                service,
                restart_in,
            } => {
                tracing::info!(%service, ?restart_in, "service exited");
            }
            SupervisorEvent::StoppingForSibling { service, sibling } => {
                tracing::info!(%service, %sibling, "stopping service to restart it with its sibling");
            }
            SupervisorEvent::StoppedForSibling {
                service,
                sibling,
                how: StopKind::Detached,
            } => {
                tracing::error!(%service, %sibling, "service blocks its thread and was left running detached; restarting it with its sibling");
            }
            SupervisorEvent::StoppedForSibling {
                service,
                sibling,
                how,
            } => {
                tracing::info!(%service, %sibling, ?how, "service stopped to restart with its sibling");
            }
            SupervisorEvent::GaveUp {
                service,
                max_restarts,
                within,
            } => {
                tracing::error!(%service, max_restarts, ?within, "restart intensity exceeded; giving up");
            }
            SupervisorEvent::Stopped {
                service,
                how: StopKind::Detached,
                cause,
            } => {
                tracing::error!(%service, ?cause, "service blocks its thread: not stopped, left running detached");
            }
            SupervisorEvent::Stopped {
                service,
                how,
                cause,
            } => {
                tracing::info!(%service, ?how, ?cause, "service stopped");
            }
        }
    }
}

impl<F> Reporter for F
where
    F: Fn(&SupervisorEvent) + Send + Sync + 'static,
{
    fn report(&self, event: &SupervisorEvent) {
        self(event);
    }
}
