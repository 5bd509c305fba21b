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
