//! The HTTP server, started for real on 127.0.0.1:0 and spoken to over TCP:
//! each route, refusals, hostile clients, and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use ron_health::ServiceState;
use ron_metrics::{ServeOptions, TEXT_CONTENT_TYPE};
use support::{Conn, PATIENCE, get, request, sample, start};

#[tokio::test]
async fn healthz_is_200_and_head_has_no_body() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    let response = get(addr, "/healthz").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "ok\n");

    let mut conn = Conn::open(addr).await;
    conn.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await;
    let head = conn.read_response(true).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        conn.read_until_closed().await,
        "",
        "HEAD response carried a body"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn readyz_degrades_first_then_reports_ready() {
    let (_metrics, health, server, addr) = start(ServeOptions::default()).await;
    let booting = get(addr, "/readyz").await;
    assert_eq!(booting.status, 503);
    assert_eq!(booting.header("retry-after"), Some("1"));
    assert_eq!(booting.body, "booting; missing=config_loaded,services");

    health
        .set(|s| s.set_service("b", ServiceState::Starting))
        .unwrap();
    health
        .set(|s| s.set_service("a", ServiceState::Starting))
        .unwrap();
    health.set(|s| s.set_config_loaded(true));
    let starting = get(addr, "/readyz").await;
    assert_eq!(
        (starting.status, starting.body.as_str()),
        (503, "booting; missing=a,b")
    );

    let verbose = get(addr, "/readyz?verbose").await;
    assert_eq!(verbose.status, 503);
    assert_eq!(
        verbose.body,
        "a: starting\nb: starting\nconfig_loaded: loaded\n"
    );

    health
        .set(|s| s.set_service("a", ServiceState::Healthy))
        .unwrap();
    health
        .set(|s| s.set_service("b", ServiceState::Healthy))
        .unwrap();
    let ready = get(addr, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    assert_eq!(ready.header("retry-after"), None);
    assert_eq!(
        get(addr, "/readyz?verbose").await.body,
        "a: healthy\nb: healthy\nconfig_loaded: loaded\n"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_is_prometheus_text_and_counts_requests() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    assert_eq!(get(addr, "/healthz").await.status, 200);
    let response = get(addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some(TEXT_CONTENT_TYPE));
    for name in [
        "amnesia_mode 0",
        "kernel_ready 0",
        "request_latency_seconds_bucket",
    ] {
        assert!(response.body.contains(name), "missing {name}");
    }
    let count = sample(
        &response.body,
        r#"request_latency_seconds_count{method="GET",route="/healthz"}"#,
    )
    .expect("no /healthz latency count");
    assert!(count >= 1, "the /healthz request was not recorded");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_is_405_with_allow() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    assert_eq!(get(addr, "/nope").await.status, 404);
    let post = request(addr, "POST", "/metrics").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn stalled_client_is_dropped_while_others_are_served() {
    let options = ServeOptions::default().header_read_timeout(Duration::from_millis(300));
    let (_metrics, _health, server, addr) = start(options).await;
    let mut stalled = Conn::open(addr).await;
    stalled.send(b"GET /heal").await;

    // The stalled connection holds no lock or slot another client needs.
    let meanwhile = get(addr, "/healthz").await;
    assert_eq!(meanwhile.status, 200);

    // hyper may answer 408 before closing; either way the connection ends.
    let sent = stalled.read_until_closed().await;
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "unexpected reply {sent:?}"
    );
    assert_eq!(get(addr, "/healthz").await.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_the_timeout() {
    let options = ServeOptions::default().header_read_timeout(Duration::from_millis(300));
    let (_metrics, _health, server, addr) = start(options).await;
    let mut conn = Conn::open(addr).await;
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(conn.read_response(false).await.status, 200);
    assert_eq!(conn.read_until_closed().await, "");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn huge_header_is_refused_and_server_stays_up() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    let mut conn = Conn::open(addr).await;
    let huge = "x".repeat(64 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Huge: {huge}\r\n\r\n");
    // The server may stop reading and answer before the whole header is sent.
    conn.send_ignoring_errors(request.as_bytes()).await;
    let reply = conn.read_until_closed().await;
    assert!(
        reply.starts_with("HTTP/1.1 431"),
        "expected 431, got {reply:?}"
    );
    assert_eq!(get(addr, "/healthz").await.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversized_body_is_413_and_closes() {
    let (_metrics, _health, server, addr) =
        start(ServeOptions::default().max_body_bytes(1024)).await;
    let mut conn = Conn::open(addr).await;
    conn.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        .await;
    let response = conn.read_response(false).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(get(addr, "/healthz").await.status, 200);

    // Chunked bodies have no length up front; the limit still holds.
    let mut chunked = Conn::open(addr).await;
    let chunk = "y".repeat(2000);
    let body = format!(
        "GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n{chunk}\r\n0\r\n\r\n"
    );
    chunked.send(body.as_bytes()).await;
    assert_eq!(chunked.read_response(false).await.status, 413);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn small_body_is_discarded_and_connection_reused() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    let mut conn = Conn::open(addr).await;
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        .await;
    assert_eq!(conn.read_response(false).await.status, 200);
    conn.send(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(conn.read_response(false).await.status, 503);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    let mut conn = Conn::open(addr).await;
    conn.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(conn.read_response(false).await.status, 200);
    conn.send(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    assert_eq!(conn.read_response(false).await.status, 404);
    assert_eq!(conn.read_response(false).await.status, 503);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_gets_400_and_server_stays_up() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    let mut conn = Conn::open(addr).await;
    conn.send(b"\x00\x01\x02 garbage \xff\r\n\r\n").await;
    let reply = conn.read_until_closed().await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
        "unexpected reply {reply:?}"
    );
    assert_eq!(get(addr, "/healthz").await.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_then_closes_the_port() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default()).await;
    let mut in_flight = Conn::open(addr).await;
    // The handler reads (and discards) bodies up to a small limit, so this
    // request is in the handler, waiting for the rest of its body.
    in_flight
        .send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        .await;
    // Prove the server is past the head: another request is served meanwhile.
    assert_eq!(get(addr, "/healthz").await.status, 200);

    let shutdown = tokio::spawn(server.shutdown());
    // The listener closes first; wait until new connections are refused.
    tokio::time::timeout(PATIENCE, async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the port stayed open during shutdown");
    assert!(
        !shutdown.is_finished(),
        "shutdown did not wait for the request in flight"
    );

    in_flight.send(b"world").await;
    let response = in_flight.read_response(false).await;
    assert_eq!((response.status, response.body.as_str()), (200, "ok\n"));
    tokio::time::timeout(PATIENCE, shutdown)
        .await
        .expect("shutdown hung after the last request")
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_closes_idle_connections_without_waiting_for_the_timeout() {
    let options = ServeOptions::default()
        .shutdown_timeout(Duration::from_secs(3600))
        .header_read_timeout(Duration::from_secs(3600));
    let (_metrics, _health, server, addr) = start(options).await;
    let mut idle = Conn::open(addr).await;
    idle.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(idle.read_response(false).await.status, 200);
    // An idle connection must not hold shutdown for the hour-long timeout.
    tokio::time::timeout(PATIENCE, server.shutdown())
        .await
        .expect("shutdown waited on an idle connection")
        .unwrap();
    assert_eq!(idle.read_until_closed().await, "");
}

#[tokio::test]
async fn shutdown_aborts_a_stuck_request_after_the_timeout() {
    let options = ServeOptions::default()
        .shutdown_timeout(Duration::from_millis(200))
        .body_read_timeout(Duration::from_secs(3600));
    let (_metrics, _health, server, addr) = start(options).await;
    let mut stuck = Conn::open(addr).await;
    stuck
        .send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhel")
        .await;
    assert_eq!(get(addr, "/healthz").await.status, 200);
    tokio::time::timeout(PATIENCE, server.shutdown())
        .await
        .expect("shutdown ignored its timeout")
        .unwrap();
    assert_eq!(stuck.read_until_closed().await, "");
}

#[tokio::test]
async fn connection_limit_queues_extra_clients_instead_of_failing_them() {
    let (_metrics, _health, server, addr) = start(ServeOptions::default().max_connections(1)).await;
    let mut holder = Conn::open(addr).await;
    holder
        .send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    assert_eq!(holder.read_response(false).await.status, 200);

    // The only slot is taken: the next client waits in the backlog...
    let waiting = tokio::spawn(get(addr, "/healthz"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "a second connection was served beyond the limit"
    );
    // ...and is served as soon as the slot frees.
    drop(holder);
    let response = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status, 200);
    server.shutdown().await.unwrap();
}
