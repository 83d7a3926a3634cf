//! [`MaskTable`]: a backend's one channel per narrower interest mask, pruned
//! of channels without receivers whenever a subscriber is added.

/// A backend's channels of the narrower interest masks: one per distinct
/// mask (full-mask subscribers share the backend's own channel, outside the
/// table), so a subscriber's capacity and lag count only its interest.
///
/// For backend authors. `S` is whatever the backend writes a message to (a
/// ring, a sender). The table holds no lock and no atomic: the backend keeps
/// it behind its own lock and publishes [`topics`](Self::topics) where its
/// publish can read it without one, so the table adds nothing to the
/// publish path.
///
/// Channels are pruned on [`subscribe`](Self::subscribe), never on a
/// receiver's drop: a drop then touches no shared list, and the table
/// holds at most one dead channel per mask that had subscribers since the
/// last subscribe. The price of a dead channel, until that next subscribe
/// (or until the table drops): its allocation and whatever it still holds
/// (a ring keeps its payloads), and its mask stays in
/// [`topics`](Self::topics), so a publish whose topic matches it takes the
/// backend's slow path (lock, matching walk) as if it had subscribers.
///
/// ```
/// use ron_bus::MaskTable;
///
/// // Here a channel is just its receiver count.
/// let mut table = MaskTable::new();
/// *table.subscribe(0b01, |n| *n, || 0) += 1;
/// *table.subscribe(0b10, |n| *n, || 0) += 1;
/// assert_eq!(table.topics(), 0b11);
/// assert_eq!(table.matching(0b10).count(), 1);
///
/// // A channel without receivers goes at the next subscribe.
/// table.subscribe(0b100, |n| *n, || 0);
/// table.subscribe(0b01, |n| *n, || 0);
/// assert_eq!(table.topics(), 0b11);
/// ```
#[derive(Debug)]
pub struct MaskTable<S> {
    /// (mask, channel), masks distinct, none of them `ALL_TOPICS`.
    entries: Vec<(u64, S)>,
}

impl<S> Default for MaskTable<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> MaskTable<S> {
    /// An empty table. Allocates nothing.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The channel of `mask` for a new subscriber: first drops every
    /// channel `receivers` counts none for, then finds the channel of
    /// `mask` or adds one made by `create`. The caller registers its
    /// receiver before it releases its lock, so a concurrent subscribe
    /// cannot prune the channel in between.
    ///
    /// `mask` must not be `ALL_TOPICS` (its channel is the backend's own).
    pub fn subscribe(
        &mut self,
        mask: u64,
        receivers: impl Fn(&S) -> usize,
        create: impl FnOnce() -> S,
    ) -> &mut S {
        debug_assert_ne!(mask, crate::ALL_TOPICS);
        self.entries.retain(|(_, channel)| receivers(channel) > 0);
        let at = match self.entries.iter().position(|(m, _)| *m == mask) {
            Some(at) => at,
            None => {
                self.entries.push((mask, create()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }

    /// The union of the masks in the table: a topic outside it matches no
    /// channel here. It may include the mask of a channel whose receivers
    /// are gone (pruned at the next subscribe).
    pub fn topics(&self) -> u64 {
        self.entries.iter().fold(0, |all, (mask, _)| all | mask)
    }

    /// The channels whose mask shares a bit with `topics`.
    #[inline]
    pub fn matching(&self, topics: u64) -> impl Iterator<Item = &S> {
        self.entries
            .iter()
            .filter(move |(mask, _)| mask & topics != 0)
            .map(|(_, channel)| channel)
    }

    /// Every (mask, channel), in the order the masks were added.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = (u64, &S)> {
        self.entries.iter().map(|(mask, channel)| (*mask, channel))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::MaskTable;

    #[test]
    fn subscribers_of_one_mask_share_its_channel() {
        let mut table = MaskTable::new();
        *table.subscribe(0b1, |n| *n, || 0) += 1;
        *table.subscribe(0b1, |n| *n, || 0) += 1;
        assert_eq!(table.iter().collect::<Vec<_>>(), [(0b1, &2)]);
    }

    #[test]
    fn subscribe_prunes_channels_without_receivers() {
        let mut table = MaskTable::new();
        table.subscribe(0b01, |n| *n, || 0); // never gets a receiver
        *table.subscribe(0b10, |n| *n, || 0) += 1;
        assert_eq!(table.iter().collect::<Vec<_>>(), [(0b10, &1)]);
    }

    #[test]
    fn matching_is_any_shared_bit() {
        let mut table = MaskTable::new();
        for mask in [0b001, 0b011, 0b100] {
            table.subscribe(mask, |_| 1, || mask);
        }
        assert_eq!(table.matching(0b010).copied().collect::<Vec<_>>(), [0b011]);
        assert_eq!(table.matching(0b101).count(), 3);
        assert_eq!(table.matching(0).count(), 0);
        assert_eq!(MaskTable::<u8>::default().topics(), 0);
    }
}
