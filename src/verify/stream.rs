//! Stream verification: gold values computed on the host from the same inputs.
//!
//! Elementwise ops are checked element by element with a relative error of at most
//! `100·ε` against the magnitude of the terms (BabelStream's rule, made robust to
//! cancellation). Dot is checked against an f64 sum with a tolerance that grows with the
//! number of terms each thread accumulates sequentially.

use super::{Elem, Tally};
use crate::model::{Mismatch, Verification, VerifyStatus};
use crate::workload::StreamOp;

pub const ELEMENTWISE_EPS_FACTOR: f64 = 100.0;

/// The arrays of one stream trial (inputs as uploaded).
#[derive(Debug, Clone)]
pub struct StreamArrays<T> {
    pub a: Vec<T>,
    pub b: Vec<T>,
    pub c: Vec<T>,
    pub scalar: T,
}

/// The reference value of element `i` for `op` and the magnitude it is compared against.
pub fn gold<T: Elem>(op: StreamOp, x: &StreamArrays<T>, i: usize) -> (f64, f64) {
    let s = x.scalar.to_f64();
    match op {
        StreamOp::Copy => {
            let v = x.a[i].to_f64();
            (v, v.abs())
        }
        StreamOp::Scale => {
            let v = s * x.c[i].to_f64();
            (v, v.abs())
        }
        StreamOp::Add => {
            let (a, b) = (x.a[i].to_f64(), x.b[i].to_f64());
            (a + b, a.abs() + b.abs())
        }
        StreamOp::Triad => {
            let (b, c) = (x.b[i].to_f64(), x.c[i].to_f64());
            (b + s * c, b.abs() + (s * c).abs())
        }
        StreamOp::Dot => unreachable!("dot is not elementwise"),
    }
}

/// Checks the output array of an elementwise op (copy → c, scale → b, add → c, triad → a).
pub fn check_elementwise<T: Elem>(op: StreamOp, x: &StreamArrays<T>, out: &[T]) -> Verification {
    let mut tally = Tally::default();
    if out.len() != x.a.len() {
        tally.mismatch(|| "length".into(), x.a.len() as f64, out.len() as f64);
    }
    let out_name = match op {
        StreamOp::Copy | StreamOp::Add => "c",
        StreamOp::Scale => "b",
        StreamOp::Triad => "a",
        StreamOp::Dot => "dot",
    };
    for (i, got) in out.iter().enumerate().take(x.a.len()) {
        let (exp, mag) = gold(op, x, i);
        let got = got.to_f64();
        let tol = ELEMENTWISE_EPS_FACTOR * T::EPS * mag + f64::MIN_POSITIVE;
        let ratio = (got - exp).abs() / tol;
        tally.compare(1, ratio, || format!("{out_name}[{i}]"), exp, got);
    }
    tally.finish(format!(
        "every element against host gold values; |err| ≤ {ELEMENTWISE_EPS_FACTOR}·ε·|terms| ({})",
        T::NAME
    ))
}

/// Checks a dot product `got` (the sum of the per-block partials, taken in f64) of `a·b`.
/// `terms_per_thread` is the most elements one GPU thread (or host chunk) summed in `T`.
pub fn check_dot<T: Elem>(a: &[T], b: &[T], got: f64, terms_per_thread: usize) -> Verification {
    // The reference is summed with compensation: a plain f64 sum of millions of terms errs by
    // hundreds of ε·Σ|a·b|, more than an f64 kernel is allowed to (found on the simulated GPU).
    let (mut exact, mut mag) = (super::Sum::default(), 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let p = x.to_f64() * y.to_f64();
        exact.add(p);
        mag += p.abs();
    }
    let exact = exact.value();
    // Sequential summation of t terms in T errs by at most ~t·ε relative to Σ|terms|; the
    // block tree adds log2(256) = 8 levels more. 4× margin.
    let factor = 4.0 * (terms_per_thread as f64 + 8.0 + 16.0);
    let tol = factor * T::EPS * mag + f64::MIN_POSITIVE;
    let ratio = (got - exact).abs() / tol;
    let ok = ratio <= 1.0;
    Verification {
        status: if ok {
            VerifyStatus::Passed
        } else {
            VerifyStatus::Failed
        },
        method: format!(
            "sum against an f64 host sum; |err| ≤ {factor:.0}·ε·Σ|a·b| ({} terms per thread, {})",
            terms_per_thread,
            T::NAME
        ),
        max_error: if ratio.is_finite() { ratio } else { f64::MAX },
        tolerance: 1.0,
        checked: a.len() as u64,
        mismatches: if ok {
            Vec::new()
        } else {
            vec![Mismatch {
                at: "dot".into(),
                expected: exact,
                got,
            }]
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::stream::stream_inputs;

    #[test]
    fn host_ops_pass_and_a_corrupted_element_fails() {
        let x: StreamArrays<f32> = stream_inputs(1001, 7);
        let s = x.scalar;
        let triad: Vec<f32> = x.b.iter().zip(&x.c).map(|(b, c)| b + s * c).collect();
        assert!(check_elementwise(StreamOp::Triad, &x, &triad).passed());
        let mut bad = triad.clone();
        bad[500] = bad[500] * 1.001 + 0.001;
        let v = check_elementwise(StreamOp::Triad, &x, &bad);
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.mismatches[0].at, "a[500]");
        let copy = x.a.clone();
        assert!(check_elementwise(StreamOp::Copy, &x, &copy).passed());
        assert!(!check_elementwise(StreamOp::Copy, &x, &x.b).passed());
        assert!(!check_elementwise(StreamOp::Copy, &x, &copy[..1000]).passed());
    }

    #[test]
    fn dot_in_f32_passes_and_a_dropped_block_fails() {
        let x: StreamArrays<f32> = stream_inputs(100_000, 3);
        let threads = 512;
        let mut partial = vec![0f32; threads];
        for (i, (a, b)) in x.a.iter().zip(&x.b).enumerate() {
            partial[i % threads] += a * b;
        }
        let total: f64 = partial.iter().map(|v| *v as f64).sum();
        let tpt = 100_000usize.div_ceil(threads);
        assert!(check_dot(&x.a, &x.b, total, tpt).passed());
        let dropped: f64 = partial[..threads - 256].iter().map(|v| *v as f64).sum();
        assert!(!check_dot(&x.a, &x.b, dropped, tpt).passed());
        assert!(!check_dot(&x.a, &x.b, f64::NAN, tpt).passed());
    }

    /// An f64 dot of 2^18 terms: the plain f64 sum of the products (the reference before it was
    /// compensated) is further from the true value than an f64 kernel may be, so a right answer
    /// failed. The simulated GPU showed it (2 MiB f64 stream, seed 7, gpu1).
    #[test]
    fn f64_dot_reference_is_exact_enough_for_an_f64_kernel() {
        let n = 1 << 18;
        let x: StreamArrays<f64> =
            stream_inputs(n, crate::run::workload_seed(7, "gpu1.stream.dot.f64"));
        let products = || x.a.iter().zip(&x.b).map(|(a, b)| a * b);
        let exact = crate::verify::Sum::of(products());
        let plain: f64 = products().sum();
        let mag: f64 = products().map(f64::abs).sum();
        // What an f64 kernel that sums 6 terms per thread is allowed: 4·(6 + 24)·ε·Σ|a·b|.
        let allowed = 120.0 * f64::EPSILON * mag;
        assert!(
            (plain - exact).abs() > allowed,
            "premise: the plain sum errs by {:e}, more than the {allowed:e} a kernel may",
            (plain - exact).abs()
        );
        // A kernel that got the correctly rounded answer passes; one off by the tolerance fails.
        assert!(check_dot(&x.a, &x.b, exact, 6).passed());
        assert!(!check_dot(&x.a, &x.b, exact + 1.5 * allowed, 6).passed());
    }
}
