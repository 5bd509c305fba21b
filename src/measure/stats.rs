//! Summary statistics of timing samples. Pure functions, tested without noise.

use crate::model::Summary;

/// Median of a non-empty slice (mean of the middle two for even lengths).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Summary of `samples`; an empty slice gives NaNs and n = 0.
pub fn summarize(samples: &[f64]) -> Summary {
    let n = samples.len();
    if n == 0 {
        return Summary {
            n: 0,
            median: f64::NAN,
            mean: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            stddev: f64::NAN,
            rel_stddev: f64::NAN,
        };
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let mean = samples.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let stddev = var.sqrt();
    Summary {
        n,
        median: median(&sorted),
        mean,
        min: sorted[0],
        max: sorted[n - 1],
        stddev,
        rel_stddev: if mean != 0.0 { stddev / mean } else { f64::NAN },
    }
}

/// Mean and sample standard deviation kept as samples arrive (Welford's update): what the
/// sampler asks after every sample, in O(1), where summarising re-sorted every sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Running {
    n: usize,
    mean: f64,
    m2: f64,
}

impl Running {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// stddev / mean, as [`summarize`] gives it (0 for one sample, NaN for none or a zero mean).
    pub fn rel_stddev(&self) -> f64 {
        if self.n == 0 || self.mean == 0.0 {
            return f64::NAN;
        }
        let var = if self.n > 1 {
            self.m2 / (self.n - 1) as f64
        } else {
            0.0
        };
        var.sqrt() / self.mean
    }
}

/// Relative change of the median of the last third of `samples` against the first third
/// (positive = got slower). None with fewer than 9 samples.
pub fn drift(samples: &[f64]) -> Option<f64> {
    let n = samples.len();
    if n < 9 {
        return None;
    }
    let third = n / 3;
    let mut first = samples[..third].to_vec();
    let mut last = samples[n - third..].to_vec();
    first.sort_by(|a, b| a.total_cmp(b));
    last.sort_by(|a, b| a.total_cmp(b));
    let (f, l) = (median(&first), median(&last));
    Some((l - f) / f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The running statistics agree with the summary of the same samples.
        #[test]
        fn running_matches_summarize(xs in prop::collection::vec(1e-6f64..1.0, 1..200)) {
            let mut r = Running::default();
            for &x in &xs {
                r.push(x);
            }
            let s = summarize(&xs);
            prop_assert_eq!(r.n(), s.n);
            prop_assert!((r.rel_stddev() - s.rel_stddev).abs() <= 1e-9 * s.rel_stddev.max(1.0));
        }
    }

    #[test]
    fn known_values() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.n, 4);
        assert_eq!(s.median, 2.5);
        assert_eq!(s.mean, 2.5);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 4.0);
        assert!((s.stddev - 1.2909944487358056).abs() < 1e-12);
        assert!((s.rel_stddev - 0.5163977794943222).abs() < 1e-12);
        let one = summarize(&[5.0]);
        assert_eq!((one.median, one.stddev, one.rel_stddev), (5.0, 0.0, 0.0));
        assert_eq!(summarize(&[]).n, 0);
        assert_eq!(summarize(&[3.0, 1.0, 2.0]).median, 2.0);
    }

    #[test]
    fn drift_sees_a_slowdown() {
        let mut v = vec![1.0; 10];
        v.extend(vec![1.2; 10]);
        assert!((drift(&v).unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(drift(&[1.0; 8]), None);
        assert_eq!(drift(&[1.0; 30]), Some(0.0));
    }

    proptest! {
        #[test]
        fn order_statistics_hold(v in prop::collection::vec(1e-6f64..10.0, 1..200)) {
            let s = summarize(&v);
            prop_assert!(s.min <= s.median && s.median <= s.max);
            prop_assert!(s.min <= s.mean + 1e-12 && s.mean <= s.max + 1e-12);
            prop_assert!(s.stddev >= 0.0);
            prop_assert_eq!(s.n, v.len());
        }

        #[test]
        fn invariant_under_permutation(mut v in prop::collection::vec(1e-6f64..10.0, 1..100), seed in any::<u64>()) {
            let a = summarize(&v);
            // deterministic shuffle
            let mut x = seed | 1;
            for i in (1..v.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                v.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let b = summarize(&v);
            prop_assert_eq!(a.median, b.median);
            prop_assert_eq!(a.min, b.min);
            prop_assert_eq!(a.max, b.max);
            prop_assert!((a.mean - b.mean).abs() <= 1e-12 * a.mean.abs().max(1.0));
        }

        #[test]
        fn scaling_scales_location_and_keeps_relative_spread(v in prop::collection::vec(1e-3f64..10.0, 2..100), k in 0.5f64..1000.0) {
            let a = summarize(&v);
            let scaled: Vec<f64> = v.iter().map(|x| x * k).collect();
            let b = summarize(&scaled);
            prop_assert!((b.median - a.median * k).abs() <= 1e-9 * b.median.abs());
            prop_assert!((b.rel_stddev - a.rel_stddev).abs() <= 1e-9);
        }

        #[test]
        fn constant_samples_have_no_noise(x in 1e-6f64..10.0, n in 1usize..50) {
            let s = summarize(&vec![x; n]);
            prop_assert!(s.rel_stddev.abs() < 1e-12);
            prop_assert_eq!(s.median, x);
        }
    }
}
