//! gpugate's GPU workloads (src/workload: gemm, stream, transfer) on `CudaDevice`: allocation,
//! launch geometry, argument order, read-back and verification, as a run does them. Then the
//! same workloads on a device that gets things wrong (a wrapper around the real one), to show
//! that verification catches wrong results instead of passing them.

use std::sync::Arc;

use gpugate::cuda::CudaDevice;
use gpugate::kernels::{gemm_variants_for, GemmKernel};
use gpugate::model::{BackendKind, Verification, VerifyStatus};
use gpugate::workload::backend::{Backend, DeviceBackend};
use gpugate::workload::device::{
    DevBuf, DeviceError, DeviceProps, KArg, KernelDevice, KernelRef, LaunchConfig, PinnedBuf,
};
use gpugate::workload::gemm::{prepare_gemm, prepare_gemm_with};
use gpugate::workload::stream::prepare_stream;
use gpugate::workload::transfer::prepare_transfer;
use gpugate::workload::{Direction, GemmMath, Precision, StreamOp, Trial, WorkloadSpec};

use super::{
    cc, least_compute_seconds, memory_bound_seconds, open, pinned_copy_seconds, sim_model,
    variants_here, Counting,
};

const GEMM_SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (31, 31, 31),
    (257, 257, 257),
    (1000, 999, 17),
    (33, 65, 129),
    (1, 200, 129),
    (200, 1, 129),
    (130, 200, 1),
];
const STREAM_SIZES: &[usize] = &[1, 31, 257, 1000, 100_003];
const SEED: u64 = 0x5eed_0001;

/// How a device time must fit what the simulator models.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fit {
    /// At least the modelled time (a GEMM: its padding FMAs are not known here).
    AtLeast,
    /// Equal within this relative tolerance.
    Within(f64),
}

/// A stream kernel's time: its declared bytes leave out a dot product's per-block partials.
const STREAM: Fit = Fit::Within(1e-2);
/// A copy's time is exact (to the events' single precision).
const EXACT: Fit = Fit::Within(1e-4);

/// What the simulator models for `launches` runs of `spec`, and how the time must fit it. None
/// for what the test does not model here (tensor-core GEMMs, video).
fn modelled_for(
    model: Option<&gpugate_sim::model::DeviceModel>,
    spec: &WorkloadSpec,
    launches: u64,
) -> Option<(f64, Fit)> {
    let m = model?;
    match *spec {
        WorkloadSpec::Gemm {
            precision,
            math: GemmMath::CudaCores,
            ..
        } => Some((
            least_compute_seconds(m, precision, spec.work().flops, launches),
            Fit::AtLeast,
        )),
        WorkloadSpec::Stream { .. } => {
            Some((memory_bound_seconds(m, spec.work().bytes, launches), STREAM))
        }
        WorkloadSpec::Transfer {
            bytes,
            pinned: true,
            ..
        } => Some((
            pinned_copy_seconds(m, bytes as u64) * launches as f64,
            EXACT,
        )),
        _ => None,
    }
}

/// Asserts `secs` fits what the simulator models (see [`modelled_for`]).
fn assert_fits(secs: f64, modelled: Option<(f64, Fit)>, what: &str) {
    assert!(
        secs > 0.0 && secs.is_finite(),
        "{what}: a device time: {secs}"
    );
    match modelled {
        Some((least, Fit::AtLeast)) => assert!(
            secs >= least * (1.0 - 1e-4),
            "{what}: device time {secs:e} s below the modelled least {least:e} s"
        ),
        Some((want, Fit::Within(rel))) => super::assert_modelled(secs, want, rel, what),
        None => {}
    }
}

/// One run and its verification; the device time fits what the simulator models for it
/// (`modelled`, where the simulator runs), and on a GPU is positive and finite.
fn run_once(trial: &mut dyn Trial, modelled: Option<(f64, Fit)>) -> Verification {
    let secs = trial.run(1).expect("run");
    assert_fits(secs, modelled, "one run");
    trial.verify().expect("verify")
}

/// The default kernel of each precision on the CUDA cores (what runs before any tuning).
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn gemm_workloads_verify() {
    let real = open();
    let model = sim_model(&real);
    let dev = Counting::new(&real);
    for p in [Precision::F32, Precision::F64, Precision::F16] {
        for &(m, n, k) in GEMM_SHAPES {
            let mut trial = prepare_gemm(dev.clone(), p, m, n, k, SEED).unwrap();
            let least = model.as_ref().map(|md| {
                (
                    least_compute_seconds(md, p, 2.0 * (m * n * k) as f64, 1),
                    Fit::AtLeast,
                )
            });
            let v = run_once(trial.as_mut(), least);
            assert!(v.passed(), "{p:?} {m}x{n}x{k}: {v:?}");
            assert!(v.checked > 0);
        }
    }
    assert_eq!(dev.live(), (0, 0), "a GEMM trial leaked");
}

/// Every GEMM variant the device loads through the real workload code (`prepare_gemm_with`:
/// allocation, launch geometry from the variant's tile and threads, argument order, read-back,
/// Freivalds and sampled-element verification), at odd shapes, skinny shapes and a multiple of
/// its tile.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_gemm_variant_verifies_through_the_workload() {
    let dev = Counting::new(&open());
    let model = sim_model(&dev.inner);
    for p in [Precision::F32, Precision::F64, Precision::F16] {
        for kernel in variants_here(&dev.inner, p) {
            let (bm, bn, bk) = (kernel.bm as usize, kernel.bn as usize, kernel.bk as usize);
            for (m, n, k) in [
                (1, 1, 1),
                (31, 31, 31),
                (33, 65, 129),
                (130, 1, 7),
                (1, 130, 7),
                (2 * bm, 2 * bn, 4 * bk),
                (bm + 3, bn - 1, 2 * bk + 1),
            ] {
                let mut trial = prepare_gemm_with(dev.clone(), kernel, m, n, k, SEED).unwrap();
                let info = trial.info();
                assert!(
                    info.implementation.contains(kernel.kernel.entry),
                    "{info:?}"
                );
                assert_eq!(info.math_mode.as_deref(), Some(kernel.math_mode));
                let flops = 2.0 * (m * n * k) as f64;
                let least = model
                    .as_ref()
                    .filter(|_| kernel.math == GemmMath::CudaCores)
                    .map(|md| {
                        (
                            least_compute_seconds(md, kernel.precision, flops, 1),
                            Fit::AtLeast,
                        )
                    });
                let v = run_once(trial.as_mut(), least);
                assert!(v.passed(), "{} {m}x{n}x{k}: {v:?}", kernel.kernel.entry);
                assert!(v.checked > 0);
            }
        }
    }
    assert_eq!(dev.live(), (0, 0), "a GEMM trial leaked");
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn stream_workloads_verify() {
    let real = open();
    let model = sim_model(&real);
    let dev = Counting::new(&real);
    for p in [Precision::F32, Precision::F64] {
        for op in StreamOp::ALL {
            for &n in STREAM_SIZES {
                let mut trial = prepare_stream(dev.clone(), op, p, n, SEED).unwrap();
                let bytes = WorkloadSpec::Stream {
                    op,
                    precision: p,
                    n,
                }
                .work()
                .bytes;
                let want = model
                    .as_ref()
                    .map(|md| (memory_bound_seconds(md, bytes, 1), STREAM));
                let v = run_once(trial.as_mut(), want);
                assert!(v.passed(), "{} {p:?} n={n}: {v:?}", op.as_str());
            }
        }
    }
    assert_eq!(dev.live(), (0, 0), "a stream trial leaked");
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn transfer_workloads_verify() {
    let real = open();
    let model = sim_model(&real);
    let dev = Counting::new(&real);
    for direction in [Direction::HostToDevice, Direction::DeviceToHost] {
        for bytes in [1, 31, 257, 1000, 100_003, 1 << 20] {
            let mut trial = prepare_transfer(dev.clone(), direction, bytes, SEED).unwrap();
            let want = model
                .as_ref()
                .map(|md| (pinned_copy_seconds(md, bytes as u64), EXACT));
            let v = run_once(trial.as_mut(), want);
            assert!(v.passed(), "{direction:?} {bytes} B: {v:?}");
        }
    }
    assert_eq!(dev.live(), (0, 0), "a transfer trial leaked");
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn the_device_backend_runs_every_kind_of_spec() {
    let dev = open();
    let backend = DeviceBackend::new(dev.clone(), Some(0), BackendKind::Cuda);
    assert_eq!(backend.device_name(), dev.info().name);
    let specs = [
        WorkloadSpec::gemm(Precision::F32, 65, 63, 33),
        WorkloadSpec::gemm(Precision::F64, 65, 63, 33),
        WorkloadSpec::gemm(Precision::F16, 65, 63, 33),
        WorkloadSpec::Stream {
            op: StreamOp::Triad,
            precision: Precision::F64,
            n: 4097,
        },
        WorkloadSpec::Stream {
            op: StreamOp::Dot,
            precision: Precision::F32,
            n: 4097,
        },
        WorkloadSpec::Transfer {
            direction: Direction::HostToDevice,
            bytes: 4097,
            pinned: true,
        },
        WorkloadSpec::Transfer {
            direction: Direction::DeviceToHost,
            bytes: 4097,
            pinned: true,
        },
    ];
    let model = sim_model(&dev);
    for spec in specs {
        let mut trial = backend.prepare(&spec, SEED).unwrap();
        let v = run_once(trial.as_mut(), modelled_for(model.as_ref(), &spec, 1));
        assert!(v.passed(), "{}: {v:?}", spec.name());
        // A second run of three iterations gives the same, verified, answer, in three times
        // the modelled time.
        let secs = trial.run(3).unwrap();
        assert_fits(secs, modelled_for(model.as_ref(), &spec, 3), &spec.name());
        let v = trial.verify().unwrap();
        assert!(v.passed(), "{} (second run): {v:?}", spec.name());
    }
    // Pageable transfers are refused, with the reason.
    let pageable = WorkloadSpec::Transfer {
        direction: Direction::HostToDevice,
        bytes: 4097,
        pinned: false,
    };
    assert!(backend.prepare(&pageable, SEED).is_err());
}

/// The backend runs the tensor-core paths it is asked for (DGEMM on DMMA from sm_80, HGEMM on
/// wmma from sm_70) through the real prepare / run / verify code and names what ran; a device
/// without them refuses the same specs with the reason, never running them on the CUDA cores
/// instead. SGEMM has no tensor-core path anywhere (never TF32).
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn tensor_core_specs_run_where_the_architecture_has_them_and_are_refused_elsewhere() {
    let dev = open();
    let cc = cc(&dev);
    let backend = DeviceBackend::new(dev.clone(), Some(0), BackendKind::Cuda);
    let tc = |p| WorkloadSpec::Gemm {
        precision: p,
        m: 67,
        n: 61,
        k: 35,
        math: GemmMath::TensorCores,
    };
    for (p, prefix, min_cc) in [
        (Precision::F64, "gpugate dgemm_f64_tc_", (8, 0)),
        (Precision::F16, "gpugate hgemm_f16_tc_", (7, 0)),
    ] {
        if cc >= min_cc {
            let mut t = backend.prepare(&tc(p), 5).unwrap();
            let info = t.info();
            assert!(info.implementation.starts_with(prefix), "{info:?}");
            assert!(info.math_mode.unwrap().contains("tensor cores"));
            let v = run_once(t.as_mut(), None);
            assert!(v.passed(), "{p:?}: {v:?}");
        } else {
            let err = backend
                .prepare(&tc(p), 5)
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains(&format!("{}.{}", cc.0, cc.1)), "{err}");
        }
    }
    assert!(backend.prepare(&tc(Precision::F32), 5).is_err());
}

/// What the self-test runs: every GEMM variant the device can load (10 on sm_52; all 20 on
/// sm_80 and later: cp.async, DMMA and wmma included). `gpugate selftest` itself is run on each
/// model by the CLI tests.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn the_selftest_offers_every_variant_the_device_can_load() {
    let dev = open();
    let cc = cc(&dev);
    let backend = DeviceBackend::new(dev.clone(), Some(0), BackendKind::Cuda);
    let kernels = backend.gemm_kernels();
    let expected = match cc {
        cc if cc >= (8, 0) => 20,
        cc if cc >= (7, 0) => 12,
        _ => 10,
    };
    assert_eq!(kernels.len(), expected, "{cc:?}");
    assert!(kernels.iter().all(|k| k.runs_on(cc)));
    let none = gemm_variants_for(Precision::F32, GemmMath::TensorCores, cc);
    assert!(none.is_empty());
    // A variant the device cannot load is refused by name.
    let all: Vec<GemmKernel> = [Precision::F32, Precision::F64, Precision::F16]
        .into_iter()
        .flat_map(gpugate::kernels::gemm_variants)
        .copied()
        .collect();
    for k in all.iter().filter(|k| !k.runs_on(cc)) {
        let e = backend
            .prepare_gemm_kernel(k, (33, 33, 33), 1)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains(k.kernel.entry) && e.contains("compute capability"),
            "{e}"
        );
    }
}

// ------------------------------------------------------------------ a device that gets it wrong

/// What the faulty device does wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// GEMM launched with K - 1 (a truncated reduction).
    GemmShortK,
    /// GEMM launched with the last column of blocks missing (part of C never written).
    GemmMissingBlocks,
    /// GEMM launched with M and N swapped (an argument-order bug). The device allocates 4× what
    /// is asked for meanwhile, so that the swapped shape reads garbage, not past an allocation
    /// (which faults on a GPU, and on the simulator, for every later call of the process).
    GemmSwappedMN,
    /// Stream launched with n - 1 (the last element never written).
    StreamShortN,
    /// Stream scale/triad launched with a perturbed scalar.
    StreamWrongScalar,
    /// Dot whose last block's partial sum is lost (left zero).
    DotLostPartial,
    /// One bit of the output flipped after every launch or copy (silent corruption).
    FlipBit,
}

/// Flips the top exponent bit of an element near the middle of an f32 or f64 array (byte 7 of
/// an 8-byte-aligned group is the most significant byte of an f64 and of an odd f32): a single
/// upset bit that changes the value by orders of magnitude, as a real one in the exponent would.
fn flip_exponent_bit(bytes: &mut [u8]) {
    let i = ((bytes.len() / 2) & !7) + 7;
    let i = if i < bytes.len() { i } else { bytes.len() - 1 };
    bytes[i] ^= 0x40;
}

/// The real device, with one fault injected around its launches and copies.
struct Faulty {
    inner: Arc<CudaDevice>,
    fault: Fault,
}

impl Faulty {
    fn new(inner: &Arc<CudaDevice>, fault: Fault) -> Arc<Self> {
        Arc::new(Faulty {
            inner: inner.clone(),
            fault,
        })
    }

    fn flip_bit(&self, buf: DevBuf) -> Result<(), DeviceError> {
        let mut bytes = vec![0u8; buf.bytes];
        self.inner.download(buf, &mut bytes)?;
        flip_exponent_bit(&mut bytes);
        self.inner.upload(buf, &bytes)
    }
}

impl KernelDevice for Faulty {
    fn props(&self) -> DeviceProps {
        self.inner.props()
    }
    fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
        if self.fault == Fault::GemmSwappedMN {
            let padded = self.inner.alloc(4 * bytes)?;
            return Ok(DevBuf { bytes, ..padded });
        }
        self.inner.alloc(bytes)
    }
    fn free(&self, buf: DevBuf) {
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
        let mut cfg = cfg;
        let mut args = args.to_vec();
        let gemm = kernel.module == "gemm";
        let dot = kernel.entry.starts_with("stream_dot");
        match self.fault {
            Fault::GemmShortK if gemm => {
                if let KArg::I32(k) = args[2] {
                    args[2] = KArg::I32(k - 1);
                }
            }
            Fault::GemmMissingBlocks if gemm => cfg.grid.0 -= 1,
            Fault::GemmSwappedMN if gemm => args.swap(0, 1),
            Fault::StreamShortN if !gemm => {
                if let Some(KArg::I64(n)) = args.last_mut() {
                    *n -= 1;
                }
            }
            Fault::StreamWrongScalar => {
                for a in args.iter_mut() {
                    match a {
                        KArg::F32(s) => *s *= 1.001,
                        KArg::F64(s) => *s *= 1.000_001,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        self.inner.launch(kernel, cfg, &args)?;
        if self.fault == Fault::DotLostPartial && dot {
            if let KArg::Buf(partial) = args[2] {
                let elem = if kernel.entry.ends_with("f32") { 4 } else { 8 };
                let mut bytes = vec![0u8; partial.bytes];
                self.inner.download(partial, &mut bytes)?;
                let last = bytes.len() - elem;
                bytes[last..].fill(0);
                self.inner.upload(partial, &bytes)?;
            }
        }
        if self.fault == Fault::FlipBit {
            // The output: C, the stream op's written array, or the partial sums.
            let out = match kernel.entry {
                e if e.starts_with("stream_triad") => args[2],
                e if e.starts_with("stream_scale") => args[1],
                _ => *args
                    .iter()
                    .rev()
                    .find(|a| matches!(a, KArg::Buf(_)))
                    .unwrap(),
            };
            if let KArg::Buf(b) = out {
                self.flip_bit(b)?;
            }
        }
        Ok(())
    }
    fn alloc_pinned(&self, bytes: usize) -> Result<PinnedBuf, DeviceError> {
        self.inner.alloc_pinned(bytes)
    }
    fn free_pinned(&self, buf: PinnedBuf) {
        self.inner.free_pinned(buf)
    }
    fn write_pinned(&self, dst: PinnedBuf, src: &[u8]) -> Result<(), DeviceError> {
        self.inner.write_pinned(dst, src)
    }
    fn read_pinned(&self, src: PinnedBuf, dst: &mut [u8]) -> Result<(), DeviceError> {
        self.inner.read_pinned(src, dst)
    }
    fn copy_h2d(&self, src: PinnedBuf, dst: DevBuf) -> Result<(), DeviceError> {
        self.inner.copy_h2d(src, dst)?;
        if self.fault == Fault::FlipBit {
            self.flip_bit(dst)?;
        }
        Ok(())
    }
    fn copy_d2h(&self, src: DevBuf, dst: PinnedBuf) -> Result<(), DeviceError> {
        self.inner.copy_d2h(src, dst)?;
        if self.fault == Fault::FlipBit {
            self.inner.synchronize()?;
            let mut bytes = vec![0u8; dst.bytes];
            self.inner.read_pinned(dst, &mut bytes)?;
            flip_exponent_bit(&mut bytes);
            self.inner.write_pinned(dst, &bytes)?;
        }
        Ok(())
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

fn assert_fails(what: &str, v: Verification) {
    assert_eq!(
        v.status,
        VerifyStatus::Failed,
        "{what}: a wrong result passed: {v:?}"
    );
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn gemm_verification_fails_on_wrong_results() {
    let dev = open();
    for fault in [
        Fault::GemmShortK,
        Fault::GemmMissingBlocks,
        Fault::GemmSwappedMN,
        Fault::FlipBit,
    ] {
        for p in [Precision::F32, Precision::F64, Precision::F16] {
            // Shapes with more than one column of blocks and M != N, so every fault shows.
            let (m, n, k) = (70, 200, 33);
            let mut trial = prepare_gemm(Faulty::new(&dev, fault), p, m, n, k, SEED).unwrap();
            let v = run_once(trial.as_mut(), None);
            assert_fails(&format!("{fault:?} {p:?}"), v);
        }
    }
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn stream_verification_fails_on_wrong_results() {
    let dev = open();
    let n = 100_003;
    for p in [Precision::F32, Precision::F64] {
        for op in StreamOp::ALL {
            let mut faults = vec![Fault::FlipBit];
            match op {
                StreamOp::Dot => faults.push(Fault::DotLostPartial),
                StreamOp::Scale | StreamOp::Triad => {
                    faults.extend([Fault::StreamShortN, Fault::StreamWrongScalar])
                }
                _ => faults.push(Fault::StreamShortN),
            }
            for fault in faults {
                let mut trial = prepare_stream(Faulty::new(&dev, fault), op, p, n, SEED).unwrap();
                let v = run_once(trial.as_mut(), None);
                assert_fails(&format!("{} {p:?} {fault:?}", op.as_str()), v);
            }
        }
    }
}

#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn transfer_verification_fails_on_corrupted_copies() {
    let dev = open();
    for direction in [Direction::HostToDevice, Direction::DeviceToHost] {
        let mut trial =
            prepare_transfer(Faulty::new(&dev, Fault::FlipBit), direction, 4097, SEED).unwrap();
        let v = run_once(trial.as_mut(), None);
        assert_fails(&format!("{direction:?}"), v);
    }
}
