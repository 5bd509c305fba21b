//! Every kernel of kernels/*.cu, run directly through the emulator against plain CPU references
//! at small and odd sizes (the shapes where index and tiling bugs live).

use gpugate::kernels::{
    gemm_variants, stream_kernel, GemmKernel, DGEMM, DGEMM_VARIANTS, MODULES, SGEMM,
    SGEMM_VARIANTS, STREAM_BLOCK,
};
use gpugate::workload::device::{
    as_bytes, as_bytes_mut, bytemuck_lite::Pod, DevBuf, KArg, KernelDevice, KernelRef, LaunchConfig,
};
use gpugate::workload::{Precision, StreamOp};
use gpugate_emu::{entries, EmuDevice};

mod common;
use common::{run_gemm_at, tile_shapes, Rng, GEMM_SHAPES};

trait Real: Pod + Copy + Default + PartialEq + std::fmt::Debug {
    const EPS: f64;
    const PRECISION: Precision;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn arg(v: f64) -> KArg;
}
impl Real for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    const PRECISION: Precision = Precision::F32;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn arg(v: f64) -> KArg {
        KArg::F32(v as f32)
    }
}
impl Real for f64 {
    const EPS: f64 = f64::EPSILON;
    const PRECISION: Precision = Precision::F64;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn arg(v: f64) -> KArg {
        KArg::F64(v)
    }
}

fn upload<T: Real>(dev: &EmuDevice, v: &[T]) -> DevBuf {
    let b = dev.alloc(std::mem::size_of_val(v)).unwrap();
    dev.upload(b, as_bytes(v)).unwrap();
    b
}

fn download<T: Real>(dev: &EmuDevice, b: DevBuf, n: usize) -> Vec<T> {
    let mut v = vec![T::from_f64(0.0); n];
    dev.download(b, as_bytes_mut(&mut v)).unwrap();
    v
}

// ------------------------------------------------------------------------------------ GEMM

/// Extra shapes for the default kernels (the ones that run before any tuning).
const DEFAULT_SHAPES: &[(usize, usize, usize)] = &[
    (257, 257, 257),
    (1, 300, 257),
    (300, 1, 257),
    (64, 256, 96),
    (260, 132, 36),
];

/// Every shape a variant is checked at with exact (integer) inputs.
fn shapes_for(kernel: &GemmKernel) -> Vec<(usize, usize, usize)> {
    let mut shapes = GEMM_SHAPES.to_vec();
    shapes.extend(tile_shapes(kernel));
    if *kernel == SGEMM || *kernel == DGEMM {
        shapes.extend_from_slice(DEFAULT_SHAPES);
    }
    shapes
}

/// The shapes a variant is checked at with random real inputs (rounding, not indexing, is what
/// this adds: a few shapes with partial and whole tiles and a long K suffice, and keep the
/// emulator suite short).
fn random_shapes_for(kernel: &GemmKernel) -> Vec<(usize, usize, usize)> {
    let mut shapes = vec![(31, 31, 31), (33, 65, 129)];
    shapes.extend(tile_shapes(kernel).into_iter().take(3));
    if *kernel == SGEMM || *kernel == DGEMM {
        shapes.push((257, 257, 257));
    }
    shapes
}

/// Runs `kernel` on A (m×k), B (k×n); returns C (m×n), which starts as NaN so an element that
/// is never written shows.
fn run_gemm<T: Real>(
    kernel: &GemmKernel,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
) -> Vec<T> {
    run_gemm_at(kernel, (m, n, k), a, b, T::from_f64(0.0), [0, 0, 0])
}

fn gemm_reference<T: Real>(m: usize, n: usize, k: usize, a: &[T], b: &[T]) -> (Vec<f64>, Vec<f64>) {
    let mut c = vec![0.0; m * n];
    let mut mag = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let av = a[i * k + p].to_f64();
            for j in 0..n {
                let bv = b[p * n + j].to_f64();
                c[i * n + j] += av * bv;
                mag[i * n + j] += (av * bv).abs();
            }
        }
    }
    (c, mag)
}

/// Integer-valued inputs: every partial sum is exact, so the result must equal the reference
/// bit for bit, whatever the order of the additions.
fn check_gemm_exact<T: Real>(kernel: &GemmKernel) {
    for (m, n, k) in shapes_for(kernel) {
        let mut rng = Rng::new((m * 1_000_003 + n * 1009 + k) as u64);
        let a: Vec<T> = (0..m * k).map(|_| T::from_f64(rng.small_int())).collect();
        let b: Vec<T> = (0..k * n).map(|_| T::from_f64(rng.small_int())).collect();
        let c = run_gemm(kernel, m, n, k, &a, &b);
        let (want, _) = gemm_reference(m, n, k, &a, &b);
        for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
            assert!(
                got.to_f64() == *want,
                "{} {m}x{n}x{k}: C[{}][{}] = {:?}, expected {want}",
                kernel.kernel.entry,
                idx / n,
                idx % n,
                got
            );
        }
    }
}

/// Random real inputs, compared with an f64 reference within a K-scaled bound.
fn check_gemm_random<T: Real>(kernel: &GemmKernel) {
    for (m, n, k) in random_shapes_for(kernel) {
        let mut rng = Rng::new((m * 7919 + n * 104_729 + k) as u64);
        let a: Vec<T> = (0..m * k)
            .map(|_| T::from_f64(rng.uniform(-1.0, 1.0)))
            .collect();
        let b: Vec<T> = (0..k * n)
            .map(|_| T::from_f64(rng.uniform(-1.0, 1.0)))
            .collect();
        let c = run_gemm(kernel, m, n, k, &a, &b);
        let (want, mag) = gemm_reference(m, n, k, &a, &b);
        for idx in 0..m * n {
            let got = c[idx].to_f64();
            let tol = 2.0 * (k as f64 + 1.0) * T::EPS * mag[idx] + f64::MIN_POSITIVE;
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
}

/// Runs `check` on every variant of a precision, timing each (shown with --nocapture).
fn for_each_variant(p: Precision, check: impl Fn(&GemmKernel)) {
    let variants = gemm_variants(p);
    assert!(!variants.is_empty());
    for kernel in variants {
        assert_eq!(kernel.precision, p);
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
fn every_sgemm_variant_is_exact_on_integer_inputs() {
    for_each_variant(Precision::F32, check_gemm_exact::<f32>);
}

#[test]
fn every_dgemm_variant_is_exact_on_integer_inputs() {
    for_each_variant(Precision::F64, check_gemm_exact::<f64>);
}

#[test]
fn every_sgemm_variant_matches_f64_reference_on_random_inputs() {
    for_each_variant(Precision::F32, check_gemm_random::<f32>);
}

#[test]
fn every_dgemm_variant_matches_f64_reference_on_random_inputs() {
    for_each_variant(Precision::F64, check_gemm_random::<f64>);
}

#[test]
fn every_gemm_variant_with_k_zero_writes_zeros() {
    for kernel in SGEMM_VARIANTS.iter().chain(DGEMM_VARIANTS) {
        for (m, n) in [(5, 7), (kernel.bm as usize + 3, 2 * kernel.bn as usize)] {
            let c: Vec<f64> = if kernel.precision == Precision::F32 {
                run_gemm::<f32>(kernel, m, n, 0, &[], &[])
                    .iter()
                    .map(|v| *v as f64)
                    .collect()
            } else {
                run_gemm::<f64>(kernel, m, n, 0, &[], &[])
            };
            assert!(
                c.iter().all(|v| *v == 0.0),
                "{} {m}x{n}x0: {c:?}",
                kernel.kernel.entry
            );
        }
    }
}

/// Operands at addresses that are not 16-byte aligned (offset by one element inside a larger
/// allocation): every variant must take its scalar paths and still be exact.
#[test]
fn every_gemm_variant_is_exact_on_misaligned_operands() {
    fn check<T: Real>(kernel: &GemmKernel) {
        let (m, n, k) = (
            kernel.bm as usize + 5,
            kernel.bn as usize + 4,
            2 * kernel.bk as usize,
        );
        let mut rng = Rng::new(0xa11_9e5 + m as u64);
        let a: Vec<T> = (0..m * k).map(|_| T::from_f64(rng.small_int())).collect();
        let b: Vec<T> = (0..k * n).map(|_| T::from_f64(rng.small_int())).collect();
        let (want, _) = gemm_reference(m, n, k, &a, &b);
        let c: Vec<T> = run_gemm_at(kernel, (m, n, k), &a, &b, T::from_f64(9.0), [1, 1, 1]);
        for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
            assert!(
                got.to_f64() == *want,
                "{} misaligned {m}x{n}x{k}: C[{}][{}] = {got:?}, expected {want}",
                kernel.kernel.entry,
                idx / n,
                idx % n
            );
        }
    }
    for kernel in SGEMM_VARIANTS {
        check::<f32>(kernel);
    }
    for kernel in DGEMM_VARIANTS {
        check::<f64>(kernel);
    }
}

// ---------------------------------------------------------------------------------- stream

const STREAM_SIZES: &[usize] = &[1, 31, 257, 1000, 100_003];

/// Grids the stream kernels are run with: a single block (every thread strides), a few blocks,
/// and one thread per element (capped).
fn stream_grids(n: usize) -> Vec<u32> {
    let full = n.div_ceil(STREAM_BLOCK as usize).min(512) as u32;
    let mut g = vec![1, 3, full];
    g.sort();
    g.dedup();
    g
}

/// The expected value of element i.
type Reference<'a> = Box<dyn Fn(usize) -> f64 + 'a>;

fn launch_stream(dev: &EmuDevice, k: KernelRef, grid: u32, args: &[KArg]) {
    let cfg = LaunchConfig {
        grid: (grid, 1, 1),
        block: (STREAM_BLOCK, 1, 1),
        shared_bytes: 0,
    };
    dev.launch(k, cfg, args).unwrap();
}

fn check_stream<T: Real>() {
    let p = T::PRECISION;
    for &n in STREAM_SIZES {
        let mut rng = Rng::new(n as u64 + 17);
        let gen = |rng: &mut Rng| -> Vec<T> {
            (0..n).map(|_| T::from_f64(rng.uniform(0.5, 1.5))).collect()
        };
        let a = gen(&mut rng);
        let b = gen(&mut rng);
        let c = gen(&mut rng);
        let scalar = T::from_f64(0.4);
        let s = scalar.to_f64();
        let nan = vec![T::from_f64(f64::NAN); n];
        for grid in stream_grids(n) {
            let dev = EmuDevice::new();
            let (da, db, dc) = (upload(&dev, &a), upload(&dev, &b), upload(&dev, &c));
            let out = upload(&dev, &nan);
            let len = KArg::I64(n as i64);
            let elementwise: [(StreamOp, Vec<KArg>, Reference); 4] = [
                (
                    StreamOp::Copy,
                    vec![KArg::Buf(da), KArg::Buf(out), len],
                    Box::new(|i| a[i].to_f64()),
                ),
                (
                    StreamOp::Scale,
                    vec![KArg::Buf(dc), KArg::Buf(out), T::arg(s), len],
                    Box::new(|i| s * c[i].to_f64()),
                ),
                (
                    StreamOp::Add,
                    vec![KArg::Buf(da), KArg::Buf(db), KArg::Buf(out), len],
                    Box::new(|i| a[i].to_f64() + b[i].to_f64()),
                ),
                (
                    StreamOp::Triad,
                    vec![KArg::Buf(db), KArg::Buf(dc), KArg::Buf(out), T::arg(s), len],
                    Box::new(|i| b[i].to_f64() + s * c[i].to_f64()),
                ),
            ];
            for (op, args, want) in elementwise.iter() {
                dev.upload(out, as_bytes(&nan)).unwrap();
                launch_stream(&dev, stream_kernel(*op, p), grid, args);
                let got = download::<T>(&dev, out, n);
                for (i, g) in got.iter().enumerate() {
                    let w = want(i);
                    assert!(
                        (g.to_f64() - w).abs() <= 2.0 * T::EPS * w.abs(),
                        "{} n={n} grid={grid}: [{i}] = {g:?}, expected {w}",
                        stream_kernel(*op, p).entry
                    );
                }
            }
            // The inputs are untouched.
            assert_eq!(download::<T>(&dev, da, n), a);
            assert_eq!(download::<T>(&dev, db, n), b);
            assert_eq!(download::<T>(&dev, dc, n), c);

            // dot: one partial per block.
            let partial = upload(&dev, &vec![T::from_f64(f64::NAN); grid as usize]);
            launch_stream(
                &dev,
                stream_kernel(StreamOp::Dot, p),
                grid,
                &[KArg::Buf(da), KArg::Buf(db), KArg::Buf(partial), len],
            );
            let parts = download::<T>(&dev, partial, grid as usize);
            // Each block's partial, recomputed: block g visits i ≡ t (mod grid·256) for its t.
            let stride = grid as usize * STREAM_BLOCK as usize;
            for (g, got) in parts.iter().enumerate() {
                let (mut want, mut mag) = (0.0f64, 0.0f64);
                for t in 0..STREAM_BLOCK as usize {
                    let mut i = g * STREAM_BLOCK as usize + t;
                    while i < n {
                        want += a[i].to_f64() * b[i].to_f64();
                        mag += (a[i].to_f64() * b[i].to_f64()).abs();
                        i += stride;
                    }
                }
                let terms = n.div_ceil(stride) + STREAM_BLOCK as usize;
                let tol = 2.0 * terms as f64 * T::EPS * mag;
                assert!(
                    (got.to_f64() - want).abs() <= tol,
                    "{} n={n} grid={grid}: partial[{g}] = {got:?}, expected {want} (tol {tol})",
                    stream_kernel(StreamOp::Dot, p).entry
                );
            }
            for buf in [da, db, dc, out, partial] {
                dev.free(buf);
            }
        }
    }
}

#[test]
fn stream_f32_kernels_match_references() {
    check_stream::<f32>();
}

#[test]
fn stream_f64_kernels_match_references() {
    check_stream::<f64>();
}

// ------------------------------------------------------------------------- table and errors

#[test]
fn every_table_entry_is_compiled_into_the_emulator_with_its_documented_signature() {
    let compiled = entries();
    let find = |name: &str| {
        compiled
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the emulator"))
            .signature
            .clone()
    };
    // Every entry of every module (a higher build of a family repeats the lower one's), and
    // nothing else.
    let mut listed: Vec<&str> = Vec::new();
    for m in MODULES {
        for e in m.entries {
            find(e);
            if !listed.contains(e) {
                listed.push(e);
            }
        }
    }
    assert_eq!(
        listed.len(),
        compiled.len(),
        "emulator entries: {compiled:?}"
    );
    for kernel in SGEMM_VARIANTS.iter().chain(DGEMM_VARIANTS) {
        assert_eq!(
            find(kernel.kernel.entry),
            "iiippp",
            "{}",
            kernel.kernel.entry
        );
    }
    for p in [Precision::F32, Precision::F64] {
        let s = if p == Precision::F32 { 'f' } else { 'd' };
        assert_eq!(find(stream_kernel(StreamOp::Copy, p).entry), "ppl");
        assert_eq!(
            find(stream_kernel(StreamOp::Scale, p).entry),
            format!("pp{s}l")
        );
        assert_eq!(find(stream_kernel(StreamOp::Add, p).entry), "pppl");
        assert_eq!(
            find(stream_kernel(StreamOp::Triad, p).entry),
            format!("ppp{s}l")
        );
        assert_eq!(find(stream_kernel(StreamOp::Dot, p).entry), "pppl");
    }
}

#[test]
fn bad_launches_are_errors_not_panics() {
    let dev = EmuDevice::new();
    let buf = dev.alloc(64).unwrap();
    let copy = stream_kernel(StreamOp::Copy, Precision::F32);
    let args = [KArg::Buf(buf), KArg::Buf(buf), KArg::I64(16)];
    let cfg = |grid, block| LaunchConfig {
        grid,
        block,
        shared_bytes: 0,
    };
    let unknown = KernelRef {
        module: "gemm",
        entry: "no_such_kernel",
    };
    let e = dev
        .launch(unknown, cfg((1, 1, 1), (32, 1, 1)), &args)
        .unwrap_err();
    assert!(e.0.contains("no_such_kernel"), "{e}");
    for block in [(1025, 1, 1), (32, 32, 2), (0, 1, 1)] {
        assert!(
            dev.launch(copy, cfg((1, 1, 1), block), &args).is_err(),
            "{block:?}"
        );
    }
    assert!(dev.launch(copy, cfg((0, 1, 1), (32, 1, 1)), &args).is_err());
    // Wrong count and wrong kinds of arguments.
    assert!(dev
        .launch(copy, cfg((1, 1, 1), (32, 1, 1)), &args[..2])
        .is_err());
    let e = dev
        .launch(
            copy,
            cfg((1, 1, 1), (32, 1, 1)),
            &[KArg::Buf(buf), KArg::Buf(buf), KArg::I32(16)],
        )
        .unwrap_err();
    assert!(e.0.contains("long long"), "{e}");
    // A freed buffer.
    let gone = dev.alloc(64).unwrap();
    dev.free(gone);
    assert!(dev
        .launch(
            copy,
            cfg((1, 1, 1), (32, 1, 1)),
            &[KArg::Buf(gone), KArg::Buf(buf), KArg::I64(16)]
        )
        .is_err());
    // The device still works afterwards.
    dev.launch(copy, cfg((1, 1, 1), (1024, 1, 1)), &args)
        .unwrap();
}

#[test]
fn buffers_are_aligned_and_copies_are_checked() {
    let dev = EmuDevice::new();
    let d = dev.alloc(1000).unwrap();
    let p = dev.alloc_pinned(1000).unwrap();
    let data: Vec<u8> = (0..1000).map(|i| (i * 7 % 251) as u8).collect();
    dev.write_pinned(p, &data).unwrap();
    dev.copy_h2d(p, d).unwrap();
    let mut back = vec![0u8; 1000];
    dev.download(d, &mut back).unwrap();
    assert_eq!(back, data);
    let p2 = dev.alloc_pinned(1000).unwrap();
    dev.copy_d2h(d, p2).unwrap();
    let mut back2 = vec![0u8; 1000];
    dev.read_pinned(p2, &mut back2).unwrap();
    assert_eq!(back2, data);
    assert!(dev.upload(d, &[0u8; 1001]).is_err());
    let small = dev.alloc(10).unwrap();
    assert!(dev.copy_h2d(p, small).is_err());
    assert!(dev.timer_stop().is_err());
    dev.timer_start().unwrap();
    assert!(dev.timer_stop().unwrap() >= 0.0);
    let props = dev.props();
    assert_eq!(props.name, "CPU emulator");
    assert_eq!(props.compute_capability, (5, 2));
    assert!(props.total_memory > 0);
    for b in [d, small] {
        dev.free(b);
    }
    dev.free_pinned(p);
    dev.free_pinned(p2);
    assert_eq!((dev.live_buffers(), dev.live_pinned()), (0, 0));
}
