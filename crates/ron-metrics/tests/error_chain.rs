//! Errors the way anyhow/eyre users print them: no `Display` repeats its
//! `source()` text, so `{:#}` says each cause once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error;
use std::sync::Arc;

use ron_bus::reference::ReferenceBus;
use ron_health::HealthState;
use ron_metrics::{Metrics, MetricsError, ScrapeCounter};

/// Walks `error`'s `source()` chain: no message contains its source's text.
/// Returns how many sources it has.
fn assert_no_repeated_source(error: &(dyn Error + 'static)) -> usize {
    let mut depth = 0;
    let mut current = error;
    while let Some(source) = current.source() {
        let (outer, inner) = (current.to_string(), source.to_string());
        assert!(
            !outer.contains(inner.trim()),
            "{outer:?} repeats its source {inner:?}"
        );
        depth += 1;
        current = source;
    }
    depth
}

#[tokio::test]
async fn no_metrics_error_repeats_its_source() {
    let metrics = Metrics::new(false).unwrap();
    let register = metrics
        .register(Box::new(
            ScrapeCounter::new("amnesia_mode", "dup.", || 0).unwrap(),
        ))
        .unwrap_err();
    let bus = metrics.make_bus::<u8, ReferenceBus<u8>>(0).unwrap_err();
    let (server, addr) = metrics
        .serve("127.0.0.1:0".parse().unwrap(), Arc::new(HealthState::new()))
        .await
        .unwrap();
    let bind = metrics
        .serve(addr, Arc::new(HealthState::new()))
        .await
        .unwrap_err();
    server.shutdown().await.unwrap();
    let render = MetricsError::Render(prometheus::Error::Msg("bad family".to_owned()));
    let aborted = tokio::spawn(std::future::pending::<()>());
    aborted.abort();
    let task = MetricsError::ServerTask(aborted.await.unwrap_err());

    for error in [register, bus, bind, render, task] {
        assert!(
            assert_no_repeated_source(&error) >= 1,
            "{error:?} has no source"
        );
    }
}
