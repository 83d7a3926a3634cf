#![doc = include_str!("../README.md")]
//!
//! OTP-style supervision for async services on tokio.
//!
//! A [`Supervisor`] starts its children (named [`ChildSpec`]s) in order,
//! watches each run, and when one ends decides by the child's [`Restart`]
//! policy and the supervisor's [`Strategy`] what to restart:
//!
//! - a **crash** is an `Err` or a panic, in the child's run or in its
//!   factory; its reason is the error's whole chain (`outer: inner: root`,
//!   as anyhow's `{:#}`) or the panic message;
//! - each run of a child (its factory call included) is inside a `child`
//!   span carrying `service = NAME` and `restarts` (how many times it was
//!   started before), so the lines logged in the child's task say where
//!   they come from: `INFO child{service=ticker restarts=2}: my_app: tick`
//!   (tasks the service spawns itself carry the span only if it instruments
//!   them, e.g. with `tracing::Instrument::in_current_span`). The span
//!   is at `ERROR` level with target `ron_supervisor`, so any filter that
//!   lets the child's lines through and enables that target keeps it (a
//!   filter naming only `my_app` drops the span, not the lines);
//! - restarts wait a jittered exponential [`Backoff`] (a point of the upper
//!   half of a step of 100 ms doubling to a 30 s cap: never above the cap,
//!   and still spread over 15 to 30 s at it), which starts over once a child has run
//!   for the builder's `reset_after`; the jitter comes from a `rand`
//!   generator seeded from the system's entropy, or from the builder's
//!   `seed` for reproducible delays;
//! - at most `R` restarts within `T` (the **intensity**, per supervisor as in
//!   OTP); one more and the supervisor stops every child and
//!   [`Supervisor::run`] returns [`SupervisorError::IntensityExceeded`];
//! - **shutdown** cancels the token given to `run`: children stop in reverse
//!   start order, each within its shutdown timeout or aborted past it; a
//!   child blocking its thread, which no abort reaches, is given up on
//!   [`ABORT_GRACE`] (or the builder's `abort_grace`) after its abort and
//!   left detached; the [`ShutdownReport`] says which was which. Giving up
//!   needs a multi-thread runtime with a worker the blocked child leaves
//!   free: on a `current_thread` runtime a blocking child stalls the
//!   supervisor too.
//!
//! The crate knows nothing of buses or metrics: everything that happens is a
//! [`SupervisorEvent`] handed to a [`Reporter`] (a trait, or any closure),
//! which the `ron-kernel` facade turns into `ServiceCrashed` bus events,
//! `service_restarts_total{service}` and health gates.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use ron_supervisor::{CancellationToken, ChildSpec, Restart, Strategy, Supervisor};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let supervisor = Supervisor::builder()
//!     .strategy(Strategy::OneForOne)
//!     .intensity(5, Duration::from_secs(10))
//!     .child(ChildSpec::new("ticker", |ctx| async move {
//!         let mut tick = tokio::time::interval(Duration::from_secs(1));
//!         loop {
//!             tokio::select! {
//!                 () = ctx.cancelled() => return Ok::<(), std::io::Error>(()),
//!                 _ = tick.tick() => {}
//!             }
//!         }
//!     }))
//!     .child(ChildSpec::new("once", |_ctx| async { Ok::<(), std::io::Error>(()) })
//!         .restart(Restart::Transient))
//!     .build();
//!
//! let stop = CancellationToken::new();
//! let running = tokio::spawn(supervisor.run(stop.clone()));
//! tokio::time::sleep(Duration::from_secs(3)).await;
//! stop.cancel();
//! let report = running.await.unwrap().unwrap();
//! assert_eq!(&*report.clean[0], "ticker");
//! assert!(report.aborted.is_empty());
//! # }
//! ```

mod backoff;
mod child;
mod reason;
mod report;
mod supervisor;

pub use backoff::Backoff;
pub use child::{BoxError, ChildContext, ChildSpec, HealthMode, Restart};
pub use report::{LogReporter, Reporter, StopCause, StopKind, SupervisorEvent};
pub use supervisor::{
    ABORT_GRACE, ShutdownReport, Strategy, Supervisor, SupervisorBuilder, SupervisorError,
};
/// The token that asks a supervisor (and through it, its children) to stop.
pub use tokio_util::sync::CancellationToken;
