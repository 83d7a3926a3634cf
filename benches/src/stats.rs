//! Median and percentile: the only definitions in the workspace, so every
//! bench's figures mean the same thing.

/// The median of `samples`: the middle value once sorted, the upper of the
/// two middle values for an even count (benches take an odd number of
/// samples); `None` when there are none. NaNs sort last
/// ([`f64::total_cmp`]).
///
/// ```
/// assert_eq!(ron_benches::median(vec![5.0, 1.0, 4.0, 2.0]), Some(4.0));
/// assert_eq!(ron_benches::median(Vec::new()), None);
/// ```
pub fn median(mut samples: Vec<f64>) -> Option<f64> {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied()
}

/// The `p` quantile (`0.5` for p50, `0.99` for p99) of `sorted`, which must
/// be sorted ascending: the value at rank `(len - 1) * p`, rounded to the
/// nearest rank (no interpolation, so it is always a measured value); `p`
/// is clamped to `0.0..=1.0`. `None` when `sorted` is empty.
///
/// ```
/// use std::time::Duration;
///
/// let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
/// assert_eq!(ron_benches::percentile(&sorted, 0.99), Some(Duration::from_millis(99)));
/// assert_eq!(ron_benches::percentile(&[] as &[u64], 0.5), None);
/// ```
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    let rank = (last as f64 * p.clamp(0.0, 1.0)).round() as usize;
    sorted.get(rank).copied()
}

#[cfg(test)]
mod tests {
    use super::{median, percentile};

    #[test]
    fn median_of_an_odd_count_is_the_middle_value() {
        assert_eq!(median(vec![9.0, 1.0, 5.0, 3.0, 7.0]), Some(5.0));
    }

    #[test]
    fn median_of_an_even_count_is_the_upper_middle_value() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(3.0));
    }

    #[test]
    fn median_of_one_sample_is_that_sample() {
        assert_eq!(median(vec![42.0]), Some(42.0));
    }

    #[test]
    fn median_of_nothing_is_none() {
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn median_sorts_nan_last() {
        assert_eq!(median(vec![f64::NAN, 2.0, 1.0]), Some(2.0));
    }

    #[test]
    fn percentile_rounds_to_the_nearest_rank() {
        let sorted: Vec<u64> = (0..=10).collect();
        assert_eq!(percentile(&sorted, 0.0), Some(0));
        assert_eq!(percentile(&sorted, 0.5), Some(5));
        assert_eq!(percentile(&sorted, 0.94), Some(9));
        assert_eq!(percentile(&sorted, 0.96), Some(10));
        assert_eq!(percentile(&sorted, 1.0), Some(10));
    }

    #[test]
    fn percentile_p99_of_a_hundred_samples_is_the_99th() {
        let sorted: Vec<u64> = (1..=100).collect();
        // Rank 99 * 0.99 = 98.01, rounded to 98: the 99th value.
        assert_eq!(percentile(&sorted, 0.99), Some(99));
    }

    #[test]
    fn percentile_clamps_p_to_the_unit_interval() {
        let sorted = [1_u64, 2, 3];
        assert_eq!(percentile(&sorted, -1.0), Some(1));
        assert_eq!(percentile(&sorted, 7.0), Some(3));
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        assert_eq!(percentile(&[7_u64], 0.99), Some(7));
    }

    #[test]
    fn percentile_of_nothing_is_none() {
        assert_eq!(percentile(&[] as &[f64], 0.5), None);
    }
}
