//! HGEMM (`kernels/gemm.cu`, `HGEMM_VARIANTS`): binary16 A and B, FP32 accumulation, FP32 C.
//! Every variant runs through the emulator against a CPU reference that converts the halves with
//! the `half` crate, at degenerate, odd and skinny shapes, on inputs that include subnormal
//! halves, ±0 and values near the half maximum (65504); and the kernels' own binary16 → binary32
//! conversion is checked over all 65536 bit patterns.

use gpugate::kernels::{gemm_variants, GemmKernel, HGEMM, HGEMM_VARIANTS, MODULES};
use gpugate::workload::Precision;
use gpugate_emu::{entries, gemm_half_to_f32};
use half::f16;

mod common;
use common::{run_gemm_at, tile_shapes, Rng, GEMM_SHAPES};

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
    kernel: &GemmKernel,
    shape: (usize, usize, usize),
    a: &[u16],
    b: &[u16],
    offsets: [usize; 3],
) -> Vec<f32> {
    run_gemm_at(kernel, shape, a, b, bits(9.0), offsets)
}

fn run_hgemm(kernel: &GemmKernel, shape: (usize, usize, usize), a: &[u16], b: &[u16]) -> Vec<f32> {
    run_hgemm_at(kernel, shape, a, b, [0, 0, 0])
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

fn check_exact(kernel: &GemmKernel, shape: (usize, usize, usize), offsets: [usize; 3]) {
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
    let c = run_hgemm_at(kernel, shape, &a, &b, offsets);
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

fn for_each_variant(check: impl Fn(&GemmKernel)) {
    let variants = gemm_variants(Precision::F16);
    assert_eq!(variants, HGEMM_VARIANTS);
    assert!(variants.len() >= 2);
    for kernel in variants {
        assert_eq!(kernel.precision, Precision::F16);
        let t0 = std::time::Instant::now();
        check(kernel);
        eprintln!(
            "{}: {:.2} s",
            kernel.kernel.entry,
            t0.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn the_kernels_half_to_float_matches_the_half_crate_on_every_bit_pattern() {
    let mut nans = 0;
    for h in 0..=u16::MAX {
        let got = gemm_half_to_f32(h);
        let want = f16::from_bits(h).to_f32();
        if want.is_nan() {
            assert!(got.is_nan(), "{h:#06x}: {got} is not NaN");
            assert_eq!(
                got.is_sign_negative(),
                want.is_sign_negative(),
                "{h:#06x}: sign of NaN"
            );
            nans += 1;
        } else {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{h:#06x}: {got:e}, expected {want:e}"
            );
        }
    }
    // 2 signs × 1023 non-zero mantissas with exponent 31.
    assert_eq!(nans, 2046);
    // Spot values: ±0 keep their sign, the smallest subnormal, the largest finite, infinity.
    assert_eq!(gemm_half_to_f32(0x8000).to_bits(), 0x8000_0000);
    assert_eq!(gemm_half_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(gemm_half_to_f32(0x7bff), 65504.0);
    assert_eq!(gemm_half_to_f32(0xfc00), f32::NEG_INFINITY);
}

#[test]
fn every_hgemm_variant_is_exact_on_exact_inputs_with_subnormals_zeros_and_large_values() {
    for_each_variant(|kernel| {
        for shape in shapes_for(kernel) {
            check_exact(kernel, shape, [0, 0, 0]);
        }
    });
}

/// Operands offset by one element (2 bytes: no vector path is aligned) and by two elements (4
/// bytes: aligned for 2-half vectors, not for 4-half ones) and C by one float.
#[test]
fn every_hgemm_variant_is_exact_on_misaligned_operands() {
    for_each_variant(|kernel| {
        let shape = (
            kernel.bm as usize + 5,
            kernel.bn as usize + 4,
            2 * kernel.bk as usize,
        );
        for offsets in [[1, 1, 1], [2, 2, 0], [0, 1, 0], [1, 0, 0]] {
            check_exact(kernel, shape, offsets);
        }
    });
}

/// Random halves in [-1, 1], compared with the f64 reference within a K-scaled bound of f32
/// rounding (the inputs are exact; only the FP32 accumulation rounds).
#[test]
fn every_hgemm_variant_matches_f64_reference_on_random_inputs() {
    for_each_variant(|kernel| {
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
            let c = run_hgemm(kernel, (m, n, k), &a, &b);
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
fn every_hgemm_variant_with_k_zero_writes_zeros() {
    for_each_variant(|kernel| {
        for (m, n) in [
            (1, 1),
            (5, 7),
            (kernel.bm as usize + 3, 2 * kernel.bn as usize),
        ] {
            let c = run_hgemm(kernel, (m, n, 0), &[], &[]);
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
fn every_hgemm_variant_propagates_infinity_and_nan() {
    for_each_variant(|kernel| {
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
        let c = run_hgemm(kernel, (m, n, k), &a, &b);
        let name = kernel.kernel.entry;
        assert_eq!(&c[0..2], &[f32::INFINITY, f32::NEG_INFINITY], "{name}");
        assert!(c[2].is_nan() && c[3].is_nan(), "{name}: {c:?}");
        assert!(c[4..8].iter().all(|v| v.is_nan()), "{name}: {c:?}");
        assert_eq!(&c[8..11], &[3.0, -1.0, 1.0], "{name}");
        assert_eq!(c[11], f32::NEG_INFINITY, "{name}");
    });
}

#[test]
fn hgemm_entries_are_in_the_gemm_module_and_the_emulator_with_their_signature() {
    let compiled = entries();
    for kernel in HGEMM_VARIANTS {
        let name = kernel.kernel.entry;
        // In the module of the lowest architecture that runs it (and so every higher one).
        let gemm = MODULES
            .iter()
            .find(|m| m.name == "gemm" && m.min_cc == kernel.min_cc)
            .unwrap_or_else(|| panic!("no gemm module for {name}"));
        assert!(gemm.entries.contains(&name), "{name}");
        let e = compiled
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the emulator"));
        assert_eq!(e.signature, "iiippp", "{name}");
        assert_eq!(kernel.input_bytes(), 2);
        assert_eq!(kernel.elem_bytes(), 4);
    }
}
