//! Several buses in one `Metrics`: each bus's `bus_*` series under its own
//! constant `bus` label, the process-wide autotune counter once, the whole
//! exposition accepted by `promtool check metrics` (when promtool is
//! installed, and always in CI), and a registry the application already has.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::process::{Command, Stdio};

use prometheus::{IntCounter, Registry};
use ron_bus::BusBackend;
use ron_bus::reference::ReferenceBus;
use ron_metrics::Metrics;

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
        "promtool check metrics rejected the exposition:\n{}{}\n{exposition}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The sample lines of `family` (its name followed by `{` or a space).
fn samples<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .collect()
}

#[test]
fn two_buses_are_two_labelled_series_and_promtool_clean() {
    let metrics = Metrics::new(false).unwrap();
    let kernel: ReferenceBus<u32> = metrics.make_bus(64).unwrap();
    let audit: ReferenceBus<String> = metrics.make_named_bus("audit", 8).unwrap();
    kernel.publish(1);
    for event in ["login", "logout", "login"] {
        audit.publish(event.to_owned());
    }
    let text = metrics.render().unwrap();

    assert_eq!(
        samples(&text, "bus_published_total"),
        [
            r#"bus_published_total{bus="audit"} 3"#,
            r#"bus_published_total{bus="kernel"} 1"#,
        ],
        "{text}"
    );
    assert_eq!(
        samples(&text, "bus_cap_selected"),
        [
            r#"bus_cap_selected{bus="audit"} 8"#,
            r#"bus_cap_selected{bus="kernel"} 64"#,
        ],
        "{text}"
    );
    // Process-wide: one series, whatever the number of buses.
    assert_eq!(samples(&text, "bus_autotune_warn_total").len(), 1, "{text}");
    // Each family is described once, not once per bus.
    assert_eq!(
        text.matches("# TYPE bus_published_total counter").count(),
        1,
        "{text}"
    );
    promtool_check(&text);
}

#[test]
fn a_bus_is_registered_next_to_the_applications_own_series() {
    let registry = Registry::new();
    let jobs = IntCounter::new("app_jobs_total", "Jobs done.").unwrap();
    registry.register(Box::new(jobs.clone())).unwrap();
    let metrics = Metrics::with_registry(registry.clone(), true).unwrap();
    let bus: ReferenceBus<u8> = metrics.make_named_bus("jobs", 4).unwrap();
    bus.publish(1);
    jobs.inc();

    // The application's own gather sees the kernel's series too.
    let names: Vec<String> = registry
        .gather()
        .iter()
        .map(|family| family.name().to_owned())
        .collect();
    for name in ["app_jobs_total", "amnesia_mode", "bus_published_total"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    let text = metrics.render().unwrap();
    assert!(text.contains("app_jobs_total 1"), "{text}");
    assert!(
        text.contains(r#"bus_published_total{bus="jobs"} 1"#),
        "{text}"
    );
    promtool_check(&text);

    // The canonical series exist once per registry.
    assert!(Metrics::with_registry(registry, false).is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn a_registry_that_already_exports_process_series_keeps_them_once() {
    let registry = Registry::new();
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .unwrap();
    let metrics = Metrics::with_registry(registry, false).unwrap();
    let text = metrics.render().unwrap();
    assert_eq!(
        text.matches("# TYPE process_cpu_seconds_total counter")
            .count(),
        1,
        "{text}"
    );
}

/// A registry holding a series of one of the canonical names: `with_registry`
/// refuses it and leaves the registry as it found it (none of the canonical
/// series registered before the refusal stays behind), so once the
/// application unregisters its series, a second try succeeds.
///
/// The conflict has the canonical help text: prometheus reserves a name's
/// help and labels in a registry for good, even after an unregister, so only
/// such a series can make way again.
#[test]
fn a_refused_registry_is_left_as_it_was_and_a_retry_succeeds() {
    let help = Metrics::new(false)
        .unwrap()
        .registry()
        .gather()
        .into_iter()
        .find(|family| family.name() == "http_write_timeouts_total")
        .unwrap()
        .help()
        .to_owned();
    let registry = Registry::new();
    let conflict = IntCounter::new("http_write_timeouts_total", help).unwrap();
    registry.register(Box::new(conflict.clone())).unwrap();

    assert!(Metrics::with_registry(registry.clone(), false).is_err());
    let names: Vec<String> = registry
        .gather()
        .iter()
        .map(|family| family.name().to_owned())
        .collect();
    assert_eq!(names, ["http_write_timeouts_total"], "left behind");

    registry.unregister(Box::new(conflict)).unwrap();
    let metrics = Metrics::with_registry(registry, false).unwrap();
    let text = metrics.render().unwrap();
    assert!(text.contains("\nhttp_write_timeouts_total 0\n"), "{text}");
    assert!(text.contains("\namnesia_mode 0\n"), "{text}");
}
