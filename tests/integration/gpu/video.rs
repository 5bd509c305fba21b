//! The video stages (src/workload/video.rs, kernels/video.cu) on `CudaDevice`: every stage at
//! frame sizes that are and are not multiples of 16 (and of 4 and 2), through the backend, the
//! ring of frames and the batching, each verified against the host references bit for bit; and
//! motion estimation under the simulator's sdc fault, where verification must fail.

use std::sync::{Arc, Mutex};

use gpugate::model::{BackendKind, VerifyStatus};
use gpugate::workload::backend::{Backend, DeviceBackend};
use gpugate::workload::device::{
    DevBuf, DeviceError, DeviceProps, KArg, KernelDevice, KernelRef, LaunchConfig, PinnedBuf,
};
use gpugate::workload::video::{prepare_video, VideoLayout, VideoStage, MAX_BATCH, VERIFY_FRAMES};
use gpugate::workload::WorkloadSpec;

use super::{open, Counting};

/// Small frames (the simulator runs them in seconds): a multiple of 16; odd in both; a
/// multiple of 8 but not 16; a multiple of 2 but not of 4 or 16.
const SIZES: &[(usize, usize)] = &[(64, 48), (51, 37), (72, 40), (98, 70)];
const SEED: u64 = 0x51de_0001;

/// Every stage at every size through the backend: one frame, then three more (the ring
/// advances), each verified; nothing leaks.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn every_stage_verifies_at_sizes_that_are_not_multiples_of_16() {
    let dev = Counting::new(&open());
    let model = super::sim_model(&dev.inner);
    let backend = DeviceBackend::new(dev.clone(), Some(0), BackendKind::Cuda);
    for stage in VideoStage::ALL {
        let t0 = std::time::Instant::now();
        for &(width, height) in SIZES {
            let spec = WorkloadSpec::Video {
                stage,
                width,
                height,
            };
            let mut trial = backend.prepare(&spec, SEED).unwrap();
            let info = trial.info();
            assert!(info.implementation.contains("video_"), "{info:?}");
            for iters in [1, 3] {
                let secs = trial.run(iters).unwrap();
                assert!(secs > 0.0 && secs.is_finite(), "{}: {secs}", spec.name());
                if let Some(m) = &model {
                    // At least one launch (frames are batched into launches), and each takes at
                    // least the model's launch interval.
                    let least = m.time.launch_interval_us * 1e-6;
                    assert!(secs >= least * (1.0 - 1e-4), "{}: {secs}", spec.name());
                }
                let v = trial.verify().unwrap();
                assert!(v.passed(), "{} after {iters}: {v:?}", spec.name());
                assert!(v.checked > 0, "{}: {v:?}", spec.name());
            }
        }
        eprintln!(
            "ran video {}: {:.2} s",
            stage.as_str(),
            t0.elapsed().as_secs_f64()
        );
    }
    assert_eq!(dev.live(), (0, 0), "a video trial leaked");
}

/// The real device with a given L2 size (so that the ring is one batch) and a record of the
/// frames (`gridDim.z`) of every launch.
struct Ring {
    inner: Arc<gpugate::cuda::CudaDevice>,
    l2_bytes: u64,
    frames: Mutex<Vec<u32>>,
}

impl KernelDevice for Ring {
    fn props(&self) -> DeviceProps {
        DeviceProps {
            l2_bytes: self.l2_bytes,
            ..self.inner.props()
        }
    }
    fn kernel_modules(&self) -> gpugate::kernels::KernelSet {
        self.inner.kernel_modules()
    }
    fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError> {
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
        self.frames.lock().unwrap().push(cfg.grid.2);
        self.inner.launch(kernel, cfg, args)
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

/// A run of more frames than a batch: full batches, then the rest; past the ring's end the
/// walk wraps to its start; the first and the last frames of the last launch verify (colour
/// conversion and the transform, whose kernels are cheap on the simulator).
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn runs_walk_the_ring_in_batches() {
    let dev = Arc::new(Ring {
        inner: open(),
        l2_bytes: 0,
        frames: Mutex::new(Vec::new()),
    });
    for stage in [VideoStage::Nv12, VideoStage::Dct] {
        let (w, h) = (34, 18);
        let l = VideoLayout::new(stage, w, h, 0);
        let b = l.batch;
        assert_eq!(b, MAX_BATCH, "small frames take the largest batch: {l:?}");
        assert_eq!(l.ring, b, "one batch: the least above 2 frames");
        let mut trial = prepare_video(dev.clone(), stage, w, h, SEED).unwrap();
        dev.frames.lock().unwrap().clear();
        trial.run(b as u64 + 6).unwrap();
        assert_eq!(*dev.frames.lock().unwrap(), vec![b as u32, 6]);
        let v = trial.verify().unwrap();
        assert!(v.passed(), "{v:?}");
        assert!(v.method.contains("frames 0..5"), "{}", v.method);
        // The next run continues at slot 6, and stops at the ring's end.
        dev.frames.lock().unwrap().clear();
        trial.run(b as u64).unwrap();
        assert_eq!(*dev.frames.lock().unwrap(), vec![b as u32 - 6, 6]);
        let v = trial.verify().unwrap();
        assert!(v.passed() && v.method.contains("frames 0..5"), "{v:?}");
        // A launch of a whole batch: its first frame and its last ones are checked.
        dev.frames.lock().unwrap().clear();
        trial.run(2 * b as u64 - 6).unwrap();
        assert_eq!(*dev.frames.lock().unwrap(), vec![b as u32 - 6, b as u32]);
        let v = trial.verify().unwrap();
        let last = format!("frames 0 and {}..{}", b - (VERIFY_FRAMES - 1), b - 1);
        assert!(v.passed() && v.method.contains(&last), "{last}: {v:?}");
    }
}

/// Run by [`motion_estimation_fails_verification_under_sdc`] under `--fault sdc=video_me`:
/// every launch of the motion-estimation kernel has one bit of its first block's result
/// flipped, and verification fails, naming that macroblock. Without the fault (a real GPU, or
/// the plain simulator suites) there is nothing to check.
#[test]
#[ignore = "needs a GPU, or the simulator (run by gpu_suite_on_the_simulator)"]
fn sdc_in_motion_estimation_fails_verification() {
    let faults = std::env::var("GPUGATE_SIM_FAULTS").unwrap_or_default();
    if !faults.contains("sdc=video_me") {
        eprintln!("no sdc fault on video_me here: nothing to check");
        return;
    }
    let dev = open();
    for (w, h) in [(64, 48), (51, 37)] {
        let mut trial = prepare_video(dev.clone(), VideoStage::Me, w, h, SEED).unwrap();
        trial.run(1).unwrap();
        let v = trial.verify().unwrap();
        assert_eq!(v.status, VerifyStatus::Failed, "{w}x{h}: {v:?}");
        assert!(
            v.mismatches[0].at.starts_with("frame 0 MB(0,0)"),
            "{w}x{h}: {v:?}"
        );
        eprintln!("sdc caught at {w}x{h}: {}", v.mismatches[0].at);
    }
    // The other stages are untouched by a fault in another kernel.
    let mut trial = prepare_video(dev.clone(), VideoStage::Dct, 64, 48, SEED).unwrap();
    trial.run(1).unwrap();
    assert!(trial.verify().unwrap().passed());
}

/// Runs the test above on a simulated M40 with `--fault sdc=video_me`.
#[test]
fn motion_estimation_fails_verification_under_sdc() {
    if crate::sim::stand_down_for_the_real_gpu("motion_estimation_fails_verification_under_sdc") {
        return;
    }
    let sim = crate::sim::Sim::new(&["m40"]).fault("sdc=video_me");
    let (passed, text) = super::gpu_suite_on_the_simulator::run_ignored_on(
        &sim,
        &[
            "--exact",
            "gpu::video::sdc_in_motion_estimation_fails_verification",
        ],
    );
    assert_eq!(passed, 1, "{text}");
    assert!(text.contains("sdc caught at 51x37"), "{text}");
}
