//! Is the result right? References and tolerances for every workload.
//!
//! - GEMM: Freivalds' check in f64 for every size, plus sampled elements recomputed in f64.
//! - Stream: gold values computed on the host from the same inputs, element by element.
//! - Transfers: byte-for-byte comparison.
//!
//! Every function here is pure: it takes the inputs and the output and returns a
//! [`Verification`](crate::model::Verification). NaN always fails.

pub mod bytes;
pub mod gemm;
pub mod stream;

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
