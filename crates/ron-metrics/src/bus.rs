//! Exporting a bus's plain-atomic stats at scrape time.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use ron_bus::{BusBackend, BusStats, autotune_warnings};

use crate::{Metrics, MetricsError};

/// (name, help, type) of every series the bus exports.
const SERIES: [(&str, &str, MetricType); 9] = [
    (
        "bus_published_total",
        "Messages published on the bus.",
        MetricType::COUNTER,
    ),
    (
        "bus_no_receivers_total",
        "Publishes that reached no subscriber.",
        MetricType::COUNTER,
    ),
    (
        "bus_receiver_lag_total",
        "Messages lost by slow subscribers.",
        MetricType::COUNTER,
    ),
    (
        "bus_batch_publish_total",
        "publish_many calls.",
        MetricType::COUNTER,
    ),
    (
        "bus_batch_len",
        "Messages per publish_many call.",
        MetricType::HISTOGRAM,
    ),
    (
        "bus_notify_sends_total",
        "Wake-ups sent to parked subscribers.",
        MetricType::COUNTER,
    ),
    (
        "bus_notify_suppressed_total",
        "Wake-ups skipped: subscriber already awake or notified.",
        MetricType::COUNTER,
    ),
    (
        "bus_cap_selected",
        "Capacity of the bus (messages retained per subscriber).",
        MetricType::GAUGE,
    ),
    (
        "bus_autotune_warn_total",
        "Capacities chosen above 256 by autotune.",
        MetricType::COUNTER,
    ),
];

/// Reads a bus's [`BusStats`] into the `bus_*` series at each scrape.
struct BusCollector {
    stats: Arc<BusStats>,
    capacity: usize,
    descs: Vec<Desc>,
}

impl BusCollector {
    fn new(stats: Arc<BusStats>, capacity: usize) -> Result<Self, MetricsError> {
        let descs = SERIES
            .iter()
            .map(|(name, help, _)| {
                let labels = if *name == "bus_autotune_warn_total" {
                    vec!["reason".to_owned()]
                } else {
                    Vec::new()
                };
                Desc::new(
                    (*name).to_owned(),
                    (*help).to_owned(),
                    labels,
                    HashMap::new(),
                )
            })
            .collect::<Result<_, _>>()
            .map_err(MetricsError::Register)?;
        Ok(Self {
            stats,
            capacity,
            descs,
        })
    }
}

fn family(index: usize, metric: Metric) -> MetricFamily {
    let (name, help, kind) = SERIES[index];
    let mut family = MetricFamily::default();
    family.set_name(name.to_owned());
    family.set_help(help.to_owned());
    family.set_field_type(kind);
    family.set_metric(vec![metric]);
    family
}

fn counter(value: u64) -> Metric {
    let mut counter = Counter::default();
    // Exact below 2^53 events.
    counter.set_value(value as f64);
    let mut metric = Metric::default();
    metric.set_counter(counter);
    metric
}

impl Collector for BusCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s = self.stats.snapshot();
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
        reason.set_value("cap_gt_256".to_owned());
        let mut warnings = counter(autotune_warnings());
        warnings.set_label(vec![reason]);
        vec![
            family(0, counter(s.published)),
            family(1, counter(s.no_receivers)),
            family(2, counter(s.receiver_lag)),
            family(3, counter(s.batch_publishes)),
            family(4, batch_len),
            family(5, counter(s.notify_sends)),
            family(6, counter(s.notify_suppressed)),
            family(7, capacity),
            family(8, warnings),
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
