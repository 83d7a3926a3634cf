//! Hostile clients against a real server on 127.0.0.1, in one test so the
//! process's file descriptors and tasks can be counted before and after:
//! slowloris, oversized request line and headers, garbage, HTTP/1.0 and
//! keep-alive, pipelining, and a flood of 10,000 requests from 50
//! connections. Legitimate requests must all succeed; nothing may be left
//! behind. Figures are printed (`--nocapture`) for the record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ron_metrics::ServeOptions;
use support::{Conn, PATIENCE, get, start};

/// Open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Polls `f` until it returns `want` (things that just closed may still
/// count for a moment), giving up after `PATIENCE`.
async fn settles_to(want: usize, f: impl Fn() -> usize) -> usize {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = f();
        if now <= want || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `bytes` on a fresh connection and returns what the server said
/// before closing it; the client side is closed on return.
async fn send_and_wait_for_close(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut conn = Conn::open(addr).await;
    conn.send_ignoring_errors(bytes).await;
    conn.read_until_closed().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_cannot_hurt_the_server_and_leave_nothing_behind() {
    let runtime = tokio::runtime::Handle::current().metrics();
    // Warm-up: a server started, used and stopped once, so one-time
    // process-wide set-up (lazily opened by the runtime and libraries) is
    // not mistaken for a leak.
    let (_, _, warm_up, warm_addr) = start(ServeOptions::default()).await;
    assert_eq!(get(warm_addr, "/healthz").await.status, 200);
    warm_up.shutdown().await.unwrap();
    // The warm-up's tasks may still count for a moment after they finish.
    let tasks_before = settles_to(0, || runtime.num_alive_tasks()).await;
    let fds_before = open_fds();
    let options = ServeOptions::default().header_read_timeout(Duration::from_secs(2));
    let (_metrics, health, server, addr) = start(options).await;
    health.set(|s| s.set_config_loaded(true));

    // Slowloris: 200 connections each send half a request and stall, while a
    // legitimate client keeps asking for /healthz.
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut conn = Conn::open(addr).await;
        conn.send(b"GET /metrics HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            .await;
        stalled.push(conn);
    }
    let mut answered = 0;
    for _ in 0..50 {
        if get(addr, "/healthz").await.status == 200 {
            answered += 1;
        }
    }
    println!("slowloris: 200 stalled connections; legitimate /healthz answered {answered}/50");
    assert_eq!(answered, 50);
    // The stalled ones are dropped after the header-read timeout.
    for conn in &mut stalled {
        conn.read_until_closed().await;
    }
    drop(stalled);

    // Oversized request line and headers: refused with a 4xx or a close;
    // garbage: a 400 or a close. The server keeps answering throughout.
    let long_path = format!("/{}", "a".repeat(64 * 1024));
    let reply = send_and_wait_for_close(
        addr,
        format!("GET {long_path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
        "{}",
        &reply[..reply.len().min(80)]
    );
    let header = format!("X-Big: {}\r\n", "b".repeat(8 * 1024)).repeat(4);
    let reply = send_and_wait_for_close(
        addr,
        format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{header}\r\n").as_bytes(),
    )
    .await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
        "{}",
        &reply[..reply.len().min(80)]
    );
    let garbage = [
        0xde, 0xad, 0xbe, 0xef, b'\r', b'\n', 0, 1, 2, 3, b'\r', b'\n', b'\r', b'\n',
    ];
    let reply = send_and_wait_for_close(addr, &garbage).await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
        "{reply}"
    );
    assert_eq!(get(addr, "/healthz").await.status, 200);

    // HTTP/1.0: answered, then closed (no keep-alive asked for).
    let mut conn = Conn::open(addr).await;
    conn.send(b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(conn.read_response(false).await.status, 200);
    conn.read_until_closed().await;
    drop(conn);
    // HTTP/1.0 with keep-alive, then HTTP/1.1 keep-alive and pipelining:
    // three requests in one write, three answers in order.
    let mut conn = Conn::open(addr).await;
    conn.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    assert_eq!(conn.read_response(false).await.status, 200);
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(conn.read_response(false).await.status);
    }
    assert_eq!(got, [200, 503, 404]);
    drop(conn);

    // A flood: 50 keep-alive connections, 200 requests each.
    let flood: Vec<_> = (0..50)
        .map(|_| {
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await;
                let mut ok = 0u32;
                for _ in 0..200 {
                    conn.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
                    if conn.read_response(false).await.status == 200 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for client in flood {
        ok += client.await.unwrap();
    }
    println!("flood: {ok}/10000 requests answered 200 over 50 connections");
    assert_eq!(ok, 10_000);

    // Nothing left behind once the server is shut down.
    server.shutdown().await.unwrap();
    let fds_after = settles_to(fds_before, open_fds).await;
    let tasks_after = settles_to(tasks_before, || runtime.num_alive_tasks()).await;
    println!("leaks: fds {fds_before} -> {fds_after}, tasks {tasks_before} -> {tasks_after}");
    assert_eq!(fds_after, fds_before, "file descriptors left open");
    assert_eq!(tasks_after, tasks_before, "tasks left running");
}
