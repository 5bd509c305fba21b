//! Is the result right? References and tolerances for every workload.
//!
//! - GEMM: Freivalds' check in f64 for every size, plus sampled elements recomputed in f64.
//! - Stream: gold values computed on the host from the same inputs, element by element.
//! - Transfers: byte-for-byte comparison.
//! - Video: every output of the integer-exact stages against host references in the same
//!   arithmetic; motion estimation on a known translation plus full searches (`video`).
//!
//! Every function here is pure: it takes the inputs and the output and returns a
//! [`Verification`](crate::model::Verification). NaN always fails.

pub mod bits;
pub mod bytes;
pub mod gemm;
pub mod stream;
pub mod video;

#[cfg(test)]
mod tolerance_pins;

/// Mismatches kept in a report.
pub const MAX_MISMATCHES: usize = 10;

/// Element types the references read.
pub trait Elem: Copy + Send + Sync + 'static {
    const EPS: f64;
    const NAME: &'static str;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Elem for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    const NAME: &'static str = "f32";
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Elem for f64 {
    const EPS: f64 = f64::EPSILON;
    const NAME: &'static str = "f64";
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

use crate::model::{Mismatch, Verification, VerifyStatus};

/// A compensated (Neumaier) sum in f64: the error of the result is about one rounding of the
/// total, however many terms, where plain summation errs by up to (n − 1)·ε·Σ|terms|. The
/// references use it wherever they sum many terms in the precision of the data under test (an
/// f64 dot product or GEMM is checked in f64): an inexact reference would eat the tolerance.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    pub fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.carry += (self.sum - t) + v;
        } else {
            self.carry += (v - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.carry
    }

    /// The compensated sum of `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> f64 {
        let mut s = Sum::default();
        values.into_iter().for_each(|v| s.add(v));
        s.value()
    }
}

/// Accumulates comparisons against a reference: the largest error/tolerance ratio, the count
/// checked, and the first [`MAX_MISMATCHES`] mismatches. A ratio above 1 or NaN is a mismatch.
#[derive(Debug, Default)]
pub struct Tally {
    failed: bool,
    max_ratio: f64,
    checked: u64,
    mismatches: Vec<Mismatch>,
}

impl Tally {
    /// Records `count` values checked whose error over tolerance is `ratio`; `at` names the
    /// place and is only evaluated for a mismatch that is kept.
    pub fn compare(
        &mut self,
        count: u64,
        ratio: f64,
        at: impl FnOnce() -> String,
        expected: f64,
        got: f64,
    ) {
        self.checked += count;
        if ratio.is_nan() || ratio > 1.0 {
            self.mismatch(at, expected, got);
        }
        if ratio.is_finite() {
            self.max_ratio = self.max_ratio.max(ratio);
        }
    }

    /// Records a failure that has no ratio (a NaN output, a wrong length).
    pub fn mismatch(&mut self, at: impl FnOnce() -> String, expected: f64, got: f64) {
        self.failed = true;
        if self.mismatches.len() < MAX_MISMATCHES {
            self.mismatches.push(Mismatch {
                at: at(),
                expected,
                got,
            });
        }
    }

    /// The verdict; `max_error` is the largest ratio, against a tolerance of 1.
    pub fn finish(self, method: String) -> Verification {
        Verification {
            status: if self.failed {
                VerifyStatus::Failed
            } else {
                VerifyStatus::Passed
            },
            method,
            max_error: self.max_ratio,
            tolerance: 1.0,
            checked: self.checked,
            mismatches: self.mismatches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_keeps_the_first_mismatches_and_fails_on_nan() {
        let mut t = Tally::default();
        t.compare(5, 0.5, || unreachable!("no mismatch, no name"), 1.0, 1.0);
        for i in 0..(MAX_MISMATCHES + 5) {
            t.compare(1, 2.0, || format!("x[{i}]"), 1.0, 3.0);
        }
        t.compare(1, f64::NAN, || "nan".into(), 1.0, f64::NAN);
        let v = t.finish("m".into());
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.checked, 5 + MAX_MISMATCHES as u64 + 6);
        assert_eq!(v.mismatches.len(), MAX_MISMATCHES);
        assert_eq!(v.mismatches[0].at, "x[0]");
        assert_eq!(v.max_error, 2.0);
        let ok = Tally::default();
        assert!(ok.finish("m".into()).passed());
    }
}

#[cfg(test)]
mod sum_tests {
    use super::Sum;

    #[test]
    fn compensated_sum_is_exact_where_plain_summation_is_not() {
        // 1 + 2^-53 added 2^20 times: plain f64 summation never moves off 1.
        let tiny = f64::EPSILON / 2.0;
        let n = 1 << 20;
        let terms = std::iter::once(1.0).chain(std::iter::repeat_n(tiny, n));
        let plain: f64 = terms.clone().sum();
        assert_eq!(plain, 1.0);
        let want = 1.0 + tiny * n as f64;
        assert_eq!(Sum::of(terms), want);
        // Cancellation: big terms that cancel leave the small ones.
        assert_eq!(Sum::of([1e100, 1.0, -1e100, 2.0]), 3.0);
        assert_eq!(Sum::of([]), 0.0);
    }
}
