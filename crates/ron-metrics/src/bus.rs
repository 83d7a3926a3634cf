//! Exporting buses' plain-atomic stats at scrape time: one collector per bus,
//! each series carrying that bus's constant `bus="NAME"` label, and one
//! process-wide collector for the autotune counter every bus shares.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use ron_bus::{AUTOTUNE_WARN_ABOVE, BusBackend, BusStats, autotune_warnings};

use crate::{Metrics, MetricsError};

/// The `bus_*` series of one bus, each by name: what a scrape exports, in
/// this order. Every descriptor carries the bus's `bus` label as a constant
/// label, so buses registered side by side are distinct series of the same
/// families.
struct Series {
    published: Desc,
    no_receivers: Desc,
    receiver_lag: Desc,
    batch_publishes: Desc,
    batch_len: Desc,
    notify_sends: Desc,
    notify_suppressed: Desc,
    capacity: Desc,
}

impl Series {
    fn new(bus: &str) -> Result<Self, MetricsError> {
        let desc = |name: &str, help: &str| {
            Desc::new(
                name.to_owned(),
                help.to_owned(),
                Vec::new(),
                HashMap::from([("bus".to_owned(), bus.to_owned())]),
            )
            .map_err(MetricsError::Register)
        };
        Ok(Self {
            published: desc("bus_published_total", "Messages published on the bus.")?,
            no_receivers: desc(
                "bus_no_receivers_total",
                "Publishes that reached no subscriber.",
            )?,
            receiver_lag: desc(
                "bus_receiver_lag_total",
                "Messages lost by slow subscribers.",
            )?,
            batch_publishes: desc("bus_batch_publish_total", "publish_many calls.")?,
            batch_len: desc("bus_batch_len", "Messages per publish_many call.")?,
            notify_sends: desc(
                "bus_notify_sends_total",
                "Wake-ups sent to parked subscribers.",
            )?,
            notify_suppressed: desc(
                "bus_notify_suppressed_total",
                "Wake-ups skipped: subscriber already awake or notified.",
            )?,
            capacity: desc(
                "bus_cap_selected",
                "Capacity of the bus (messages retained per subscriber).",
            )?,
        })
    }

    fn all(&self) -> [&Desc; 8] {
        [
            &self.published,
            &self.no_receivers,
            &self.receiver_lag,
            &self.batch_publishes,
            &self.batch_len,
            &self.notify_sends,
            &self.notify_suppressed,
            &self.capacity,
        ]
    }
}

/// One metric of `desc`'s family, `desc`'s constant labels put before the
/// metric's own (a hand-written collector sets them itself; the registry
/// does not).
fn family(desc: &Desc, kind: MetricType, mut metric: Metric) -> MetricFamily {
    let mut labels = desc.const_label_pairs.clone();
    labels.extend(metric.take_label());
    metric.set_label(labels);
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

/// Reads one bus's [`BusStats`] into its `bus_*` series at each scrape.
struct BusCollector {
    stats: Arc<BusStats>,
    capacity: usize,
    series: Series,
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
        vec![
            counter(&series.published, s.published),
            counter(&series.no_receivers, s.no_receivers),
            counter(&series.receiver_lag, s.receiver_lag),
            counter(&series.batch_publishes, s.batch_publishes),
            family(&series.batch_len, MetricType::HISTOGRAM, batch_len),
            counter(&series.notify_sends, s.notify_sends),
            counter(&series.notify_suppressed, s.notify_suppressed),
            family(&series.capacity, MetricType::GAUGE, capacity),
        ]
    }
}

/// `bus_autotune_warn_total{reason}`: [`autotune_warnings`] is one counter
/// for the whole process (autotune runs before any bus exists), so it is
/// exported once per registry, never per bus.
// Clone: `with_registry` keeps a twin of each collector it registers, to
// unregister it again if a later series is refused.
#[derive(Clone)]
pub(crate) struct AutotuneCollector {
    desc: Desc,
    /// The `reason` label, fixed: the only reason autotune warns.
    reason: LabelPair,
}

impl AutotuneCollector {
    pub(crate) fn new() -> Result<Self, MetricsError> {
        let desc = Desc::new(
            "bus_autotune_warn_total".to_owned(),
            format!("Capacities chosen above {AUTOTUNE_WARN_ABOVE} by autotune."),
            vec!["reason".to_owned()],
            HashMap::new(),
        )
        .map_err(MetricsError::Register)?;
        let mut reason = LabelPair::default();
        reason.set_name("reason".to_owned());
        reason.set_value(format!("cap_gt_{AUTOTUNE_WARN_ABOVE}"));
        Ok(Self { desc, reason })
    }
}

impl Collector for AutotuneCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut warnings = counter_metric(autotune_warnings());
        warnings.set_label(vec![self.reason.clone()]);
        vec![family(&self.desc, MetricType::COUNTER, warnings)]
    }
}

impl Metrics {
    /// The `bus` label of the bus [`make_bus`](Self::make_bus) builds: the
    /// kernel's own bus.
    pub const KERNEL_BUS: &'static str = "kernel";

    /// Exports a bus's statistics as the `bus_*` series labelled
    /// `bus="NAME"`, read at each scrape (the bus itself never calls into
    /// Prometheus). Any number of buses can be registered, each under its
    /// own name.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Register`] if a bus named `name` is already
    /// registered here, or `name` is empty (an empty label value is no label
    /// to Prometheus, so the series would not say which bus they are).
    pub fn register_bus(
        &self,
        name: &str,
        stats: Arc<BusStats>,
        capacity: usize,
    ) -> Result<(), MetricsError> {
        if name.is_empty() {
            return Err(MetricsError::Register(prometheus::Error::Msg(
                "a bus name (the `bus` label) cannot be empty".to_owned(),
            )));
        }
        self.register(Box::new(BusCollector {
            stats,
            capacity,
            series: Series::new(name)?,
        }))
    }

    /// Builds the kernel's bus, of backend `B` with `capacity` (see
    /// [`ron_bus::autotune_capacity`]), and registers its statistics under
    /// `bus="kernel"` ([`KERNEL_BUS`](Self::KERNEL_BUS)). Other buses:
    /// [`make_named_bus`](Self::make_named_bus).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bus`] for a bad capacity, [`MetricsError::Register`]
    /// if the kernel's bus is already registered here.
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
    /// assert!(metrics.render()?.contains(r#"bus_no_receivers_total{bus="kernel"} 1"#));
    /// # Ok::<(), ron_metrics::MetricsError>(())
    /// ```
    pub fn make_bus<T, B>(&self, capacity: usize) -> Result<B, MetricsError>
    where
        T: Clone + Send + Sync + 'static,
        B: BusBackend<T>,
    {
        self.make_named_bus(Self::KERNEL_BUS, capacity)
    }

    /// Builds a bus of backend `B` with `capacity` and registers its
    /// statistics under `bus="NAME"` (see [`register_bus`](Self::register_bus)).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Bus`] for a bad capacity, [`MetricsError::Register`]
    /// if a bus named `name` is already registered here or `name` is empty.
    ///
    /// # Example
    ///
    /// ```
    /// use ron_bus::reference::ReferenceBus;
    /// use ron_bus::BusBackend;
    /// use ron_metrics::Metrics;
    ///
    /// let metrics = Metrics::new(false)?;
    /// let kernel: ReferenceBus<u32> = metrics.make_bus(64)?;
    /// let audit: ReferenceBus<String> = metrics.make_named_bus("audit", 16)?;
    /// kernel.publish(1);
    /// audit.publish("login".to_owned());
    /// audit.publish("logout".to_owned());
    /// let text = metrics.render()?;
    /// assert!(text.contains(r#"bus_published_total{bus="kernel"} 1"#));
    /// assert!(text.contains(r#"bus_published_total{bus="audit"} 2"#));
    /// # Ok::<(), ron_metrics::MetricsError>(())
    /// ```
    pub fn make_named_bus<T, B>(&self, name: &str, capacity: usize) -> Result<B, MetricsError>
    where
        T: Clone + Send + Sync + 'static,
        B: BusBackend<T>,
    {
        let bus = B::with_capacity(capacity)?;
        self.register_bus(name, Arc::clone(bus.stats()), bus.capacity())?;
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
            r#"bus_published_total{bus="kernel"} 9"#,
            r#"bus_no_receivers_total{bus="kernel"} 0"#,
            r#"bus_receiver_lag_total{bus="kernel"} 5"#,
            r#"bus_batch_publish_total{bus="kernel"} 1"#,
            r#"bus_batch_len_bucket{bus="kernel",le="4"} 1"#,
            r#"bus_batch_len_sum{bus="kernel"} 3"#,
            r#"bus_batch_len_count{bus="kernel"} 1"#,
            r#"bus_cap_selected{bus="kernel"} 4"#,
            r#"bus_autotune_warn_total{reason="cap_gt_256"}"#,
            "# HELP bus_autotune_warn_total Capacities chosen above 256 by autotune.",
            "# TYPE bus_batch_len histogram",
            "# TYPE bus_cap_selected gauge",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_bus_name_is_registered_once_and_never_empty() {
        let metrics = Metrics::new(false).unwrap();
        let _bus: ReferenceBus<u64> = metrics.make_bus(4).unwrap();
        let second: Result<ReferenceBus<u64>, _> = metrics.make_bus(4);
        assert!(matches!(second, Err(MetricsError::Register(_))));
        let _audit: ReferenceBus<u64> = metrics.make_named_bus("audit", 4).unwrap();
        let again: Result<ReferenceBus<u64>, _> = metrics.make_named_bus("audit", 4);
        assert!(matches!(again, Err(MetricsError::Register(_))));
        let empty: Result<ReferenceBus<u64>, _> = metrics.make_named_bus("", 4);
        assert!(matches!(empty, Err(MetricsError::Register(_))));
        let zero: Result<ReferenceBus<u64>, _> = Metrics::new(false).unwrap().make_bus(0);
        assert!(matches!(
            zero,
            Err(MetricsError::Bus(ron_bus::BusError::ZeroCapacity))
        ));
    }
}
