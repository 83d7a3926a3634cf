//! Tidy check: every series `Metrics` exports is documented in `docs/METRICS.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ron_metrics::Metrics;

#[test]
fn every_exported_series_is_in_docs_metrics_md() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/METRICS.md");
    // A packaged crate (`cargo package`) has no repository around it.
    if !std::path::Path::new(doc_path).exists() {
        eprintln!("skipped: {doc_path} is outside this package");
        return;
    }
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let metrics = Metrics::new(false).unwrap();
    // Labelled vectors export nothing until a child exists.
    metrics.inc_service_restart("tidy");
    metrics.inc_service_failure("tidy");
    let _bus: ron_bus::reference::ReferenceBus<u8> = metrics.make_bus(8).unwrap();
    let families = metrics.registry().gather();
    assert!(
        families.len() >= 4,
        "too few families gathered: {}",
        families.len()
    );
    let undocumented: Vec<&str> = families
        .iter()
        .map(|f| f.name())
        .filter(|name| !doc.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "add these series to docs/METRICS.md: {undocumented:?}"
    );
}
