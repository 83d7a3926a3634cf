//! [`Metrics`]: the registry and the canonical series it owns.

use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::MetricsError;
use crate::bus::AutotuneCollector;

/// Content type of [`Metrics::render`]'s output (Prometheus text format 0.0.4).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Bucket bounds of `request_latency_seconds`, from 50 µs (a scrape of a small
/// registry on loopback) to 10 s (a client that is timing out).
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Reasons of `config_reload_errors_total` pre-created at zero, so alerts
/// see a series before the first error: every value of `ron-config`'s
/// `ConfigError::reason`.
const CONFIG_ERROR_REASONS: [&str; 5] = ["io", "empty", "parse", "validate", "watch"];

/// The routes the built-in server pre-creates latency series for, so that
/// dashboards see zeros instead of gaps before the first request.
pub(crate) const SERVED_ROUTES: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// A Prometheus registry holding ron-kernel's canonical series.
///
/// Owns `amnesia_mode`, `kernel_ready`, `service_restarts_total{service}`,
/// `service_failures_total{service}`, `config_reloads_total`,
/// `config_reload_errors_total{reason}`, `request_latency_seconds{route,method}`,
/// `http_write_timeouts_total`, the process-wide
/// `bus_autotune_warn_total{reason}` and, on Linux, the standard
/// `process_*` series. Buses add their `bus_*` series, each under its own
/// `bus` label ([`make_bus`](Self::make_bus),
/// [`make_named_bus`](Self::make_named_bus)). Other crates add theirs with [`register`](Self::register)
/// (see [`ScrapeCounter`](crate::ScrapeCounter) for series read from atomics at
/// scrape time). `docs/METRICS.md` lists every series.
///
/// Cloning is cheap and every clone shares the same registry.
///
/// # Example
///
/// ```
/// use ron_metrics::Metrics;
///
/// let metrics = Metrics::new(true)?;
/// metrics.inc_service_restart("worker");
/// let text = metrics.render()?;
/// assert!(text.contains("amnesia_mode 1"));
/// assert!(text.contains(r#"service_restarts_total{service="worker"} 1"#));
/// # Ok::<(), ron_metrics::MetricsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    amnesia_mode: IntGauge,
    ready: IntGauge,
    service_restarts_total: IntCounterVec,
    service_failures_total: IntCounterVec,
    config_reloads_total: IntCounter,
    config_reload_errors_total: IntCounterVec,
    request_latency_seconds: HistogramVec,
    http_write_timeouts_total: IntCounter,
}

impl Metrics {
    /// Creates a registry with every canonical series, `amnesia_mode` set from
    /// `amnesia_on`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Register`] if a series cannot be registered; with the
    /// fixed names used here that means a bug, which the tests would catch.
    pub fn new(amnesia_on: bool) -> Result<Self, MetricsError> {
        Self::with_registry(Registry::new(), amnesia_on)
    }

    /// Adds every canonical series to a registry the process already has
    /// (and scrapes itself), `amnesia_mode` set from `amnesia_on`. The
    /// `process_*` series are added unless `registry` already has them (as
    /// [`prometheus::default_registry`] does with the `process` feature).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Register`] if `registry` already holds one of the
    /// canonical series (another `Metrics` was built on it, or the
    /// application registered a series of the same name). `registry` is then
    /// left as it was: the series this call registered before the refusal
    /// are unregistered again, so a retry is refused only by the conflict
    /// itself.
    ///
    /// # Example
    ///
    /// ```
    /// use prometheus::{IntCounter, Registry};
    /// use ron_metrics::Metrics;
    ///
    /// let registry = Registry::new();
    /// let jobs = IntCounter::new("app_jobs_total", "Jobs done.")?;
    /// registry.register(Box::new(jobs.clone()))?;
    /// let metrics = Metrics::with_registry(registry.clone(), false)?;
    /// jobs.inc();
    /// let text = metrics.render()?;
    /// assert!(text.contains("app_jobs_total 1"));
    /// assert!(text.contains("kernel_ready 0"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_registry(registry: Registry, amnesia_on: bool) -> Result<Self, MetricsError> {
        let amnesia_mode = IntGauge::new(
            "amnesia_mode",
            "1 when amnesia mode (no persistent state) is on, else 0.",
        )
        .map_err(MetricsError::Register)?;
        let ready = IntGauge::new(
            "kernel_ready",
            "1 when every readiness gate passes (what /readyz reports), else 0; updated at each scrape.",
        )
        .map_err(MetricsError::Register)?;
        let service_restarts_total = IntCounterVec::new(
            Opts::new(
                "service_restarts_total",
                "Restarts of a supervised service (after a crash, or a clean exit of a permanent service).",
            ),
            &["service"],
        )
        .map_err(MetricsError::Register)?;
        let service_failures_total = IntCounterVec::new(
            Opts::new(
                "service_failures_total",
                "Times a supervisor gave up on a service: its restart intensity was exceeded.",
            ),
            &["service"],
        )
        .map_err(MetricsError::Register)?;
        let config_reloads_total = IntCounter::new(
            "config_reloads_total",
            "Configuration changes applied (by content: a touch applies nothing).",
        )
        .map_err(MetricsError::Register)?;
        let config_reload_errors_total = IntCounterVec::new(
            Opts::new(
                "config_reload_errors_total",
                "Configuration reloads refused, by reason; the last good configuration stays.",
            ),
            &["reason"],
        )
        .map_err(MetricsError::Register)?;
        for reason in CONFIG_ERROR_REASONS {
            config_reload_errors_total.with_label_values(&[reason]);
        }
        let request_latency_seconds = HistogramVec::new(
            HistogramOpts::new(
                "request_latency_seconds",
                "Time to answer an HTTP request, by route and method.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .map_err(MetricsError::Register)?;
        for route in SERVED_ROUTES {
            request_latency_seconds.with_label_values(&[route, "GET"]);
        }
        let http_write_timeouts_total = IntCounter::new(
            "http_write_timeouts_total",
            "HTTP connections closed because their response made no write progress (the client took in no more bytes) for the whole write timeout.",
        )
        .map_err(MetricsError::Register)?;

        // All or nothing: a refusal half-way (the application already has a
        // series of one of these names) unregisters what this call added, so
        // the caller's registry is left as it was and a retry can succeed.
        let mut registration = Registration::new(&registry);
        registration.add(&amnesia_mode)?;
        registration.add(&ready)?;
        registration.add(&service_restarts_total)?;
        registration.add(&service_failures_total)?;
        registration.add(&config_reloads_total)?;
        registration.add(&config_reload_errors_total)?;
        registration.add(&request_latency_seconds)?;
        registration.add(&http_write_timeouts_total)?;
        registration.add(&AutotuneCollector::new()?)?;
        // Last, so that nothing can fail after it and it is never undone;
        // when the registry already exports this process's `process_*`,
        // those are the application's and stay.
        #[cfg(target_os = "linux")]
        match registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            Ok(()) | Err(prometheus::Error::AlreadyReg) => {}
            Err(e) => return Err(MetricsError::Register(e)),
        }
        registration.keep();

        let metrics = Self {
            inner: Arc::new(Inner {
                registry,
                amnesia_mode,
                ready,
                service_restarts_total,
                service_failures_total,
                config_reloads_total,
                config_reload_errors_total,
                request_latency_seconds,
                http_write_timeouts_total,
            }),
        };
        metrics.set_amnesia(amnesia_on);
        Ok(metrics)
    }

    /// Adds a collector to the registry; its series appear in every later scrape.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Register`] if a series with the same name and labels is
    /// already registered, or the collector's descriptors are invalid.
    pub fn register(&self, collector: Box<dyn Collector>) -> Result<(), MetricsError> {
        self.inner
            .registry
            .register(collector)
            .map_err(MetricsError::Register)
    }

    /// Sets the `amnesia_mode` gauge.
    pub fn set_amnesia(&self, on: bool) {
        self.inner.amnesia_mode.set(i64::from(on));
    }

    /// Whether the `amnesia_mode` gauge is on.
    pub fn amnesia(&self) -> bool {
        self.inner.amnesia_mode.get() != 0
    }

    /// Counts one restart of `service` in `service_restarts_total{service}`.
    pub fn inc_service_restart(&self, service: &str) {
        self.inner
            .service_restarts_total
            .with_label_values(&[service])
            .inc();
    }

    /// Counts one give-up on `service` (its supervisor's restart intensity
    /// was exceeded) in `service_failures_total{service}`.
    pub fn inc_service_failure(&self, service: &str) {
        self.inner
            .service_failures_total
            .with_label_values(&[service])
            .inc();
    }

    /// Counts one applied configuration change in `config_reloads_total`.
    pub fn inc_config_reload(&self) {
        self.inner.config_reloads_total.inc();
    }

    /// Counts one refused reload in `config_reload_errors_total{reason}`.
    /// Keep `reason` to a fixed set (`io`, `empty`, `parse`, `validate`,
    /// `watch`, which are pre-created at zero): each distinct value is a new
    /// series.
    pub fn inc_config_reload_error(&self, reason: &str) {
        self.inner
            .config_reload_errors_total
            .with_label_values(&[reason])
            .inc();
    }

    /// Records one answered request in `request_latency_seconds{route,method}`.
    ///
    /// Keep `route` to a fixed set (never a raw request path): each distinct
    /// value is a new series.
    pub fn observe_request(&self, route: &str, method: &str, seconds: f64) {
        self.inner
            .request_latency_seconds
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// The counter of connections the HTTP server closed for not reading
    /// (`http_write_timeouts_total`), for each connection's write deadline.
    pub(crate) fn write_timeouts(&self) -> IntCounter {
        self.inner.http_write_timeouts_total.clone()
    }

    /// Sets the readiness gauge; the HTTP server does this at every scrape.
    pub(crate) fn set_ready(&self, ready: bool) {
        self.inner.ready.set(i64::from(ready));
    }

    /// The underlying registry, for callers that gather or encode themselves.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Renders every series in the Prometheus text format ([`TEXT_CONTENT_TYPE`]).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Render`] if a registered collector produced a family the
    /// encoder rejects.
    pub fn render(&self) -> Result<String, MetricsError> {
        let families = self.inner.registry.gather();
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&families, &mut out)
            .map_err(MetricsError::Render)?;
        // The text encoder writes only UTF-8 (names are ASCII, values are
        // formatted numbers, label values and help are Rust strings).
        String::from_utf8(out)
            .map_err(|e| MetricsError::Render(prometheus::Error::Msg(e.to_string())))
    }
}

/// The collectors one [`Metrics::with_registry`] call has registered so
/// far: unregistered again when it is dropped before [`keep`](Self::keep)
/// (an early return on an error), so a failed call leaves nothing behind.
struct Registration<'a> {
    registry: &'a Registry,
    /// A twin of each registered collector (same descriptors), which is what
    /// [`Registry::unregister`] goes by.
    added: Vec<Box<dyn Collector>>,
}

impl<'a> Registration<'a> {
    fn new(registry: &'a Registry) -> Self {
        Self {
            registry,
            added: Vec::new(),
        }
    }

    fn add<C: Collector + Clone + 'static>(&mut self, collector: &C) -> Result<(), MetricsError> {
        self.registry
            .register(Box::new(collector.clone()))
            .map_err(MetricsError::Register)?;
        self.added.push(Box::new(collector.clone()));
        Ok(())
    }

    /// Everything stays registered.
    fn keep(mut self) {
        self.added.clear();
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        for collector in self.added.drain(..).rev() {
            // Registered by this same call a moment ago, so it is found; an
            // error would mean it is gone already, which is the goal.
            let _ = self.registry.unregister(collector);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScrapeCounter;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn new_renders_the_owned_series() {
        let text = Metrics::new(false).unwrap().render().unwrap();
        for series in [
            "# TYPE amnesia_mode gauge",
            "amnesia_mode 0",
            "# TYPE kernel_ready gauge",
            "# TYPE request_latency_seconds histogram",
            r#"request_latency_seconds_count{method="GET",route="/readyz"} 0"#,
        ] {
            assert!(text.contains(series), "missing {series:?} in\n{text}");
        }
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_cpu_seconds_total"), "{text}");
    }

    #[test]
    fn amnesia_follows_set_amnesia() {
        let metrics = Metrics::new(true).unwrap();
        assert!(metrics.amnesia());
        metrics.set_amnesia(false);
        assert!(!metrics.amnesia());
        assert!(metrics.render().unwrap().contains("amnesia_mode 0"));
    }

    #[test]
    fn clones_share_one_registry() {
        let metrics = Metrics::new(false).unwrap();
        let clone = metrics.clone();
        clone.inc_service_restart("a");
        clone.inc_service_restart("a");
        assert!(
            metrics
                .render()
                .unwrap()
                .contains(r#"service_restarts_total{service="a"} 2"#)
        );
    }

    #[test]
    fn scrape_counter_reads_at_scrape_time() {
        let metrics = Metrics::new(false).unwrap();
        let value = Arc::new(AtomicU64::new(0));
        let read = Arc::clone(&value);
        let counter =
            ScrapeCounter::new("x_total", "x.", move || read.load(Ordering::Relaxed)).unwrap();
        metrics.register(Box::new(counter)).unwrap();
        assert!(metrics.render().unwrap().contains("x_total 0"));
        value.store(41, Ordering::Relaxed);
        assert!(metrics.render().unwrap().contains("x_total 41"));
    }

    #[test]
    fn duplicate_and_invalid_registrations_are_typed_errors() {
        let metrics = Metrics::new(false).unwrap();
        let dup = ScrapeCounter::new("amnesia_mode", "dup.", || 0).unwrap();
        assert!(matches!(
            metrics.register(Box::new(dup)),
            Err(MetricsError::Register(_))
        ));
        assert!(matches!(
            ScrapeCounter::new("bad name", "x.", || 0),
            Err(MetricsError::Register(_))
        ));
        assert!(matches!(
            ScrapeCounter::new("ok_total", "", || 0),
            Err(MetricsError::Register(_))
        ));
    }
}
