//! Supervision behaviour on tokio's paused clock: every delay below is
//! virtual time, so the tests are exact and take no real time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng as _};
use ron_supervisor::{
    Backoff, CancellationToken, ChildSpec, HealthMode, Restart, ShutdownReport, StopCause,
    StopKind, Strategy, Supervisor, SupervisorError, SupervisorEvent,
};
use tokio::time::Instant;

/// Every event a supervisor reported, in order.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<SupervisorEvent>>>);

impl Events {
    fn reporter(&self) -> impl Fn(&SupervisorEvent) + Send + Sync + 'static {
        let log = Arc::clone(&self.0);
        move |event: &SupervisorEvent| log.lock().unwrap().push(event.clone())
    }

    fn all(&self) -> Vec<SupervisorEvent> {
        self.0.lock().unwrap().clone()
    }

    /// The `restart_in` of every crash, in order.
    fn crash_delays(&self) -> Vec<Option<Duration>> {
        self.all()
            .into_iter()
            .filter_map(|e| match e {
                SupervisorEvent::Crashed { restart_in, .. } => Some(restart_in),
                _ => None,
            })
            .collect()
    }
}

/// Names of started children, in start order, with the virtual time of each start.
#[derive(Clone, Default)]
struct Starts(Arc<Mutex<Vec<(&'static str, Instant)>>>);

impl Starts {
    fn record(&self, name: &'static str) {
        self.0.lock().unwrap().push((name, Instant::now()));
    }
    fn names(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().iter().map(|(n, _)| *n).collect()
    }
    fn times(&self) -> Vec<Instant> {
        self.0.lock().unwrap().iter().map(|(_, t)| *t).collect()
    }
}

/// A child that fails at once on every run.
fn always_failing(name: &'static str, starts: &Starts) -> ChildSpec {
    let starts = starts.clone();
    ChildSpec::new(name, move |_ctx| {
        starts.record(name);
        async { Err::<(), _>("boom") }
    })
}

/// A child that runs until cancelled, failing on the runs listed in `fail_on`.
fn failing_on(name: &'static str, starts: &Starts, fail_on: &'static [u32]) -> ChildSpec {
    let starts = starts.clone();
    let runs = Arc::new(AtomicU32::new(0));
    ChildSpec::new(name, move |ctx| {
        starts.record(name);
        let run = runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if fail_on.contains(&run) {
                return Err(format!("{name} failed on run {run}"));
            }
            ctx.cancelled().await;
            Ok(())
        }
    })
}

/// Runs `supervisor` for `virtual_time`, then shuts it down.
async fn run_for(supervisor: Supervisor, virtual_time: Duration) -> ShutdownReport {
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    tokio::time::sleep(virtual_time).await;
    stop.cancel();
    running.await.unwrap().unwrap()
}

async fn settle() {
    // Lets spawned children and the supervisor run without moving the clock
    // far: one virtual millisecond.
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn restart_delays_follow_the_jittered_doubling_and_stop_at_the_cap() {
    let (events, starts) = (Events::default(), Starts::default());
    let supervisor = Supervisor::builder()
        .intensity(1000, Duration::from_secs(3600))
        .seed(7)
        .reporter(events.reporter())
        .child(always_failing("crashy", &starts))
        .build();
    // 100 ms * 2^9 = 51.2 s: the step is the cap from the tenth restart
    // (attempt 9) on.
    run_for(supervisor, Duration::from_secs(400)).await;

    let delays: Vec<Duration> = events
        .crash_delays()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert!(delays.len() >= 14, "{} crashes", delays.len());
    // `seed(7)` draws the jitter fractions from this generator, one per
    // restart.
    let mut rng = SmallRng::seed_from_u64(7);
    let cap = Duration::from_secs(30);
    for (attempt, delay) in delays.iter().enumerate() {
        let step = (Duration::from_millis(100) * 2u32.pow(attempt.min(20) as u32)).min(cap);
        assert!(
            *delay >= step / 2,
            "attempt {attempt}: {delay:?} under its band"
        );
        assert!(*delay <= step, "attempt {attempt}: {delay:?} over its band");
        assert_eq!(
            *delay,
            Backoff::default().delay(attempt as u32, rng.random::<f64>()),
            "seeded sequence"
        );
    }
    // The capped tail stays jittered over [15 s, 30 s], not the cap alone
    // (which would put every crash-looping child in lockstep).
    let tail = &delays[9..];
    assert!(
        tail.iter().all(|d| (cap / 2..=cap).contains(d)),
        "capped tail: {delays:?}"
    );
    assert!(
        tail.windows(2).any(|pair| pair[0] != pair[1]),
        "capped tail in lockstep: {delays:?}"
    );

    // Each restart happened exactly the reported delay after the crash
    // (crashes are immediate, so after the previous start).
    let times = starts.times();
    for (i, pair) in times.windows(2).enumerate() {
        // Timers fire on whole virtual milliseconds, rounding up.
        let gap = pair[1] - pair[0];
        assert!(
            gap >= delays[i] && gap <= delays[i] + Duration::from_millis(1),
            "restart {i}: {gap:?} vs {:?}",
            delays[i]
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_delays() {
    async fn delays(seed: u64) -> Vec<Option<Duration>> {
        let (events, starts) = (Events::default(), Starts::default());
        let supervisor = Supervisor::builder()
            .intensity(100, Duration::from_secs(3600))
            .seed(seed)
            .reporter(events.reporter())
            .child(always_failing("crashy", &starts))
            .build();
        run_for(supervisor, Duration::from_secs(60)).await;
        events.crash_delays()
    }
    assert_eq!(delays(11).await, delays(11).await);
    assert_ne!(delays(11).await, delays(12).await);
}

#[tokio::test(start_paused = true)]
async fn backoff_starts_over_after_a_healthy_run() {
    let (events, starts) = (Events::default(), Starts::default());
    // Runs 0 and 1 fail at once, run 2 lives 15 s (past reset_after) and
    // fails, run 3 fails at once.
    let runs = Arc::new(AtomicU32::new(0));
    let recorded = starts.clone();
    let child = ChildSpec::new("worker", move |_ctx| {
        recorded.record("worker");
        let run = runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run == 2 {
                tokio::time::sleep(Duration::from_secs(15)).await;
            }
            Err::<(), _>(format!("run {run}"))
        }
    });
    let supervisor = Supervisor::builder()
        .intensity(100, Duration::from_secs(60))
        .reset_after(Duration::from_secs(10))
        .seed(1)
        .reporter(events.reporter())
        .child(child)
        .build();
    run_for(supervisor, Duration::from_secs(17)).await;

    let delays: Vec<Duration> = events
        .crash_delays()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let band = |attempt: u32| {
        let step = Duration::from_millis(100) * 2u32.pow(attempt);
        step / 2..=step
    };
    assert!(delays.len() >= 4, "{delays:?}");
    assert!(band(0).contains(&delays[0]), "{delays:?}");
    assert!(band(1).contains(&delays[1]), "{delays:?}");
    // The crash after the 15 s run starts over at attempt 0, not attempt 2.
    assert!(band(0).contains(&delays[2]), "{delays:?}");
    assert!(band(1).contains(&delays[3]), "{delays:?}");
}

#[tokio::test(start_paused = true)]
async fn permanent_restarts_even_after_a_clean_exit() {
    let events = Events::default();
    let runs = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&runs);
    let child = ChildSpec::new("job", move |_ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<(), std::io::Error>(()) }
    });
    let supervisor = Supervisor::builder()
        .intensity(2, Duration::from_secs(60))
        .backoff(Backoff::none())
        .reporter(events.reporter())
        .child(child)
        .build();
    let error = supervisor.run(CancellationToken::new()).await.unwrap_err();
    // Started, restarted twice, and the third restart trips the intensity.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(
        matches!(error, SupervisorError::IntensityExceeded { ref service, .. } if &**service == "job")
    );
    let exits = events
        .all()
        .into_iter()
        .filter(|e| matches!(e, SupervisorEvent::Exited { .. }))
        .count();
    assert_eq!(exits, 2);
}

#[tokio::test(start_paused = true)]
async fn transient_restarts_after_errors_and_panics_but_not_after_a_clean_exit() {
    let events = Events::default();
    let runs = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&runs);
    let child = ChildSpec::new("job", move |_ctx| {
        let run = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            match run {
                0 => Err("first run fails"),
                1 => panic!("second run panics"),
                _ => Ok(()),
            }
        }
    })
    .restart(Restart::Transient);
    let supervisor = Supervisor::builder()
        .seed(3)
        .reporter(events.reporter())
        .child(child)
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 3, "two restarts, then done");
    stop.cancel();
    let report = running.await.unwrap().unwrap();
    assert!(
        report.clean.is_empty() && report.aborted.is_empty(),
        "nothing was running: {report:?}"
    );

    let reasons: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            SupervisorEvent::Crashed {
                reason, restart_in, ..
            } => {
                assert!(restart_in.is_some());
                Some(reason.to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["first run fails", "second run panics"]);
    let done = events.all().into_iter().filter(|e| {
        matches!(
            e,
            SupervisorEvent::Exited {
                restart_in: None,
                ..
            }
        )
    });
    assert_eq!(done.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn temporary_is_never_restarted() {
    let (events, starts) = (Events::default(), Starts::default());
    let supervisor = Supervisor::builder()
        .reporter(events.reporter())
        .child(always_failing("once", &starts).restart(Restart::Temporary))
        .build();
    run_for(supervisor, Duration::from_secs(60)).await;
    assert_eq!(starts.names(), ["once"]);
    assert_eq!(events.crash_delays(), [None]);
}

/// Children a, b, c; b fails on its first run only. Returns start order and
/// the stop-for-sibling events.
async fn strategy_run(strategy: Strategy) -> (Vec<&'static str>, Vec<String>) {
    let (events, starts) = (Events::default(), Starts::default());
    let supervisor = Supervisor::builder()
        .strategy(strategy)
        .backoff(Backoff::none())
        .reporter(events.reporter())
        .child(failing_on("a", &starts, &[]))
        .child(failing_on("b", &starts, &[0]))
        .child(failing_on("c", &starts, &[]))
        .build();
    let report = run_for(supervisor, Duration::from_secs(1)).await;
    let stopped_order: Vec<&str> = report.clean.iter().map(|s| &**s).collect();
    assert_eq!(
        stopped_order,
        ["c", "b", "a"],
        "shutdown goes in reverse start order"
    );
    let for_sibling = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            SupervisorEvent::StoppedForSibling {
                service,
                sibling,
                how,
            } => {
                assert_eq!(how, StopKind::Clean, "{service} stopped when told");
                Some(format!("{service} for {sibling}"))
            }
            _ => None,
        })
        .collect();
    (starts.names(), for_sibling)
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_crashed_child() {
    let (starts, stopped) = strategy_run(Strategy::OneForOne).await;
    assert_eq!(starts, ["a", "b", "c", "b"]);
    assert!(stopped.is_empty());
}

#[tokio::test(start_paused = true)]
async fn one_for_all_stops_the_others_in_reverse_and_restarts_all_in_order() {
    let (starts, stopped) = strategy_run(Strategy::OneForAll).await;
    assert_eq!(starts, ["a", "b", "c", "a", "b", "c"]);
    assert_eq!(stopped, ["c for b", "a for b"]);
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_crashed_child_and_those_started_after_it() {
    let (starts, stopped) = strategy_run(Strategy::RestForOne).await;
    assert_eq!(starts, ["a", "b", "c", "b", "c"]);
    assert_eq!(stopped, ["c for b"]);
}

/// A sibling's stop is announced before it is cancelled (so whoever gates
/// readiness on events stops counting it ready for the whole stop) and its
/// outcome after.
#[tokio::test(start_paused = true)]
async fn a_stop_for_a_sibling_is_announced_before_it_begins_and_reported_after() {
    let (events, starts) = (Events::default(), Starts::default());
    let seen_when_cancelled = Arc::new(Mutex::new(None));
    let (log, seen) = (events.clone(), Arc::clone(&seen_when_cancelled));
    let sibling = ChildSpec::new("a", move |ctx| {
        let (log, seen) = (log.clone(), Arc::clone(&seen));
        async move {
            ctx.cancelled().await;
            // The last event about this child when it learns of its stop.
            let last = log.all().into_iter().rev().find(|e| match e {
                SupervisorEvent::StoppingForSibling { service, .. }
                | SupervisorEvent::StoppedForSibling { service, .. }
                | SupervisorEvent::Healthy { service } => &**service == "a",
                _ => false,
            });
            seen.lock().unwrap().get_or_insert(last);
            Ok::<(), std::io::Error>(())
        }
    });
    let supervisor = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .backoff(Backoff::none())
        .reporter(events.reporter())
        .child(sibling)
        .child(failing_on("b", &starts, &[0]))
        .build();
    run_for(supervisor, Duration::from_secs(1)).await;

    let stopping = SupervisorEvent::StoppingForSibling {
        service: "a".into(),
        sibling: "b".into(),
    };
    assert_eq!(
        *seen_when_cancelled.lock().unwrap(),
        Some(Some(stopping.clone())),
        "announced before the child is cancelled"
    );
    let about_a: Vec<SupervisorEvent> = events
        .all()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                SupervisorEvent::StoppingForSibling { .. }
                    | SupervisorEvent::StoppedForSibling { .. }
            )
        })
        .collect();
    assert_eq!(
        about_a,
        [
            stopping,
            SupervisorEvent::StoppedForSibling {
                service: "a".into(),
                sibling: "b".into(),
                how: StopKind::Clean,
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn exceeding_the_intensity_stops_everything_and_names_the_culprit() {
    let (events, starts) = (Events::default(), Starts::default());
    let supervisor = Supervisor::builder()
        .intensity(3, Duration::from_secs(5))
        .backoff(Backoff::new(
            Duration::from_millis(100),
            Duration::from_millis(100),
        ))
        .reporter(events.reporter())
        .child(failing_on("steady", &starts, &[]))
        .child(always_failing("crashy", &starts))
        .build();
    let began = Instant::now();
    let error = supervisor.run(CancellationToken::new()).await.unwrap_err();
    assert_eq!(
        error,
        SupervisorError::IntensityExceeded {
            service: "crashy".into(),
            max_restarts: 3,
            within: Duration::from_secs(5)
        }
    );
    assert!(error.to_string().contains("crashy"), "{error}");
    // One start and three restarts, each 50..=100 ms apart: well inside 5 s.
    assert_eq!(starts.names().iter().filter(|n| **n == "crashy").count(), 4);
    assert!(began.elapsed() < Duration::from_secs(1));

    let all = events.all();
    assert!(
        all.iter().any(
            |e| matches!(e, SupervisorEvent::GaveUp { service, .. } if &**service == "crashy")
        )
    );
    let stopped: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            SupervisorEvent::Stopped {
                service,
                how,
                cause,
            } => Some((service.to_string(), *how, *cause)),
            _ => None,
        })
        .collect();
    assert_eq!(
        stopped,
        [
            ("crashy".to_owned(), StopKind::NotRunning, StopCause::GaveUp),
            ("steady".to_owned(), StopKind::Clean, StopCause::GaveUp),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_wider_than_the_window_do_not_trip_the_intensity() {
    let (events, starts) = (Events::default(), Starts::default());
    // 3 restarts in 5 s allowed; the backoff (>= 2 s per restart) keeps the
    // rate at most 3 per 6 s.
    let supervisor = Supervisor::builder()
        .intensity(3, Duration::from_secs(5))
        .backoff(Backoff::new(Duration::from_secs(4), Duration::from_secs(4)))
        .reporter(events.reporter())
        .child(always_failing("slow-crashy", &starts))
        .build();
    run_for(supervisor, Duration::from_secs(60)).await;
    assert!(
        starts.names().len() >= 15,
        "{} starts",
        starts.names().len()
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_a_child_that_ignores_cancellation_after_its_timeout() {
    struct SetOnDrop(Arc<AtomicU32>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicU32::new(0));
    let flag = Arc::clone(&dropped);
    let stubborn = ChildSpec::new("stubborn", move |_ctx| {
        let guard = SetOnDrop(Arc::clone(&flag));
        async move {
            let _guard = guard;
            ignore_cancellation().await
        }
    })
    .shutdown_timeout(Duration::from_secs(2));
    let polite = ChildSpec::new("polite", |ctx| async move {
        ctx.cancelled().await;
        tokio::time::sleep(Duration::from_millis(300)).await; // some cleanup
        Ok::<(), std::io::Error>(())
    });
    let events = Events::default();
    let supervisor = Supervisor::builder()
        .reporter(events.reporter())
        .child(polite)
        .child(stubborn)
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    settle().await;

    let began = Instant::now();
    stop.cancel();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.aborted, vec![Arc::<str>::from("stubborn")]);
    assert_eq!(report.clean, vec![Arc::<str>::from("polite")]);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the aborted child's future was dropped"
    );
    // Stubborn's 2 s timeout, then polite's 300 ms cleanup (reverse order).
    assert_eq!(began.elapsed(), Duration::from_millis(2300));
    let stops: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            SupervisorEvent::Stopped {
                service,
                how,
                cause: StopCause::Shutdown,
            } => Some((service.to_string(), how)),
            _ => None,
        })
        .collect();
    assert_eq!(
        stops,
        [
            ("stubborn".to_owned(), StopKind::Aborted),
            ("polite".to_owned(), StopKind::Clean)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn reported_health_waits_for_the_child() {
    let events = Events::default();
    let child = ChildSpec::new("warming", |ctx| async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        ctx.mark_healthy();
        ctx.cancelled().await;
        Ok::<(), std::io::Error>(())
    })
    .health(HealthMode::Reported);
    let supervisor = Supervisor::builder()
        .reporter(events.reporter())
        .child(child)
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    let healthy = |events: &Events| {
        events
            .all()
            .iter()
            .any(|e| matches!(e, SupervisorEvent::Healthy { .. }))
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        events
            .all()
            .iter()
            .any(|e| matches!(e, SupervisorEvent::Started { .. }))
    );
    assert!(!healthy(&events), "not healthy before it says so");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(healthy(&events));
    stop.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_that_gives_up_is_a_crash_its_parent_handles() {
    let (events, starts) = (Events::default(), Starts::default());
    let inner = Supervisor::builder()
        .intensity(2, Duration::from_secs(5))
        .backoff(Backoff::none())
        .child(always_failing("leaf", &starts));
    let outer = Supervisor::builder()
        .intensity(1, Duration::from_secs(60))
        .backoff(Backoff::none())
        .reporter(events.reporter())
        .child(inner.into_child("inner"))
        .build();
    let error = outer.run(CancellationToken::new()).await.unwrap_err();
    assert!(
        matches!(error, SupervisorError::IntensityExceeded { ref service, .. } if &**service == "inner")
    );
    // Each inner run: 1 start + 2 restarts, then it gives up; the outer
    // restarts it once, and gives up on the second crash.
    assert_eq!(starts.names().len(), 6);
    let reasons: Vec<String> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            SupervisorEvent::Crashed { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons[0].contains("restart intensity exceeded by leaf"),
        "{reasons:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_parent_stops_a_nested_supervisor_and_its_children() {
    let starts = Starts::default();
    let stopped = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&stopped);
    let leaf = ChildSpec::new("leaf", move |ctx| {
        let counter = Arc::clone(&counter);
        async move {
            ctx.cancelled().await;
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<(), std::io::Error>(())
        }
    });
    let inner = Supervisor::builder()
        .child(leaf)
        .child(failing_on("other", &starts, &[]));
    let outer = Supervisor::builder()
        .child(inner.into_child("inner"))
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(outer.run(stop.clone()));
    settle().await;
    stop.cancel();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.clean, vec![Arc::<str>::from("inner")]);
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        1,
        "the leaf saw the cancellation"
    );
}

/// Runs forever without ever looking at its cancellation token.
async fn ignore_cancellation() -> Result<(), std::io::Error> {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_factory_that_panics_is_a_crash_of_that_child_only() {
    let (events, starts) = (Events::default(), Starts::default());
    // The synchronous part panics (an `unwrap` while wiring the child) on
    // its first call only; the sibling must live on through it.
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let recorded = starts.clone();
    let wiring = ChildSpec::new("wiring", move |ctx| {
        recorded.record("wiring");
        let call = counter.fetch_add(1, Ordering::SeqCst);
        assert!(call > 0, "wiring failed on call {call}");
        async move {
            ctx.cancelled().await;
            Ok::<(), std::io::Error>(())
        }
    });
    let supervisor = Supervisor::builder()
        .seed(5)
        .reporter(events.reporter())
        .child(failing_on("sibling", &starts, &[]))
        .child(wiring)
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    let report = running
        .await
        .expect("a panicking factory must not unwind through Supervisor::run")
        .unwrap();

    assert_eq!(starts.names(), ["sibling", "wiring", "wiring"]);
    assert_eq!(
        report.clean,
        [Arc::<str>::from("wiring"), Arc::<str>::from("sibling")],
        "the sibling ran on, untouched, until shutdown"
    );
    let crashes: Vec<_> = events
        .all()
        .into_iter()
        .filter_map(|e| match e {
            SupervisorEvent::Crashed {
                service,
                reason,
                restart_in,
            } => Some((
                service.to_string(),
                reason.to_string(),
                restart_in.is_some(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        crashes,
        [(
            "wiring".to_owned(),
            "wiring failed on call 0".to_owned(),
            true
        )],
        "reported as a crash with the panic message, and restarted"
    );
}

/// Counts live instances of a resource (a bound port, say) and the most
/// ever alive at once.
#[derive(Clone, Default)]
struct Live {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl Live {
    fn acquire(&self) -> LiveGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        LiveGuard(Arc::clone(&self.now))
    }
}

struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A service holding its resource in a task of its own (an accept loop):
/// told to stop, it lets that task drain for 3 s and waits for it, well
/// within its 4 s timeout. Aborting the service would leave that task
/// holding the resource.
fn listener(name: &'static str, live: &Live, starts: &Starts) -> ChildSpec {
    let (live, starts) = (live.clone(), starts.clone());
    ChildSpec::new(name, move |ctx| {
        starts.record(name);
        let guard = live.acquire();
        async move {
            let accept_loop = tokio::spawn(async move {
                let _bound = guard;
                ctx.cancelled().await;
                tokio::time::sleep(Duration::from_secs(3)).await; // draining
            });
            accept_loop.await.map_err(|e| e.to_string())
        }
    })
    .shutdown_timeout(Duration::from_secs(4))
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_is_given_the_time_its_children_need_to_stop() {
    let (events, starts, live) = (Events::default(), Starts::default(), Live::default());
    // The inner supervisor stops its two listeners one after the other:
    // 6 s of draining, more than a child's default 5 s.
    let inner = Supervisor::builder()
        .child(listener("listener-a", &live, &starts))
        .child(listener("listener-b", &live, &starts));
    // A crash of the sibling makes the outer restart the inner supervisor.
    let trigger = ChildSpec::new("trigger", {
        let runs = Arc::new(AtomicU32::new(0));
        move |ctx| {
            let first = runs.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    return Err("trigger crashed");
                }
                ctx.cancelled().await;
                Ok(())
            }
        }
    });
    let outer = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .backoff(Backoff::none())
        .reporter(events.reporter())
        .child(inner.into_child("inner"))
        .child(trigger)
        .build();
    let report = run_for(outer, Duration::from_secs(30)).await;

    let listener_starts = starts
        .names()
        .iter()
        .filter(|n| n.starts_with("listener"))
        .count();
    assert_eq!(
        listener_starts, 4,
        "the inner supervisor was restarted once"
    );
    assert_eq!(
        live.max.load(Ordering::SeqCst),
        2,
        "the old listeners had let go before the new ones started"
    );
    assert_eq!(
        live.now.load(Ordering::SeqCst),
        0,
        "all stopped at shutdown"
    );
    assert_eq!(
        report.clean,
        [Arc::<str>::from("trigger"), Arc::<str>::from("inner")]
    );
    let inner_stop = events.all().into_iter().find_map(|e| match e {
        SupervisorEvent::StoppedForSibling { service, how, .. } if &*service == "inner" => {
            Some(how)
        }
        _ => None,
    });
    assert_eq!(inner_stop, Some(StopKind::Clean));
}
