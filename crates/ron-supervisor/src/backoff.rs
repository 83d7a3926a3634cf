//! Jittered exponential backoff, as a pure function of the attempt and a
//! jitter fraction (the supervisor draws the fraction from its generator).

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Restart delays: a step of `base` doubling per consecutive crash up to
/// `cap`, with "equal jitter": the delay is a point of the upper half of the
/// step, chosen by a jitter fraction. The step is capped before the jitter,
/// so a delay never exceeds `cap`, and delays at the cap still spread over
/// `[cap / 2, cap]` (a fleet of children in a long crash loop does not
/// restart in lockstep).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use ron_supervisor::Backoff;
///
/// let backoff = Backoff::default(); // 100 ms doubling to 30 s
/// assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(50));
/// assert_eq!(backoff.delay(0, 1.0), Duration::from_millis(100));
/// assert_eq!(backoff.delay(2, 0.5), Duration::from_millis(300)); // 400 ms step
/// assert_eq!(backoff.delay(40, 1.0), Duration::from_secs(30)); // 30 s step
/// assert_eq!(backoff.delay(40, 0.0), Duration::from_secs(15));
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
    /// after a healthy run): `step / 2 + jitter * step / 2` where
    /// `step = min(base * 2^attempt, cap)`. `jitter` is a fraction in
    /// `[0, 1]` (clamped into it; NaN counts as 0): a uniform `jitter` gives
    /// a uniform draw from `[step / 2, step]`, and the same `jitter` always
    /// gives the same delay.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        // Capped before the jitter: at the cap the band is still
        // `[cap / 2, cap]`, never the cap alone.
        let step = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(31)))
            .min(self.cap);
        let half = step / 2;
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        // In whole nanoseconds, so the band's ends are exact (an f64 holds
        // every integer up to 2^53 ns, 104 days); `as` saturates beyond.
        let extra = ((step - half).as_nanos() as f64 * jitter).round() as u128;
        let extra = Duration::new(
            u64::try_from(extra / NANOS_PER_SEC).unwrap_or(u64::MAX),
            (extra % NANOS_PER_SEC) as u32,
        );
        half.saturating_add(extra).min(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fraction lands in the attempt's band `[step / 2, step]`, the
    /// step capped, so never above the cap; the band's ends are exact.
    #[test]
    fn delays_double_within_their_jitter_band_and_respect_the_cap() {
        let backoff = Backoff::default();
        let cap = Duration::from_secs(30);
        for attempt in 0..12 {
            let step = (Duration::from_millis(100) * 2u32.pow(attempt)).min(cap);
            for jitter in [0.0, 0.1, 0.5, 0.9, 1.0] {
                let d = backoff.delay(attempt, jitter);
                assert!(d >= step / 2, "attempt {attempt}: {d:?} below the band");
                assert!(d <= step, "attempt {attempt}: {d:?} above the band");
            }
            assert_eq!(backoff.delay(attempt, 0.0), step / 2);
            assert_eq!(backoff.delay(attempt, 1.0), step);
        }
    }

    /// Past the cap the band is `[cap / 2, cap]`, not the cap alone: a fleet
    /// of children in a long crash loop keeps restarting spread out instead
    /// of in lockstep every `cap`.
    #[test]
    fn jitter_still_spreads_the_delays_at_the_cap() {
        let backoff = Backoff::default();
        let cap = Duration::from_secs(30);
        for attempt in [9, 10, 20, 31, 32, 1000, u32::MAX] {
            let (low, high) = (backoff.delay(attempt, 0.0), backoff.delay(attempt, 1.0));
            assert_eq!((low, high), (cap / 2, cap), "attempt {attempt}");
            assert_eq!(
                backoff.delay(attempt, 0.5),
                cap * 3 / 4,
                "attempt {attempt}"
            );
        }
    }

    /// The delay is a function of the attempt and the fraction alone, and
    /// grows with the fraction across the band.
    #[test]
    fn the_fraction_picks_the_point_of_the_band() {
        let backoff = Backoff::new(Duration::from_millis(1000), Duration::from_secs(60));
        assert_eq!(backoff.delay(0, 0.25), Duration::from_millis(625));
        assert_eq!(backoff.delay(0, 0.25), backoff.delay(0, 0.25));
        assert_eq!(backoff.delay(1, 0.5), Duration::from_millis(1500));
        let quarter_steps: Vec<Duration> = (0..=4)
            .map(|q| backoff.delay(3, f64::from(q) / 4.0))
            .collect();
        assert!(
            quarter_steps.windows(2).all(|w| w[0] < w[1]),
            "{quarter_steps:?}"
        );
    }

    /// Fractions outside `[0, 1]` are clamped into it.
    #[test]
    fn out_of_range_fractions_are_clamped() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(0, -3.0), backoff.delay(0, 0.0));
        assert_eq!(backoff.delay(0, f64::NAN), backoff.delay(0, 0.0));
        assert_eq!(backoff.delay(0, 7.0), backoff.delay(0, 1.0));
        assert_eq!(backoff.delay(0, f64::INFINITY), backoff.delay(0, 1.0));
    }

    #[test]
    fn none_is_immediate_and_cap_below_base_is_raised() {
        assert_eq!(Backoff::none().delay(5, 0.7), Duration::ZERO);
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(2));
    }

    /// A base so large the step saturates still yields a delay, capped.
    #[test]
    fn huge_steps_saturate_instead_of_overflowing() {
        let b = Backoff::new(Duration::MAX / 2, Duration::MAX);
        assert!(b.delay(u32::MAX, 1.0) <= Duration::MAX);
        assert!(b.delay(u32::MAX, 0.3) >= Duration::MAX / 2);
    }
}
