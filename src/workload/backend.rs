//! `Backend`: one interface, many backends (CUDA, the host; the CPU emulator in tests).

use std::sync::Arc;

use super::device::KernelDevice;
use super::{gemm, stream, transfer, Trial, WorkloadError, WorkloadSpec};
use crate::kernels::gemm_kernel;
use crate::measure::tune::TuningTable;
use crate::model::BackendKind;

/// Something that can prepare workloads as trials.
pub trait Backend {
    fn kind(&self) -> BackendKind;
    /// GPU ordinal, None for the host.
    fn device_index(&self) -> Option<u32>;
    fn device_name(&self) -> String;
    fn prepare(&self, spec: &WorkloadSpec, seed: u64) -> Result<Box<dyn Trial>, WorkloadError>;
}

/// A backend that runs gpugate's kernels on a [`KernelDevice`]. GEMMs use the variant the
/// tuning table chose for their size class, else the family's default.
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
    fn prepare(&self, spec: &WorkloadSpec, seed: u64) -> Result<Box<dyn Trial>, WorkloadError> {
        let dev = self.device.clone();
        match *spec {
            WorkloadSpec::Gemm {
                precision, m, n, k, ..
            } => {
                let kernel = self
                    .tuning
                    .as_ref()
                    .and_then(|t| t.choose(precision, m, n, k))
                    .unwrap_or_else(|| gemm_kernel(precision));
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
