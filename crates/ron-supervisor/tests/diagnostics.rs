//! What a supervised service's own diagnostics say: its log lines name the
//! service and its restart count (the child's span), and its crash reason
//! keeps the whole error chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ron_supervisor::{Backoff, CancellationToken, ChildSpec, Restart, Supervisor, SupervisorEvent};
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

/// Runs the built supervisor for a virtual second, then shuts it down,
/// returning every event it reported.
async fn events_of(builder: ron_supervisor::SupervisorBuilder) -> Vec<SupervisorEvent> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&events);
    let supervisor = builder
        .reporter(move |event: &SupervisorEvent| log.lock().unwrap().push(event.clone()))
        .build();
    let stop = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.cancel();
    running.await.unwrap().unwrap();
    events.lock().unwrap().clone()
}

/// Every crash reason, in order.
fn reasons(events: &[SupervisorEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            SupervisorEvent::Crashed { reason, .. } => Some(reason.to_string()),
            _ => None,
        })
        .collect()
}

/// The child's own lines, from its factory and from its run, carry
/// `service=NAME` and the restart count of that run. The test runtime is
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
    events_of(Supervisor::builder().backoff(Backoff::none()).child(worker)).await;

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
}

#[derive(Debug, thiserror::Error)]
#[error("cannot load the catalogue")]
struct LoadError(#[source] ReadError);

#[derive(Debug, thiserror::Error)]
#[error("cannot read catalogue.toml")]
struct ReadError(#[source] std::io::Error);

/// An error whose `Display` already repeats its source (a common
/// `#[error("...: {0}")]`).
#[derive(Debug, thiserror::Error)]
#[error("cannot connect: {0}")]
struct ConnectError(#[source] std::io::Error);

/// A crash reason is the error followed by each of its sources, as
/// anyhow's `{:#}` prints it, so the root cause is not lost.
#[tokio::test(start_paused = true)]
async fn a_crash_reason_keeps_the_whole_error_chain() {
    let child = ChildSpec::new("catalogue", |_ctx| async {
        Err::<(), _>(LoadError(ReadError(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))))
    })
    .restart(Restart::Temporary);
    let events = events_of(Supervisor::builder().child(child)).await;
    assert_eq!(
        reasons(&events),
        ["cannot load the catalogue: cannot read catalogue.toml: no such file"]
    );
}

/// A source whose text the error's own `Display` already ends with is not
/// repeated.
#[tokio::test(start_paused = true)]
async fn a_crash_reason_does_not_repeat_a_source_the_display_already_shows() {
    let child = ChildSpec::new("client", |_ctx| async {
        Err::<(), _>(ConnectError(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )))
    })
    .restart(Restart::Temporary);
    let events = events_of(Supervisor::builder().child(child)).await;
    assert_eq!(reasons(&events), ["cannot connect: connection refused"]);
}
