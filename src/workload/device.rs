//! The minimal device interface the GPU workloads are written against.
//!
//! `crate::cuda::CudaDevice` implements it over gpugate's own thin driver layer
//! (`src/cuda/driver.rs`, on `cudarc::driver::sys`), on a GPU or, in tests without one, on
//! gpugate-sim's simulated driver (`sim/`), which runs the same PTX. Buffers are untyped bytes;
//! kernel arguments are passed by value in declaration order, exactly as `cuLaunchKernel` takes
//! them.

use std::any::Any;
use std::sync::Arc;

pub use crate::kernels::KernelRef;

/// A failure reported by a device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceError {
    /// The device's driver failed the call (out of memory, a launch refused, the context lost
    /// to a kernel fault, …): the backend's own error says how, and [`DeviceError::driver_error`]
    /// gives it back as its type (the CUDA backend converts its `CudaError` into this at its
    /// edge, `src/cuda/`).
    #[error(transparent)]
    Driver(BackendError),
    /// A request refused before it reached the device: an unknown buffer, a copy that does not
    /// fit, a launch configuration out of range, a kernel that is not loaded, the timer stopped
    /// before it started. A bug in the caller, never the hardware.
    #[error("{0}")]
    Invalid(String),
    /// The device cannot do this at all (a test double without memory, …).
    #[error("{0}")]
    Unavailable(String),
}

impl DeviceError {
    /// A driver failure carrying the backend's own error.
    pub fn driver<E>(e: E) -> Self
    where
        E: std::error::Error + PartialEq + Send + Sync + 'static,
    {
        DeviceError::Driver(BackendError::new(e))
    }

    /// The backend's own error of a driver failure, when it is an `E`.
    pub fn driver_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            DeviceError::Driver(b) => b.downcast_ref(),
            _ => None,
        }
    }
}

/// A backend's own error behind [`DeviceError::Driver`] and `WorkloadError::Backend`, of
/// whatever type the backend has: displayed, compared and cloned as itself. The workloads name
/// no backend's error type; a caller that knows the backend gets its error back with
/// [`BackendError::downcast_ref`].
#[derive(Clone)]
pub struct BackendError(Arc<dyn AnyError>);

impl BackendError {
    /// A backend's own error.
    pub fn new<E>(e: E) -> Self
    where
        E: std::error::Error + PartialEq + Send + Sync + 'static,
    {
        BackendError(Arc::new(e))
    }

    /// The backend's own error, when it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.as_any().downcast_ref()
    }
}

/// What [`BackendError`] needs of a backend's error type.
trait AnyError: std::error::Error + Send + Sync + 'static {
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn AnyError) -> bool;
}

impl<E: std::error::Error + PartialEq + Send + Sync + 'static> AnyError for E {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn AnyError) -> bool {
        other.as_any().downcast_ref::<E>() == Some(self)
    }
}

impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(other.0.as_ref())
    }
}

impl std::fmt::Debug for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A device allocation, identified by the device that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevBuf {
    pub id: u64,
    pub bytes: usize,
}

/// A page-locked host allocation made through the device (for transfers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PinnedBuf {
    pub id: u64,
    pub bytes: usize,
}

/// One kernel argument, by value. `Buf` passes the buffer's device address; `BufAt` the address
/// `offset` bytes into the buffer (a view that need not be aligned: kernels must handle operands
/// at any element offset; the offset must not pass the buffer's end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KArg {
    Buf(DevBuf),
    BufAt(DevBuf, usize),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: (u32, u32, u32),
    pub block: (u32, u32, u32),
    pub shared_bytes: u32,
}

/// What the workloads need to know about a device to size and launch work.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceProps {
    pub name: String,
    pub sm_count: u32,
    pub l2_bytes: u64,
    pub total_memory: u64,
    pub free_memory: u64,
    pub compute_capability: (u32, u32),
}

/// A device that can hold buffers, run the embedded kernels and time them.
///
/// All methods take `&self`; implementations serialise internally. Launches and copies are
/// issued on one stream in order; `timer_start`/`timer_stop` bracket a region of that stream
/// and return the device time between them.
pub trait KernelDevice {
    fn props(&self) -> DeviceProps;
    /// Which build of each kernel family this device loaded, or why none (the driver's JIT or
    /// the device too old): workloads offer only the kernels it holds, and fail with its reason
    /// for the others. The default, for devices that report no driver (test doubles): every
    /// family's highest build for the compute capability.
    fn kernel_modules(&self) -> crate::kernels::KernelSet {
        crate::kernels::KernelSet::for_cc(self.props().compute_capability)
    }
    fn alloc(&self, bytes: usize) -> Result<DevBuf, DeviceError>;
    fn free(&self, buf: DevBuf);
    fn upload(&self, dst: DevBuf, src: &[u8]) -> Result<(), DeviceError>;
    fn download(&self, src: DevBuf, dst: &mut [u8]) -> Result<(), DeviceError>;
    fn launch(
        &self,
        kernel: KernelRef,
        cfg: LaunchConfig,
        args: &[KArg],
    ) -> Result<(), DeviceError>;
    fn alloc_pinned(&self, bytes: usize) -> Result<PinnedBuf, DeviceError>;
    fn free_pinned(&self, buf: PinnedBuf);
    fn write_pinned(&self, dst: PinnedBuf, src: &[u8]) -> Result<(), DeviceError>;
    fn read_pinned(&self, src: PinnedBuf, dst: &mut [u8]) -> Result<(), DeviceError>;
    /// Asynchronous copy on the device's stream (timed by the events around it).
    fn copy_h2d(&self, src: PinnedBuf, dst: DevBuf) -> Result<(), DeviceError>;
    fn copy_d2h(&self, src: DevBuf, dst: PinnedBuf) -> Result<(), DeviceError>;
    fn synchronize(&self) -> Result<(), DeviceError>;
    /// Records the start event of a timed region.
    fn timer_start(&self) -> Result<(), DeviceError>;
    /// Records the stop event, waits for it, and returns seconds since `timer_start`.
    fn timer_stop(&self) -> Result<f64, DeviceError>;
}

/// The element types moved through the byte interface: bytemuck's plain-old-data types (every
/// byte pattern valid, no padding).
pub use bytemuck::Pod;

/// A typed slice as bytes (bytemuck's checked cast: no unsafe here).
pub fn as_bytes<T: Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// A typed slice as mutable bytes.
pub fn as_bytes_mut<T: Pod>(v: &mut [T]) -> &mut [u8] {
    bytemuck::cast_slice_mut(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::WorkloadError;

    /// A backend of its own, unknown to the workloads.
    #[derive(Debug, Clone, PartialEq, thiserror::Error)]
    #[error("the toaster is cold: {0}")]
    struct ToasterError(u32);

    #[derive(Debug, Clone, PartialEq, thiserror::Error)]
    #[error("another backend")]
    struct OtherError;

    /// Any backend's error passes through the device interface and the workloads as itself:
    /// said, compared and given back as its own type, with no backend named by the interface.
    #[test]
    fn a_backend_error_passes_through_as_itself() {
        let d = DeviceError::driver(ToasterError(3));
        assert_eq!(d.to_string(), "the toaster is cold: 3");
        assert_eq!(d.driver_error::<ToasterError>(), Some(&ToasterError(3)));
        assert_eq!(d.driver_error::<OtherError>(), None);
        assert_eq!(d, DeviceError::driver(ToasterError(3)));
        assert_ne!(d, DeviceError::driver(ToasterError(4)));
        assert_ne!(d, DeviceError::driver(OtherError));
        let w = WorkloadError::backend(ToasterError(7));
        assert_eq!(w.to_string(), "the toaster is cold: 7");
        assert_eq!(w.backend_error::<ToasterError>(), Some(&ToasterError(7)));
        assert_eq!(w.backend_error::<OtherError>(), None);
        let through = WorkloadError::from(d);
        assert_eq!(
            through.backend_error::<ToasterError>(),
            None,
            "a device error"
        );
        assert_eq!(through.to_string(), "device error: the toaster is cold: 3");
    }
}
