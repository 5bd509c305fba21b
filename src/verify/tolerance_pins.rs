//! Pins of the verification tolerances: for every precision each checker handles, a result off
//! by twice the allowed error fails and one off by half of it passes; where the check is exact
//! (transfers, video), one unit off fails and the exact result passes.
//!
//! The tolerances are restated here from the checkers' documentation (the module docs of
//! `gemm.rs` and `stream.rs`), not read from their constants or helpers: a change to a
//! constant changes what a healthy machine may return, so it must fail these tests and be
//! carried here on purpose.
//!
//! The honest results are computed in the arithmetic of a kernel (accumulation in the output
//! precision). Their own error is far below half the tolerance: GEMM inputs are small
//! integers (every sum is exact in f32 and f64) or FP16 values (the exact products summed in
//! FP32, checked to err by at most 2 % of the tolerance), and the stream results err by
//! about one rounding against a tolerance of hundreds.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::gemm::check_gemm;
use super::stream::{check_dot, check_elementwise, StreamArrays};
use super::{Elem, Sum};
use crate::model::{Verification, VerifyStatus};
use crate::workload::StreamOp;

/// Documented: Freivalds' tolerance of row i is 8·ε·√K·(|A||B||x|)_i/√N, never below
/// ε·(|A||B||x|)_i.
const FREIVALDS_C: f64 = 8.0;
/// Documented: a sampled element's tolerance is 8·ε·√K·(|A||B|)_ij, never below ε·(|A||B|)_ij.
const ELEMENT_C: f64 = 8.0;
/// Documented: an elementwise stream result may err by 100·ε·|terms|.
const ELEMENTWISE_C: f64 = 100.0;
/// Documented: a dot product may err by 4·(t + 8 + 16)·ε·Σ|a·b|, t the terms per thread.
const DOT_MARGIN: f64 = 4.0;
const DOT_EXTRA_TERMS: f64 = 8.0 + 16.0;

/// Machine epsilon of the output precision (written out: ε of f32 is 2^-23, of f64 2^-52).
fn eps_of(name: &str) -> f64 {
    match name {
        "f32" => 2f64.powi(-23),
        "f64" => 2f64.powi(-52),
        other => panic!("no ε for {other}"),
    }
}

/// The factors a result is moved off its exact value by, in units of the tolerance, and
/// whether the check must pass. The passes come first: a tightened tolerance then fails on
/// the verdict of 0.5×, a loosened one on that of 2×.
const FACTORS: [(f64, bool); 4] = [(0.5, true), (-0.5, true), (2.0, false), (-2.0, false)];

/// The realised error of a perturbed value, in tolerances, must be the factor asked for (the
/// value is rounded to the output precision, which moves it by far less than 1 %).
fn assert_realised(what: &str, got: f64, exact: f64, tol: f64, factor: f64) -> f64 {
    let ratio = (got - exact) / tol;
    assert!(
        (ratio - factor).abs() <= 0.01 * factor.abs(),
        "{what}: asked for {factor}× the tolerance, got {ratio}×"
    );
    ratio.abs()
}

/// What a table of pins found wrong, collected over the whole table so that a moved tolerance
/// shows every precision and case it breaks.
#[derive(Default)]
struct Wrong(Vec<String>);

impl Wrong {
    /// Records a wrong verdict; true when the verdict is the one required.
    fn verdict(&mut self, what: &str, v: &Verification, pass: bool, factor: f64) -> bool {
        let right = if pass {
            v.passed()
        } else {
            v.status == VerifyStatus::Failed
        };
        if !right {
            self.0.push(format!(
                "{what}: off by {factor}× the documented tolerance must {}, got {:?} (error \
                 {} tolerances)",
                if pass { "pass" } else { "fail" },
                v.status,
                v.max_error
            ));
        }
        right
    }

    fn expect(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(message());
        }
    }

    /// A failing verdict names `at` alone and reports the documented error ratio (within
    /// `slack` tolerances).
    fn reported(&mut self, what: &str, v: &Verification, at: &str, ratio: f64, slack: f64) {
        self.expect(
            !v.mismatches.is_empty() && v.mismatches.iter().all(|x| x.at == at),
            || format!("{what}: only {at} may fail: {:?}", v.mismatches),
        );
        self.expect((v.max_error - ratio).abs() <= slack + 1e-6 * ratio, || {
            format!(
                "{what}: the checker's error ratio {} is not the documented {ratio}",
                v.max_error
            )
        });
    }

    fn assert_none(self, table: &str) {
        assert!(
            self.0.is_empty(),
            "{table}: {} wrong:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

// ------------------------------------------------------------------------------------- GEMM

/// Small integers in [-4, 4]: a product of two, one of them scaled by up to 256 (a power of
/// two), is at most 2^12 in magnitude, so a sum of up to K = 2^12 of them is an integer below
/// 2^24: exact in f32 and f64, and the honest result is the exact one.
fn small_ints<T: Elem>(len: usize, rng: &mut ChaCha8Rng) -> Vec<T> {
    (0..len)
        .map(|_| T::from_f64(rng.gen_range(-4i32..=4) as f64))
        .collect()
}

/// C = A·B accumulated in T in k order, as a kernel does.
fn naive<T: Elem>(m: usize, n: usize, k: usize, a: &[T], b: &[T]) -> Vec<T> {
    let mut c = vec![T::from_f64(0.0); m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = T::from_f64(0.0);
            for kk in 0..k {
                s = T::from_f64(s.to_f64() + a[i * k + kk].to_f64() * b[kk * n + j].to_f64());
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// One GEMM and what the documented formulas say about it.
struct Gemm<T> {
    /// "f32", "f64" or "f16 inputs, f32 accumulation".
    name: &'static str,
    eps: f64,
    m: usize,
    n: usize,
    k: usize,
    a: Vec<T>,
    b: Vec<T>,
    /// The honest result.
    c: Vec<T>,
}

impl<T: Elem> Gemm<T> {
    fn new(
        name: &'static str,
        eps: f64,
        (m, n, k): (usize, usize, usize),
        a: Vec<T>,
        b: Vec<T>,
    ) -> Self {
        let c = naive(m, n, k, &a, &b);
        Gemm {
            name,
            eps,
            m,
            n,
            k,
            a,
            b,
            c,
        }
    }

    fn a(&self, i: usize, kk: usize) -> f64 {
        self.a[i * self.k + kk].to_f64()
    }
    fn b(&self, kk: usize, j: usize) -> f64 {
        self.b[kk * self.n + j].to_f64()
    }

    /// The exact C_ij and (|A||B|)_ij.
    fn exact(&self, i: usize, j: usize) -> (f64, f64) {
        let products = || (0..self.k).map(|kk| self.a(i, kk) * self.b(kk, j));
        (Sum::of(products()), Sum::of(products().map(f64::abs)))
    }

    /// Tolerance of a sampled element: 8·ε·√K·(|A||B|)_ij, at least ε·(|A||B|)_ij.
    fn element_tol(&self, i: usize, j: usize) -> f64 {
        let sa = self.exact(i, j).1;
        let sqrt_k = (self.k as f64).sqrt();
        assert!(ELEMENT_C * sqrt_k > 1.0, "premise: the √K term governs");
        ELEMENT_C * self.eps * sqrt_k * sa
    }

    /// Tolerance of Freivalds' row i: 8·ε·√K·(|A||B||x|)_i/√N with |x| = 1, at least
    /// ε·(|A||B||x|)_i.
    fn freivalds_tol(&self, i: usize) -> f64 {
        let zb = Sum::of(
            (0..self.k)
                .map(|kk| self.a(i, kk).abs() * Sum::of((0..self.n).map(|j| self.b(kk, j).abs()))),
        );
        let (sqrt_k, sqrt_n) = ((self.k as f64).sqrt(), (self.n as f64).sqrt());
        assert!(
            FREIVALDS_C * sqrt_k / sqrt_n > 1.0,
            "premise: the √K/√N term governs"
        );
        FREIVALDS_C * self.eps * sqrt_k * zb / sqrt_n
    }

    /// The honest result passes, and (by the documented formulas) errs by at most `honest`
    /// tolerances in every element and, whatever the signs of x, in every row of Freivalds'
    /// check (Σ_j |C_ij − exact_ij| against the row's tolerance).
    fn assert_honest(&self, honest: f64) {
        let v = check_gemm(self.m, self.n, self.k, &self.a, &self.b, &self.c, 1);
        assert!(v.passed(), "{}: the honest result fails: {v:?}", self.name);
        for i in 0..self.m {
            let err = |j: usize| (self.c[i * self.n + j].to_f64() - self.exact(i, j).0).abs();
            for j in 0..self.n {
                let ratio = err(j) / self.element_tol(i, j);
                assert!(
                    ratio <= honest,
                    "{}: premise: honest C[{i},{j}] errs by {ratio} tolerances",
                    self.name
                );
            }
            let ratio = Sum::of((0..self.n).map(err)) / self.freivalds_tol(i);
            assert!(
                ratio <= honest,
                "{}: premise: honest row {i} errs by up to {ratio} tolerances",
                self.name
            );
        }
    }

    /// The honest result with C_ij moved to exact + factor·tol; the realised error in tol.
    fn perturbed(&self, (i, j): (usize, usize), tol: f64, factor: f64) -> (Vec<T>, f64) {
        let exact = self.exact(i, j).0;
        let mut c = self.c.clone();
        c[i * self.n + j] = T::from_f64(exact + factor * tol);
        let what = format!("{} C[{i},{j}]", self.name);
        let ratio = assert_realised(&what, c[i * self.n + j].to_f64(), exact, tol, factor);
        (c, ratio)
    }

    fn check(&self, c: &[T]) -> Verification {
        check_gemm(self.m, self.n, self.k, &self.a, &self.b, c, 1)
    }
}

/// The sampled-element check: C_ij off by 2× its tolerance fails, naming C[i,j] and nothing
/// else (Freivalds' row tolerance is at least 4× larger here), and by 0.5× passes. The points
/// are ones the checker always samples (the corners and the centre).
fn pin_element_check<T: Elem>(wrong: &mut Wrong, g: &Gemm<T>, honest: f64) {
    g.assert_honest(honest);
    let (m, n) = (g.m, g.n);
    for (i, j) in [
        (0, 0),
        (0, n - 1),
        (m - 1, 0),
        (m - 1, n - 1),
        (m / 2, n / 2),
    ] {
        let tol = g.element_tol(i, j);
        let row_tol = g.freivalds_tol(i);
        assert!(
            2.0 * tol <= 0.5 * row_tol,
            "{}: premise: 2× the element tolerance of C[{i},{j}] ({tol:e}) is well inside \
             Freivalds' tolerance of row {i} ({row_tol:e})",
            g.name
        );
        for (factor, pass) in FACTORS {
            let (c, ratio) = g.perturbed((i, j), tol, factor);
            let v = g.check(&c);
            let what = format!("{} sampled C[{i},{j}]", g.name);
            if wrong.verdict(&what, &v, pass, factor) && !pass {
                wrong.reported(&what, &v, &format!("C[{i},{j}]"), ratio, 0.0);
            }
        }
    }
}

/// Freivalds' check: C_ij off by 2× the tolerance of row i fails in Freivalds' check of row i
/// alone, and by 0.5× passes. Column j dominates the rows of |A||B| (B's column j is 256×
/// larger), so the row tolerance is about a quarter of C_ij's element tolerance: the
/// sampled-element check lets both through whether or not it samples C_ij (it always samples
/// the corners of column 0).
fn pin_freivalds_check<T: Elem>(wrong: &mut Wrong, g: &Gemm<T>, j: usize, honest: f64) {
    g.assert_honest(honest);
    for i in [0, g.m / 2, g.m - 1] {
        let tol = g.freivalds_tol(i);
        let element_tol = g.element_tol(i, j);
        assert!(
            2.0 * tol <= 0.75 * element_tol,
            "{}: premise: 2× Freivalds' tolerance of row {i} ({tol:e}) is inside the element \
             tolerance of C[{i},{j}] ({element_tol:e})",
            g.name
        );
        for (factor, pass) in FACTORS {
            let (c, ratio) = g.perturbed((i, j), tol, factor);
            let v = g.check(&c);
            let what = format!("{} Freivalds row {i} (C[{i},{j}])", g.name);
            if wrong.verdict(&what, &v, pass, factor) && !pass {
                // The rest of the row adds its honest residual: none for integer inputs.
                let at = format!("(C·x)[{i}] (Freivalds row {i})");
                wrong.reported(&what, &v, &at, ratio, honest);
            }
        }
    }
}

/// An integer GEMM in T: exact in f32 and f64.
fn int_gemm<T: Elem>(name: &'static str, shape: (usize, usize, usize), seed: u64) -> Gemm<T> {
    let (m, n, k) = shape;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = small_ints(m * k, &mut rng);
    let b = small_ints(k * n, &mut rng);
    Gemm::new(name, eps_of(T::NAME), shape, a, b)
}

/// An FP16-input GEMM as the HGEMM peer runs it: half-precision inputs (their exact f32 values),
/// FP32 accumulation and output, checked with f32's ε.
fn f16_gemm(shape: (usize, usize, usize), seed: u64) -> Gemm<f32> {
    let (m, n, k) = shape;
    let (a, b, _, _) = crate::workload::gemm::hgemm_inputs(m, n, k, seed);
    Gemm::new("f16 inputs, f32 accumulation", eps_of("f32"), shape, a, b)
}

/// Scales column j of B by `by` (a power of two: exact in every precision here).
fn dominant_column<T: Elem>(mut g: Gemm<T>, j: usize, by: f64) -> Gemm<T> {
    for kk in 0..g.k {
        let at = kk * g.n + j;
        g.b[at] = T::from_f64(g.b[at].to_f64() * by);
    }
    Gemm::new(g.name, g.eps, (g.m, g.n, g.k), g.a, g.b)
}

/// K = 1024 (√K = 32 matters), N = 64 (Freivalds' row tolerance is about √N = 8 element
/// tolerances, so the element check alone sees 2× its tolerance).
const ELEMENT_SHAPE: (usize, usize, usize) = (8, 64, 1024);
/// N = 16 with a dominant column: Freivalds' tolerance is about a quarter of the element one.
const FREIVALDS_SHAPE: (usize, usize, usize) = (8, 16, 1024);

#[test]
fn gemm_sampled_element_tolerance_is_pinned_for_every_precision() {
    let mut wrong = Wrong::default();
    pin_element_check(&mut wrong, &int_gemm::<f32>("f32", ELEMENT_SHAPE, 1), 0.0);
    pin_element_check(&mut wrong, &int_gemm::<f64>("f64", ELEMENT_SHAPE, 2), 0.0);
    pin_element_check(&mut wrong, &f16_gemm(ELEMENT_SHAPE, 3), 0.02);
    wrong.assert_none("GEMM sampled elements");
}

#[test]
fn gemm_freivalds_tolerance_is_pinned_for_every_precision() {
    let mut wrong = Wrong::default();
    pin_freivalds_check(
        &mut wrong,
        &dominant_column(int_gemm::<f32>("f32", FREIVALDS_SHAPE, 4), 0, 256.0),
        0,
        0.0,
    );
    pin_freivalds_check(
        &mut wrong,
        &dominant_column(int_gemm::<f64>("f64", FREIVALDS_SHAPE, 5), 0, 256.0),
        0,
        0.0,
    );
    pin_freivalds_check(
        &mut wrong,
        &dominant_column(f16_gemm(FREIVALDS_SHAPE, 6), 0, 256.0),
        0,
        0.02,
    );
    wrong.assert_none("GEMM Freivalds rows");
}

// ----------------------------------------------------------------------------------- stream

/// The honest output of an elementwise op, in T (copy → a, scale → s·c, add → a + b,
/// triad → b + s·c).
fn elementwise<T: Elem>(op: StreamOp, x: &StreamArrays<T>) -> Vec<T> {
    let t = |v: f64| T::from_f64(v);
    let s = x.scalar.to_f64();
    (0..x.a.len())
        .map(|i| {
            let (a, b, c) = (x.a[i].to_f64(), x.b[i].to_f64(), x.c[i].to_f64());
            match op {
                StreamOp::Copy => x.a[i],
                StreamOp::Scale => t(s * c),
                StreamOp::Add => t(a + b),
                StreamOp::Triad => t(b + t(s * c).to_f64()),
                StreamOp::Dot => unreachable!(),
            }
        })
        .collect()
}

/// The exact value of element i and the magnitude of its terms, as documented.
fn elementwise_exact<T: Elem>(op: StreamOp, x: &StreamArrays<T>, i: usize) -> (f64, f64) {
    let s = x.scalar.to_f64();
    let (a, b, c) = (x.a[i].to_f64(), x.b[i].to_f64(), x.c[i].to_f64());
    match op {
        StreamOp::Copy => (a, a.abs()),
        StreamOp::Scale => (s * c, (s * c).abs()),
        StreamOp::Add => (a + b, a.abs() + b.abs()),
        StreamOp::Triad => (b + s * c, b.abs() + (s * c).abs()),
        StreamOp::Dot => unreachable!(),
    }
}

fn pin_elementwise<T: Elem>(wrong: &mut Wrong) {
    let eps = eps_of(T::NAME);
    let n = 1000;
    let x = crate::workload::stream::stream_inputs::<T>(n, 17);
    for (op, out) in [
        (StreamOp::Copy, "c"),
        (StreamOp::Scale, "b"),
        (StreamOp::Add, "c"),
        (StreamOp::Triad, "a"),
    ] {
        let honest = elementwise(op, &x);
        let v = check_elementwise(op, &x, &honest);
        assert!(v.passed(), "{op:?} {}: honest fails: {v:?}", T::NAME);
        for (i, h) in honest.iter().enumerate() {
            let (exact, mag) = elementwise_exact(op, &x, i);
            let ratio = (h.to_f64() - exact).abs() / (ELEMENTWISE_C * eps * mag);
            assert!(
                ratio <= 0.02,
                "{op:?} {}: premise: honest {out}[{i}] errs by {ratio}",
                T::NAME
            );
        }
        for i in [0, 499, n - 1] {
            let (exact, mag) = elementwise_exact(op, &x, i);
            let tol = ELEMENTWISE_C * eps * mag;
            for (factor, pass) in FACTORS {
                let what = format!("{op:?} {} {out}[{i}]", T::NAME);
                let mut got = honest.clone();
                got[i] = T::from_f64(exact + factor * tol);
                let ratio = assert_realised(&what, got[i].to_f64(), exact, tol, factor);
                let v = check_elementwise(op, &x, &got);
                if wrong.verdict(&what, &v, pass, factor) && !pass {
                    wrong.reported(&what, &v, &format!("{out}[{i}]"), ratio, 0.0);
                }
            }
        }
    }
}

#[test]
fn stream_elementwise_tolerance_is_pinned_for_every_op_and_precision() {
    let mut wrong = Wrong::default();
    pin_elementwise::<f32>(&mut wrong);
    pin_elementwise::<f64>(&mut wrong);
    wrong.assert_none("stream elementwise");
}

/// A dot product as the stream kernel computes it: `threads` partial sums in T (thread t sums
/// elements t, t + threads, …), added on the host with compensation.
fn kernel_dot<T: Elem>(a: &[T], b: &[T], threads: usize) -> f64 {
    let mut partial = vec![T::from_f64(0.0); threads];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let p = &mut partial[i % threads];
        *p = T::from_f64(p.to_f64() + x.to_f64() * y.to_f64());
    }
    Sum::of(partial.iter().map(|v| v.to_f64()))
}

fn pin_dot<T: Elem>(wrong: &mut Wrong) {
    let eps = eps_of(T::NAME);
    let threads = 512;
    // One term per thread (the tree's 24 terms govern) and 250 (the thread's own terms govern).
    for terms in [1usize, 250] {
        let n = threads * terms;
        let x = crate::workload::stream::stream_inputs::<T>(n, 23 + terms as u64);
        let products = || x.a.iter().zip(&x.b).map(|(a, b)| a.to_f64() * b.to_f64());
        let exact = Sum::of(products());
        let mag = Sum::of(products().map(f64::abs));
        let tol = DOT_MARGIN * (terms as f64 + DOT_EXTRA_TERMS) * eps * mag;
        let honest = kernel_dot(&x.a, &x.b, threads);
        let v = check_dot(&x.a, &x.b, honest, terms);
        let what = format!("dot {} ({terms} terms per thread)", T::NAME);
        assert!(v.passed(), "{what}: honest fails: {v:?}");
        let ratio = (honest - exact).abs() / tol;
        assert!(ratio <= 0.02, "{what}: premise: honest errs by {ratio}");
        for (factor, pass) in FACTORS {
            let got = exact + factor * tol;
            let ratio = assert_realised(&what, got, exact, tol, factor);
            let v = check_dot(&x.a, &x.b, got, terms);
            if wrong.verdict(&what, &v, pass, factor) && !pass {
                wrong.reported(&what, &v, "dot", ratio, 0.0);
            }
            // The kernel's own sum moved by the same amount: the same verdict.
            let v = check_dot(&x.a, &x.b, honest + factor * tol, terms);
            wrong.verdict(&format!("{what}, from the kernel's sum"), &v, pass, factor);
        }
    }
}

#[test]
fn stream_dot_tolerance_is_pinned_for_every_precision() {
    let mut wrong = Wrong::default();
    pin_dot::<f32>(&mut wrong);
    pin_dot::<f64>(&mut wrong);
    wrong.assert_none("stream dot");
}

// ------------------------------------------------------------------------ transfers, video

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen()).collect()
}

/// Transfers are compared byte for byte: the exact bytes pass with no error, and every byte
/// one unit off (either way) fails, named, with one bad byte.
#[test]
fn transfers_are_exact_one_unit_off_fails() {
    use super::bytes::check_bytes;
    let want: Vec<u8> = (0..2048u32).map(|i| (i * 7 + 3) as u8).collect();
    let v = check_bytes(&want, &want.clone());
    assert!(v.passed(), "{v:?}");
    assert_eq!((v.max_error, v.tolerance, v.checked), (0.0, 0.0, 2048));
    for i in 0..want.len() {
        for d in [1u8, u8::MAX] {
            let mut got = want.clone();
            got[i] = got[i].wrapping_add(d);
            let v = check_bytes(&want, &got);
            assert_eq!(v.status, VerifyStatus::Failed, "byte {i} off by {d}");
            assert_eq!(v.max_error, 1.0, "one bad byte");
            assert_eq!(v.mismatches.len(), 1);
            assert_eq!(v.mismatches[0].at, format!("byte {i}"));
            assert_eq!(v.mismatches[0].expected, want[i] as f64);
            assert_eq!(v.mismatches[0].got, got[i] as f64);
        }
    }
}

/// One video output checked exactly: `want` passes with no error; every element of it moved by
/// each of `units` fails with max_error |unit| and only mismatches that `names` accepts.
fn pin_exact<T: Copy + PartialEq + Into<f64> + std::fmt::Debug>(
    stage: &str,
    want: &[T],
    units: &[i64],
    step: impl Fn(T, i64) -> T,
    check: impl Fn(&mut super::video::Exact, &[T]),
    names: impl Fn(usize, &str) -> bool,
) {
    let mut tally = super::video::Exact::default();
    check(&mut tally, want);
    let v = tally.finish(stage.into());
    assert!(v.passed(), "{stage}: the exact output fails: {v:?}");
    assert_eq!((v.max_error, v.tolerance), (0.0, 0.0), "{stage}");
    for i in 0..want.len() {
        for &unit in units {
            let mut got = want.to_vec();
            got[i] = step(got[i], unit);
            let mut tally = super::video::Exact::default();
            check(&mut tally, &got);
            let v = tally.finish(stage.into());
            let what = format!("{stage}: element {i} off by {unit}");
            assert_eq!(v.status, VerifyStatus::Failed, "{what}");
            assert_eq!(v.max_error, unit.unsigned_abs() as f64, "{what}");
            assert!(!v.mismatches.is_empty(), "{what}");
            for m in &v.mismatches {
                assert!(names(i, &m.at), "{what}: named {:?}", m.at);
                assert_eq!(
                    (m.expected, m.got),
                    (want[i].into(), got[i].into()),
                    "{what}"
                );
            }
        }
    }
}

fn step_u8(v: u8, d: i64) -> u8 {
    u8::try_from(v as i64 + d).expect("video samples stay in 16..=240")
}

/// Colour conversion, scaling and the transform are compared for equality: one unit off in
/// any output sample or level fails.
#[test]
fn video_stages_are_exact_one_unit_off_fails() {
    use super::video::*;
    // Odd sizes: the chroma blocks at the right and bottom edges clamp.
    let (w, h) = (17, 9);
    let rgba = noise(4 * w * h, 31);
    let nv12 = rgba_to_nv12(&rgba, w, h);
    let at = |w, h| move |i: usize, name: &str| name == nv12_at(2, w, h, i);
    pin_exact(
        "nv12",
        &nv12,
        &[1, -1],
        step_u8,
        |t, got| check_nv12_frame(t, 2, &rgba, w, h, got),
        at(w, h),
    );
    let (ow, oh) = scaled_dims(w, h);
    let scaled = scale_nv12(&nv12, w, h, ow, oh);
    pin_exact(
        "scale",
        &scaled,
        &[1, -1],
        step_u8,
        |t, got| check_scale_frame(t, 2, &nv12, w, h, got),
        at(ow, oh),
    );
    let (cur, pred) = (noise(w * h, 32), noise(w * h, 33));
    let levels = dct_quant(&cur, &pred, w, h);
    assert!(
        levels.iter().any(|l| *l != 0),
        "premise: some levels are not 0"
    );
    pin_exact(
        "dct",
        &levels,
        &[1, -1],
        |v, d| v + d as i16,
        |t, got| check_dct_frame(t, 2, &cur, &pred, w, h, got),
        |_, name| name.starts_with("frame 2 block("),
    );
}

/// Motion estimation is compared for equality, packed word against packed word: a vector one
/// pixel off in x or y, or a SAD one off, fails.
#[test]
fn motion_estimation_is_exact_one_unit_off_fails() {
    use super::video::*;
    let (w, h) = (50, 38);
    let truth = (5, -3);
    let cur = noise(w * h, 41);
    let refr: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as i32 - truth.0, (i / w) as i32 - truth.1);
            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                cur[y as usize * w + x as usize]
            } else {
                7
            }
        })
        .collect();
    let (mbw, mbh) = macroblocks(w, h);
    let search: Vec<usize> = (0..mbw * mbh).collect();
    let words: Vec<u32> = search
        .iter()
        .map(|&mb| me_search(&cur, &refr, w, h, mb % mbw, mb / mbw).pack())
        .collect();
    // One pixel in x, one in y, one more SAD: ±1, ±256 and +65536 in the packed word (the
    // macroblocks that see the translation have SAD 0).
    pin_exact(
        "me",
        &words,
        &[1, -1, 256, -256, 1 << 16],
        |v, d| u32::try_from(v as i64 + d).expect("no field wraps"),
        |t, got| check_me_frame(t, 2, &cur, &refr, w, h, truth, &search, got),
        |mb, name| name.starts_with(&format!("frame 2 MB({},{})", mb % mbw, mb / mbw)),
    );
}
