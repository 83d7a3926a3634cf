//! A supervised child's crash reason keeps the whole error chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ron_supervisor::{CancellationToken, ChildSpec, Restart, Supervisor, SupervisorEvent};

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
