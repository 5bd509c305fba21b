//! Every SGEMM/DGEMM variant and stream kernel, launched directly through `CudaDevice` against
//! plain CPU references at small and odd sizes (the shapes where index and tiling bugs live);
//! the kernel table against the PTX; bad launches and copies.

use gpugate::cuda::{CudaDevice, CudaError};
use gpugate::kernels::{
    module_for, stream_kernel, GemmKernel, DGEMM, MODULES, SGEMM, STREAM_BLOCK,
};
use gpugate::workload::device::{
    as_bytes, as_bytes_mut, DevBuf, DeviceError, KArg, KernelDevice, KernelRef, LaunchConfig, Pod,
};
use gpugate::workload::{GemmMath, Precision, StreamOp};

use super::{
    cc, for_each_variant, open, run_gemm_at, simulated, tile_shapes, variants_here, Rng,
    GEMM_SHAPES,
};

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

fn upload<T: Real>(dev: &CudaDevice, v: &[T]) -> DevBuf {
    let b = dev.alloc(std::mem::size_of_val(v)).unwrap();
    dev.upload(b, as_bytes(v)).unwrap();
    b
}

fn download<T: Real>(dev: &CudaDevice, b: DevBuf, n: usize) -> Vec<T> {
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
/// this adds: a few shapes with partial and whole tiles and a long K suffice).
fn random_shapes_for(kernel: &GemmKernel) -> Vec<(usize, usize, usize)> {
    let mut shapes = vec![(31, 31, 31), (33, 65, 129)];
    shapes.extend(tile_shapes(kernel).into_iter().take(3));
    if *kernel == SGEMM || *kernel == DGEMM {
        shapes.push((257, 257, 257));
    }
    shapes
}

fn run_gemm<T: Real>(
    dev: &CudaDevice,
    kernel: &GemmKernel,
    (m, n, k): (usize, usize, usize),
    a: &[T],
    b: &[T],
) -> Vec<T> {
    run_gemm_at(dev, kernel, (m, n, k), a, b, T::from_f64(0.0), [0, 0, 0])
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
fn check_gemm_exact<T: Real>(dev: &CudaDevice, kernel: &GemmKernel) {
    for (m, n, k) in shapes_for(kernel) {
        let mut rng = Rng::new((m * 1_000_003 + n * 1009 + k) as u64);
        let a: Vec<T> = (0..m * k).map(|_| T::from_f64(rng.small_int())).collect();
        let b: Vec<T> = (0..k * n).map(|_| T::from_f64(rng.small_int())).collect();
        let c = run_gemm(dev, kernel, (m, n, k), &a, &b);
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
fn check_gemm_random<T: Real>(dev: &CudaDevice, kernel: &GemmKernel) {
    for (m, n, k) in random_shapes_for(kernel) {
        let mut rng = Rng::new((m * 7919 + n * 104_729 + k) as u64);
        let a: Vec<T> = (0..m * k)
            .map(|_| T::from_f64(rng.uniform(-1.0, 1.0)))
            .collect();
        let b: Vec<T> = (0..k * n)
            .map(|_| T::from_f64(rng.uniform(-1.0, 1.0)))
            .collect();
        let c = run_gemm(dev, kernel, (m, n, k), &a, &b);
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

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_sgemm_variant_is_exact_on_integer_inputs() {
    let dev = open();
    for_each_variant(&dev, Precision::F32, |k| check_gemm_exact::<f32>(&dev, k));
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_dgemm_variant_is_exact_on_integer_inputs() {
    let dev = open();
    for_each_variant(&dev, Precision::F64, |k| check_gemm_exact::<f64>(&dev, k));
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_sgemm_variant_matches_f64_reference_on_random_inputs() {
    let dev = open();
    for_each_variant(&dev, Precision::F32, |k| check_gemm_random::<f32>(&dev, k));
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_dgemm_variant_matches_f64_reference_on_random_inputs() {
    let dev = open();
    for_each_variant(&dev, Precision::F64, |k| check_gemm_random::<f64>(&dev, k));
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_gemm_variant_with_k_zero_writes_zeros() {
    let dev = open();
    for p in [Precision::F32, Precision::F64] {
        for kernel in variants_here(&dev, p) {
            for (m, n) in [(5, 7), (kernel.bm as usize + 3, 2 * kernel.bn as usize)] {
                let c: Vec<f64> = if p == Precision::F32 {
                    run_gemm::<f32>(&dev, &kernel, (m, n, 0), &[], &[])
                        .iter()
                        .map(|v| *v as f64)
                        .collect()
                } else {
                    run_gemm::<f64>(&dev, &kernel, (m, n, 0), &[], &[])
                };
                assert!(
                    c.iter().all(|v| v.to_bits() == 0),
                    "{} {m}x{n}x0: {c:?}",
                    kernel.kernel.entry
                );
            }
        }
    }
}

/// Operands at addresses that are not 16-byte aligned (one element into a larger allocation,
/// passed as `KArg::BufAt`): every variant must take its scalar paths and still be exact. And
/// operands 16 bytes in (aligned views): the vector paths again.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_gemm_variant_is_exact_on_misaligned_operands() {
    fn check<T: Real>(dev: &CudaDevice, kernel: &GemmKernel) {
        let (m, n, k) = (
            kernel.bm as usize + 5,
            kernel.bn as usize + 4,
            2 * kernel.bk as usize,
        );
        let mut rng = Rng::new(0xa11_9e5 + m as u64);
        let a: Vec<T> = (0..m * k).map(|_| T::from_f64(rng.small_int())).collect();
        let b: Vec<T> = (0..k * n).map(|_| T::from_f64(rng.small_int())).collect();
        let (want, _) = gemm_reference(m, n, k, &a, &b);
        let aligned = 16 / std::mem::size_of::<T>();
        for offsets in [[1, 1, 1], [aligned, aligned, aligned]] {
            let c: Vec<T> = run_gemm_at(dev, kernel, (m, n, k), &a, &b, T::from_f64(9.0), offsets);
            for (idx, (got, want)) in c.iter().zip(&want).enumerate() {
                assert!(
                    got.to_f64() == *want,
                    "{} offsets {offsets:?} {m}x{n}x{k}: C[{}][{}] = {got:?}, expected {want}",
                    kernel.kernel.entry,
                    idx / n,
                    idx % n
                );
            }
        }
    }
    let dev = open();
    for_each_variant(&dev, Precision::F32, |k| check::<f32>(&dev, k));
    for_each_variant(&dev, Precision::F64, |k| check::<f64>(&dev, k));
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

fn launch_stream(dev: &CudaDevice, k: KernelRef, grid: u32, args: &[KArg]) {
    let cfg = LaunchConfig {
        grid: (grid, 1, 1),
        block: (STREAM_BLOCK, 1, 1),
        shared_bytes: 0,
    };
    dev.launch(k, cfg, args)
        .unwrap_or_else(|e| panic!("{} grid {grid}: {e}", k.entry));
}

fn check_stream<T: Real>(dev: &CudaDevice) {
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
            let (da, db, dc) = (upload(dev, &a), upload(dev, &b), upload(dev, &c));
            let out = upload(dev, &nan);
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
                launch_stream(dev, stream_kernel(*op, p).unwrap(), grid, args);
                let got = download::<T>(dev, out, n);
                for (i, g) in got.iter().enumerate() {
                    let w = want(i);
                    assert!(
                        (g.to_f64() - w).abs() <= 2.0 * T::EPS * w.abs(),
                        "{} n={n} grid={grid}: [{i}] = {g:?}, expected {w}",
                        stream_kernel(*op, p).unwrap().entry
                    );
                }
            }
            // The inputs are untouched.
            assert_eq!(download::<T>(dev, da, n), a);
            assert_eq!(download::<T>(dev, db, n), b);
            assert_eq!(download::<T>(dev, dc, n), c);

            // dot: one partial per block.
            let partial = upload(dev, &vec![T::from_f64(f64::NAN); grid as usize]);
            launch_stream(
                dev,
                stream_kernel(StreamOp::Dot, p).unwrap(),
                grid,
                &[KArg::Buf(da), KArg::Buf(db), KArg::Buf(partial), len],
            );
            let parts = download::<T>(dev, partial, grid as usize);
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
                    stream_kernel(StreamOp::Dot, p).unwrap().entry
                );
            }
            for buf in [da, db, dc, out, partial] {
                dev.free(buf);
            }
        }
    }
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn stream_f32_kernels_match_references() {
    check_stream::<f32>(&open());
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn stream_f64_kernels_match_references() {
    check_stream::<f64>(&open());
}

// ------------------------------------------------------------------------- table and errors

/// The `.param` types of an entry as the PTX declares them, e.g. ["u32", "u32", "u64"].
fn ptx_params(ptx: &str, entry: &str) -> Vec<String> {
    let start = ptx
        .find(&format!(".entry {entry}("))
        .unwrap_or_else(|| panic!("{entry} missing from the PTX"));
    let head = &ptx[start..];
    let head = &head[head.find('(').unwrap() + 1..head.find(')').unwrap()];
    head.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let mut words = p.split_whitespace();
            assert_eq!(words.next(), Some(".param"), "{entry}: {p}");
            words.next().unwrap().trim_start_matches('.').to_string()
        })
        .collect()
}

/// Every entry of every module, with the parameter list its table documents (pointers and
/// `long long` are `.u64`, `int` is `.u32`, the stream scalar is `.f32` / `.f64`; the video
/// and memtest signatures are those of `kernels/video.cu` and `kernels/memtest.cu`): what
/// `cuLaunchKernel` reads from the argument slots gpugate encodes. Host only.
#[test]
fn every_table_entry_is_in_its_module_with_its_documented_signature() {
    let ptr = "u64";
    for m in MODULES {
        for e in m.entries {
            let got = ptx_params(m.ptx, e);
            let want: Vec<&str> = if m.name == "gemm" {
                vec!["u32", "u32", "u32", ptr, ptr, ptr]
            } else if m.name == "compare" {
                // The burn's comparison: two outputs, their length, the tag, the log and its size.
                match *e {
                    "compare_clear_log" => vec![ptr, "u32"],
                    "compare_bits_u32" | "compare_bits_u64" => {
                        vec![ptr, ptr, "u64", "u64", ptr, "u32"]
                    }
                    other => panic!("undocumented compare entry {other}"),
                }
            } else if m.name == "video" {
                // Frames, then the frame size, then the per-frame strides of the batch.
                match *e {
                    "video_rgba_to_nv12" => vec![ptr, ptr, "u32", "u32", "u64", "u64"],
                    "video_scale_nv12" => {
                        vec![ptr, ptr, "u32", "u32", "u32", "u32", "u64", "u64"]
                    }
                    "video_me_sad16" | "video_dct4x4_quant" => {
                        vec![ptr, ptr, ptr, "u32", "u32", "u64", "u64"]
                    }
                    other => panic!("undocumented video entry {other}"),
                }
            } else if m.name == "memtest" {
                // kernels/memtest.cu: (p, n, …, log, cap); unsigned and int are .u32.
                match *e {
                    "memtest_fill_u32" => vec![ptr, "u64", "u64", "u32", "u64", "u32"],
                    "memtest_check_u32" => vec![
                        ptr, "u64", "u64", "u32", "u64", "u32", "u32", "u32", "u32", ptr, "u32",
                    ],
                    "memtest_fill_addr_u64" => vec![ptr, "u64", "u64"],
                    "memtest_check_addr_u64" => vec![ptr, "u64", "u64", ptr, "u32"],
                    "memtest_address_lines_u32" => {
                        vec![ptr, "u64", "u32", "u32", "u32", ptr, "u32"]
                    }
                    other => panic!("undocumented memtest entry {other}"),
                }
            } else {
                let scalar = if e.ends_with("f32") { "f32" } else { "f64" };
                match e.split('_').nth(1).unwrap() {
                    "copy" => vec![ptr, ptr, "u64"],
                    "scale" => vec![ptr, ptr, scalar, "u64"],
                    "add" | "dot" => vec![ptr, ptr, ptr, "u64"],
                    "triad" => vec![ptr, ptr, ptr, scalar, "u64"],
                    other => panic!("unknown stream op {other} in {e}"),
                }
            };
            assert_eq!(got, want, "{e} in {} {}", m.name, m.target);
        }
    }
}

/// The device loads one module per family, the highest that its architecture and its driver's
/// JIT both take, and every entry of it (`CudaDevice::open` looks each one up).
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn the_device_loads_the_highest_module_of_every_family_it_supports() {
    let (dev, loads) = CudaDevice::open(0).expect("open GPU 0");
    let cc = cc(&dev);
    let mut families: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
    families.sort_unstable();
    families.dedup();
    assert_eq!(loads.len(), families.len(), "{loads:?}");
    let driver = dev.info().driver_cuda_version;
    let chosen = gpugate::kernels::KernelSet::select(cc, driver);
    assert_eq!(dev.kernel_set(), &chosen);
    for f in families {
        let want = chosen.loaded(f).expect("a build the driver takes");
        let l = loads.iter().find(|l| l.module == f).expect("loaded");
        assert_eq!(l.target, want.target, "{f} on {cc:?}, driver {driver}");
        // On a driver that takes every build, the highest the architecture supports.
        if driver >= 12000 {
            assert_eq!(Some(want.target), module_for(f, cc).map(|m| m.target));
        }
        assert!(l.seconds >= 0.0 && l.seconds < 60.0, "{l:?}");
    }
    // Every variant of the architecture launches (a 1×1×0 GEMM each); the others are not there.
    let bufs: Vec<DevBuf> = (0..3).map(|_| upload_bytes(&dev, &[0u8; 8])).collect();
    for p in [Precision::F32, Precision::F64, Precision::F16] {
        for kernel in gpugate::kernels::gemm_variants(p) {
            let r = dev.launch(
                kernel.kernel,
                gpugate::workload::gemm::gemm_launch_config(kernel, 1, 1),
                &[
                    KArg::I32(1),
                    KArg::I32(1),
                    KArg::I32(0),
                    KArg::Buf(bufs[0]),
                    KArg::Buf(bufs[1]),
                    KArg::Buf(bufs[2]),
                ],
            );
            assert_eq!(
                r.is_ok(),
                chosen.has(kernel.kernel),
                "{} on {cc:?}: {r:?}",
                kernel.kernel.entry
            );
            assert!(!chosen.has(kernel.kernel) || kernel.runs_on(cc));
        }
    }
    for b in bufs {
        dev.free(b);
    }
    dev.synchronize().unwrap();
    if simulated(&dev) {
        // The device says it is simulated, and reports the architecture its model has.
        assert!(dev.props().name.ends_with("(gpugate-sim)"));
        assert!(dev.info().simulated);
    }
    assert_eq!(
        gpugate::kernels::gemm_variants_for(Precision::F64, GemmMath::TensorCores, cc).is_empty(),
        cc < (8, 0)
    );
}

fn upload_bytes(dev: &CudaDevice, bytes: &[u8]) -> DevBuf {
    let b = dev.alloc(bytes.len()).unwrap();
    dev.upload(b, bytes).unwrap();
    b
}

/// A launch gpugate refuses, or the driver refuses for its configuration, is an error and the
/// device goes on working. (A wrong number or kind of arguments cannot be caught here:
/// `cuLaunchKernel` reads as many argument slots as the kernel declares, so it is the kernel
/// table's job, checked against the PTX above.)
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn bad_launches_are_errors_not_panics() {
    let dev = open();
    let buf = dev.alloc(64).unwrap();
    let copy = stream_kernel(StreamOp::Copy, Precision::F32).unwrap();
    let dot = stream_kernel(StreamOp::Dot, Precision::F32).unwrap();
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
    assert!(
        matches!(&e, DeviceError::Invalid(m) if m.contains("no_such_kernel")),
        "{e:?}"
    );
    for block in [(1025, 1, 1), (32, 32, 2), (0, 1, 1)] {
        assert!(
            dev.launch(copy, cfg((1, 1, 1), block), &args).is_err(),
            "{block:?}"
        );
    }
    assert!(dev.launch(copy, cfg((0, 1, 1), (32, 1, 1)), &args).is_err());
    // Above the entry's own limit (dot is __launch_bounds__(256): .maxntid 256): the driver
    // refuses it, and the error is not sticky.
    let e = dev
        .launch(
            dot,
            cfg((1, 1, 1), (512, 1, 1)),
            &[KArg::Buf(buf), KArg::Buf(buf), KArg::Buf(buf), KArg::I64(4)],
        )
        .unwrap_err();
    assert!(
        matches!(e.driver_error::<CudaError>(), Some(CudaError::LaunchFailed { kernel, .. })
            if kernel == "stream_dot_f32"),
        "{e:?}"
    );
    // More shared memory than a block may have: refused by the driver, not sticky either.
    let big = LaunchConfig {
        shared_bytes: 1 << 20,
        ..cfg((1, 1, 1), (32, 1, 1))
    };
    let e = dev.launch(copy, big, &args).unwrap_err();
    assert!(
        matches!(
            e.driver_error::<CudaError>(),
            Some(CudaError::LaunchFailed { .. })
        ),
        "{e:?}"
    );
    // A freed buffer, and a view past a buffer's end.
    let gone = dev.alloc(64).unwrap();
    dev.free(gone);
    let e = dev
        .launch(
            copy,
            cfg((1, 1, 1), (32, 1, 1)),
            &[KArg::Buf(gone), KArg::Buf(buf), KArg::I64(16)],
        )
        .unwrap_err();
    assert!(
        matches!(&e, DeviceError::Invalid(m) if m.contains("unknown device buffer")),
        "{e:?}"
    );
    assert!(dev
        .launch(
            copy,
            cfg((1, 1, 1), (32, 1, 1)),
            &[KArg::BufAt(buf, 65), KArg::Buf(buf), KArg::I64(1)]
        )
        .is_err());
    // The device still works afterwards.
    let src: Vec<f32> = (0..16).map(|i| i as f32).collect();
    let out = dev.alloc(64).unwrap();
    dev.upload(buf, as_bytes(&src)).unwrap();
    dev.launch(
        copy,
        cfg((1, 1, 1), (1024, 1, 1)),
        &[KArg::Buf(buf), KArg::Buf(out), KArg::I64(16)],
    )
    .unwrap();
    dev.synchronize().unwrap();
    let mut back = vec![0f32; 16];
    dev.download(out, as_bytes_mut(&mut back)).unwrap();
    assert_eq!(back, src);
    dev.free(buf);
    dev.free(out);
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn copies_are_checked() {
    let dev = open();
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
    dev.synchronize().unwrap();
    let mut back2 = vec![0u8; 1000];
    dev.read_pinned(p2, &mut back2).unwrap();
    assert_eq!(back2, data);
    // Too much for the destination, either way; unknown buffers.
    assert!(dev.upload(d, &[0u8; 1001]).is_err());
    assert!(dev.download(d, &mut [0u8; 1001]).is_err());
    assert!(dev.write_pinned(p, &[0u8; 1001]).is_err());
    assert!(dev.read_pinned(p, &mut [0u8; 1001]).is_err());
    let small = dev.alloc(10).unwrap();
    assert!(dev.copy_h2d(p, small).is_err());
    let small_pinned = dev.alloc_pinned(10).unwrap();
    assert!(dev.copy_d2h(d, small_pinned).is_err());
    let gone = dev.alloc(10).unwrap();
    dev.free(gone);
    assert!(dev.upload(gone, &[1, 2, 3]).is_err());
    // The timer: stop without start is an error; a region has a device time.
    assert!(dev.timer_stop().is_err());
    dev.timer_start().unwrap();
    dev.copy_h2d(p, d).unwrap();
    let t = dev.timer_stop().unwrap();
    assert!(t > 0.0 && t < 1.0, "{t}");
    if let Some(m) = super::sim_model(&dev) {
        super::assert_modelled(
            t,
            super::pinned_copy_seconds(&m, 1000),
            1e-4,
            "a 1000-byte copy",
        );
    }
    let props = dev.props();
    assert!(props.sm_count > 0 && props.total_memory > 0);
    assert!(props.free_memory <= props.total_memory);
    for b in [d, small] {
        dev.free(b);
    }
    for b in [p, p2, small_pinned] {
        dev.free_pinned(b);
    }
}
