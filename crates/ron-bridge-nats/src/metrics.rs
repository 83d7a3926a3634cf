//! The bridge's Prometheus series.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::BridgeError;

/// The `reason`s of `bridge_dropped_total` on the export side: events of
/// the local bus that were not handed to the NATS client.
///
/// - `lagged`: the export subscriber fell behind the local bus and lost
///   events there (the bus's own lag report: a count, not the events, so it
///   also counts any lost event that reached the subscriber only through a
///   publish whose topic mask overlapped `export_mask` without naming an
///   exported topic; with one topic bit per publish, as `Topics` assumes,
///   every lost event is on an exported topic);
/// - `disconnected`: an event to export while the client was not connected;
/// - `full`: the client's command queue stayed full for the publish wait
///   (a stalled connection), or came after such a wait in the same run;
/// - `encode`: an event that could not be encoded (or was larger than the
///   server's `max_payload`);
/// - `unnamed`: an exported event whose topic bit has no name in [`Topics`](crate::Topics);
/// - `shutdown`: an event the export had received, or that was queued for
///   it, when the bridge stopped.
///
/// `bridge_exported_total` plus these accounts for every event published on
/// an exported topic while the bridge ran ([`BridgeMetrics::dropped_export`]).
pub const EXPORT_REASONS: [&str; 6] = [
    "lagged",
    "disconnected",
    "full",
    "encode",
    "unnamed",
    "shutdown",
];

/// The `reason`s of `bridge_dropped_total` on the import side: messages on
/// the cluster's subjects that were not published on the import bus.
///
/// - `slow_consumer`: the client dropped an incoming message because the
///   bridge's subscription queue was full (exact once the subscription is
///   idle: see the README, "Loss accounting");
/// - `malformed`: an incoming message that is not an envelope of `T`, or
///   whose node or topic disagrees with its subject;
/// - `version`: an incoming envelope of a newer encoding version;
/// - `own_node`: a message under this bridge's own node name from another
///   connection (two kernels configured with one name).
pub const IMPORT_REASONS: [&str; 4] = ["slow_consumer", "malformed", "version", "own_node"];

/// Every `reason` label value of `bridge_dropped_total`:
/// [`EXPORT_REASONS`] then [`IMPORT_REASONS`], each series created at 0 on
/// registration so rates and alerts see it before the first loss.
pub const DROP_REASONS: [&str; 10] = {
    let mut all = [""; EXPORT_REASONS.len() + IMPORT_REASONS.len()];
    let mut i = 0;
    while i < all.len() {
        all[i] = if i < EXPORT_REASONS.len() {
            EXPORT_REASONS[i]
        } else {
            IMPORT_REASONS[i - EXPORT_REASONS.len()]
        };
        i += 1;
    }
    all
};

/// The bridge's counters, registered once per registry:
/// `bridge_exported_total`, `bridge_imported_total`,
/// `bridge_dropped_total{reason}` (reasons: [`DROP_REASONS`], the export
/// side's [`EXPORT_REASONS`] and the import side's [`IMPORT_REASONS`]) and the
/// `bridge_connected` gauge (0 or 1).
///
/// Cloning gives another handle on the same series (keep one to read them
/// after handing the other to [`Bridge::start`](crate::Bridge::start)).
///
/// ```
/// use ron_bridge_nats::BridgeMetrics;
///
/// let registry = prometheus::Registry::new();
/// let metrics = BridgeMetrics::register(&registry)?;
/// assert_eq!(metrics.dropped("disconnected"), 0);
/// assert!(BridgeMetrics::register(&registry).is_err()); // once per registry
/// # Ok::<(), ron_bridge_nats::BridgeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BridgeMetrics {
    exported: IntCounter,
    imported: IntCounter,
    dropped: IntCounterVec,
    /// `dropped`'s series in [`DROP_REASONS`] order, looked up once: a drop
    /// on the hot path is one atomic add, no label hashing.
    by_reason: Vec<IntCounter>,
    connected: IntGauge,
}

impl BridgeMetrics {
    /// Creates the series and registers them on `registry` (for the
    /// kernel's: `ron_metrics::Metrics::registry()`).
    ///
    /// # Errors
    ///
    /// [`BridgeError::Metrics`] when a series of that name is already
    /// registered there.
    pub fn register(registry: &Registry) -> Result<Self, BridgeError> {
        let exported = IntCounter::with_opts(Opts::new(
            "bridge_exported_total",
            "Local bus events handed to the NATS client for publishing",
        ))?;
        let imported = IntCounter::with_opts(Opts::new(
            "bridge_imported_total",
            "Remote events published on the local import bus",
        ))?;
        let dropped = IntCounterVec::new(
            Opts::new(
                "bridge_dropped_total",
                "Events the bridge lost or refused, by reason",
            ),
            &["reason"],
        )?;
        let connected = IntGauge::with_opts(Opts::new(
            "bridge_connected",
            "1 while the bridge's NATS client is connected, else 0",
        ))?;
        let by_reason = DROP_REASONS
            .iter()
            .map(|reason| dropped.with_label_values(&[*reason]))
            .collect();
        registry.register(Box::new(exported.clone()))?;
        registry.register(Box::new(imported.clone()))?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(connected.clone()))?;
        Ok(Self {
            exported,
            imported,
            dropped,
            by_reason,
            connected,
        })
    }

    /// `bridge_exported_total` now.
    pub fn exported(&self) -> u64 {
        self.exported.get()
    }

    /// `bridge_imported_total` now.
    pub fn imported(&self) -> u64 {
        self.imported.get()
    }

    /// `bridge_dropped_total{reason}` now (0 for a reason not in
    /// [`DROP_REASONS`], without creating its series).
    pub fn dropped(&self, reason: &str) -> u64 {
        self.series(reason).map_or(0, IntCounter::get)
    }

    /// `bridge_dropped_total` summed over every reason, export and import
    /// (two different streams: see [`dropped_export`](Self::dropped_export)).
    pub fn dropped_total(&self) -> u64 {
        self.by_reason.iter().map(IntCounter::get).sum()
    }

    /// `bridge_dropped_total` summed over [`EXPORT_REASONS`]: with
    /// [`exported`](Self::exported), every event published on an exported
    /// topic while the bridge ran.
    pub fn dropped_export(&self) -> u64 {
        EXPORT_REASONS
            .iter()
            .map(|reason| self.dropped(reason))
            .sum()
    }

    /// `bridge_dropped_total` summed over [`IMPORT_REASONS`].
    pub fn dropped_import(&self) -> u64 {
        IMPORT_REASONS
            .iter()
            .map(|reason| self.dropped(reason))
            .sum()
    }

    /// The cached series of a listed reason.
    fn series(&self, reason: &str) -> Option<&IntCounter> {
        DROP_REASONS
            .iter()
            .position(|known| *known == reason)
            .and_then(|index| self.by_reason.get(index))
    }

    /// Whether `bridge_connected` is 1.
    pub fn connected(&self) -> bool {
        self.connected.get() == 1
    }

    pub(crate) fn add_exported(&self, n: u64) {
        self.exported.inc_by(n);
    }

    pub(crate) fn add_imported(&self, n: u64) {
        self.imported.inc_by(n);
    }

    pub(crate) fn add_dropped(&self, reason: &'static str, n: u64) {
        match self.series(reason) {
            Some(counter) => counter.inc_by(n),
            // Every caller passes a listed reason; an unlisted one still counts.
            None => self.dropped.with_label_values(&[reason]).inc_by(n),
        }
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.set(i64::from(connected));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_an_unknown_reason_creates_no_series() {
        let registry = Registry::new();
        let metrics = BridgeMetrics::register(&registry).unwrap();
        assert_eq!(metrics.dropped("no_such_reason"), 0);
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .unwrap();
        assert!(!text.contains("no_such_reason"), "{text}");
        let both: Vec<&str> = EXPORT_REASONS
            .iter()
            .chain(&IMPORT_REASONS)
            .copied()
            .collect();
        assert_eq!(both, DROP_REASONS);
        for reason in DROP_REASONS {
            assert!(text.contains(&format!("reason=\"{reason}\"")), "{reason}");
        }
    }
}
