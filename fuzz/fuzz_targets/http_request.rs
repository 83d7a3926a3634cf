//! Arbitrary bytes as an HTTP request, through an in-memory connection to
//! the real router: never a panic, never a hang, and any response is a
//! well-formed HTTP/1.x status line.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ron_health::HealthState;
use ron_metrics::{Metrics, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new(false).expect("the canonical registry builds"))
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (mut client, server_side) = tokio::io::duplex(1 << 16);
        let options = ServeOptions::default().header_read_timeout(Duration::from_millis(200)).body_read_timeout(Duration::from_millis(200));
        let serving = tokio::spawn(metrics().serve_connection(server_side, Arc::new(HealthState::new()), options));
        let _ = client.write_all(data).await;
        let _ = client.shutdown().await;
        let mut response = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut response)).await;
        assert!(read.is_ok(), "the server left a connection hanging");
        if !response.is_empty() {
            assert!(response.starts_with(b"HTTP/1."), "not an HTTP response: {:?}", &response[..response.len().min(40)]);
        }
        drop(client);
        let _ = tokio::time::timeout(Duration::from_secs(5), serving).await.expect("connection task ended");
    });
});
