//! `wait_for_ctrl_c` resolves on real SIGINT and SIGTERM sent to this process.
//!
//! Its own test binary, so the signals reach nothing else. A tokio handler
//! for each signal is installed before the first one is sent, which replaces
//! the default action (terminate): a signal that arrives before
//! `wait_for_ctrl_c` listens is absorbed, never fatal, so the test re-sends
//! until the wait resolves.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ron_kernel::wait_for_ctrl_c;
use tokio::signal::unix::{SignalKind, signal};

async fn resolves_on(kind: SignalKind, name: &str) {
    let _guard = signal(kind).unwrap();
    let mut wait = tokio::spawn(wait_for_ctrl_c());
    let pid = std::process::id().to_string();
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let status = std::process::Command::new("kill")
                .args([name, &pid])
                .status()
                .unwrap();
            assert!(status.success(), "kill {name} failed");
            tokio::select! {
                joined = &mut wait => return joined,
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    })
    .await;
    let result = outcome.unwrap_or_else(|_| panic!("wait_for_ctrl_c ignored {name}"));
    result.unwrap().unwrap();
}

/// One test, so no other test in this binary sees the signals it sends.
#[tokio::test]
async fn resolves_on_sigterm_and_sigint_and_not_before() {
    let early = tokio::time::timeout(Duration::from_millis(200), wait_for_ctrl_c()).await;
    assert!(early.is_err(), "resolved without any signal");
    resolves_on(SignalKind::terminate(), "-TERM").await;
    resolves_on(SignalKind::interrupt(), "-INT").await;
}
