//! What a scrape costs: rendering `/metrics` with every canonical series
//! (`docs/METRICS.md`) present and populated, and one `/healthz` round trip over a
//! kept-alive loopback connection to the real server.
//!
//! The `bus_*` and `config_*` series are registered the way their crates do it
//! (scrape-time readers over atomics, labelled counters), so the render is the
//! size a full kernel produces.
//!
//! ```text
//! cargo bench -p ron-metrics --bench render
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use prometheus::{Histogram, HistogramOpts, PullingGauge};
use ron_health::{HealthState, ServiceState};
use ron_metrics::{Metrics, ScrapeCounter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CANONICAL: &[&str] = &[
    "bus_published_total",
    "bus_no_receivers_total",
    "bus_receiver_lag_total",
    "bus_batch_publish_total",
    "bus_batch_len",
    "bus_notify_sends_total",
    "bus_notify_suppressed_total",
    "bus_cap_selected",
    "bus_autotune_warn_total",
    "service_restarts_total",
    "service_failures_total",
    "request_latency_seconds",
    "amnesia_mode",
    "config_reloads_total",
    "config_reload_errors_total",
    "kernel_ready",
    "process_cpu_seconds_total",
];

fn full_registry() -> Metrics {
    let metrics = Metrics::new(true).unwrap();
    for (i, name) in [
        "bus_published_total",
        "bus_no_receivers_total",
        "bus_receiver_lag_total",
        "bus_batch_publish_total",
        "bus_notify_sends_total",
        "bus_notify_suppressed_total",
    ]
    .into_iter()
    .enumerate()
    {
        let value = Arc::new(AtomicU64::new(1_000_003 * (i as u64 + 1)));
        let counter = ScrapeCounter::new(name, "Stand-in read at scrape time.", move || {
            value.load(Ordering::Relaxed)
        })
        .unwrap();
        metrics.register(Box::new(counter)).unwrap();
    }
    let cap = PullingGauge::new("bus_cap_selected", "Stand-in.", Box::new(|| 128.0)).unwrap();
    metrics.register(Box::new(cap)).unwrap();
    let batch_len = Histogram::with_opts(
        HistogramOpts::new("bus_batch_len", "Stand-in.")
            .buckets(vec![1.0, 4.0, 16.0, 64.0, 256.0, 1024.0]),
    )
    .unwrap();
    for len in [1.0, 8.0, 100.0, 300.0] {
        batch_len.observe(len);
    }
    metrics.register(Box::new(batch_len)).unwrap();
    // `bus_autotune_warn_total` is process-wide: `Metrics::new` exports it.
    metrics.inc_config_reload();
    metrics.inc_config_reload_error("parse");
    for service in ["api", "db", "cache", "worker", "scheduler"] {
        metrics.inc_service_restart(service);
        metrics.inc_service_failure(service);
    }
    for route in ["/metrics", "/healthz", "/readyz", "other"] {
        for method in ["GET", "HEAD"] {
            for i in 0..20 {
                metrics.observe_request(route, method, 0.000_01 * f64::from(i));
            }
        }
    }
    metrics
}

fn render(c: &mut Criterion) {
    let metrics = full_registry();
    let text = metrics.render().unwrap();
    for name in CANONICAL {
        assert!(text.contains(name), "the bench registry lacks {name}");
    }
    let mut group = c.benchmark_group("metrics");
    group.throughput(criterion::Throughput::Bytes(text.len() as u64));
    group.bench_function("render_all_canonical", |b| {
        b.iter(|| black_box(metrics.render().unwrap()))
    });
    group.finish();
}

fn healthz_round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let health = Arc::new(HealthState::new());
    health.set(|s| s.set_config_loaded(true));
    health
        .set(|s| s.set_service("bench", ServiceState::Healthy))
        .unwrap();
    let metrics = full_registry();
    let (server, addr) = runtime
        .block_on(metrics.serve("127.0.0.1:0".parse().unwrap(), health))
        .unwrap();
    let mut stream = runtime
        .block_on(tokio::net::TcpStream::connect(addr))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut buf = vec![0u8; 4096];

    c.bench_function("http/healthz_round_trip_keep_alive", |b| {
        b.iter(|| {
            runtime.block_on(async {
                stream.write_all(request).await.unwrap();
                // The response is small and fits one read: head plus "ok\n".
                let mut read = 0;
                while !buf[..read].ends_with(b"\r\n\r\nok\n") {
                    let n = stream.read(&mut buf[read..]).await.unwrap();
                    assert!(n > 0, "server closed the connection");
                    read += n;
                }
            });
        });
    });
    drop(stream);
    runtime.block_on(server.shutdown()).unwrap();
}

criterion_group!(benches, render, healthz_round_trip);
criterion_main!(benches);
