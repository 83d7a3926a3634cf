//! Clients that stop reading their answers: they may hold a connection slot
//! only for the write timeout, so more of them than `max_connections` cannot
//! starve `/healthz`; a client that reads slowly but steadily still gets a
//! large `/metrics` body whole. Figures are printed (`--nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounterVec, Opts};
use ron_health::HealthState;
use ron_metrics::{Metrics, ServeOptions};
use support::{Conn, PATIENCE, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// The write timeout the servers under test use (the default is 10 s; a
/// short one keeps the tests quick).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Registers labelled series until `/metrics` renders at least `bytes`;
/// returns the body's size.
fn grow_metrics(metrics: &Metrics, bytes: usize) -> usize {
    let filler = IntCounterVec::new(
        Opts::new("filler_total", "Series that make the body large."),
        &["n"],
    )
    .unwrap();
    metrics.register(Box::new(filler.clone())).unwrap();
    let mut n = 0;
    loop {
        for _ in 0..256 {
            filler.with_label_values(&[&format!("{n:08}")]).inc();
            n += 1;
        }
        let size = metrics.render().unwrap().len();
        if size >= bytes {
            return size;
        }
    }
}

/// `http_write_timeouts_total` as `/metrics` shows it.
fn write_timeouts(metrics: &Metrics) -> u64 {
    let text = metrics.render().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("http_write_timeouts_total "))
        .expect("http_write_timeouts_total is exported")
        .parse()
        .unwrap()
}

/// `request_latency_seconds_count` of `GET /metrics`: answers handed to
/// hyper to write.
fn metrics_answers(metrics: &Metrics) -> u64 {
    let text = metrics.render().unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(r#"request_latency_seconds_count{method="GET",route="/metrics"} "#)
        })
        .expect("the /metrics latency series is exported")
        .parse()
        .unwrap()
}

/// Waits until the server has stopped answering `/metrics` (the count is
/// unchanged for 300 ms): every served stuck reader's buffers are full and
/// its writes wait. Returns the count.
async fn until_metrics_answers_stop(metrics: &Metrics) -> u64 {
    let settled = tokio::time::timeout(PATIENCE, async {
        let mut last = metrics_answers(metrics);
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = metrics_answers(metrics);
            if now == last && now > 0 {
                return now;
            }
            last = now;
        }
    })
    .await;
    settled.expect("the server never stopped answering /metrics")
}

/// A connection with a 4 KiB receive buffer that pipelines `requests`
/// `GET /metrics` and never reads an answer.
async fn stuck_reader(addr: std::net::SocketAddr, requests: usize) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = tokio::time::timeout(PATIENCE, socket.connect(addr))
        .await
        .expect("connect timed out")
        .unwrap();
    let pipelined = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n".repeat(requests);
    // A few KiB: the kernel's buffers take it all even if the server is not
    // reading yet (it may be waiting for a free slot).
    tokio::time::timeout(PATIENCE, stream.write_all(&pipelined))
        .await
        .expect("pipelined write timed out")
        .unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_readers_beyond_max_connections_cannot_starve_healthz() {
    const MAX_CONNECTIONS: usize = 4;
    const STUCK: usize = MAX_CONNECTIONS + 2;
    let options = ServeOptions::default()
        .max_connections(MAX_CONNECTIONS)
        .write_timeout(WRITE_TIMEOUT);
    let (metrics, _health, server, addr) = start(options).await;
    let body = grow_metrics(&metrics, 64 * 1024);
    // 100 answers of `body` bytes: far more than a loopback connection's
    // kernel buffers hold (about 3 MiB here), so every writer stalls.
    let requests = 100;
    let mut stuck = Vec::new();
    for _ in 0..STUCK {
        stuck.push(stuck_reader(addr, requests).await);
    }
    let sent = Instant::now();
    let answered = until_metrics_answers_stop(&metrics).await;
    let stalled_after = sent.elapsed();

    let asked = Instant::now();
    let mut probe = Conn::open(addr).await;
    probe
        .send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await;
    let deadline = WRITE_TIMEOUT + Duration::from_secs(1);
    let Ok(response) = tokio::time::timeout(deadline, probe.read_response(false)).await else {
        panic!(
            "/healthz not answered within {deadline:?} with {STUCK} stuck readers \
             (max_connections {MAX_CONNECTIONS}, /metrics body {body} bytes)"
        );
    };
    let waited = asked.elapsed();
    assert_eq!(response.status, 200);
    println!(
        "{STUCK} stuck readers (max_connections {MAX_CONNECTIONS}, {requests} pipelined \
         /metrics of {body} bytes each): the server stopped writing after {answered} \
         answers, {stalled_after:?} after the requests were sent; /healthz then \
         answered in {waited:?} (write timeout {WRITE_TIMEOUT:?})"
    );

    // The first ones served (connections are accepted in order) are cut off,
    // and counted, before getting all they asked for; the others got the
    // freed slots, and are simply dropped here.
    let counted = tokio::time::timeout(PATIENCE, async {
        loop {
            let timeouts = write_timeouts(&metrics);
            if timeouts >= MAX_CONNECTIONS as u64 {
                return timeouts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "write timeouts were not counted");
    for mut stream in stuck.into_iter().take(MAX_CONNECTIONS) {
        let mut received = 0usize;
        let mut chunk = vec![0u8; 64 * 1024];
        let closed = tokio::time::timeout(PATIENCE, async {
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a stuck reader was never disconnected");
        assert!(received < requests * body, "a stuck reader got everything");
    }
    server.shutdown().await.unwrap();
}

/// Serves one connection over an in-memory pipe of `pipe_bytes` (standing
/// in for the socket buffers), asks for `/metrics` and reads the answer
/// 1 KiB at a time every `pace`, pausing `stop_after` bytes in for good.
/// Returns the bytes received and whether the server closed the connection.
async fn read_metrics_paced(
    metrics: &Metrics,
    options: ServeOptions,
    pipe_bytes: usize,
    pace: Duration,
    stop_after: Option<usize>,
) -> (usize, bool) {
    let (mut client, server_side) = tokio::io::duplex(pipe_bytes);
    let serving = tokio::spawn({
        let metrics = metrics.clone();
        async move {
            metrics
                .serve_connection(server_side, Arc::new(HealthState::new()), options)
                .await;
        }
    });
    client
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut received = 0;
    let mut chunk = [0u8; 1024];
    loop {
        if stop_after.is_some_and(|stop| received >= stop) {
            // Stop reading; keep the pipe open until the server gives up.
            let served = tokio::time::timeout(PATIENCE, serving).await;
            return (received, served.is_ok());
        }
        match client.read(&mut chunk).await.unwrap() {
            0 => break,
            n => received += n,
        }
        tokio::time::sleep(pace).await;
    }
    serving.await.unwrap();
    (received, true)
}

#[tokio::test(start_paused = true)]
async fn slow_steady_reader_gets_a_large_metrics_body_whole() {
    let metrics = Metrics::new(false).unwrap();
    let body = grow_metrics(&metrics, 256 * 1024);
    let options = ServeOptions::default().write_timeout(Duration::from_secs(1));
    let started = Instant::now();
    // 10 KiB/s through a 16 KiB pipe: the server's writes wait most of the
    // time, never for as long as the timeout.
    let (received, closed) = read_metrics_paced(
        &metrics,
        options,
        16 * 1024,
        Duration::from_millis(100),
        None,
    )
    .await;
    println!(
        "slow reader: {received} bytes (body {body}) in {:?} of paused-clock time",
        started.elapsed()
    );
    assert!(closed);
    assert!(received > body, "got {received} of a {body}-byte body");
    assert!(started.elapsed() > Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn reader_that_stops_is_cut_off_after_the_write_timeout() {
    let metrics = Metrics::new(false).unwrap();
    let body = grow_metrics(&metrics, 256 * 1024);
    let options = ServeOptions::default().write_timeout(Duration::from_secs(3));
    let started = Instant::now();
    // Reads 64 KiB at 10 KiB/s (about 6 s, twice the timeout), then stops.
    let (received, closed) = read_metrics_paced(
        &metrics,
        options,
        16 * 1024,
        Duration::from_millis(100),
        Some(64 * 1024),
    )
    .await;
    let elapsed = started.elapsed();
    println!("stopped reader: {received} of {body} bytes, cut off after {elapsed:?}");
    assert!(closed, "the server kept a stalled connection open");
    assert!(received < body);
    // The 64th read, at 6.3 s, was the server's last progress; then the
    // 3 s timeout.
    assert!(elapsed >= Duration::from_millis(6300) + Duration::from_secs(3));
    assert!(elapsed < Duration::from_secs(11));
}
