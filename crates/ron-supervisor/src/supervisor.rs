//! [`Supervisor`]: starts children, watches them, restarts them by policy and
//! strategy, gives up past the restart intensity, shuts them down gracefully.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::hash::{BuildHasher as _, Hasher as _};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use rand::rngs::{SmallRng, SysRng};
use rand::{RngExt as _, SeedableRng as _};
use tokio::task::{JoinError, JoinHandle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::backoff::Backoff;
use crate::child::{BoxError, ChildContext, ChildSpec, HealthMode, Restart};
use crate::reason::{error_chain, panic_reason};
use crate::report::{LogReporter, Reporter, StopCause, StopKind, SupervisorEvent};

/// Which children restart when one crashes (OTP's strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the crashed child.
    #[default]
    OneForOne,
    /// Every child: the others are stopped, then all start again in order.
    OneForAll,
    /// The crashed child and every child started after it, in order.
    RestForOne,
}

/// Why [`Supervisor::run`] ended other than by a requested shutdown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// More than `max_restarts` restarts were needed within `within`; every
    /// child was stopped.
    #[error(
        "restart intensity exceeded by {service}: more than {max_restarts} restarts within {within:?}"
    )]
    IntensityExceeded {
        /// The child whose restart tripped the limit.
        service: Arc<str>,
        /// The limit.
        max_restarts: u32,
        /// Its window.
        within: Duration,
    },
}

/// The default of [`SupervisorBuilder::abort_grace`]: how long a stop waits,
/// after aborting a child past its shutdown timeout, for the child's task to
/// end before giving up on it.
///
/// `abort()` lands only at the child's next `.await`; a child blocking its
/// thread (a blocking call, a CPU loop) never gets there, and waiting for it
/// would hang the shutdown (or the restart of its siblings) forever. Past
/// this grace the child is reported [`StopKind::Detached`] and the stop goes
/// on: a child's stop takes at most its shutdown timeout plus this grace.
///
/// Giving up needs the supervisor's task and its timer to run while the
/// child holds its thread: run the supervisor on a **multi-thread runtime
/// with a worker the blocked children leave free**. On a `current_thread`
/// runtime (or with every worker blocked) a blocking child stalls the
/// supervisor, its timer and everything else until it returns.
pub const ABORT_GRACE: Duration = Duration::from_secs(1);

/// How each child stopped when the supervisor shut down.
///
/// Non-exhaustive: more outcomes may be added, so build one with
/// `ShutdownReport::default()` and read its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Children that stopped within their timeout.
    pub clean: Vec<Arc<str>>,
    /// Children that were aborted after their timeout.
    pub aborted: Vec<Arc<str>>,
    /// Children **not stopped**: aborted after their timeout, their task had
    /// still not ended after the abort grace ([`ABORT_GRACE`] unless
    /// [set](SupervisorBuilder::abort_grace)) because it blocks its thread
    /// ([`StopKind::Detached`]). They run on, detached, until their next
    /// `.await`.
    pub detached: Vec<Arc<str>>,
}

/// Builds a [`Supervisor`].
#[derive(Clone)]
#[must_use]
pub struct SupervisorBuilder {
    strategy: Strategy,
    max_restarts: u32,
    within: Duration,
    backoff: Backoff,
    reset_after: Duration,
    abort_grace: Duration,
    seed: Option<u64>,
    reporter: Arc<dyn Reporter>,
    children: Vec<ChildSpec>,
}

impl std::fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorBuilder")
            .field("strategy", &self.strategy)
            .field("max_restarts", &self.max_restarts)
            .field("within", &self.within)
            .field("abort_grace", &self.abort_grace)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}

impl SupervisorBuilder {
    /// The restart strategy (default one-for-one).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `within` (default 3 in 5 s, as
    /// OTP); one more and the supervisor gives up.
    pub fn intensity(mut self, max_restarts: u32, within: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.within = within;
        self
    }

    /// Restart delays (default 100 ms doubling to 30 s, jittered).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// A child that ran this long without crashing starts its backoff over
    /// (default 10 s).
    pub fn reset_after(mut self, healthy_run: Duration) -> Self {
        self.reset_after = healthy_run;
        self
    }

    /// How long a stop waits, after aborting a child past its shutdown
    /// timeout, for its task to end before reporting it
    /// [`StopKind::Detached`] and moving on (default [`ABORT_GRACE`], 1 s).
    /// Raise it when a child's cleanup after the abort (its `Drop`s) takes
    /// longer, or it is reported detached while it is still ending. See
    /// [`ABORT_GRACE`] for the runtime this needs.
    pub fn abort_grace(mut self, grace: Duration) -> Self {
        self.abort_grace = grace;
        self
    }

    /// Seeds the jitter, for reproducible delays (default: seeded from the
    /// operating system's entropy).
    ///
    /// Each restart's jitter fraction (see [`Backoff::delay`]) is the next
    /// `f64` in `[0, 1)` drawn from
    /// [`SmallRng::seed_from_u64(seed)`](rand::SeedableRng::seed_from_u64),
    /// so the same seed gives the same delays within one build (`SmallRng`'s
    /// sequence may differ between `rand` releases and platforms).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Where events go (default: `tracing` logs only).
    pub fn reporter(mut self, reporter: impl Reporter) -> Self {
        self.reporter = Arc::new(reporter);
        self
    }

    /// Adds a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// The longest a shutdown of the built supervisor can take: it stops
    /// its children one after the other, each within its shutdown timeout
    /// plus, past that, the [abort grace](Self::abort_grace) for the abort
    /// to land.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use ron_supervisor::{ABORT_GRACE, ChildSpec, Supervisor};
    ///
    /// let idle = |name| ChildSpec::new(name, |ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// let builder = Supervisor::builder()
    ///     .child(idle("a").shutdown_timeout(Duration::from_secs(4)))
    ///     .child(idle("b").shutdown_timeout(Duration::from_secs(2)));
    /// assert_eq!(builder.max_shutdown_time(), Duration::from_secs(6) + 2 * ABORT_GRACE);
    /// // With a configured abort grace:
    /// let patient = builder.abort_grace(Duration::from_secs(3));
    /// assert_eq!(patient.max_shutdown_time(), Duration::from_secs(6 + 2 * 3));
    /// ```
    pub fn max_shutdown_time(&self) -> Duration {
        self.children.iter().fold(Duration::ZERO, |total, child| {
            total
                .saturating_add(child.shutdown_timeout)
                .saturating_add(self.abort_grace)
        })
    }

    /// This supervisor as a child of another one (nesting): each start of
    /// the child builds a fresh supervisor from this builder and runs it
    /// until the parent cancels the child. Its intensity trip is the child's
    /// crash, which the parent handles by its own policy.
    ///
    /// The child's shutdown timeout is what this supervisor needs to stop
    /// its own children, [`max_shutdown_time`](Self::max_shutdown_time),
    /// plus one [abort grace](Self::abort_grace) for its own work: the parent waits for every
    /// grandchild to stop instead of aborting the nested supervisor, whose
    /// children would then be dropped without their graceful stop and
    /// could overlap their restarted instances. Nested supervisors nest this
    /// derivation. (A later [`ChildSpec::shutdown_timeout`] overrides it.)
    pub fn into_child(self, name: &str) -> ChildSpec {
        let shutdown_timeout = self.max_shutdown_time().saturating_add(self.abort_grace);
        ChildSpec::new(name, move |ctx| {
            let supervisor = self.clone().build();
            async move { supervisor.run(ctx.cancellation_token()).await.map(drop) }
        })
        .shutdown_timeout(shutdown_timeout)
    }

    /// The supervisor.
    pub fn build(self) -> Supervisor {
        Supervisor {
            strategy: self.strategy,
            max_restarts: self.max_restarts,
            within: self.within,
            backoff: self.backoff,
            reset_after: self.reset_after,
            abort_grace: self.abort_grace,
            rng: self
                .seed
                .map_or_else(entropy_seeded, SmallRng::seed_from_u64),
            reporter: self.reporter,
            slots: self.children.into_iter().map(Slot::new).collect(),
            restarts: VecDeque::new(),
        }
    }
}

/// Supervises a set of children until cancelled or until restart intensity
/// is exceeded.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use ron_supervisor::{Backoff, ChildSpec, Supervisor};
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let runs = Arc::new(AtomicU32::new(0));
/// let counter = Arc::clone(&runs);
/// let flaky = ChildSpec::new("flaky", move |ctx| {
///     let run = counter.fetch_add(1, Ordering::SeqCst);
///     async move {
///         if run < 2 {
///             return Err("boom");
///         }
///         ctx.cancelled().await;
///         Ok(())
///     }
/// });
/// let stop = CancellationToken::new();
/// let supervisor = Supervisor::builder().backoff(Backoff::default()).child(flaky).build();
/// let running = tokio::spawn(supervisor.run(stop.clone()));
/// tokio::time::sleep(Duration::from_secs(5)).await;
/// stop.cancel();
/// let report = running.await.unwrap().unwrap();
/// assert_eq!(runs.load(Ordering::SeqCst), 3); // two crashes, two restarts
/// assert_eq!(report.clean.len(), 1);
/// # }
/// ```
pub struct Supervisor {
    strategy: Strategy,
    max_restarts: u32,
    within: Duration,
    backoff: Backoff,
    reset_after: Duration,
    abort_grace: Duration,
    /// Draws the restarts' jitter fractions: fast and seedable; nothing
    /// here needs a cryptographic generator.
    rng: SmallRng,
    reporter: Arc<dyn Reporter>,
    /// In start order.
    slots: Vec<Slot>,
    /// When each restart inside the intensity window happened.
    restarts: VecDeque<Instant>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("strategy", &self.strategy)
            .field(
                "children",
                &self.slots.iter().map(|s| &s.spec.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// One child and its lifecycle.
struct Slot {
    spec: ChildSpec,
    running: Option<Running>,
    /// Consecutive crashes since the last healthy run: the backoff exponent.
    attempts: u32,
    /// When to start it (again).
    start_at: Option<Instant>,
    /// How many times it was started: the `restarts` of its next run's span.
    starts: u64,
}

struct Running {
    handle: JoinHandle<Result<(), BoxError>>,
    cancel: CancellationToken,
    started: Instant,
}

impl Slot {
    fn new(spec: ChildSpec) -> Self {
        Self {
            spec,
            running: None,
            attempts: 0,
            start_at: None,
            starts: 0,
        }
    }
}

/// How a child's run ended.
enum Exit {
    Clean,
    Crashed(String),
}

impl Supervisor {
    /// A builder with OTP's defaults.
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder {
            strategy: Strategy::default(),
            max_restarts: 3,
            within: Duration::from_secs(5),
            backoff: Backoff::default(),
            reset_after: Duration::from_secs(10),
            abort_grace: ABORT_GRACE,
            seed: None,
            reporter: Arc::new(LogReporter),
            children: Vec::new(),
        }
    }

    /// Starts every child in order and supervises them until `cancel` fires
    /// (then stops them in reverse order, each within its timeout, and
    /// returns how each stopped) or restart intensity is exceeded.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::IntensityExceeded`], after every child was stopped.
    pub async fn run(
        mut self,
        cancel: CancellationToken,
    ) -> Result<ShutdownReport, SupervisorError> {
        let now = Instant::now();
        for slot in &mut self.slots {
            slot.start_at = Some(now);
        }
        loop {
            self.start_due();
            let next_start = self.slots.iter().filter_map(|s| s.start_at).min();
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(self.stop_all(StopCause::Shutdown).await),
                (index, outcome) = next_exit(&mut self.slots) => {
                    if let Some(error) = self.on_exit(index, outcome).await {
                        return Err(error);
                    }
                }
                () = sleep_until(next_start) => {}
            }
        }
    }

    /// Starts, in order, every child whose start time has come.
    fn start_due(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            if slot.start_at.is_some_and(|at| at <= now) && slot.running.is_none() {
                slot.start_at = None;
                // Not a child of `cancel`: at shutdown children are told to
                // stop one at a time, in reverse start order, as OTP does.
                let child_cancel = CancellationToken::new();
                let ctx = ChildContext {
                    name: Arc::clone(&slot.spec.name),
                    cancel: child_cancel.clone(),
                    reporter: Arc::clone(&self.reporter),
                };
                // The factory is called inside the child's task, not here:
                // a panic in its synchronous part (an `unwrap` while wiring
                // the child) then ends that task like a panic in its run, a
                // crash of this child only, instead of unwinding through
                // `run` and taking every sibling down with the supervisor.
                //
                // The span covers the factory call and the whole run, so
                // every line logged in the child's task says which service
                // and which run it came from (tasks the child spawns carry
                // it only if they are instrumented with it). At ERROR level
                // so that any filter enabling the `ron_supervisor` target at
                // all keeps it; a filter naming only the child's own target
                // drops the span, not the lines.
                let span = tracing::error_span!(
                    target: "ron_supervisor",
                    "child",
                    service = %slot.spec.name,
                    restarts = slot.starts,
                );
                slot.starts = slot.starts.saturating_add(1);
                let factory = Arc::clone(&slot.spec.factory);
                let handle = tokio::spawn(async move { factory(ctx).await }.instrument(span));
                slot.running = Some(Running {
                    handle,
                    cancel: child_cancel,
                    started: now,
                });
                let service = Arc::clone(&slot.spec.name);
                self.reporter.report(&SupervisorEvent::Started {
                    service: Arc::clone(&service),
                });
                if slot.spec.health == HealthMode::OnStart {
                    self.reporter.report(&SupervisorEvent::Healthy { service });
                }
            }
        }
    }

    /// Handles the end of child `index`'s run; `Some` when the supervisor
    /// must give up.
    async fn on_exit(
        &mut self,
        index: usize,
        outcome: Result<Result<(), BoxError>, JoinError>,
    ) -> Option<SupervisorError> {
        let now = Instant::now();
        let slot = &mut self.slots[index];
        let run = slot.running.take()?;
        if now.duration_since(run.started) >= self.reset_after {
            slot.attempts = 0;
        }
        let exit = match outcome {
            Ok(Ok(())) => Exit::Clean,
            Ok(Err(error)) => Exit::Crashed(error_chain(&*error)),
            Err(join) => Exit::Crashed(panic_reason(join)),
        };
        let restart = match (&exit, slot.spec.restart) {
            (_, Restart::Permanent) | (Exit::Crashed(_), Restart::Transient) => true,
            (Exit::Clean, Restart::Transient) | (_, Restart::Temporary) => false,
        };
        let service = Arc::clone(&slot.spec.name);
        if !restart {
            let event = match exit {
                Exit::Clean => SupervisorEvent::Exited {
                    service,
                    restart_in: None,
                },
                Exit::Crashed(reason) => SupervisorEvent::Crashed {
                    service,
                    reason: reason.into(),
                    restart_in: None,
                },
            };
            self.reporter.report(&event);
            return None;
        }

        // A restart is needed: count it against the intensity window first.
        self.restarts.push_back(now);
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.within)
        {
            self.restarts.pop_front();
        }
        if self.restarts.len() > self.max_restarts as usize {
            if let Exit::Crashed(reason) = exit {
                let crashed = SupervisorEvent::Crashed {
                    service: Arc::clone(&service),
                    reason: reason.into(),
                    restart_in: None,
                };
                self.reporter.report(&crashed);
            }
            let (max_restarts, within) = (self.max_restarts, self.within);
            self.reporter.report(&SupervisorEvent::GaveUp {
                service: Arc::clone(&service),
                max_restarts,
                within,
            });
            self.stop_all(StopCause::GaveUp).await;
            return Some(SupervisorError::IntensityExceeded {
                service,
                max_restarts,
                within,
            });
        }

        let slot = &mut self.slots[index];
        let delay = self.backoff.delay(slot.attempts, jitter(&mut self.rng));
        slot.attempts = slot.attempts.saturating_add(1);
        match exit {
            Exit::Clean => self.reporter.report(&SupervisorEvent::Exited {
                service: Arc::clone(&service),
                restart_in: Some(delay),
            }),
            Exit::Crashed(reason) => self.reporter.report(&SupervisorEvent::Crashed {
                service: Arc::clone(&service),
                reason: reason.into(),
                restart_in: Some(delay),
            }),
        }
        let affected = match self.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.slots.len(),
            Strategy::RestForOne => index..self.slots.len(),
        };
        // Siblings stop in reverse start order, as OTP does, then everything
        // affected starts again in start order once the delay has passed.
        for sibling in affected.clone().rev().filter(|&i| i != index) {
            if self.slots[sibling].running.is_some() {
                // Announced before the stop, so the sibling is not counted
                // ready while it is being cancelled (up to its timeout plus
                // the abort grace); the outcome follows once it is over.
                let name = Arc::clone(&self.slots[sibling].spec.name);
                self.reporter.report(&SupervisorEvent::StoppingForSibling {
                    service: Arc::clone(&name),
                    sibling: Arc::clone(&service),
                });
                let how = self.stop(sibling).await;
                self.reporter.report(&SupervisorEvent::StoppedForSibling {
                    service: name,
                    sibling: Arc::clone(&service),
                    how,
                });
            }
        }
        let start_at = now + delay;
        for i in affected {
            let slot = &mut self.slots[i];
            if i == index || slot.spec.restart != Restart::Temporary {
                slot.start_at = Some(start_at);
            }
        }
        None
    }

    /// Cancels child `index`, waits its shutdown timeout, aborts it past
    /// that, and gives up on it past the abort grace: at most the timeout
    /// plus the grace in all.
    async fn stop(&mut self, index: usize) -> StopKind {
        let slot = &mut self.slots[index];
        slot.start_at = None;
        let Some(mut run) = slot.running.take() else {
            return StopKind::NotRunning;
        };
        run.cancel.cancel();
        if tokio::time::timeout(slot.spec.shutdown_timeout, &mut run.handle)
            .await
            .is_ok()
        {
            return StopKind::Clean;
        }
        run.handle.abort();
        // Waits until the task is gone, so nothing outlives the stop; but a
        // task blocking its thread never sees the abort, and the stop must
        // end: past the grace the handle is dropped, detaching the task.
        match tokio::time::timeout(self.abort_grace, run.handle).await {
            Ok(_) => StopKind::Aborted,
            // Every caller reports the stop with its `StopKind`.
            Err(_elapsed) => StopKind::Detached,
        }
    }

    /// Stops every child in reverse start order and reports each.
    async fn stop_all(&mut self, cause: StopCause) -> ShutdownReport {
        let mut report = ShutdownReport::default();
        for index in (0..self.slots.len()).rev() {
            let how = self.stop(index).await;
            let service = Arc::clone(&self.slots[index].spec.name);
            match how {
                StopKind::Clean => report.clean.push(Arc::clone(&service)),
                StopKind::Aborted => report.aborted.push(Arc::clone(&service)),
                StopKind::Detached => report.detached.push(Arc::clone(&service)),
                StopKind::NotRunning => {}
            }
            self.reporter.report(&SupervisorEvent::Stopped {
                service,
                how,
                cause,
            });
        }
        report
    }
}

impl Drop for Supervisor {
    /// A supervisor dropped mid-run (its `run` future was dropped) takes its
    /// children with it rather than leaving them detached.
    fn drop(&mut self) {
        for run in self.slots.iter().filter_map(|slot| slot.running.as_ref()) {
            run.cancel.cancel();
            run.handle.abort();
        }
    }
}

/// The next jitter fraction for [`Backoff::delay`], uniform in `[0, 1)`.
fn jitter(rng: &mut SmallRng) -> f64 {
    rng.random::<f64>()
}

/// A generator seeded from the operating system's entropy or, should the
/// system refuse it, from the standard library's per-process random hash
/// keys: jitter only has to differ between processes, and a supervisor must
/// build without failing.
fn entropy_seeded() -> SmallRng {
    SmallRng::try_from_rng(&mut SysRng).unwrap_or_else(|error| {
        tracing::warn!(%error, "no entropy from the system; seeding the restart jitter from std's hash keys");
        SmallRng::seed_from_u64(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        )
    })
}

/// Resolves when any running child's task ends, with its index.
async fn next_exit(slots: &mut [Slot]) -> (usize, Result<Result<(), BoxError>, JoinError>) {
    poll_fn(|cx| {
        for (index, slot) in slots.iter_mut().enumerate() {
            if let Some(run) = &mut slot.running
                && let Poll::Ready(outcome) = Pin::new(&mut run.handle).poll(cx)
            {
                return Poll::Ready((index, outcome));
            }
        }
        Poll::Pending
    })
    .await
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The jitter fractions, seeded or from entropy, spread uniformly over
    /// `[0, 1)` (about half below 0.5: a 10-sigma band), so the delays
    /// spread over their backoff band.
    #[test]
    fn jitter_fractions_spread_over_the_unit_interval() {
        for mut rng in [SmallRng::seed_from_u64(3), entropy_seeded()] {
            let fractions: Vec<f64> = (0..1000).map(|_| jitter(&mut rng)).collect();
            assert!(fractions.iter().all(|f| (0.0..1.0).contains(f)));
            let low = fractions.iter().filter(|f| **f < 0.5).count();
            assert!((400..600).contains(&low), "{low} of 1000 below 0.5");
        }
    }

    /// Two entropy-seeded supervisors jitter differently (the same seed in
    /// every process would restart a fleet's crashed services in step).
    #[test]
    fn entropy_seeds_differ() {
        let draws = |mut rng: SmallRng| (0..4).map(|_| jitter(&mut rng)).collect::<Vec<_>>();
        assert_ne!(draws(entropy_seeded()), draws(entropy_seeded()));
    }

    /// A nested supervisor's shutdown timeout counts its own abort grace,
    /// once per child and once for itself.
    #[test]
    fn into_child_derives_its_timeout_from_the_configured_abort_grace() {
        let idle = |name| {
            ChildSpec::new(name, |ctx: ChildContext| async move {
                ctx.cancelled().await;
                Ok::<(), std::io::Error>(())
            })
            .shutdown_timeout(Duration::from_secs(4))
        };
        let nested = Supervisor::builder()
            .abort_grace(Duration::from_secs(3))
            .child(idle("a"))
            .child(idle("b"))
            .into_child("nested");
        assert_eq!(
            nested.shutdown_timeout,
            Duration::from_secs(4 + 3 + 4 + 3 + 3)
        );
    }
}
