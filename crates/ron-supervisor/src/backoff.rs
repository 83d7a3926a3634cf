//! Jittered exponential backoff and the small seeded random source it uses.

use std::time::Duration;

/// Restart delays: `base` doubling per consecutive crash up to `cap`, with
/// "equal jitter" (a uniform draw from the upper half of the exponential
/// step) applied *before* the cap, so a delay never exceeds `cap`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use ron_supervisor::{Backoff, Rng};
///
/// let backoff = Backoff::default(); // 100 ms doubling to 30 s
/// let mut rng = Rng::seeded(7);
/// let first = backoff.delay(0, &mut rng);
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// assert!(backoff.delay(40, &mut rng) <= Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling to a 30 s cap.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// `base` doubling to `cap` (a `cap` below `base` is raised to `base`).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
        }
    }

    /// No delay at all: restarts are immediate (intensity still limits them).
    pub fn none() -> Self {
        Self {
            base: Duration::ZERO,
            cap: Duration::ZERO,
        }
    }

    /// The delay before restart number `attempt` (0 for the first restart
    /// after a healthy run): a uniform draw from `[step / 2, step]` where
    /// `step = base * 2^attempt`, then capped.
    pub fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let step = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(31)));
        let half = step / 2;
        let jitter_nanos = u64::try_from((step - half).as_nanos()).unwrap_or(u64::MAX);
        let jittered = half.saturating_add(Duration::from_nanos(
            rng.below(jitter_nanos.saturating_add(1)),
        ));
        jittered.min(self.cap)
    }
}

/// SplitMix64: a tiny, seedable, statistically decent generator. Seeded, the
/// sequence of delays is reproducible, which the tests rely on.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator seeded from the process's random hashing keys.
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        Self(
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        )
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw from `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the bias is below 2^-64 * bound.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_their_jitter_band_and_respect_the_cap() {
        let backoff = Backoff::default();
        let mut rng = Rng::seeded(42);
        for attempt in 0..12 {
            let step = Duration::from_millis(100) * 2u32.pow(attempt);
            let d = backoff.delay(attempt, &mut rng);
            assert!(
                d <= Duration::from_secs(30),
                "attempt {attempt}: {d:?} above the cap"
            );
            assert!(
                d >= (step / 2).min(Duration::from_secs(30)),
                "attempt {attempt}: {d:?} below the band"
            );
            assert!(d <= step, "attempt {attempt}: {d:?} above the step");
        }
        for attempt in [10, 20, 31, 32, 1000, u32::MAX] {
            assert_eq!(
                backoff.delay(attempt, &mut rng),
                Duration::from_secs(30),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn seeded_sequences_repeat_and_differ_by_seed() {
        let backoff = Backoff::default();
        let run = |seed| {
            let mut rng = Rng::seeded(seed);
            (0..8)
                .map(|a| backoff.delay(a, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn jitter_spreads_over_the_band() {
        let backoff = Backoff::new(Duration::from_millis(1000), Duration::from_secs(60));
        let mut rng = Rng::seeded(3);
        let draws: Vec<Duration> = (0..1000).map(|_| backoff.delay(0, &mut rng)).collect();
        let low = draws
            .iter()
            .filter(|d| **d < Duration::from_millis(750))
            .count();
        assert!(
            (400..600).contains(&low),
            "{low} of 1000 draws in the lower half of the band"
        );
        assert!(
            draws
                .iter()
                .all(|d| *d >= Duration::from_millis(500) && *d <= Duration::from_millis(1000))
        );
    }

    #[test]
    fn none_is_immediate_and_cap_below_base_is_raised() {
        let mut rng = Rng::seeded(0);
        assert_eq!(Backoff::none().delay(5, &mut rng), Duration::ZERO);
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert!(b.delay(3, &mut rng) <= Duration::from_secs(2));
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::seeded(9);
        assert_eq!(rng.below(0), 0);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
    }
}
