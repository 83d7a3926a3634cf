//! Series whose value is read from the owner's own state at scrape time.
//!
//! Crates that keep plain atomics (the bus, for one) export them through these
//! collectors, so their hot paths never call into the Prometheus library.

use std::collections::HashMap;
use std::fmt;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Metric, MetricFamily, MetricType};

use crate::MetricsError;

/// A counter whose value is read by a closure each time the registry is scraped.
///
/// The closure must be cheap, must not block, and should be monotonic (a
/// counter that goes down reads as a restart to Prometheus). For a gauge, use
/// [`prometheus::PullingGauge`].
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use ron_metrics::{Metrics, ScrapeCounter};
///
/// let metrics = Metrics::new(false)?;
/// let sent = Arc::new(AtomicU64::new(0));
/// let reader = Arc::clone(&sent);
/// metrics.register(Box::new(ScrapeCounter::new(
///     "demo_sent_total",
///     "Messages sent by the demo.",
///     move || reader.load(Ordering::Relaxed),
/// )?))?;
///
/// sent.fetch_add(3, Ordering::Relaxed);
/// assert!(metrics.render()?.contains("demo_sent_total 3"));
/// # Ok::<(), ron_metrics::MetricsError>(())
/// ```
pub struct ScrapeCounter {
    desc: Desc,
    read: Box<dyn Fn() -> u64 + Send + Sync>,
}

impl ScrapeCounter {
    /// Creates a counter named `name` (which should end in `_total`).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Register`] when `name` is not a valid metric name or
    /// `help` is empty.
    pub fn new(
        name: &str,
        help: &str,
        read: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Result<Self, MetricsError> {
        let desc = Desc::new(name.to_owned(), help.to_owned(), Vec::new(), HashMap::new())
            .map_err(MetricsError::Register)?;
        Ok(Self {
            desc,
            read: Box::new(read),
        })
    }
}

impl Collector for ScrapeCounter {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut counter = Counter::default();
        // Exact up to 2^53, which a u64 event counter does not reach in practice.
        counter.set_value((self.read)() as f64);
        let mut metric = Metric::default();
        metric.set_counter(counter);
        let mut family = MetricFamily::default();
        family.set_name(self.desc.fq_name.clone());
        family.set_help(self.desc.help.clone());
        family.set_field_type(MetricType::COUNTER);
        family.set_metric(vec![metric]);
        vec![family]
    }
}

impl fmt::Debug for ScrapeCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrapeCounter")
            .field("name", &self.desc.fq_name)
            .finish_non_exhaustive()
    }
}
