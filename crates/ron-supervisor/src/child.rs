//! What a supervised child is: a named factory of futures and its policies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::report::{Reporter, SupervisorEvent};

/// The error type children may return: anything displayable.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;
type Factory = Arc<dyn Fn(ChildContext) -> BoxFuture + Send + Sync + 'static>;

/// When a child that stopped is started again (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    /// Always restarted, even after a clean exit.
    #[default]
    Permanent,
    /// Restarted only after a crash (an error or a panic).
    Transient,
    /// Never restarted.
    Temporary,
}

/// When a started child counts as healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthMode {
    /// As soon as it is started.
    #[default]
    OnStart,
    /// When it calls [`ChildContext::mark_healthy`].
    Reported,
}

/// A supervised child: a name, a factory that builds its future for each
/// (re)start, a restart policy and a shutdown timeout.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use ron_supervisor::{ChildSpec, Restart};
///
/// let ticker = ChildSpec::new("ticker", |ctx| async move {
///     ctx.cancelled().await; // run until told to stop
///     Ok::<(), std::io::Error>(())
/// })
/// .restart(Restart::Transient)
/// .shutdown_timeout(Duration::from_secs(2));
/// assert_eq!(ticker.name(), "ticker");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) name: Arc<str>,
    pub(crate) factory: Factory,
    pub(crate) restart: Restart,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) health: HealthMode,
}

impl ChildSpec {
    /// A permanent child with a 5 s shutdown timeout, healthy once started.
    /// `factory` is called for every start, inside the child's task and its
    /// `child{service, restarts}` span; its future is the child's run. An `Err` or a panic is a crash (a panic in
    /// `factory` itself too, with the same restart policy); `Ok(())` a
    /// clean exit.
    pub fn new<F, Fut, E>(name: &str, factory: F) -> Self
    where
        F: Fn(ChildContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let factory: Factory = Arc::new(move |ctx| {
            let run = factory(ctx);
            Box::pin(async move { run.await.map_err(Into::into) })
        });
        Self {
            name: Arc::from(name),
            factory,
            restart: Restart::default(),
            shutdown_timeout: Duration::from_secs(5),
            health: HealthMode::default(),
        }
    }

    /// Sets the restart policy.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How long the child gets to stop after cancellation before it is aborted.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// When the child counts as healthy.
    pub fn health(mut self, mode: HealthMode) -> Self {
        self.health = mode;
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

/// What a running child gets from its supervisor.
#[derive(Clone)]
pub struct ChildContext {
    pub(crate) name: Arc<str>,
    pub(crate) cancel: CancellationToken,
    pub(crate) reporter: Arc<dyn Reporter>,
}

impl ChildContext {
    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves when the supervisor asks this child to stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// The token behind [`cancelled`](Self::cancelled), e.g. to hand to a
    /// nested supervisor's `run` (or let
    /// [`SupervisorBuilder::into_child`](crate::SupervisorBuilder::into_child)
    /// do it, which also sizes the child's shutdown timeout).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Reports the child healthy (for [`HealthMode::Reported`] children; for
    /// others it repeats what the supervisor already said).
    pub fn mark_healthy(&self) {
        self.reporter.report(&SupervisorEvent::Healthy {
            service: Arc::clone(&self.name),
        });
    }
}

impl fmt::Debug for ChildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildContext")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
