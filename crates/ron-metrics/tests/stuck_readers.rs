//! Clients that stop reading their answers: they may hold a connection slot
//! only for the write timeout, so more of them than `max_connections` cannot
//! starve `/healthz`; a client that reads slowly but steadily still gets a
//! large `/metrics` body whole. Figures are printed (`--nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use prometheus::{IntCounterVec, Opts};
use ron_health::HealthState;
use ron_metrics::{Metrics, ServeOptions};
use support::{Conn, PATIENCE, sample, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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

/// `http_write_timeouts_total` and the count of `GET /metrics` answers
/// (handed to hyper to write), from one exposition.
fn timeouts_and_answers(metrics: &Metrics) -> (u64, u64) {
    let text = metrics.render().unwrap();
    let timeouts = sample(&text, "http_write_timeouts_total").expect("write timeouts exported");
    let answers = sample(
        &text,
        r#"request_latency_seconds_count{method="GET",route="/metrics"}"#,
    )
    .expect("the /metrics latency series is exported");
    (timeouts, answers)
}

/// The most bytes of answers a connection's buffers can hold before the
/// server's writes wait: Linux grows a socket's send buffer up to
/// `net.ipv4.tcp_wmem`'s maximum (or `2 * net.core.wmem_max` when set
/// explicitly); where that cannot be read, a generous 64 MiB.
fn send_buffer_ceiling() -> usize {
    let read = |path: &str, field: usize| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.split_whitespace().nth(field)?.parse::<usize>().ok())
    };
    match (
        read("/proc/sys/net/ipv4/tcp_wmem", 2),
        read("/proc/sys/net/core/wmem_max", 0),
    ) {
        (None, None) => 64 << 20,
        (tcp, core) => tcp.unwrap_or(0).max(2 * core.unwrap_or(0)),
    }
}

/// `http_write_timeouts_total` alone.
fn write_timeouts(metrics: &Metrics) -> u64 {
    timeouts_and_answers(metrics).0
}

/// A client socket with a 4 KiB receive buffer (as the kernel rounds it).
fn small_receive_socket() -> TcpSocket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket
}

/// A connection with a small receive buffer that pipelines `requests`
/// `GET /metrics` and never reads an answer. The requests are written by a
/// task (a connection still in the listen backlog may not take them all
/// yet) that hands the write half back, still open, when done. Returns the
/// read half and that task.
async fn stuck_reader(
    addr: std::net::SocketAddr,
    requests: usize,
) -> (OwnedReadHalf, JoinHandle<OwnedWriteHalf>) {
    let socket = small_receive_socket();
    let stream = tokio::time::timeout(PATIENCE, socket.connect(addr))
        .await
        .expect("connect timed out")
        .unwrap();
    let (read, mut write) = stream.into_split();
    let pipelined = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n".repeat(requests);
    let writer = tokio::spawn(async move {
        // Fails once the server gives up on the connection: expected.
        let _ = write.write_all(&pipelined).await;
        write
    });
    (read, writer)
}

/// What a sampler saw every few milliseconds.
struct Sample {
    at: Instant,
    timeouts: u64,
    answers: u64,
    /// Bytes waiting in each slot holder's receive queue: the server's
    /// writes to it progress exactly when this grows (the client never
    /// reads, and a peek takes nothing).
    queued: Vec<usize>,
}

/// The bytes in a connection's receive queue, without taking them.
async fn queued(stream: &mut OwnedReadHalf, scratch: &mut [u8], last: usize) -> usize {
    let mut buf = ReadBuf::new(scratch);
    std::future::poll_fn(|cx| {
        Poll::Ready(match stream.poll_peek(cx, &mut buf) {
            Poll::Ready(Ok(n)) => n,
            // Nothing yet, or reset: unchanged.
            Poll::Pending | Poll::Ready(Err(_)) => last,
        })
    })
    .await
}

/// Samples the server's counters and the slot holders' receive queues
/// every 10 ms until `stop` is cancelled; hands the streams back.
fn sample_progress(
    metrics: &Metrics,
    mut holders: Vec<OwnedReadHalf>,
    stop: CancellationToken,
) -> JoinHandle<(Vec<Sample>, Vec<OwnedReadHalf>)> {
    let metrics = metrics.clone();
    tokio::spawn(async move {
        let mut samples: Vec<Sample> = Vec::new();
        let mut scratch = vec![0u8; 1 << 20];
        while !stop.is_cancelled() {
            let (timeouts, answers) = timeouts_and_answers(&metrics);
            let mut queues = Vec::with_capacity(holders.len());
            for (i, stream) in holders.iter_mut().enumerate() {
                let last = samples.last().map_or(0, |s| s.queued[i]);
                queues.push(queued(stream, &mut scratch, last).await);
            }
            samples.push(Sample {
                at: Instant::now(),
                timeouts,
                answers,
                queued: queues,
            });
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (samples, holders)
    })
}

/// When the slots were all held by stalled connections: the first sample
/// after the last write progress any slot holder made.
///
/// A slot holder's writes progress when its receive queue grows (seen by
/// peeking), and when the server hands it another answer (one of the
/// `/metrics` answers counted before any timeout fired: until then the
/// readers still in the backlog get none). Counting the queues matters: with
/// a tiny receive buffer Linux may compact a full queue and reopen the
/// window a little, even seconds after the last answer, which is
/// progress and restarts that connection's deadline. A sample sees a change
/// up to 10 ms late, which only moves the clock's start later.
fn slots_held_since(samples: &[Sample]) -> Instant {
    let mut since = samples.first().expect("sampled").at;
    for pair in samples.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let answered = after.timeouts == 0 && after.answers != before.answers;
        if answered || after.queued != before.queued {
            since = after.at;
        }
    }
    since
}

/// The issue's liveness bound: with more stuck readers than
/// `max_connections`, a fresh `/healthz` is answered within the write
/// timeout plus a second of the moment every slot is held by a stalled
/// connection.
///
/// Each stuck reader pipelines more `/metrics` requests than its
/// connection's buffers can take answers for (sized from the body and the
/// host's send-buffer ceiling, not a guess about the host), so every one
/// of them stalls whatever the kernel's buffer sizes. The clock starts when
/// the slots were all held by stalled connections, as the counters and the
/// slot holders' receive queues sampled every 10 ms show it
/// ([`slots_held_since`]), not at a guessed settling time. The probe is sent
/// once the answers have stopped for 500 ms, which only decides when
/// to ask, not what the bound is measured from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_readers_beyond_max_connections_cannot_starve_healthz() {
    const MAX_CONNECTIONS: usize = 4;
    const STUCK: usize = MAX_CONNECTIONS + 2;
    let options = ServeOptions::default()
        .max_connections(MAX_CONNECTIONS)
        .write_timeout(WRITE_TIMEOUT);
    let (metrics, _health, server, addr) = start(options).await;
    // Larger bodies on hosts with larger buffers keep the request count,
    // and the bytes each stuck reader must send, small.
    let ceiling = send_buffer_ceiling();
    let body = grow_metrics(&metrics, (ceiling / 64).max(64 * 1024));

    let receive_buffer = small_receive_socket().recv_buffer_size().unwrap() as usize;
    // Answers enough to fill the send and receive buffers, plus some for
    // hyper's own write buffer and the one being written.
    let requests = (ceiling + receive_buffer).div_ceil(body) + 4;
    let mut stuck = Vec::new();
    for _ in 0..STUCK {
        stuck.push(stuck_reader(addr, requests).await);
    }
    // The first MAX_CONNECTIONS (accepted in order) hold the slots.
    let later = stuck.split_off(MAX_CONNECTIONS);
    let (holders, writers): (Vec<_>, Vec<_>) = stuck.into_iter().unzip();
    let stop = CancellationToken::new();
    let sampler = sample_progress(&metrics, holders, stop.clone());

    // Wait for the answers to stop (500 ms without one), so the probe
    // queues behind the stuck readers; where it lands early the clock's
    // start simply moves later.
    tokio::time::timeout(PATIENCE, async {
        let mut last = (Instant::now(), timeouts_and_answers(&metrics).1);
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let answers = timeouts_and_answers(&metrics).1;
            if answers != last.1 || answers == 0 {
                last = (Instant::now(), answers);
            } else if last.0.elapsed() >= Duration::from_millis(500) {
                return;
            }
        }
    })
    .await
    .expect("the server never stopped answering /metrics");

    let mut probe = Conn::open(addr).await;
    probe
        .send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await;
    let response = probe.read_response(false).await;
    let answered = Instant::now();
    assert_eq!(response.status, 200);
    stop.cancel();
    let (samples, holders) = sampler.await.unwrap();
    let held_since = slots_held_since(&samples);
    let answers = samples
        .iter()
        .filter(|s| s.timeouts == 0)
        .map(|s| s.answers)
        .max()
        .unwrap_or(0);
    let waited = answered.saturating_duration_since(held_since);
    let deadline = WRITE_TIMEOUT + Duration::from_secs(1);
    println!(
        "{STUCK} stuck readers (max_connections {MAX_CONNECTIONS}, {requests} pipelined \
         /metrics of {body} bytes each, send-buffer ceiling {ceiling}): the slots were \
         held after {answers} answers; /healthz answered {waited:?} later \
         (write timeout {WRITE_TIMEOUT:?})"
    );
    assert!(
        waited <= deadline,
        "/healthz answered {waited:?} after the slots were all held, not within {deadline:?}"
    );

    // The first ones served (connections are accepted in order) are cut off,
    // and counted, before getting all they asked for; the others got the
    // freed slots, and are simply dropped here.
    let counted = tokio::time::timeout(PATIENCE, async {
        loop {
            let (timeouts, _) = timeouts_and_answers(&metrics);
            if timeouts >= MAX_CONNECTIONS as u64 {
                return timeouts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "write timeouts were not counted");
    for mut stream in holders {
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
    drop((writers, later));
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

/// A zero write timeout would cut off any response larger than the socket
/// buffers at its first backpressure; it is raised to the 1 s minimum, so a
/// reader that keeps draining still gets the whole body.
#[tokio::test(start_paused = true)]
async fn zero_write_timeout_is_raised_not_a_cut_off_at_first_backpressure() {
    let metrics = Metrics::new(false).unwrap();
    let body = grow_metrics(&metrics, 64 * 1024);
    let options = ServeOptions::default().write_timeout(Duration::ZERO);
    let (received, closed) = read_metrics_paced(
        &metrics,
        options,
        16 * 1024,
        Duration::from_millis(100),
        None,
    )
    .await;
    assert!(closed);
    assert!(received > body, "got {received} of a {body}-byte body");
    assert_eq!(
        write_timeouts(&metrics),
        0,
        "a draining reader was counted as stuck"
    );
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
