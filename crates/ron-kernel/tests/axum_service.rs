//! `axum_service`, the real example binary, spoken to over HTTP on its one
//! port: the app's own `/hello`, the kernel's `/metrics` (checked by
//! `promtool check metrics` when it is installed, and always in CI),
//! `/readyz` answering 503 while the `cache` service warms up and 200 once
//! it is healthy, and the same endpoints nested under `/ops`.
//!
//! The binary is built first (see `support`), so it is never stale.
//! Loopback only; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Example, PATIENCE, get};

const LISTENING_PREFIX: &str = "listening on http://";

/// `promtool check metrics` on `exposition`; skipped (with a note) when
/// promtool is not installed, except in CI (`CI` set), where it must be.
fn promtool_check(exposition: &str) {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("promtool not run ({e}); CI requires it");
            return;
        }
        Err(e) => panic!("CI is set and promtool cannot run: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics rejected /metrics:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls `path` until it answers `status`, within [`PATIENCE`].
fn wait_for(addr: SocketAddr, path: &str, status: u16) -> support::Response {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let response = get(addr, path);
        if response.status == status {
            return response;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {} {:?}",
            response.status,
            response.body
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn one_port_serves_the_app_and_the_kernel_endpoints_merged_and_nested() {
    // The `cache` service warms up for 5 s after the address is printed
    // (2 s by default): room for the first request even on a loaded
    // machine. Only that first `/readyz` must find it booting.
    let (_example, addr) = Example::start(
        "axum_service",
        &[("RUST_LOG", "warn"), ("AXUM_SERVICE_WARM_UP_MS", "5000")],
        LISTENING_PREFIX,
    );
    let booting = get(addr, "/readyz");
    assert_eq!(booting.status, 503, "{}", booting.body);
    assert_eq!(booting.header("retry-after"), Some("1"));
    assert!(
        booting.body.starts_with("booting; missing="),
        "{}",
        booting.body
    );

    let hello = get(addr, "/hello");
    assert_eq!(hello.status, 200);
    assert!(
        hello.body.starts_with("hello from an axum app"),
        "{}",
        hello.body
    );

    let nested = get(addr, "/ops/healthz");
    assert_eq!((nested.status, nested.body.as_str()), (200, "ok\n"));

    let ready = wait_for(addr, "/readyz", 200);
    assert_eq!(ready.body, "ready");
    let verbose = get(addr, "/ops/readyz?verbose");
    assert_eq!(verbose.status, 200);
    assert!(verbose.body.contains("cache: healthy"), "{}", verbose.body);

    for path in ["/metrics", "/ops/metrics"] {
        let scrape = get(addr, path);
        assert_eq!(scrape.status, 200, "{path}");
        assert_eq!(
            scrape.header("content-type"),
            Some(ron_kernel::metrics::TEXT_CONTENT_TYPE),
            "{path}"
        );
        let body = &scrape.body;
        assert!(body.contains("\nkernel_ready 1\n"), "{path}: {body}");
        assert!(body.contains("\nbus_published_total"), "{path}: {body}");
        // Nested or not, a request is counted under its endpoint's route.
        assert!(
            body.contains("request_latency_seconds_count{method=\"GET\",route=\"/readyz\"}"),
            "{path}: {body}"
        );
        promtool_check(body);
    }

    assert_eq!(get(addr, "/nope").status, 404);
    assert_eq!(get(addr, "/ops/nope").status, 404);
}
