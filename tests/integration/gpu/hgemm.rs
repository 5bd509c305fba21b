//! HGEMM (`kernels/gemm.cu`, `HGEMM_VARIANTS`): binary16 A and B, FP32 accumulation, FP32 C.
//! Every variant the device loads (the CUDA-core ones everywhere, the wmma ones from sm_70)
//! runs against a CPU reference that converts the halves with the `half` crate, at degenerate,
//! odd and skinny shapes, on inputs that include subnormal halves, ±0 and values near the half
//! maximum (65504); and each variant's binary16 → binary32 conversion of A and of B is checked
//! over all 65536 bit patterns.

use gpugate::cuda::CudaDevice;
use gpugate::kernels::{GemmKernel, HGEMM};
use gpugate::workload::Precision;
use half::f16;

use super::{for_each_variant, open, run_gemm_at, tile_shapes, Rng, GEMM_SHAPES};

fn bits(v: f64) -> u16 {
    f16::from_f64(v).to_bits()
}

fn value(h: u16) -> f64 {
    f16::from_bits(h).to_f64()
}

/// The shapes every GEMM variant runs at, plus those of the variant's own tile.
fn shapes_for(kernel: &GemmKernel) -> Vec<(usize, usize, usize)> {
    let mut s = GEMM_SHAPES.to_vec();
    s.extend(tile_shapes(kernel));
    if *kernel == HGEMM {
        s.extend_from_slice(&[(257, 257, 257), (64, 256, 96), (260, 132, 36)]);
    }
    s
}

/// Runs `kernel` on A (m×k), B (k×n) given as binary16 bit patterns, each operand `offsets[i]`
/// elements into its allocation (to test unaligned operands); returns C (m×n).
fn run_hgemm_at(
    dev: &CudaDevice,
    kernel: &GemmKernel,
    shape: (usize, usize, usize),
    a: &[u16],
    b: &[u16],
    offsets: [usize; 3],
) -> Vec<f32> {
    run_gemm_at(dev, kernel, shape, a, b, bits(9.0), offsets)
}

fn run_hgemm(
    dev: &CudaDevice,
    kernel: &GemmKernel,
    shape: (usize, usize, usize),
    a: &[u16],
    b: &[u16],
) -> Vec<f32> {
    run_hgemm_at(dev, kernel, shape, a, b, [0, 0, 0])
}

/// f64 reference from the exact values of the halves: (C, Σ|a·b|).
fn reference(m: usize, n: usize, k: usize, a: &[u16], b: &[u16]) -> (Vec<f64>, Vec<f64>) {
    let av: Vec<f64> = a.iter().map(|h| value(*h)).collect();
    let bv: Vec<f64> = b.iter().map(|h| value(*h)).collect();
    let mut c = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = av[i * k + p];
            for j in 0..n {
                let t = x * bv[p * n + j];
                c[i * n + j] += t;
                mag[i * n + j] += t.abs();
            }
        }
    }
    (c, mag)
}

/// A small integer in [-4, 4]; zero is -0 half of the time.
fn small(rng: &mut Rng) -> u16 {
    let v = rng.below(9) as f64 - 4.0;
    if v == 0.0 && rng.below(2) == 0 {
        0x8000
    } else {
        bits(v)
    }
}

/// j·2^-24 with |j| < 2^11 (every half subnormal and the smallest normals), or ±0.
fn tiny(rng: &mut Rng, max_j: u64) -> u16 {
    let j = rng.below(2 * max_j + 1) as f64 - max_j as f64;
    let h = bits(j * 2f64.powi(-24));
    if j == 0.0 && rng.below(2) == 0 {
        0x8000
    } else {
        h
    }
}

/// ±65504 (the half maximum) or ±(32768 + 32·r), or ±0: multiples of 32 of the top binade.
fn large(rng: &mut Rng) -> u16 {
    let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
    match rng.below(8) {
        0 => bits(sign * 65504.0),
        1 => {
            if sign > 0.0 {
                0
            } else {
                0x8000
            }
        }
        _ => bits(sign * (32768.0 + 32.0 * rng.below(1024) as f64)),
    }
}

/// Inputs whose products and sums are all exact in f32, so C must equal the f64 reference bit
/// for bit whatever the order of the additions. Row i of A is small integers, tiny values
/// (subnormal halves, the smallest normals, ±0) or large ones (up to 65504) by i % 3; column j of
/// B is small integers or tiny values (|j| ≤ 15 units of 2^-24) by j % 2. Every term of one dot
/// product then has one class pair, and its sum stays within 2^24 units of that pair's grain.
fn exact_inputs(m: usize, n: usize, k: usize, seed: u64) -> (Vec<u16>, Vec<u16>) {
    let mut rng = Rng::new(seed);
    let mut a = vec![0u16; m * k];
    for i in 0..m {
        for p in 0..k {
            a[i * k + p] = match i % 3 {
                0 => small(&mut rng),
                1 => tiny(&mut rng, 2047),
                _ => large(&mut rng),
            };
        }
    }
    let mut b = vec![0u16; k * n];
    for p in 0..k {
        for j in 0..n {
            b[p * n + j] = if j % 2 == 0 {
                small(&mut rng)
            } else {
                tiny(&mut rng, 15)
            };
        }
    }
    (a, b)
}

fn check_exact(
    dev: &CudaDevice,
    kernel: &GemmKernel,
    shape: (usize, usize, usize),
    offsets: [usize; 3],
) {
    let (m, n, k) = shape;
    let (a, b) = exact_inputs(m, n, k, (m * 1_000_003 + n * 1009 + k) as u64);
    // The inputs hold what they are meant to (every class present at this size).
    if m >= 3 && k >= 64 {
        assert!(
            a.iter().any(|h| h & 0x7c00 == 0 && h & 0x3ff != 0),
            "no subnormal"
        );
        assert!(a.contains(&0x8000) && a.contains(&bits(65504.0)));
    }
    let c = run_hgemm_at(dev, kernel, shape, &a, &b, offsets);
    let (want, _) = reference(m, n, k, &a, &b);
    for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
        assert!(
            *got as f64 == *want,
            "{} {m}x{n}x{k} (offsets {offsets:?}): C[{}][{}] = {got:?}, expected {want}",
            kernel.kernel.entry,
            idx / n,
            idx % n,
        );
    }
}

/// Whether a binary16 pattern is infinite or NaN (exponent 31).
fn non_finite(h: u16) -> bool {
    h & 0x7c00 == 0x7c00
}

/// Checks a kernel's output for the patterns it was given: finite values (subnormals included)
/// and ±infinity exactly as the `half` crate converts them, NaN patterns as a NaN.
fn check_conversion(kernel: &GemmKernel, side: &str, patterns: &[u16], got: &[f32]) {
    assert_eq!(patterns.len(), got.len());
    for (h, got) in patterns.iter().zip(got) {
        let want = f16::from_bits(*h).to_f32();
        if want.is_nan() {
            assert!(
                got.is_nan(),
                "{} {side} {h:#06x}: {got} is not NaN",
                kernel.kernel.entry
            );
        } else {
            assert!(
                *got == want,
                "{} {side} {h:#06x}: {got:e}, expected {want:e}",
                kernel.kernel.entry
            );
        }
    }
}

/// Each variant's binary16 → binary32 conversion of every bit pattern, as a kernel computes
/// with it, for both operand loaders:
/// - the 63488 finite patterns as a 256×256 matrix (row = high byte, column = low byte; the
///   non-finite places hold 0) times the identity, and the identity times its transpose: C is
///   the converted matrix;
/// - the 2048 infinite and NaN patterns as a 2048×1 column times [1.0], and [1.0] times them as
///   a 1×2048 row (a product with the identity's zeros would make every one NaN).
///
/// (Seen through an FP32 accumulation that starts at +0, a -0 input comes out as +0, and a
/// NaN's sign and payload are not kept, as on a GPU: those are compared as values.)
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_hgemm_variant_converts_every_half_bit_pattern_exactly() {
    let dev = open();
    let n = 256;
    let finite = |h: u16| if non_finite(h) { 0 } else { h };
    // a[r][c] = pattern r·256 + c; t[r][c] = pattern c·256 + r.
    let a: Vec<u16> = (0..=u16::MAX).map(finite).collect();
    let t: Vec<u16> = (0..n * n)
        .map(|i| finite(((i % n) * n + i / n) as u16))
        .collect();
    let identity: Vec<u16> = (0..n * n)
        .map(|i| if i / n == i % n { bits(1.0) } else { 0 })
        .collect();
    let specials: Vec<u16> = (0..=u16::MAX).filter(|h| non_finite(*h)).collect();
    assert_eq!(specials.len(), 2048);
    let one = [bits(1.0)];
    for_each_variant(&dev, Precision::F16, |kernel| {
        let c = run_hgemm(&dev, kernel, (n, n, n), &a, &identity);
        check_conversion(kernel, "A", &a, &c);
        let c = run_hgemm(&dev, kernel, (n, n, n), &identity, &t);
        check_conversion(kernel, "B", &t, &c);
        let s = specials.len();
        let c = run_hgemm(&dev, kernel, (s, 1, 1), &specials, &one);
        check_conversion(kernel, "A", &specials, &c);
        let c = run_hgemm(&dev, kernel, (1, s, 1), &one, &specials);
        check_conversion(kernel, "B", &specials, &c);
        // Spot values: the smallest subnormal, the largest finite, -infinity.
        assert_eq!(
            c[specials.iter().position(|h| *h == 0xfc00).unwrap()],
            f32::NEG_INFINITY
        );
        let c = run_hgemm(&dev, kernel, (1, 2, 1), &one, &[0x0001, 0x7bff]);
        assert_eq!(c, [2f32.powi(-24), 65504.0], "{}", kernel.kernel.entry);
    });
    // Every pattern was given: the finite ones in the matrix (0x0000 among the zeros), the
    // others on their own.
    let covered = a.iter().filter(|h| **h != 0).count() + 1 + specials.len();
    assert_eq!(covered, 65536);
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_hgemm_variant_is_exact_on_exact_inputs_with_subnormals_zeros_and_large_values() {
    let dev = open();
    for_each_variant(&dev, Precision::F16, |kernel| {
        for shape in shapes_for(kernel) {
            check_exact(&dev, kernel, shape, [0, 0, 0]);
        }
    });
}

/// Operands offset by one element (2 bytes: no vector path is aligned) and by two elements (4
/// bytes: aligned for 2-half vectors, not for 4-half ones) and C by one float; and by 16 bytes
/// (aligned views: the vector paths).
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_hgemm_variant_is_exact_on_misaligned_operands() {
    let dev = open();
    for_each_variant(&dev, Precision::F16, |kernel| {
        let shape = (
            kernel.bm as usize + 5,
            kernel.bn as usize + 4,
            2 * kernel.bk as usize,
        );
        for offsets in [[1, 1, 1], [2, 2, 0], [0, 1, 0], [1, 0, 0], [8, 8, 4]] {
            check_exact(&dev, kernel, shape, offsets);
        }
    });
}

/// Random halves in [-1, 1], compared with the f64 reference within a K-scaled bound of f32
/// rounding (the inputs are exact; only the FP32 accumulation rounds).
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_hgemm_variant_matches_f64_reference_on_random_inputs() {
    let dev = open();
    for_each_variant(&dev, Precision::F16, |kernel| {
        let (bm, bn, bk) = (kernel.bm as usize, kernel.bn as usize, kernel.bk as usize);
        for (m, n, k) in [
            (31, 31, 31),
            (33, 65, 129),
            (bm + 1, bn - 1, bk + 1),
            (2 * bm, 3 * bn, 5 * bk),
            (67, 70, 1000),
        ] {
            let mut rng = Rng::new((m * 7919 + n * 104_729 + k) as u64);
            let a: Vec<u16> = (0..m * k).map(|_| bits(rng.uniform(-1.0, 1.0))).collect();
            let b: Vec<u16> = (0..k * n).map(|_| bits(rng.uniform(-1.0, 1.0))).collect();
            let c = run_hgemm(&dev, kernel, (m, n, k), &a, &b);
            let (want, mag) = reference(m, n, k, &a, &b);
            for idx in 0..m * n {
                let got = c[idx] as f64;
                let tol = 2.0 * (k as f64 + 1.0) * f32::EPSILON as f64 * mag[idx];
                assert!(
                    (got - want[idx]).abs() <= tol,
                    "{} {m}x{n}x{k}: C[{}][{}] = {got}, expected {} (tolerance {tol})",
                    kernel.kernel.entry,
                    idx / n,
                    idx % n,
                    want[idx]
                );
            }
        }
    });
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_hgemm_variant_with_k_zero_writes_zeros() {
    let dev = open();
    for_each_variant(&dev, Precision::F16, |kernel| {
        for (m, n) in [
            (1, 1),
            (5, 7),
            (kernel.bm as usize + 3, 2 * kernel.bn as usize),
        ] {
            let c = run_hgemm(&dev, kernel, (m, n, 0), &[], &[]);
            assert!(
                c.iter().all(|v| v.to_bits() == 0),
                "{} {m}x{n}x0: {c:?}",
                kernel.kernel.entry
            );
        }
    });
}

/// Infinity and NaN inputs propagate as IEEE says (the conversion keeps them; FP32 FMA does the
/// rest): a row of A holding +inf gives ±inf where B's column is non-zero and of one sign, NaN
/// where it meets a zero.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_hgemm_variant_propagates_infinity_and_nan() {
    let dev = open();
    for_each_variant(&dev, Precision::F16, |kernel| {
        let (m, n, k) = (3, 4, 2);
        // Row 0: [inf, 1]; row 1: [NaN, 1]; row 2: [1, 1].
        let a = [0x7c00, bits(1.0), 0x7e00, bits(1.0), bits(1.0), bits(1.0)];
        // Columns: [2, 1], [-2, 1], [0, 1], [1, -inf].
        let b = [
            bits(2.0),
            bits(-2.0),
            0,
            bits(1.0),
            bits(1.0),
            bits(1.0),
            bits(1.0),
            0xfc00,
        ];
        let c = run_hgemm(&dev, kernel, (m, n, k), &a, &b);
        let name = kernel.kernel.entry;
        assert_eq!(&c[0..2], &[f32::INFINITY, f32::NEG_INFINITY], "{name}");
        assert!(c[2].is_nan() && c[3].is_nan(), "{name}: {c:?}");
        assert!(c[4..8].iter().all(|v| v.is_nan()), "{name}: {c:?}");
        assert_eq!(&c[8..11], &[3.0, -1.0, 1.0], "{name}");
        assert_eq!(c[11], f32::NEG_INFINITY, "{name}");
    });
}
