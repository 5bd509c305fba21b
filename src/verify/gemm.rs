//! GEMM verification: Freivalds' check plus sampled elements, both in f64.
//!
//! For row-major C[M×N] = A[M×K]·B[K×N]:
//!
//! 1. Freivalds: for random sign vectors x, compare C·x with A·(B·x) computed in f64
//!    (O(MK + KN + MN) per vector, so it runs at every size). Row i's residual
//!    r_i = Σ_j e_ij x_j, where e_ij are C's rounding errors. They are of order
//!    ε·(|A||B|)_ij with random signs, so r_i is of order ε·‖(|A||B|)_i‖₂ ≈
//!    ε·(|A||B||x|)_i/√N. The tolerance is `FREIVALDS_C`·ε·√K·(|A||B||x|)_i/√N, and
//!    also never below the worst-case bound of one rounding per product for tiny shapes.
//! 2. Sampled elements (corners, edges of tiles, random): C_ij against the f64 dot product, with
//!    tolerance `ELEMENT_C`·ε·√K·(|A||B|)_ij.
//!
//! Both constants leave a margin of more than an order of magnitude over the rounding errors of
//! honest FP32/FP64 accumulation in any order (checked in the tests below across shapes), while
//! a wrong tile, a skipped k-step or a single corrupted element of ordinary size is caught.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Elem, Sum, Tally};
use crate::model::Verification;

pub const FREIVALDS_VECTORS: usize = 3;
pub const FREIVALDS_C: f64 = 8.0;
pub const ELEMENT_C: f64 = 8.0;
pub const SAMPLED_ELEMENTS: usize = 64;

/// Checks C = A·B (row-major). `seed` picks the Freivalds vectors and sampled elements.
pub fn check_gemm<T: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    c: &[T],
    seed: u64,
) -> Verification {
    assert_eq!(a.len(), m * k, "A has the wrong length");
    assert_eq!(b.len(), k * n, "B has the wrong length");
    assert_eq!(c.len(), m * n, "C has the wrong length");
    let g = Gemm { m, n, k, a, b, c };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut tally = Tally::default();
    g.check_finite(&mut tally);
    for _ in 0..FREIVALDS_VECTORS {
        g.freivalds(random_signs(&mut rng, n), &mut tally);
    }
    for (i, j) in g.sampled_points(&mut rng) {
        g.check_element(i, j, &mut tally);
    }
    tally.finish(format!(
            "Freivalds ({FREIVALDS_VECTORS} sign vectors, f64) + {SAMPLED_ELEMENTS} sampled elements in f64; \
             tolerance {FREIVALDS_C}·ε·√K scaled by |A||B| ({} ε = {:.2e})",
            T::NAME,
            T::EPS
        ))
}

/// The product under test: C[M×N] = A[M×K]·B[K×N], row-major.
struct Gemm<'a, T> {
    m: usize,
    n: usize,
    k: usize,
    a: &'a [T],
    b: &'a [T],
    c: &'a [T],
}

/// `n` random signs (±1), drawn from `rng`.
fn random_signs(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| if rng.gen::<bool>() { 1.0 } else { -1.0 })
        .collect()
}

impl<T: Elem> Gemm<'_, T> {
    fn sqrt_k(&self) -> f64 {
        (self.k.max(1) as f64).sqrt()
    }

    /// NaN / Inf anywhere in C fails at once.
    fn check_finite(&self, tally: &mut Tally) {
        let n = self.n;
        for (idx, v) in self.c.iter().enumerate() {
            let v = v.to_f64();
            if !v.is_finite() {
                tally.mismatch(|| format!("C[{},{}]", idx / n, idx % n), f64::NAN, v);
            }
        }
    }

    /// One Freivalds round with the sign vector `x`: every row of C·x against A·(B·x).
    fn freivalds(&self, x: Vec<f64>, tally: &mut Tally) {
        let (n, k) = (self.n, self.k);
        let eps = T::EPS;
        let sqrt_n = (n.max(1) as f64).sqrt();
        let (bx, abx) = self.b_times(&x);
        for i in 0..self.m {
            let arow = &self.a[i * k..(i + 1) * k];
            let (mut z, mut zb) = (Sum::default(), 0.0);
            for kk in 0..k {
                let av = arow[kk].to_f64();
                z.add(av * bx[kk]);
                zb += av.abs() * abx[kk];
            }
            let z = z.value();
            let crow = &self.c[i * n..(i + 1) * n];
            let w = Sum::of(crow.iter().zip(&x).map(|(cv, xv)| cv.to_f64() * xv));
            let statistical = FREIVALDS_C * eps * self.sqrt_k() * zb / sqrt_n;
            let one_rounding = eps * zb;
            let tol = statistical.max(one_rounding) + f64::MIN_POSITIVE;
            let ratio = (w - z).abs() / tol;
            tally.compare(
                n as u64,
                ratio,
                || format!("(C·x)[{i}] (Freivalds row {i})"),
                z,
                w,
            );
        }
    }

    /// B·x and |B|·|x| (|x| = 1).
    /// The sums are compensated: for an f64 GEMM the check runs in the precision under
    /// test, and plain sums over N or K terms would err as much as the tolerance allows C.
    fn b_times(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = self.n;
        let mut bx = vec![0.0f64; self.k];
        let mut abx = vec![0.0f64; self.k];
        for kk in 0..self.k {
            let row = &self.b[kk * n..(kk + 1) * n];
            let (mut s, mut sa) = (Sum::default(), 0.0);
            for (bv, xv) in row.iter().zip(x) {
                let bv = bv.to_f64();
                s.add(bv * xv);
                sa += bv.abs();
            }
            bx[kk] = s.value();
            abx[kk] = sa;
        }
        (bx, abx)
    }

    /// The elements to check one by one: corners, tile edges, random.
    fn sampled_points(&self, rng: &mut ChaCha8Rng) -> Vec<(usize, usize)> {
        let (m, n) = (self.m, self.n);
        let mut points: Vec<(usize, usize)> = Vec::new();
        if m > 0 && n > 0 {
            for &(i, j) in &[
                (0, 0),
                (0, n - 1),
                (m - 1, 0),
                (m - 1, n - 1),
                (m / 2, n / 2),
            ] {
                points.push((i, j));
            }
            for t in [7usize, 8, 31, 32, 63, 64, 127, 128] {
                if t < m && t < n {
                    points.push((t, t));
                }
            }
            while points.len() < SAMPLED_ELEMENTS.min(m * n + 13) {
                points.push((rng.gen_range(0..m), rng.gen_range(0..n)));
            }
        }
        points
    }

    /// C[i,j] against the f64 dot product of A's row i and B's column j.
    fn check_element(&self, i: usize, j: usize, tally: &mut Tally) {
        let (n, k) = (self.n, self.k);
        let eps = T::EPS;
        let (mut s, mut sa) = (Sum::default(), 0.0f64);
        for kk in 0..k {
            let p = self.a[i * k + kk].to_f64() * self.b[kk * n + j].to_f64();
            s.add(p);
            sa += p.abs();
        }
        let s = s.value();
        let got = self.c[i * n + j].to_f64();
        let tol = (ELEMENT_C * eps * self.sqrt_k() * sa).max(eps * sa) + f64::MIN_POSITIVE;
        let ratio = (got - s).abs() / tol;
        tally.compare(1, ratio, || format!("C[{i},{j}]"), s, got);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VerifyStatus;
    use crate::workload::gemm::{gemm_inputs_f32, gemm_inputs_f64};

    fn naive<T: Elem>(m: usize, n: usize, k: usize, a: &[T], b: &[T]) -> Vec<T> {
        // Accumulates in T, in plain k order: the worst honest order.
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

    fn naive_f32(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f32;
                for kk in 0..k {
                    s += a[i * k + kk] * b[kk * n + j];
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 1, 1),
        (1, 1, 1000),
        (31, 31, 31),
        (1, 257, 3),
        (64, 33, 129),
        (100, 99, 17),
        (40, 40, 2048),
    ];

    #[test]
    fn honest_f32_accumulation_passes_with_margin() {
        for (s, &(m, n, k)) in SHAPES.iter().enumerate() {
            let (a, b) = gemm_inputs_f32(m, n, k, s as u64);
            let c = naive_f32(m, n, k, &a, &b);
            let v = check_gemm(m, n, k, &a, &b, &c, 1);
            assert!(v.passed(), "{m}x{n}x{k}: {v:?}");
            assert!(
                v.max_error < 0.5,
                "{m}x{n}x{k}: margin too thin: {}",
                v.max_error
            );
        }
    }

    #[test]
    fn honest_f64_accumulation_passes() {
        for &(m, n, k) in SHAPES {
            let (a, b) = gemm_inputs_f64(m, n, k, 3);
            let c = naive(m, n, k, &a, &b);
            assert!(check_gemm(m, n, k, &a, &b, &c, 2).passed());
        }
    }

    #[test]
    fn a_wrong_element_fails_and_is_reported() {
        let (m, n, k) = (64, 48, 200);
        let (a, b) = gemm_inputs_f32(m, n, k, 9);
        let mut c = naive_f32(m, n, k, &a, &b);
        c[17 * n + 5] += 0.05; // elements are of order √K/3 ≈ 5
        let v = check_gemm(m, n, k, &a, &b, &c, 4);
        assert_eq!(v.status, VerifyStatus::Failed);
        assert!(v.mismatches[0].at.contains("17"), "{:?}", v.mismatches);
    }

    #[test]
    fn a_skipped_k_tile_fails() {
        let (m, n, k) = (33, 40, 24);
        let (a, b) = gemm_inputs_f32(m, n, k, 11);
        let mut a_short = a.clone();
        for i in 0..m {
            for kk in 16..24 {
                a_short[i * k + kk] = 0.0;
            }
        }
        let c = naive_f32(m, n, k, &a_short, &b);
        assert_eq!(
            check_gemm(m, n, k, &a, &b, &c, 5).status,
            VerifyStatus::Failed
        );
    }

    #[test]
    fn transposed_output_fails() {
        let (m, n, k) = (16, 16, 16);
        let (a, b) = gemm_inputs_f64(m, n, k, 12);
        let c = naive(m, n, k, &a, &b);
        let mut ct = c.clone();
        for i in 0..m {
            for j in 0..n {
                ct[j * m + i] = c[i * n + j];
            }
        }
        assert_eq!(
            check_gemm(m, n, k, &a, &b, &ct, 6).status,
            VerifyStatus::Failed
        );
    }

    #[test]
    fn nan_fails() {
        let (a, b) = gemm_inputs_f32(4, 4, 4, 1);
        let mut c = naive_f32(4, 4, 4, &a, &b);
        c[3] = f32::NAN;
        let v = check_gemm(4, 4, 4, &a, &b, &c, 1);
        assert_eq!(v.status, VerifyStatus::Failed);
        assert_eq!(v.mismatches[0].at, "C[0,3]");
    }

    #[test]
    fn zeros_output_fails() {
        let (a, b) = gemm_inputs_f32(8, 8, 8, 1);
        let c = vec![0f32; 64];
        assert_eq!(
            check_gemm(8, 8, 8, &a, &b, &c, 1).status,
            VerifyStatus::Failed
        );
    }
}
