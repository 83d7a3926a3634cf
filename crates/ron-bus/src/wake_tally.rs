//! [`WakeTally`]: wake-up counts kept locally (by a receiver, or by one
//! publish) and added to [`BusStats`] at once.

use crate::BusStats;

/// Deliveries not yet added to the stats, split into those that ended a
/// park (a wake-up sent) and those to a subscriber that was awake or
/// already notified (a wake-up suppressed): the `notify_sends` and
/// `notify_suppressed` stats.
///
/// For backend authors. Counting is a register bump on the counter's own
/// state; [`flush`](Self::flush) adds the counts to the stats. A backend
/// whose receivers see which is which (a tokio receiver, a ring reader)
/// keeps one per receiver and flushes it when the receiver goes idle
/// (parks, finds nothing to read, closes or drops), so receiving makes no
/// shared write per message; one whose publisher takes the wakers (the
/// reference backend) keeps one per publish.
///
/// ```
/// use ron_bus::{BusStats, WakeTally};
///
/// let stats = BusStats::new();
/// let mut tally = WakeTally::new();
/// tally.delivered(true); // the first message ended a park
/// tally.delivered(false); // the next was waiting already
/// assert_eq!(stats.snapshot().notify_sends, 0); // not yet idle
/// tally.flush(&stats);
/// let s = stats.snapshot();
/// assert_eq!((s.notify_sends, s.notify_suppressed), (1, 1));
/// ```
#[derive(Debug, Default)]
pub struct WakeTally {
    /// Deliveries that ended a park, not yet added to the stats.
    woken: u64,
    /// Deliveries to an awake receiver, not yet added to the stats.
    suppressed: u64,
}

impl WakeTally {
    /// No deliveries counted.
    pub const fn new() -> Self {
        Self {
            woken: 0,
            suppressed: 0,
        }
    }

    /// Counts one delivery: `ended_park` if the subscriber was parked for
    /// it (and this delivery is what wakes it).
    #[inline]
    pub fn delivered(&mut self, ended_park: bool) {
        if ended_park {
            self.woken += 1;
        } else {
            self.suppressed += 1;
        }
    }

    /// Adds the counts to `stats` and starts again from zero; writes
    /// nothing when there is nothing to add.
    #[inline]
    pub fn flush(&mut self, stats: &BusStats) {
        if self.woken + self.suppressed > 0 {
            stats.record_notify(self.woken, self.suppressed);
            *self = Self::new();
        }
    }
}
