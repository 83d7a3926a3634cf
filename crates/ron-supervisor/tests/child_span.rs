//! A supervised service's own log lines name the service and its restart
//! count: each run is inside the child's span.
//!
//! Alone in its test binary: `tracing` caches a callsite's interest when the
//! callsite is first hit, and a test on another thread hitting the child
//! span's callsite while this one installs its subscriber could leave the
//! span disabled here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ron_supervisor::{Backoff, CancellationToken, ChildSpec, Supervisor};
use tracing_subscriber::fmt::MakeWriter;

/// Everything a `fmt` subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The one line whose message is `message`.
    fn line(&self, message: &str) -> String {
        let matching: Vec<String> = self
            .lines()
            .into_iter()
            .filter(|line| line.contains(message))
            .collect();
        assert_eq!(matching.len(), 1, "{message:?} in {:#?}", self.lines());
        matching.into_iter().next().unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The child's own lines, from its factory and from its run, carry
/// `service=NAME` and the restart count of that run; a nested supervisor's
/// child's lines carry both spans, outer first. The test runtime is
/// current-thread, so the thread-local subscriber sees every task.
#[tokio::test(start_paused = true)]
async fn a_childs_own_log_lines_name_the_service_and_its_restart_count() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let runs = Arc::new(AtomicU32::new(0));
    let worker = ChildSpec::new("worker", move |ctx| {
        let run = runs.fetch_add(1, Ordering::SeqCst);
        tracing::info!("wiring run {run}");
        async move {
            tracing::info!("working in run {run}");
            if run == 0 {
                return Err("first run fails");
            }
            ctx.cancelled().await;
            Ok(())
        }
    });
    // A nested supervisor's children run inside its span too.
    let nested = Supervisor::builder()
        .child(ChildSpec::new("leaf", |ctx| async move {
            tracing::info!("leaf working");
            ctx.cancelled().await;
            Ok::<(), std::io::Error>(())
        }))
        .into_child("nested");
    let supervisor = Supervisor::builder()
        .backoff(Backoff::none())
        .child(worker)
        .child(nested)
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    running.await.unwrap().unwrap();

    for (message, restarts) in [
        ("wiring run 0", 0),
        ("working in run 0", 0),
        ("wiring run 1", 1),
        ("working in run 1", 1),
    ] {
        let line = captured.line(message);
        assert!(line.contains("service=worker"), "{line}");
        assert!(line.contains(&format!("restarts={restarts}")), "{line}");
    }
    let leaf = captured.line("leaf working");
    assert!(
        leaf.contains("child{service=nested restarts=0}:child{service=leaf restarts=0}"),
        "{leaf}"
    );
}
