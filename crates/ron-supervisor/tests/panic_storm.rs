//! Thousands of immediate panics end in an intensity trip with every task
//! gone. In its own test binary because it silences the panic hook, which
//! is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ron_supervisor::{Backoff, CancellationToken, ChildSpec, Supervisor, SupervisorError};

const STORM: u32 = 5_000;

#[tokio::test(start_paused = true)]
async fn a_panic_storm_trips_the_intensity_and_leaves_no_task_behind() {
    std::panic::set_hook(Box::new(|_| {})); // 5,000 panic messages help no one
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();

    let panics = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&panics);
    let storm = ChildSpec::new("storm", move |_ctx| {
        counter.fetch_add(1, Ordering::SeqCst);
        explode()
    });
    let bystander = ChildSpec::new("bystander", |ctx| async move {
        ctx.cancelled().await;
        Ok::<(), std::io::Error>(())
    });
    let supervisor = Supervisor::builder()
        .intensity(STORM, Duration::from_secs(60))
        .backoff(Backoff::none())
        .child(bystander)
        .child(storm)
        .build();
    let error = supervisor.run(CancellationToken::new()).await.unwrap_err();
    let _ = std::panic::take_hook();

    assert!(
        matches!(error, SupervisorError::IntensityExceeded { ref service, max_restarts: STORM, .. } if &**service == "storm")
    );
    assert_eq!(
        panics.load(Ordering::SeqCst),
        STORM + 1,
        "the start and every allowed restart ran"
    );
    // A task that just finished may count for a moment: let the runtime settle.
    for _ in 0..100 {
        if metrics.num_alive_tasks() == baseline {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        metrics.num_alive_tasks(),
        baseline,
        "every child task is gone"
    );
}

async fn explode() -> Result<(), std::io::Error> {
    panic!("immediate panic")
}
