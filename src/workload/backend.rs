//! `Backend`: one interface, many backends (CUDA, on a GPU or on gpugate-sim's; the host).

use std::sync::Arc;

use super::device::KernelDevice;
use super::{gemm, stream, transfer, GemmMath, Precision, Trial, WorkloadError, WorkloadSpec};
use crate::kernels::{gemm_default_for, gemm_variants, GemmKernel};
use crate::measure::tune::TuningTable;
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
/// that precision and math the device can run; a math the device lacks (tensor cores before
/// sm_70 / sm_80) is [`WorkloadError::Unsupported`], never a silent fall-back to the other.
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
    fn gemm_kernels(&self) -> Vec<GemmKernel> {
        let cc = self.device.props().compute_capability;
        [Precision::F32, Precision::F64, Precision::F16]
            .into_iter()
            .flat_map(gemm_variants)
            .filter(|k| k.runs_on(cc))
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
                let kernel = self
                    .tuning
                    .as_ref()
                    .and_then(|t| t.choose(precision, math, m, n, k))
                    .filter(|v| v.runs_on(cc))
                    .or_else(|| gemm_default_for(precision, math, cc))
                    .ok_or_else(|| no_such_path(precision, math, cc))?;
                gemm::prepare_gemm_with(dev, kernel, m, n, k, seed)
            }
            WorkloadSpec::Stream { op, precision, n } => {
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
    let label = match p {
        Precision::F32 => "FP32",
        Precision::F64 => "FP64",
        Precision::F16 => "FP16-input",
    };
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
