//! Robust statistics of one metric across a fleet: quartiles, and the modified z-score of
//! Iglewicz and Hoaglin, z = 0.6745 · (x − median) / MAD, where MAD is the median absolute
//! deviation from the median (0.6745 makes MAD estimate σ for normal data, so the usual
//! threshold of 3.5 is "3.5 σ").
//!
//! MAD is 0 when more than half the values equal the median (a fleet of identical numbers, a
//! simulated fleet): then z = (x − median) / (1.253314 · mean absolute deviation), the
//! fallback Iglewicz and Hoaglin and IBM's SPSS documentation give (1.253314 = √(π/2) makes the
//! mean absolute deviation estimate σ). When that is 0 too every value is equal and nothing is
//! an outlier ([`Spread::None`]).

use super::model::Spread;

/// 0.6745: the 0.75 quantile of the standard normal, MAD's scale to σ.
pub const MAD_SCALE: f64 = 0.6745;
/// √(π/2): the mean absolute deviation's scale to σ.
pub const MEAN_AD_SCALE: f64 = 1.253314;

/// The `p` quantile (0..=1) of sorted, finite `v` by linear interpolation between closest ranks
/// (R's type 7, numpy's default). `v` must not be empty.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Median, quartiles, extremes of finite values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quartiles {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

/// The quartiles of `values` (finite); None when empty.
pub fn quartiles(values: &[f64]) -> Option<Quartiles> {
    if values.is_empty() {
        return None;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    Some(Quartiles {
        min: s[0],
        q1: quantile(&s, 0.25),
        median: quantile(&s, 0.5),
        q3: quantile(&s, 0.75),
        max: s[s.len() - 1],
    })
}

/// The modified z-scores of `values` (finite, not empty), with the spread they were measured
/// against and its value.
pub fn modified_z(values: &[f64]) -> (Vec<f64>, Spread, f64) {
    let Some(q) = quartiles(values) else {
        return (Vec::new(), Spread::None, 0.0);
    };
    let dev: Vec<f64> = values.iter().map(|x| (x - q.median).abs()).collect();
    let mad = quartiles(&dev).map_or(0.0, |d| d.median);
    if mad > 0.0 {
        let z = values
            .iter()
            .map(|x| MAD_SCALE * (x - q.median) / mad)
            .collect();
        return (z, Spread::Mad, mad);
    }
    let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
    if mean_ad > 0.0 {
        let z = values
            .iter()
            .map(|x| (x - q.median) / (MEAN_AD_SCALE * mean_ad))
            .collect();
        return (z, Spread::MeanAbsoluteDeviation, mean_ad);
    }
    (vec![0.0; values.len()], Spread::None, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let q = quartiles(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(
            (q.min, q.q1, q.median, q.q3, q.max),
            (1.0, 1.75, 2.5, 3.25, 4.0)
        );
    }

    #[test]
    fn mad_zero_falls_back_to_the_mean_absolute_deviation() {
        // Six equal values and one 10 % lower: MAD is 0; the mean absolute deviation is 1/7.
        let v = [10.0, 10.0, 10.0, 9.0, 10.0, 10.0, 10.0];
        let (z, spread, s) = modified_z(&v);
        assert_eq!(spread, Spread::MeanAbsoluteDeviation);
        assert!((s - 1.0 / 7.0).abs() < 1e-12);
        assert!((z[3] + 7.0 / MEAN_AD_SCALE).abs() < 1e-9, "{}", z[3]);
        assert!(z.iter().enumerate().all(|(i, z)| i == 3 || *z == 0.0));
    }

    #[test]
    fn a_known_case_by_hand() {
        // median 5, |deviations| 4 3 0 1 5 → MAD 3; z of 10 = 0.6745 · 5 / 3.
        let (z, spread, mad) = modified_z(&[1.0, 2.0, 5.0, 6.0, 10.0]);
        assert_eq!((spread, mad), (Spread::Mad, 3.0));
        assert!((z[4] - MAD_SCALE * 5.0 / 3.0).abs() < 1e-12);
    }

    fn fleet() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(1.0f64..2.0, 7..60)
    }

    proptest! {
        /// Adding a constant or multiplying by a positive one changes no z-score.
        #[test]
        fn z_is_invariant_to_shift_and_scale(v in fleet(), shift in -1e3f64..1e3, scale in 0.01f64..100.0) {
            let (z0, _, _) = modified_z(&v);
            let moved: Vec<f64> = v.iter().map(|x| x * scale + shift).collect();
            let (z1, _, _) = modified_z(&moved);
            for (a, b) in z0.iter().zip(&z1) {
                prop_assert!((a - b).abs() < 1e-6 * (1.0 + a.abs()), "{a} vs {b}");
            }
        }

        /// One value far below a fleet of honest noise is flagged beyond 3.5, and only it.
        #[test]
        fn a_single_far_value_is_flagged(v in fleet(), at in any::<prop::sample::Index>(), far in 0.2f64..0.9) {
            let mut v = v;
            let i = at.index(v.len());
            // Values in 1..2 have a MAD of at most 0.5: 5 below the minimum is z < -0.6745 · 5 / 0.5.
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            v[i] = min - 20.0 * 0.25 - far;
            let (z, _, _) = modified_z(&v);
            prop_assert!(z[i] < -3.5, "z {}", z[i]);
            let worst = z.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            prop_assert_eq!(worst, i);
        }

        /// Identical values: no spread, no z-score away from 0.
        #[test]
        fn identical_values_flag_nothing(x in -1e6f64..1e6, n in 1usize..50) {
            let (z, spread, s) = modified_z(&vec![x; n]);
            prop_assert_eq!(spread, Spread::None);
            prop_assert_eq!(s, 0.0);
            prop_assert!(z.iter().all(|z| *z == 0.0));
        }
    }
}
