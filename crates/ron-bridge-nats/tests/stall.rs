//! A stalled server (SIGSTOP: the socket stays open, nothing is read or
//! answered) and a client that keeps retrying after shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ron_bus::BusBackend as _;
use support::{CRASH, Ev, NatsServer, Node, WAIT, options, wait_until};

/// A stalled-but-connected client: the socket and the client's queue fill,
/// publishes wait (bounded) and drop as `full`; the local publisher never
/// waits; `shutdown` returns within its bound and the export task is over
/// when it does (nothing counted after it), every event accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_costs_full_drops_and_shutdown_ends_the_export() {
    let server = NatsServer::start().expect("nats-server");
    let mut a = Node::start_with_capacity(options(&server.url(), "a"), 4096);
    a.connected().await;
    server.stall().expect("SIGSTOP nats-server");
    let big = "x".repeat(4096);
    let mut published = 0u64;
    let deadline = tokio::time::Instant::now() + WAIT;
    // Runs of 256 until the client's queue is full (the socket's buffers
    // first): each run returns, whatever NATS does.
    while a.metrics.dropped("full") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no full drop after {published} events"
        );
        for _ in 0..256 {
            a.local.publish_topic(CRASH, Ev::Crash(big.clone()));
        }
        published += 256;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // More while stalled: the export is held by a client still "Connected".
    for _ in 0..2048 {
        a.local.publish_topic(CRASH, Ev::Crash(big.clone()));
    }
    published += 2048;
    assert!(a.bridge().is_connected(), "a stall, not a loss (yet)");

    tokio::time::timeout(Duration::from_secs(5), a.bridge.take().unwrap().shutdown())
        .await
        .expect("shutdown is bounded while the server stalls");
    let m = &a.metrics;
    let settled = m.exported() + m.dropped_export();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        m.exported() + m.dropped_export(),
        settled,
        "the export task outlived shutdown"
    );
    assert_eq!(settled, published, "every event exported or dropped");
    assert_eq!(m.dropped_import(), 0);
    assert!(!m.connected());
    server.resume().expect("SIGCONT nats-server");
}

/// A stalled server is seen as lost by the client's pings within about
/// three ping intervals (3 × 5 s), not the client's default (2 minutes or
/// more): gauge, `is_connected` and the gate follow; resumed, it reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_is_seen_as_lost_by_the_pings() {
    let server = NatsServer::start().expect("nats-server");
    let a = Node::start({
        let mut o = options(&server.url(), "a");
        o.required = true;
        o
    });
    a.connected().await;
    wait_until("gate healthy", || a.health.missing() == ["config_loaded"]).await;
    server.stall().expect("SIGSTOP nats-server");
    wait_until("the stall seen as a loss", || {
        !a.metrics.connected() && a.health.missing().contains(&"nats".to_owned())
    })
    .await;
    assert!(!a.bridge().is_connected());
    server.resume().expect("SIGCONT nats-server");
    a.connected().await;
    wait_until("gauge back to 1", || a.metrics.connected()).await;
}

/// After a shutdown while disconnected, the client (whose reconnect loop
/// cannot be stopped from outside) stops trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_while_disconnected_the_client_stops_retrying() {
    // Not a NATS server: accepts, counts and hangs up, so every attempt
    // fails at once and the next one follows after the backoff (≤ 300 ms).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counted.fetch_add(1, Ordering::AcqRel);
            if let Ok(mut stream) = stream {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(10)));
                let _ = stream.read(&mut [0; 64]);
            }
        }
    });
    let mut a = Node::start(options(&format!("nats://127.0.0.1:{port}"), "a"));
    wait_until("the client retries", || {
        attempts.load(Ordering::Acquire) >= 3
    })
    .await;
    a.bridge.take().unwrap().shutdown().await;
    // An attempt already waiting its delay may still come.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = attempts.load(Ordering::Acquire);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        attempts.load(Ordering::Acquire),
        after,
        "the client kept reconnecting after shutdown"
    );
}
