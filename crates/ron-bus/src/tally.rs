//! [`PublishTally`]: counts a publish's messages into [`BusStats`] through
//! a drop guard, so a payload's `clone` or `drop` that panics part-way
//! leaves the stats counting exactly what was published.

use crate::BusStats;

/// Counts the messages of one publish (a single message or a batch) as
/// they go out, and records them in [`BusStats`] when dropped: when the
/// publish returns, and also when a payload's `clone` or `drop` panics
/// part-way. So `published` counts exactly the messages the bus stored for
/// at least one subscriber, plus those that reached nobody once their
/// publish completed; messages a panic stopped before anything was stored
/// (and the rest of the batch) are not counted.
///
/// It holds plain counts on the publisher's stack: what it adds to a
/// publish is a few register writes and the usual `record_*` call.
///
/// ```
/// use ron_bus::{BusStats, PublishTally};
///
/// let stats = BusStats::new();
/// let mut tally = PublishTally::batch(&stats);
/// tally.count(2); // reached two subscribers
/// tally.in_flight(true); // stored for someone, then a payload's drop panics
/// drop(tally); // an unwind drops the guard: both count
/// assert_eq!(stats.snapshot().published, 2);
/// ```
#[derive(Debug)]
#[must_use = "the tally records when it drops"]
pub struct PublishTally<'a> {
    stats: &'a BusStats,
    batch: bool,
    /// Messages published so far.
    len: usize,
    /// Of those, the ones that reached nobody.
    nobody: usize,
    /// The message in progress is already stored for some subscriber.
    in_flight: bool,
}

impl<'a> PublishTally<'a> {
    /// The tally of a batch ([`BusStats::record_batch`] when dropped, if it
    /// counted any message).
    pub fn batch(stats: &'a BusStats) -> Self {
        Self::new(stats, true)
    }

    /// The tally of a single publish ([`BusStats::record_publish`] when
    /// dropped, if it counted the message).
    pub fn single(stats: &'a BusStats) -> Self {
        Self::new(stats, false)
    }

    fn new(stats: &'a BusStats, batch: bool) -> Self {
        Self {
            stats,
            batch,
            len: 0,
            nobody: 0,
            in_flight: false,
        }
    }

    /// Counts one message whose publish completed, reaching `receivers`
    /// subscribers (0: nobody); ends the message in progress.
    #[inline]
    pub fn count(&mut self, receivers: usize) {
        self.len += 1;
        self.nobody += usize::from(receivers == 0);
        self.in_flight = false;
    }

    /// Counts `messages` whose publish completed, `nobody` of which reached
    /// no subscriber.
    #[inline]
    pub fn count_many(&mut self, messages: usize, nobody: usize) {
        self.len += messages;
        self.nobody += nobody;
    }

    /// Says whether the message in progress is stored for some subscriber
    /// (or is being stored, by a call that can only panic once it has
    /// stored it): if a panic ends the publish now, it counts as published,
    /// reaching someone.
    #[inline]
    pub fn in_flight(&mut self, stored: bool) {
        self.in_flight = stored;
    }
}

impl Drop for PublishTally<'_> {
    #[inline]
    fn drop(&mut self) {
        let len = self.len + usize::from(self.in_flight);
        if len == 0 {
            return;
        }
        if self.batch {
            self.stats.record_batch(len, self.nobody);
        } else {
            self.stats.record_publish(usize::from(self.nobody == 0));
        }
    }
}
