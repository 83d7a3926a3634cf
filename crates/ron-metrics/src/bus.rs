//! Exporting a bus's plain-atomic stats at scrape time.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use ron_bus::{AUTOTUNE_WARN_ABOVE, BusBackend, BusStats, autotune_warnings};

use crate::{Metrics, MetricsError};

/// The `bus_*` series, each by name: what a scrape exports, in this order.
struct Series {
    published: Desc,
    no_receivers: Desc,
    receiver_lag: Desc,
    batch_publishes: Desc,
    batch_len: Desc,
    notify_sends: Desc,
    notify_suppressed: Desc,
    capacity: Desc,
    autotune_warnings: Desc,
}

impl Series {
    fn new() -> Result<Self, MetricsError> {
        Ok(Self {
            published: desc("bus_published_total", "Messages published on the bus.", &[])?,
            no_receivers: desc(
                "bus_no_receivers_total",
                "Publishes that reached no subscriber.",
                &[],
            )?,
            receiver_lag: desc(
                "bus_receiver_lag_total",
                "Messages lost by slow subscribers.",
                &[],
            )?,
            batch_publishes: desc("bus_batch_publish_total", "publish_many calls.", &[])?,
            batch_len: desc("bus_batch_len", "Messages per publish_many call.", &[])?,
            notify_sends: desc(
                "bus_notify_sends_total",
                "Wake-ups sent to parked subscribers.",
                &[],
            )?,
            notify_suppressed: desc(
                "bus_notify_suppressed_total",
                "Wake-ups skipped: subscriber already awake or notified.",
                &[],
            )?,
            capacity: desc(
                "bus_cap_selected",
                "Capacity of the bus (messages retained per subscriber).",
                &[],
            )?,
            autotune_warnings: desc(
                "bus_autotune_warn_total",
                &format!("Capacities chosen above {AUTOTUNE_WARN_ABOVE} by autotune."),
                &["reason"],
            )?,
        })
    }

    fn all(&self) -> [&Desc; 9] {
        [
            &self.published,
            &self.no_receivers,
            &self.receiver_lag,
            &self.batch_publishes,
            &self.batch_len,
            &self.notify_sends,
            &self.notify_suppressed,
            &self.capacity,
            &self.autotune_warnings,
        ]
    }
}

fn desc(name: &str, help: &str, labels: &[&str]) -> Result<Desc, MetricsError> {
    Desc::new(
        name.to_owned(),
        help.to_owned(),
        labels.iter().map(|&label| label.to_owned()).collect(),
        HashMap::new(),
    )
    .map_err(MetricsError::Register)
}

/// Reads a bus's [`BusStats`] into the `bus_*` series at each scrape.
struct BusCollector {
    stats: Arc<BusStats>,
    capacity: usize,
    series: Series,
    /// The `reason` label of `bus_autotune_warn_total`.
    autotune_reason: String,
}

impl BusCollector {
    fn new(stats: Arc<BusStats>, capacity: usize) -> Result<Self, MetricsError> {
        Ok(Self {
            stats,
            capacity,
            series: Series::new()?,
            autotune_reason: format!("cap_gt_{AUTOTUNE_WARN_ABOVE}"),
        })
    }
}

fn family(desc: &Desc, kind: MetricType, metric: Metric) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(kind);
    family.set_metric(vec![metric]);
    family
}

fn counter(desc: &Desc, value: u64) -> MetricFamily {
    family(desc, MetricType::COUNTER, counter_metric(value))
}

fn counter_metric(value: u64) -> Metric {
    let mut counter = Counter::default();
    // Exact below 2^53 events.
    counter.set_value(value as f64);
    let mut metric = Metric::default();
    metric.set_counter(counter);
    metric
}

impl Collector for BusCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.series.all().to_vec()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s = self.stats.snapshot();
        let series = &self.series;
        let mut histogram = Histogram::default();
        histogram.set_sample_count(s.batch_publishes);
        histogram.set_sample_sum(s.batch_len_sum as f64);
        histogram.set_bucket(
            s.batch_len_buckets
                .iter()
                .map(|&(bound, cumulative)| {
                    let mut bucket = Bucket::default();
                    bucket.set_upper_bound(bound as f64);
                    bucket.set_cumulative_count(cumulative);
                    bucket
                })
                .collect(),
        );
        let mut batch_len = Metric::default();
        batch_len.set_histogram(histogram);
        let mut gauge = Gauge::default();
        gauge.set_value(self.capacity as f64);
        let mut capacity = Metric::default();
        capacity.set_gauge(gauge);
        let mut reason = LabelPair::default();
        reason.set_name("reason".to_owned());
        reason.set_value(self.autotune_reason.clone());
        let mut warnings = counter_metric(autotune_warnings());
        warnings.set_label(vec![reason]);
        vec![
            counter(&series.published, s.published),
            counter(&series.no_receivers, s.no_receivers),
            counter(&series.receiver_lag, s.receiver_lag),
            counter(&series.batch_publishes, s.batch_publishes),
            family(&series.batch_len, MetricType::HISTOGRAM, batch_len),
            counter(&series.notify_sends, s.notify_sends),
            counter(&series.notify_suppressed, s.notify_suppressed),
            family(&series.capacity, MetricType::GAUGE, capacity),
            family(&series.autotune_warnings, MetricType::COUNTER, warnings),
        ]
    }
}

impl Metrics {
    /// Exports a bus's statistics as the `bus_*` series, read at each scrape
    /// (the bus itself never calls into Prometheus). One bus per registry.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Register`] if a bus is already registered here.
    pub fn register_bus(&self, stats: Arc<BusStats>, capacity: usize) -> Result<(), MetricsError> {
        self.register(Box::new(BusCollector::new(stats, capacity)?))
    }

    /// Builds a bus of backend `B` with `capacity` (see
    /// [`ron_bus::autotune_capacity`]) and registers its statistics.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bus`] for a bad capacity, [`MetricsError::Register`]
    /// if a bus is already registered here.
    ///
    /// # Example
    ///
    /// ```
    /// use ron_bus::reference::ReferenceBus;
    /// use ron_bus::BusBackend;
    /// use ron_metrics::Metrics;
    ///
    /// let metrics = Metrics::new(false)?;
    /// let bus: ReferenceBus<u32> = metrics.make_bus(64)?;
    /// bus.publish(7);
    /// assert!(metrics.render()?.contains("bus_no_receivers_total 1"));
    /// # Ok::<(), ron_metrics::MetricsError>(())
    /// ```
    pub fn make_bus<T, B>(&self, capacity: usize) -> Result<B, MetricsError>
    where
        T: Clone + Send + Sync + 'static,
        B: BusBackend<T>,
    {
        let bus = B::with_capacity(capacity)?;
        self.register_bus(Arc::clone(bus.stats()), bus.capacity())?;
        Ok(bus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ron_bus::reference::ReferenceBus;
    use ron_bus::{BusReceiver, TryRecvError};

    #[test]
    fn bus_series_follow_the_bus() {
        let metrics = Metrics::new(false).unwrap();
        let bus: ReferenceBus<u64> = metrics.make_bus(4).unwrap();
        let mut rx = bus.subscribe();
        for i in 0..6 {
            bus.publish(i);
        }
        bus.publish_many([6, 7, 8]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(5)));
        let text = metrics.render().unwrap();
        for line in [
            "bus_published_total 9",
            "bus_no_receivers_total 0",
            "bus_receiver_lag_total 5",
            "bus_batch_publish_total 1",
            "bus_batch_len_bucket{le=\"4\"} 1",
            "bus_batch_len_sum 3",
            "bus_batch_len_count 1",
            "bus_cap_selected 4",
            "bus_autotune_warn_total{reason=\"cap_gt_256\"}",
            "# HELP bus_autotune_warn_total Capacities chosen above 256 by autotune.",
            "# TYPE bus_batch_len histogram",
            "# TYPE bus_cap_selected gauge",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_second_bus_on_one_registry_is_refused() {
        let metrics = Metrics::new(false).unwrap();
        let _bus: ReferenceBus<u64> = metrics.make_bus(4).unwrap();
        let second: Result<ReferenceBus<u64>, _> = metrics.make_bus(4);
        assert!(matches!(second, Err(MetricsError::Register(_))));
        let zero: Result<ReferenceBus<u64>, _> = Metrics::new(false).unwrap().make_bus(0);
        assert!(matches!(
            zero,
            Err(MetricsError::Bus(ron_bus::BusError::ZeroCapacity))
        ));
    }
}
