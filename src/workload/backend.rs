//! `Backend`: one interface, many backends (CUDA, on a GPU or on gpugate-sim's; the host).

use std::sync::Arc;

use super::device::KernelDevice;
use super::{
    gemm, stream, transfer, video, GemmMath, Precision, Trial, WorkloadError, WorkloadSpec,
};
use crate::kernels::{gemm_variants, stream_kernel, GemmKernel};
use crate::model::tuning::TuningTable;
use crate::model::BackendKind;

/// Something that can prepare workloads as trials.
pub trait Backend {
    fn kind(&self) -> BackendKind;
    /// GPU ordinal, None for the host.
    fn device_index(&self) -> Option<u32>;
    fn device_name(&self) -> String;
    fn prepare(&self, spec: &WorkloadSpec, seed: u64) -> Result<Box<dyn Trial>, WorkloadError>;
    /// gpugate's own GEMM kernel variants this backend can run (all precisions and maths);
    /// empty for a backend without them (the host).
    fn gemm_kernels(&self) -> Vec<GemmKernel> {
        Vec::new()
    }
    /// Prepares a GEMM with one given variant (the self-test runs every variant), whatever
    /// the tuning chose.
    fn prepare_gemm_kernel(
        &self,
        kernel: &GemmKernel,
        _shape: (usize, usize, usize),
        _seed: u64,
    ) -> Result<Box<dyn Trial>, WorkloadError> {
        Err(WorkloadError::Unsupported(format!(
            "{} is a GPU kernel; this backend does not run gpugate's GPU kernels",
            kernel.kernel.entry
        )))
    }
}

/// A backend that runs gpugate's kernels on a [`KernelDevice`]. GEMMs use the variant the
/// tuning table chose for their precision, math and size class, else the default variant of
/// that precision and math in the build of the `gemm` module the device loaded; a math the
/// device lacks (tensor cores before sm_70 / sm_80) is [`WorkloadError::Unsupported`], and one
/// whose build the driver could not load (or a family with no build loaded) is
/// [`WorkloadError::NotLoaded`] with the driver to install, never a silent fall-back to the
/// other.
pub struct DeviceBackend<D: KernelDevice + ?Sized> {
    pub device: Arc<D>,
    pub index: Option<u32>,
    pub kind: BackendKind,
    pub tuning: Option<TuningTable>,
}

impl<D: KernelDevice + ?Sized> DeviceBackend<D> {
    pub fn new(device: Arc<D>, index: Option<u32>, kind: BackendKind) -> Self {
        DeviceBackend {
            device,
            index,
            kind,
            tuning: None,
        }
    }
}

impl<D: KernelDevice + ?Sized + 'static> Backend for DeviceBackend<D> {
    fn kind(&self) -> BackendKind {
        self.kind
    }
    fn device_index(&self) -> Option<u32> {
        self.index
    }
    fn device_name(&self) -> String {
        self.device.props().name
    }
    /// Every variant in the build of the `gemm` module the device loaded.
    fn gemm_kernels(&self) -> Vec<GemmKernel> {
        let loaded = self.device.kernel_modules();
        let cc = self.device.props().compute_capability;
        [Precision::F32, Precision::F64, Precision::F16]
            .into_iter()
            .flat_map(gemm_variants)
            .filter(|k| k.runs_on(cc) && loaded.has(k.kernel))
            .copied()
            .collect()
    }
    fn prepare_gemm_kernel(
        &self,
        kernel: &GemmKernel,
        (m, n, k): (usize, usize, usize),
        seed: u64,
    ) -> Result<Box<dyn Trial>, WorkloadError> {
        let cc = self.device.props().compute_capability;
        if !kernel.runs_on(cc) {
            return Err(WorkloadError::Unsupported(format!(
                "{} needs compute capability {}.{}; this device has {}.{}",
                kernel.kernel.entry, kernel.min_cc.0, kernel.min_cc.1, cc.0, cc.1
            )));
        }
        if let Some(why) = self
            .device
            .kernel_modules()
            .why_not(kernel.kernel, kernel.kernel.entry)
        {
            return Err(WorkloadError::NotLoaded(why));
        }
        gemm::prepare_gemm_with(self.device.clone(), *kernel, m, n, k, seed)
    }
    fn prepare(&self, spec: &WorkloadSpec, seed: u64) -> Result<Box<dyn Trial>, WorkloadError> {
        let dev = self.device.clone();
        match *spec {
            WorkloadSpec::Gemm {
                precision,
                m,
                n,
                k,
                math,
            } => {
                let cc = self.device.props().compute_capability;
                let loaded = self.device.kernel_modules();
                let offered: Vec<GemmKernel> = loaded
                    .gemm_variants(precision, math)
                    .into_iter()
                    .filter(|v| v.runs_on(cc))
                    .collect();
                let kernel = self
                    .tuning
                    .as_ref()
                    .and_then(|t| t.choose(precision, math, m, n, k))
                    .filter(|v| offered.contains(v))
                    .or_else(|| offered.first().copied());
                let Some(kernel) = kernel else {
                    return Err(match loaded.why_no_gemm(precision, math) {
                        // The device has the path, the driver could not load its build.
                        Some(why)
                            if gemm_variants(precision)
                                .iter()
                                .any(|v| v.math == math && v.runs_on(cc)) =>
                        {
                            WorkloadError::NotLoaded(why)
                        }
                        _ => no_such_path(precision, math, cc),
                    });
                };
                gemm::prepare_gemm_with(dev, kernel, m, n, k, seed)
            }
            WorkloadSpec::Stream { op, precision, n } => {
                if let Some(k) = stream_kernel(op, precision) {
                    let what = format!("stream {} ({})", op.as_str(), precision.as_str());
                    if let Some(why) = self.device.kernel_modules().why_not(k, &what) {
                        return Err(WorkloadError::NotLoaded(why));
                    }
                }
                stream::prepare_stream(dev, op, precision, n, seed)
            }
            WorkloadSpec::Transfer {
                direction,
                bytes,
                pinned: true,
            } => transfer::prepare_transfer(dev, direction, bytes, seed),
            WorkloadSpec::Transfer { pinned: false, .. } => Err(WorkloadError::Unsupported(
                "pageable transfers are not implemented; gpugate measures pinned transfers".into(),
            )),
            WorkloadSpec::Video {
                stage,
                width,
                height,
            } => {
                let k = crate::kernels::video_kernel(stage);
                let what = format!("video {}", stage.as_str());
                if let Some(why) = self.device.kernel_modules().why_not(k, &what) {
                    return Err(WorkloadError::NotLoaded(why));
                }
                video::prepare_video(dev, stage, width, height, seed)
            }
            WorkloadSpec::Encode { .. } => Err(WorkloadError::Unsupported(
                "hardware encode runs through ffmpeg (crate::workload::encode), not as a kernel"
                    .into(),
            )),
        }
    }
}

/// Why a device cannot run a GEMM of this precision on this math: the lowest compute capability
/// that has such a variant, against the device's.
fn no_such_path(p: Precision, math: GemmMath, cc: (u32, u32)) -> WorkloadError {
    let needed = gemm_variants(p)
        .iter()
        .filter(|v| v.math == math)
        .map(|v| v.min_cc)
        .min();
    let label = p.gemm_label();
    WorkloadError::Unsupported(match needed {
        Some((maj, min)) => format!(
            "{label} GEMM on the {} needs compute capability {maj}.{min} or later; this device \
             has {}.{}",
            math.label(),
            cc.0,
            cc.1
        ),
        None => format!(
            "gpugate has no {label} GEMM on the {} (device compute capability {}.{})",
            math.label(),
            cc.0,
            cc.1
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::KernelSet;
    use crate::workload::device::{
        DevBuf, DeviceError, DeviceProps, KArg, KernelDevice, KernelRef, LaunchConfig, PinnedBuf,
    };
    use crate::workload::StreamOp;

    /// A device that loaded `loads` and can do nothing else: every preparation that gets past
    /// the choice of kernel fails at its first allocation.
    struct Loaded {
        cc: (u32, u32),
        loads: KernelSet,
    }

    const NOTHING: &str = "stub device: nothing runs here";

    impl KernelDevice for Loaded {
        fn props(&self) -> DeviceProps {
            DeviceProps {
                name: "stub".into(),
                compute_capability: self.cc,
                ..Default::default()
            }
        }
        fn kernel_modules(&self) -> KernelSet {
            self.loads.clone()
        }
        fn alloc(&self, _: usize) -> Result<DevBuf, DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn free(&self, _: DevBuf) {}
        fn upload(&self, _: DevBuf, _: &[u8]) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn download(&self, _: DevBuf, _: &mut [u8]) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn launch(&self, _: KernelRef, _: LaunchConfig, _: &[KArg]) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn alloc_pinned(&self, _: usize) -> Result<PinnedBuf, DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn free_pinned(&self, _: PinnedBuf) {}
        fn write_pinned(&self, _: PinnedBuf, _: &[u8]) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn read_pinned(&self, _: PinnedBuf, _: &mut [u8]) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn copy_h2d(&self, _: PinnedBuf, _: DevBuf) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn copy_d2h(&self, _: DevBuf, _: PinnedBuf) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn synchronize(&self) -> Result<(), DeviceError> {
            Ok(())
        }
        fn timer_start(&self) -> Result<(), DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
        fn timer_stop(&self) -> Result<f64, DeviceError> {
            Err(DeviceError::Unavailable(NOTHING.into()))
        }
    }

    fn backend(cc: (u32, u32), loads: KernelSet) -> DeviceBackend<Loaded> {
        DeviceBackend::new(Arc::new(Loaded { cc, loads }), Some(0), BackendKind::Cuda)
    }

    fn prepare_error(b: &DeviceBackend<Loaded>, spec: WorkloadSpec) -> WorkloadError {
        match b.prepare(&spec, 1) {
            Err(e) => e,
            Ok(_) => panic!("{spec:?} prepared on a stub device"),
        }
    }

    /// An A100 on R418 loaded gemm's compute_70 build: the variants offered are that build's,
    /// and the paths only compute_80 has fail with the driver to install, never silently.
    #[test]
    fn gemm_paths_follow_the_build_the_driver_loaded() {
        let a100 = (8, 0);
        let b = backend(a100, KernelSet::select(a100, 10010));
        let offered = b.gemm_kernels();
        let in70 = crate::kernels::MODULES[1];
        assert_eq!(in70.target, "compute_70");
        assert_eq!(offered.len(), in70.entries.len());
        assert!(offered
            .iter()
            .all(|k| in70.entries.contains(&k.kernel.entry)));
        let dmma = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 64,
            n: 64,
            k: 64,
            math: GemmMath::TensorCores,
        };
        let e = prepare_error(&b, dmma);
        assert!(matches!(e, WorkloadError::NotLoaded(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("compute_80") && e.contains("R450+") && e.contains("CUDA 10.1"),
            "{e}"
        );
        // HGEMM on the tensor cores is in compute_70: it gets as far as the device.
        let hmma = WorkloadSpec::Gemm {
            precision: Precision::F16,
            m: 64,
            n: 64,
            k: 64,
            math: GemmMath::TensorCores,
        };
        assert!(prepare_error(&b, hmma).to_string().contains(NOTHING));
        // A forced compute_80 variant (the self-test) is refused the same way.
        let s4 = crate::kernels::gemm_variant("sgemm_f32_128x128x8_t8x8_s4").unwrap();
        let e = match b.prepare_gemm_kernel(&s4, (64, 64, 64), 1) {
            Err(e) => e,
            Ok(_) => panic!("prepared"),
        };
        assert!(matches!(e, WorkloadError::NotLoaded(_)), "{e:?}");
        assert!(e.to_string().contains("R450+"), "{e}");
        // On R450 every sm_80 path is offered.
        let b = backend(a100, KernelSet::select(a100, 11000));
        assert_eq!(
            b.gemm_kernels().len(),
            crate::kernels::MODULES[2].entries.len()
        );
        assert!(prepare_error(&b, dmma).to_string().contains(NOTHING));
    }

    /// A family with no build loaded: its workloads fail with the reason, the others still
    /// prepare.
    #[test]
    fn a_family_that_did_not_load_fails_its_workloads_with_the_reason() {
        use crate::kernels::{select_modules, KernelModule};
        static PATCHED: [KernelModule; 2] = [
            KernelModule {
                name: "gemm",
                target: "compute_52",
                min_cc: (5, 2),
                ptx_isa: "4.1",
                ptx: "",
                entries: &["sgemm_f32_128x128x8_t8x8", "dgemm_f64_64x64x8_t4x4"],
            },
            KernelModule {
                name: "stream",
                target: "compute_52",
                min_cc: (5, 2),
                ptx_isa: "8.0",
                ptx: "",
                entries: &["stream_triad_f64"],
            },
        ];
        let loads = KernelSet {
            families: select_modules(&PATCHED, (5, 2), 11040),
        };
        let b = backend((5, 2), loads);
        let triad = WorkloadSpec::Stream {
            op: StreamOp::Triad,
            precision: Precision::F64,
            n: 1000,
        };
        let e = prepare_error(&b, triad);
        assert!(matches!(e, WorkloadError::NotLoaded(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.starts_with("stream triad (f64) cannot run: the driver is too old for kernel module 'stream' (compute_52, PTX ISA 8.0)")
                && e.contains("CUDA 12.0 or newer (R525+)")
                && e.contains("CUDA 11.4")
                && e.contains("7.4"),
            "{e}"
        );
        // GEMM still gets as far as the device.
        let sgemm = WorkloadSpec::gemm(Precision::F32, 64, 64, 64);
        assert!(prepare_error(&b, sgemm).to_string().contains(NOTHING));
        assert_eq!(b.gemm_kernels().len(), 2);
    }

    #[test]
    fn a_missing_math_names_precision_math_and_both_capabilities() {
        let e = no_such_path(Precision::F64, GemmMath::TensorCores, (5, 2)).to_string();
        assert_eq!(
            e,
            "FP64 GEMM on the tensor cores needs compute capability 8.0 or later; this device \
             has 5.2"
        );
        let e = no_such_path(Precision::F16, GemmMath::TensorCores, (6, 1)).to_string();
        assert!(e.contains("FP16-input GEMM on the tensor cores needs compute capability 7.0"));
        let e = no_such_path(Precision::F32, GemmMath::TensorCores, (9, 0)).to_string();
        assert_eq!(
            e,
            "gpugate has no FP32 GEMM on the tensor cores (device compute capability 9.0)"
        );
    }
}
