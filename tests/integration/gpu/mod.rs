//! gpugate's own kernels through its real GPU path: `gpugate::cuda::CudaDevice` (its driver layer, context,
//! module load, argument encoding, launch, events, pinned copies) running the committed PTX.
//!
//! Every test here is `#[ignore]`d and opens GPU 0 in-process: on a GPU machine
//! `cargo test --test integration -- --ignored gpu::` runs them on the GPU. Without one, the
//! wrappers in [`gpu_suite_on_the_simulator`] run this test executable again under gpugate-sim
//! (`sim/`), once per device model; the tests pick the GEMM variants the device can load
//! ([`variants_here`]), so the same code covers each architecture:
//!
//! - `m40` (sm_52): the compute_52 modules (register-pipelined CUDA-core GEMMs, stream);
//! - `a100` (sm_80): the compute_80 gemm module (cp.async pipelines, DMMA, wmma) and a CUDA 12.2
//!   driver (events timed with `cuEventElapsedTime`);
//! - `h100` (sm_90): the same compute_80 module JIT-ed for sm_90, a CUDA 12.8 driver (events
//!   timed with `cuEventElapsedTime_v2`).
//!
//! The compute_70 gemm module (wmma without cp.async) is loaded by no model (only sm_70/sm_75
//! would load it); `sim/tests/ptx_committed.rs` runs every one of its entries at the simulator
//! level.
//!
//! What the retired C++ emulator suite (`emu/tests`) covered is here: every GEMM variant at odd,
//! skinny, tile-edge, K = 0 and misaligned shapes, exact on integer inputs and within a K-scaled
//! bound on random ones; the HGEMM input classes and the binary16 → binary32 conversion on all
//! 65536 bit patterns; the stream kernels at odd sizes and grids; the workloads, the tuner, and
//! wrong results caught by verification.
//!
//! The cuBLAS peer runs on each model too, against the simulator's cuBLAS (`gpu/cublas.rs`):
//! verified at odd shapes, and timed as the model's cuBLAS efficiencies say.

// Each test file uses a part of this module.
#![allow(dead_code)]

mod bytes;
mod compare;
pub(crate) mod cublas;
mod errors;
mod hgemm;
mod kernels;
mod memtest;
mod p2p;
mod tune;
mod video;
mod workloads;

use std::sync::Arc;

use gpugate::cuda::CudaDevice;
use gpugate::kernels::{gemm_variants, GemmKernel};
use gpugate::workload::device::{
    as_bytes, as_bytes_mut, DevBuf, DeviceError, DeviceProps, KArg, KernelDevice, KernelRef,
    LaunchConfig, PinnedBuf, Pod,
};
use gpugate::workload::gemm::gemm_launch_config;
use gpugate::workload::Precision;

/// Opens GPU 0 (its context, stream and every module it loads) in this process.
pub fn open() -> Arc<CudaDevice> {
    let (dev, loads) = CudaDevice::open(0).unwrap_or_else(|e| panic!("opening GPU 0: {e}"));
    assert!(!loads.is_empty(), "no module loaded");
    Arc::new(dev)
}

/// Compute capability of a device.
pub fn cc(dev: &CudaDevice) -> (u32, u32) {
    dev.props().compute_capability
}

/// Whether GPU 0 is gpugate-sim's (its name says so).
pub fn simulated(dev: &CudaDevice) -> bool {
    gpugate::model::is_simulated_name(&dev.props().name)
}

/// The device model of GPU 0 where it is gpugate-sim's (None on a real GPU): the first model
/// the launcher was given (`GPUGATE_SIM_MODELS`), healthy (the GPU suites run without faults).
/// The simulator is deterministic, so a test can assert the device time its model gives.
pub fn sim_model(dev: &CudaDevice) -> Option<gpugate_sim::model::DeviceModel> {
    if !simulated(dev) {
        return None;
    }
    let models = std::env::var(gpugate_sim::config::ENV_MODELS).unwrap_or_default();
    let first = models
        .split(',')
        .next()
        .filter(|m| !m.is_empty())
        .unwrap_or("m40");
    Some(gpugate_sim::model::load(first).unwrap_or_else(|e| panic!("model {first}: {e}")))
}

/// The modelled time of `launches` launches of a kernel that moves `bytes` through device
/// memory and does nothing else that bounds it (the stream kernels): each launch takes the
/// launch interval, or the gap plus the bytes at the model's memory bandwidth × efficiency.
pub fn memory_bound_seconds(m: &gpugate_sim::model::DeviceModel, bytes: f64, launches: u64) -> f64 {
    let t = &m.time;
    let one = (t.launch_interval_us * 1e-6)
        .max(t.launch_gap_us * 1e-6 + bytes / (t.memory_gbps * 1e9 * t.memory_efficiency));
    one * launches as f64
}

/// The least time `launches` launches of a kernel doing `flops` can take on the model: the
/// launch interval, or the gap plus the FLOPs at the unit's peak × efficiency (FP64 on the FP64
/// units, FP32 and FP16 on the CUDA cores). A tiled GEMM may execute more FMAs than 2·m·n·k
/// (padding), so this bounds the time from below.
pub fn least_compute_seconds(
    m: &gpugate_sim::model::DeviceModel,
    p: Precision,
    flops: f64,
    launches: u64,
) -> f64 {
    let t = &m.time;
    let rate = match p {
        Precision::F64 => t.fp64_tflops * t.fp64_efficiency,
        _ => t.fp32_tflops * t.fp32_efficiency,
    } * 1e12;
    let one = (t.launch_interval_us * 1e-6).max(t.launch_gap_us * 1e-6 + flops / rate);
    one * launches as f64
}

/// The modelled time of one pinned copy of `bytes` between host and device.
pub fn pinned_copy_seconds(m: &gpugate_sim::model::DeviceModel, bytes: u64) -> f64 {
    use gpugate_sim::driver::timing::{copy_seconds, CopyKind, Factors};
    copy_seconds(
        m,
        Factors::healthy(m),
        CopyKind::HostToDevice { pinned: true },
        bytes,
    )
}

/// Asserts a device time against the time the simulator models: equal within `rel` (1e-4 where
/// the model is exact, as events carry single-precision milliseconds; 1 % for a stream kernel,
/// whose declared bytes leave out a dot product's per-block partial sums, as in `bytes.rs`).
pub fn assert_modelled(secs: f64, want: f64, rel: f64, what: &str) {
    assert!(
        ((secs - want) / want).abs() < rel,
        "{what}: device time {secs:e} s, the simulator models {want:e} s (±{rel})"
    );
}

/// Every GEMM variant of a precision that `dev` can load, in table order (at least the sm_52
/// ones). Says on stderr which ones the architecture leaves out.
pub fn variants_here(dev: &CudaDevice, p: Precision) -> Vec<GemmKernel> {
    let cc = cc(dev);
    let (here, absent): (Vec<GemmKernel>, Vec<GemmKernel>) =
        gemm_variants(p).iter().partition(|k| k.runs_on(cc));
    assert!(!here.is_empty(), "no {p:?} variant on {cc:?}");
    if !absent.is_empty() {
        eprintln!(
            "sm_{}{}: {} {p:?} variants not loaded here: {}",
            cc.0,
            cc.1,
            absent.len(),
            absent
                .iter()
                .map(|k| k.kernel.entry)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    here
}

/// Runs `check` on every variant of `p` the device loads, timing each (the wrappers show it).
pub fn for_each_variant(dev: &CudaDevice, p: Precision, mut check: impl FnMut(&GemmKernel)) {
    for kernel in variants_here(dev, p) {
        assert_eq!(kernel.precision, p);
        let t0 = std::time::Instant::now();
        check(&kernel);
        eprintln!(
            "ran {}: {:.2} s",
            kernel.kernel.entry,
            t0.elapsed().as_secs_f64()
        );
    }
}

/// A device that counts its live allocations (device and pinned) around the real one: a
/// workload that frees less than it allocated shows. (Free memory from cuMemGetInfo cannot tell:
/// the tests of this process share the GPU.)
pub struct Counting<D: KernelDevice + ?Sized> {
    pub inner: Arc<D>,
    live: std::sync::Mutex<(i64, i64)>,
}

impl<D: KernelDevice + ?Sized> Counting<D> {
    pub fn new(inner: &Arc<D>) -> Arc<Self> {
        Arc::new(Counting {
            inner: inner.clone(),
            live: Default::default(),
        })
    }
    /// Live (device, pinned) allocations.
    pub fn live(&self) -> (i64, i64) {
        *self.live.lock().unwrap()
    }
}

impl<D: KernelDevice + ?Sized> KernelDevice for Counting<D> {
    fn props(&self) -> DeviceProps {
        self.inner.props()
    }
    fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
        let b = self.inner.alloc(bytes)?;
        self.live.lock().unwrap().0 += 1;
        Ok(b)
    }
    fn free(&self, buf: DevBuf) {
        self.live.lock().unwrap().0 -= 1;
        self.inner.free(buf)
    }
    fn upload(&self, dst: DevBuf, src: &[u8]) -> Result<(), DeviceError> {
        self.inner.upload(dst, src)
    }
    fn download(&self, src: DevBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        self.inner.download(src, dst)
    }
    fn launch(
        &self,
        kernel: KernelRef,
        cfg: LaunchConfig,
        args: &[KArg],
    ) -> Result<(), DeviceError> {
        self.inner.launch(kernel, cfg, args)
    }
    fn alloc_pinned(&self, bytes: usize) -> Result<PinnedBuf, DeviceError> {
        let b = self.inner.alloc_pinned(bytes)?;
        self.live.lock().unwrap().1 += 1;
        Ok(b)
    }
    fn free_pinned(&self, buf: PinnedBuf) {
        self.live.lock().unwrap().1 -= 1;
        self.inner.free_pinned(buf)
    }
    fn write_pinned(&self, dst: PinnedBuf, src: &[u8]) -> Result<(), DeviceError> {
        self.inner.write_pinned(dst, src)
    }
    fn read_pinned(&self, src: PinnedBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        self.inner.read_pinned(src, dst)
    }
    fn copy_h2d(&self, src: PinnedBuf, dst: DevBuf) -> Result<(), DeviceError> {
        self.inner.copy_h2d(src, dst)
    }
    fn copy_d2h(&self, src: DevBuf, dst: PinnedBuf) -> Result<(), DeviceError> {
        self.inner.copy_d2h(src, dst)
    }
    fn synchronize(&self) -> Result<(), DeviceError> {
        self.inner.synchronize()
    }
    fn timer_start(&self) -> Result<(), DeviceError> {
        self.inner.timer_start()
    }
    fn timer_stop(&self) -> Result<f64, DeviceError> {
        self.inner.timer_stop()
    }
}

/// A small deterministic generator (xorshift64*), enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
    /// A small integer in [-4, 4]: products and sums stay exact in f32 for our sizes.
    pub fn small_int(&mut self) -> f64 {
        self.below(9) as f64 - 4.0
    }
}

/// The shapes every GEMM variant is run at: degenerate, odd, skinny (a single row or column),
/// non-multiples of every tile, and shapes that take the vectorised paths with partial tiles.
pub const GEMM_SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (31, 31, 31),
    (33, 65, 129),
    (1000, 999, 17),
    (130, 1, 7),
    (1, 130, 7),
    (5, 7, 2),
    (1, 1, 300),
    (257, 300, 1),
];

/// Shapes derived from a variant's own tile: exactly one tile, a multiple of the tile in every
/// dimension (vector paths everywhere, no partial tile), and one element past / short of it.
pub fn tile_shapes(kernel: &GemmKernel) -> Vec<(usize, usize, usize)> {
    let (bm, bn, bk) = (kernel.bm as usize, kernel.bn as usize, kernel.bk as usize);
    vec![
        (bm, bn, bk),
        (2 * bm, 3 * bn, 5 * bk),
        (bm + 1, bn - 1, bk + 1),
        (bm - 1, bn + 1, 3 * bk - 1),
    ]
}

/// Runs `kernel` on `dev` with A (m×k) and B (k×n) as the kernel reads them (`I`: f32, f64 or
/// binary16 bits), each operand placed `offsets[i]` elements into its allocation and passed as
/// [`KArg::BufAt`] (the elements before it hold `pad`; to test unaligned operands). C (type `O`)
/// starts as all-ones bytes (NaN in f32 and f64), so an element that is never written shows;
/// the elements before C must keep them. Returns C (m×n).
pub fn run_gemm_at<I: Pod, O: Pod + Default>(
    dev: &CudaDevice,
    kernel: &GemmKernel,
    (m, n, k): (usize, usize, usize),
    a: &[I],
    b: &[I],
    pad: I,
    offsets: [usize; 3],
) -> Vec<O> {
    assert_eq!((a.len(), b.len()), (m * k, k * n));
    let upload = |bytes: &[u8]| {
        let buf = dev.alloc(bytes.len()).unwrap();
        dev.upload(buf, bytes).unwrap();
        buf
    };
    let padded = |v: &[I], off: usize| -> Vec<I> {
        let mut p = vec![pad; off];
        p.extend_from_slice(v);
        p
    };
    let da = upload(as_bytes(&padded(a, offsets[0])));
    let db = upload(as_bytes(&padded(b, offsets[1])));
    let c_len = (m * n + offsets[2]) * std::mem::size_of::<O>();
    let dc = upload(&vec![0xFF; c_len]);
    let (si, so) = (std::mem::size_of::<I>(), std::mem::size_of::<O>());
    let args = [
        KArg::I32(m as i32),
        KArg::I32(n as i32),
        KArg::I32(k as i32),
        KArg::BufAt(da, si * offsets[0]),
        KArg::BufAt(db, si * offsets[1]),
        KArg::BufAt(dc, so * offsets[2]),
    ];
    dev.launch(kernel.kernel, gemm_launch_config(kernel, m, n), &args)
        .unwrap_or_else(|e| panic!("{} {m}x{n}x{k}: {e}", kernel.kernel.entry));
    dev.synchronize()
        .unwrap_or_else(|e| panic!("{} {m}x{n}x{k}: {e}", kernel.kernel.entry));
    let mut c = vec![O::default(); m * n + offsets[2]];
    dev.download(dc, as_bytes_mut(&mut c)).unwrap();
    for buf in [da, db, dc] {
        dev.free(buf);
    }
    assert!(
        as_bytes(&c[..offsets[2]]).iter().all(|x| *x == 0xFF),
        "{}: wrote before C",
        kernel.kernel.entry
    );
    c.split_off(offsets[2])
}

/// Re-runs this test executable under gpugate-sim, one device model per wrapper: the ignored
/// tests of this module in-process on the simulated GPU.
mod gpu_suite_on_the_simulator {
    use std::process::Command;

    use crate::sim::Sim;

    /// Runs `filter`'s ignored tests of this executable under the simulator with `models`
    /// (and `log`, if given); asserts the child passed and ran at least one test. Returns the
    /// child's output (stdout, then stderr).
    pub fn run_ignored(
        models: &[&str],
        log: Option<&std::path::Path>,
        args: &[&str],
    ) -> (usize, String) {
        let mut sim = Sim::new(models);
        if let Some(l) = log {
            sim = sim.log(l);
        }
        run_ignored_on(&sim, args)
    }

    /// [`run_ignored`] on a simulated machine of any kind (faults, driver).
    pub fn run_ignored_on(sim: &Sim, args: &[&str]) -> (usize, String) {
        let models = &sim.models;
        let exe = std::env::current_exe().expect("the test executable");
        let mut all = vec!["--ignored", "--nocapture"];
        all.extend_from_slice(args);
        let t0 = std::time::Instant::now();
        let o = sim
            .command(&exe, &all)
            .output()
            .expect("gpugate-sim runs the test executable");
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "the ignored tests failed under gpugate-sim {models:?} ({}):\n{text}",
            describe(&sim.command(&exe, &all))
        );
        let passed = passed_count(&text).unwrap_or_else(|| {
            panic!("no libtest summary in the child's output:\n{text}");
        });
        assert!(
            passed > 0,
            "no test ran under gpugate-sim {models:?}:\n{text}"
        );
        eprintln!(
            "{models:?}: {passed} tests passed in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        (passed, text)
    }

    fn describe(c: &Command) -> String {
        let mut s = c.get_program().to_string_lossy().into_owned();
        for a in c.get_args() {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// N of libtest's "test result: ok. N passed; …".
    pub fn passed_count(text: &str) -> Option<usize> {
        let rest = text.split("test result: ok. ").nth(1)?;
        rest.split(' ').next()?.parse().ok()
    }

    /// The tests matching `filters` on one model, two at a time (the simulator spreads each
    /// launch over the host's cores too). The byte-count test runs in its own child, with a
    /// log ([`super::bytes`]).
    fn suite(model: &str, filters: &[&str]) -> String {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let threads = threads.to_string();
        let mut args = vec![
            "--test-threads",
            &threads,
            "--skip",
            "gpu::bytes::",
            "--skip",
            "gpu::p2p::",
        ];
        args.extend_from_slice(filters);
        run_ignored(&[model], None, &args).1
    }

    #[test]
    fn libtest_summary_is_parsed() {
        assert_eq!(
            passed_count("x\ntest result: ok. 17 passed; 0 failed; 0 ignored"),
            Some(17)
        );
        assert_eq!(passed_count("test result: FAILED. 1 passed"), None);
    }

    /// Two M40s, GPU 0 corrupting every peer copy into its memory (`p2p-sdc`): the P2P path
    /// in-process (`gpu/p2p.rs`), its corruption caught byte for byte.
    #[test]
    fn p2p() {
        if crate::sim::stand_down_for_the_real_gpu("p2p") {
            return;
        }
        let sim = Sim::new(&["m40", "m40"]).fault("gpu=0:p2p-sdc");
        let (passed, _) = run_ignored_on(
            &sim,
            &[
                "--exact",
                "gpu::p2p::peer_and_staged_copies_carry_the_bytes_at_the_modelled_rates",
                "gpu::p2p::the_stage_runs_every_test_and_catches_a_corrupted_copy",
            ],
        );
        assert_eq!(passed, 2);
    }

    /// sm_52: the compute_52 modules; no cp.async, DMMA or wmma variant is offered.
    #[test]
    fn m40() {
        if crate::sim::stand_down_for_the_real_gpu("m40") {
            return;
        }
        let text = suite("m40", &["gpu::"]);
        assert!(text.contains("ran sgemm_f32_128x128x8_t8x8:"), "{text}");
        assert!(!text.contains("ran sgemm_f32_128x128x8_t8x8_s4:"), "{text}");
        assert!(!text.contains("ran dgemm_f64_tc_"), "{text}");
        assert!(!text.contains("ran hgemm_f16_tc_"), "{text}");
        // The cuBLAS peer at the simulated M40's cuBLAS SGEMM rate: 256³ in the 1 µs launch gap
        // plus 2·256³ FLOPs at 6.84 TF × 0.72.
        assert!(
            text.contains("F32 256³: 4.294 TFLOPS as modelled"),
            "{text}"
        );
    }

    /// sm_80: the compute_80 gemm module, with the cp.async, DMMA and wmma paths.
    #[test]
    fn a100() {
        if crate::sim::stand_down_for_the_real_gpu("a100") {
            return;
        }
        let text = suite("a100", &["gpu::"]);
        for entry in [
            "sgemm_f32_128x128x8_t8x8",
            "sgemm_f32_128x128x8_t8x8_s4",
            "dgemm_f64_64x64x8_t4x4_s4",
            "dgemm_f64_tc_64x64x8_w32x32_s4",
            "hgemm_f16_tc_64x64x32_w32x32_s2",
        ] {
            assert!(text.contains(&format!("ran {entry}:")), "{entry}:\n{text}");
        }
    }

    /// sm_90 runs the same compute_80 PTX as the A100 (the per-variant kernel suites are not
    /// repeated): the workloads with every variant, the video stages, the tuner, module
    /// selection, launch and copy
    /// errors, on a CUDA 12.8 driver (events timed by `cuEventElapsedTime_v2`).
    #[test]
    fn h100() {
        if crate::sim::stand_down_for_the_real_gpu("h100") {
            return;
        }
        let text = suite(
            "h100",
            &[
                "gpu::workloads::",
                "gpu::cublas::",
                "gpu::video::",
                "gpu::tune::",
                "gpu::kernels::the_device_loads",
                "gpu::kernels::bad_launches",
                "gpu::kernels::copies",
            ],
        );
        assert!(
            text.contains(
                "test gpu::workloads::every_gemm_variant_verifies_through_the_workload ... ok"
            ),
            "{text}"
        );
    }
}
