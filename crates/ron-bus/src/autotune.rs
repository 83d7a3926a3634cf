//! Picking a ring capacity from the number of subscribers expected.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::MAX_CAPACITY;

/// The largest capacity autotune picks by itself; overrides above it are
/// honoured but counted and logged, since a ring that outgrows the caches
/// costs every subscriber.
pub const AUTOTUNE_WARN_ABOVE: usize = 256;

/// Process-wide count of capacities chosen above [`AUTOTUNE_WARN_ABOVE`]
/// (exported as `bus_autotune_warn_total{reason="cap_gt_256"}`).
static WARNINGS: AtomicU64 = AtomicU64::new(0);

/// A power-of-two capacity for `expected_subscribers`, or the normalised
/// `override_cap`.
///
/// Without an override: up to 4 subscribers get 64 slots, up to 16 get 128,
/// more get 256 (measured plateaus). An override is
/// clamped to `1..=MAX_CAPACITY` and rounded up to a power of two; a result
/// above [`AUTOTUNE_WARN_ABOVE`] increments [`autotune_warnings`] and logs a
/// warning. Costs a few nanoseconds; call it once per bus.
///
/// # Example
///
/// ```
/// use ron_bus::autotune_capacity;
///
/// assert_eq!(autotune_capacity(1, None), 64);
/// assert_eq!(autotune_capacity(16, None), 128);
/// assert_eq!(autotune_capacity(100, None), 256);
/// assert_eq!(autotune_capacity(4, Some(100)), 128);
/// assert_eq!(autotune_capacity(4, Some(0)), 1);
/// ```
pub fn autotune_capacity(expected_subscribers: usize, override_cap: Option<usize>) -> usize {
    let capacity = choose(expected_subscribers, override_cap);
    if capacity > AUTOTUNE_WARN_ABOVE {
        WARNINGS.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            capacity,
            expected_subscribers,
            "bus capacity above {AUTOTUNE_WARN_ABOVE} is cache-hostile"
        );
    }
    capacity
}

fn choose(expected_subscribers: usize, override_cap: Option<usize>) -> usize {
    match override_cap {
        None if expected_subscribers <= 4 => 64,
        None if expected_subscribers <= 16 => 128,
        None => 256,
        Some(requested) => requested.clamp(1, MAX_CAPACITY).next_power_of_two(),
    }
}

/// How many times [`autotune_capacity`] chose a capacity above
/// [`AUTOTUNE_WARN_ABOVE`] in this process.
pub fn autotune_warnings() -> u64 {
    WARNINGS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateaus_follow_the_notes() {
        for (subs, cap) in [
            (0, 64),
            (1, 64),
            (4, 64),
            (5, 128),
            (16, 128),
            (17, 256),
            (10_000, 256),
        ] {
            assert_eq!(autotune_capacity(subs, None), cap, "{subs} subscribers");
        }
    }

    #[test]
    fn overrides_are_normalised_and_clamped() {
        assert_eq!(autotune_capacity(1, Some(0)), 1);
        assert_eq!(autotune_capacity(1, Some(1)), 1);
        assert_eq!(autotune_capacity(1, Some(65)), 128);
        assert_eq!(autotune_capacity(1, Some(256)), 256);
        assert_eq!(autotune_capacity(1, Some(usize::MAX)), MAX_CAPACITY);
    }

    #[test]
    fn capacities_above_256_are_counted() {
        // The counter is process-wide and other tests warn concurrently, so
        // only a lower bound on the delta is certain.
        let before = autotune_warnings();
        assert_eq!(autotune_capacity(1, Some(257)), 512);
        assert_eq!(autotune_capacity(1, Some(4096)), 4096);
        assert!(autotune_warnings() >= before + 2);
        // Which choices warn at all is decided by the capacity alone.
        assert!(choose(10_000, None) <= AUTOTUNE_WARN_ABOVE);
        assert!(choose(1, Some(256)) <= AUTOTUNE_WARN_ABOVE);
        assert!(choose(1, Some(257)) > AUTOTUNE_WARN_ABOVE);
    }

    #[test]
    fn results_are_powers_of_two_and_monotone_without_override() {
        let mut last = 0;
        for subs in 0..100 {
            let cap = autotune_capacity(subs, None);
            assert!(cap.is_power_of_two());
            assert!(cap >= last);
            last = cap;
        }
    }
}
