//! Children that block their thread (a blocking call, a CPU loop) never
//! reach an `.await`, so `abort()` cannot land: the supervisor waits a
//! bounded grace after aborting, then gives up on them and says so, instead
//! of waiting forever. Real time on a multi-thread runtime, since the
//! blocked child holds a whole worker (the paused clock cannot model that);
//! every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ron_supervisor::{
    ABORT_GRACE, Backoff, CancellationToken, ChildSpec, StopKind, Strategy, Supervisor,
    SupervisorEvent,
};

/// How long the blocked thread may stay blocked if the test fails before
/// releasing it: the process never keeps a spinning thread for long.
const BLOCK_AT_MOST: Duration = Duration::from_secs(30);

/// The child's shutdown timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(500);

/// A child whose runs listed in `block_on` block their thread (sleeping in
/// `std::thread::sleep`, never at an `.await`) until `release` is set;
/// other runs wait for cancellation. `entered` counts blocked runs.
fn blocking_child(
    name: &str,
    block_on: &'static [u32],
    release: &Arc<AtomicBool>,
    entered: &Arc<AtomicU32>,
) -> ChildSpec {
    let (release, entered) = (Arc::clone(release), Arc::clone(entered));
    let runs = Arc::new(AtomicU32::new(0));
    ChildSpec::new(name, move |ctx| {
        let run = runs.fetch_add(1, Ordering::SeqCst);
        let (release, entered) = (Arc::clone(&release), Arc::clone(&entered));
        async move {
            if block_on.contains(&run) {
                entered.fetch_add(1, Ordering::SeqCst);
                let until = std::time::Instant::now() + BLOCK_AT_MOST;
                while !release.load(Ordering::SeqCst) && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
            } else {
                ctx.cancelled().await;
            }
            Ok::<(), std::io::Error>(())
        }
    })
    .shutdown_timeout(TIMEOUT)
}

/// Polls `done` every 10 ms for at most 10 s.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Unblocks the blocked thread when the test ends, failed or not.
struct Release(Arc<AtomicBool>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_on_a_child_blocking_its_thread_and_names_it() {
    let (release, entered) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    let _release = Release(Arc::clone(&release));
    let polite = ChildSpec::new("polite", |ctx| async move {
        ctx.cancelled().await;
        Ok::<(), std::io::Error>(())
    });
    let supervisor = Supervisor::builder()
        .child(polite)
        .child(blocking_child("blocker", &[0], &release, &entered))
        .build();
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    let blocked = Arc::clone(&entered);
    tokio::spawn(async move {
        wait_for("the child to block", || blocked.load(Ordering::SeqCst) == 1).await;
        stopper.cancel();
    });

    // Run here, on the test's own thread: the blocked child holds a worker.
    let bound = TIMEOUT + ABORT_GRACE + Duration::from_secs(5);
    let report = tokio::time::timeout(bound, supervisor.run(stop))
        .await
        .expect("shutdown returned within the timeout, the grace and a margin")
        .unwrap();
    assert_eq!(report.detached, [Arc::<str>::from("blocker")]);
    assert!(report.aborted.is_empty(), "{report:?}");
    assert_eq!(report.clean, [Arc::<str>::from("polite")]);
}

/// Children `[crasher, blocker]`: the crasher fails once the blocker blocks,
/// and `strategy` stops the blocker to restart both.
async fn a_sibling_stop_gives_up_on_a_blocked_child(strategy: Strategy) {
    let (release, entered) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU32::new(0)),
    );
    let _release = Release(Arc::clone(&release));
    let blocked = Arc::clone(&entered);
    let crashes = Arc::new(AtomicU32::new(0));
    let crasher = ChildSpec::new("crasher", move |ctx| {
        let blocked = Arc::clone(&blocked);
        let first = crashes.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                wait_for("the sibling to block", || {
                    blocked.load(Ordering::SeqCst) == 1
                })
                .await;
                return Err("crashed while its sibling blocks");
            }
            ctx.cancelled().await;
            Ok(())
        }
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&events);
    let supervisor = Supervisor::builder()
        .strategy(strategy)
        .backoff(Backoff::none())
        .reporter(move |e: &SupervisorEvent| log.lock().unwrap().push(e.clone()))
        .child(crasher)
        .child(blocking_child("blocker", &[0], &release, &entered))
        .build();
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    let seen = Arc::clone(&events);
    tokio::spawn(async move {
        let blocker_starts = || {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|e| matches!(e, SupervisorEvent::Started { service } if &**service == "blocker"))
                .count()
        };
        wait_for("the blocker's restart", || blocker_starts() == 2).await;
        stopper.cancel();
    });

    let bound = TIMEOUT + ABORT_GRACE + Duration::from_secs(8);
    let report = tokio::time::timeout(bound, supervisor.run(stop))
        .await
        .expect("the restart and the shutdown returned")
        .unwrap();
    // The restarted blocker does not block: both stop cleanly at shutdown.
    assert_eq!(
        report.clean,
        [Arc::<str>::from("blocker"), Arc::<str>::from("crasher")]
    );
    let for_sibling: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            SupervisorEvent::StoppedForSibling {
                service,
                sibling,
                how,
            } => Some((service.to_string(), sibling.to_string(), *how)),
            _ => None,
        })
        .collect();
    assert_eq!(
        for_sibling,
        [(
            "blocker".to_owned(),
            "crasher".to_owned(),
            StopKind::Detached
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_gives_up_on_a_blocked_sibling_and_restarts() {
    a_sibling_stop_gives_up_on_a_blocked_child(Strategy::OneForAll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_gives_up_on_a_blocked_sibling_and_restarts() {
    a_sibling_stop_gives_up_on_a_blocked_child(Strategy::RestForOne).await;
}

/// How long the slow child's cleanup blocks its thread once aborted.
const SLOW_CLEANUP: Duration = Duration::from_millis(1_500);

/// Blocks its thread for [`SLOW_CLEANUP`] when dropped (as the abort does).
struct SlowCleanup;

impl Drop for SlowCleanup {
    fn drop(&mut self) {
        std::thread::sleep(SLOW_CLEANUP);
    }
}

/// Shuts down a supervisor (abort grace `grace`, if set) of one child that
/// ignores cancellation and whose cleanup after the abort takes
/// [`SLOW_CLEANUP`].
async fn shut_down_a_slow_cleanup(grace: Option<Duration>) -> ron_supervisor::ShutdownReport {
    let started = Arc::new(AtomicBool::new(false));
    let running = Arc::clone(&started);
    let slow = ChildSpec::new("slow_cleanup", move |_ctx| {
        let running = Arc::clone(&running);
        async move {
            let _cleanup = SlowCleanup;
            running.store(true, Ordering::SeqCst);
            std::future::pending::<()>().await;
            Ok::<(), std::io::Error>(())
        }
    })
    .shutdown_timeout(TIMEOUT);
    let mut builder = Supervisor::builder().child(slow);
    if let Some(grace) = grace {
        builder = builder.abort_grace(grace);
    }
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        wait_for("the child to start", || started.load(Ordering::SeqCst)).await;
        stopper.cancel();
    });
    let bound = TIMEOUT + grace.unwrap_or(ABORT_GRACE) + Duration::from_secs(8);
    tokio::time::timeout(bound, builder.build().run(stop))
        .await
        .expect("shutdown returned within the timeout, the grace and a margin")
        .unwrap()
}

/// A child whose cleanup after the abort outlasts the default grace is
/// reported detached while it is still ending; a supervisor given a longer
/// `abort_grace` waits for it and reports it aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_abort_grace_waits_for_a_slow_cleanup() {
    let default = shut_down_a_slow_cleanup(None).await;
    assert_eq!(default.detached, [Arc::<str>::from("slow_cleanup")]);

    let patient = shut_down_a_slow_cleanup(Some(SLOW_CLEANUP * 4)).await;
    assert_eq!(patient.aborted, [Arc::<str>::from("slow_cleanup")]);
    assert!(patient.detached.is_empty(), "{patient:?}");
}
