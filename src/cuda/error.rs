//! [`CudaError`]: every way the CUDA path fails, by what the caller or the user must do about
//! it. The messages say what to do; the driver's own error, where there is one, is the
//! [`source`](std::error::Error::source) (and its name is in the message too, for the reports).

use cudarc::driver::sys::CUresult;

use super::driver::DriverError;
use super::drv;
use crate::kernels::{
    cuda_version_string, driver_label, max_ptx_isa, min_driver_for_isa, OLDEST_BRANCH,
    OLDEST_DRIVER,
};
use crate::workload::device::DeviceError;
use crate::workload::WorkloadError;

/// Where `libcuda.so` was looked for, and what to do when it is not there.
const NO_DRIVER: &str = "no NVIDIA driver found: libcuda.so is not on the library path \
    (looked for libcuda.so and libcuda.so.1 through LD_LIBRARY_PATH, the executable's RUNPATH and \
    the ld.so cache). Install the NVIDIA driver (check with `nvidia-smi`), or add the directory \
    that holds libcuda.so.1 to LD_LIBRARY_PATH; inside a container, run it with the GPU exposed \
    (e.g. `--gpus all`).";

/// A failure of the CUDA driver or of what gpugate asked of it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CudaError {
    /// No `libcuda.so` on the library path: no driver, or the GPU not exposed to a container.
    #[error("{NO_DRIVER}")]
    NoDriver,
    /// The library found as `libcuda.so` has no `cuDriverGetVersion`: not an NVIDIA driver.
    #[error(
        "the library found as libcuda.so has no cuDriverGetVersion: it is not an NVIDIA driver, \
         or a broken one. Reinstall the NVIDIA driver (check with `nvidia-smi`)."
    )]
    NotADriver,
    /// `cuDriverGetVersion` itself failed.
    #[error(
        "the NVIDIA driver library loaded but cuDriverGetVersion failed: {}. Reinstall the \
         driver (check with `nvidia-smi`).",
        drv(*source)
    )]
    VersionQuery {
        #[source]
        source: DriverError,
    },
    /// The driver (CUDA version as `cuDriverGetVersion` numbers it) is older than the oldest
    /// gpugate supports ([`OLDEST_DRIVER`], R418): install a newer one.
    #[error(
        "the NVIDIA driver ({}) is older than the oldest gpugate supports, {OLDEST_BRANCH} \
         (CUDA {}): gpugate's GPU path is built and tested for {OLDEST_BRANCH} and newer \
         drivers, so it does not run on this one. Install {OLDEST_BRANCH} or newer (check with \
         `nvidia-smi`).",
        driver_label(*driver),
        cuda_version_string(OLDEST_DRIVER)
    )]
    DriverTooOld { driver: u32 },
    /// The driver library lacks entry points gpugate calls (each "cuX (CUDA a.b+)").
    #[error(
        "the NVIDIA driver library (CUDA {}) lacks entry points gpugate needs: {}. The driver \
         installation is incomplete or not an NVIDIA driver: reinstall the NVIDIA driver \
         ({OLDEST_BRANCH} or newer; check with `nvidia-smi`).",
        cuda_version_string(*driver),
        missing.join(", ")
    )]
    MissingEntryPoints { driver: u32, missing: Vec<String> },
    /// `cuInit` failed (no device, a library that does not match the kernel module, …).
    #[error("{}", init_message(*source, *driver))]
    Init {
        driver: u32,
        #[source]
        source: DriverError,
    },
    /// The driver initialised but reports no CUDA device.
    #[error(
        "the NVIDIA driver (CUDA {}) is loaded but reports no CUDA device. Check `nvidia-smi`, \
         CUDA_VISIBLE_DEVICES and the container's GPU access.",
        cuda_version_string(*driver)
    )]
    NoDevice { driver: u32 },
    /// A GPU ordinal past the devices the driver reports.
    #[error("GPU {ordinal} does not exist: the driver reports {count} device(s)")]
    NoSuchGpu { ordinal: u32, count: u32 },
    /// The driver exports no event timer gpugate knows.
    #[error(
        "the NVIDIA driver (CUDA {}) exports neither cuEventElapsedTime nor \
         cuEventElapsedTime_v2; reinstall the driver.",
        cuda_version_string(*driver)
    )]
    NoEventTimer { driver: u32 },
    /// No kernel family has a build both this GPU and its driver's JIT take (one reason per
    /// family): the GPU or the driver is too old for every module gpugate ships.
    #[error(
        "no kernel module can be loaded, so gpugate cannot test this GPU: {}",
        reasons.join("; ")
    )]
    NoLoadableModule { reasons: Vec<String> },
    /// The driver's JIT refused a module's PTX ISA (CUDA_ERROR_UNSUPPORTED_PTX_VERSION): the
    /// driver is too old for that PTX.
    #[error(
        "loading kernel module '{module}' ({target}, PTX ISA {ptx_isa}) failed: {}: the \
         driver's JIT (CUDA {}) accepts PTX ISA {} at most, too old for this module. {}{}",
        drv(*source),
        cuda_version_string(*driver),
        max_ptx_isa(*driver),
        upgrade_for_isa(ptx_isa),
        jit_log(log)
    )]
    PtxTooNew {
        module: &'static str,
        target: &'static str,
        ptx_isa: &'static str,
        driver: u32,
        log: String,
        #[source]
        source: DriverError,
    },
    /// The driver's JIT refused a module for another reason; `log` is the JIT's own.
    #[error(
        "loading kernel module '{module}' ({target}, PTX ISA {ptx_isa}) failed: {}{}",
        drv(*source),
        jit_log(log)
    )]
    ModuleLoad {
        module: &'static str,
        target: &'static str,
        ptx_isa: &'static str,
        log: String,
        #[source]
        source: DriverError,
    },
    /// A loaded module lacks an entry point the kernel table names.
    #[error("kernel '{entry}' missing from module '{module}' ({target}): {}", drv(*source))]
    MissingKernel {
        module: &'static str,
        target: &'static str,
        entry: String,
        #[source]
        source: DriverError,
    },
    /// The GPU (or the page-locked host memory) has not enough free memory for the request.
    #[error("{what}: {}", drv(*source))]
    OutOfMemory {
        what: String,
        #[source]
        source: DriverError,
    },
    /// `cuLaunchKernel` refused the launch (its configuration or resources); the context is
    /// still usable.
    #[error("launching {kernel}: {}", drv(*source))]
    LaunchFailed {
        kernel: String,
        #[source]
        source: DriverError,
    },
    /// A sticky error: a kernel faulted (illegal address, illegal instruction, …) or the GPU
    /// reported an uncorrectable error. The context is lost: every later call on this GPU fails
    /// the same way until the process ends.
    #[error(
        "{what}: {}. The GPU's context is lost (a kernel faulted or the GPU reported an \
         uncorrectable error): nothing more can run on this GPU in this process",
        drv(*source)
    )]
    ContextLost {
        what: String,
        #[source]
        source: DriverError,
    },
    /// Any other failed driver call: what gpugate was doing, and the driver's error.
    #[error("{what}: {}", drv(*source))]
    Driver {
        what: String,
        #[source]
        source: DriverError,
    },
    /// The CUDA bindings panicked (a missing library or symbol): the driver is broken.
    #[error(
        "{what} failed inside the CUDA bindings: {message}. The NVIDIA driver (libcuda.so) may \
         be incomplete or older than this build expects; check `nvidia-smi` and reinstall or \
         upgrade the driver."
    )]
    Panicked { what: String, message: String },
    /// One GPU of several: which one.
    #[error("GPU {ordinal}: {source}")]
    Gpu {
        ordinal: u32,
        source: Box<CudaError>,
    },
}

/// The CUDA backend's edge: a driver failure inside a device call is a backend-neutral
/// [`DeviceError::Driver`] that carries this error.
impl From<CudaError> for DeviceError {
    fn from(e: CudaError) -> Self {
        DeviceError::driver(e)
    }
}

/// The same edge for a workload: a driver failure outside a device call (the GPU could not be
/// opened) is a backend-neutral [`WorkloadError::Backend`] that carries this error.
impl From<CudaError> for WorkloadError {
    fn from(e: CudaError) -> Self {
        WorkloadError::backend(e)
    }
}

impl CudaError {
    /// A failed driver call, by what its error means for the caller: out of memory, a lost
    /// context (sticky), or any other failure.
    pub(crate) fn call(what: impl Into<String>, e: DriverError) -> CudaError {
        let what = what.into();
        if is_out_of_memory(e) {
            CudaError::OutOfMemory { what, source: e }
        } else if is_sticky(e) {
            CudaError::ContextLost { what, source: e }
        } else {
            CudaError::Driver { what, source: e }
        }
    }

    /// A failed `cuLaunchKernel`: a lost context and out of memory as in [`CudaError::call`],
    /// else the launch itself was refused.
    pub(crate) fn launch(kernel: &str, e: DriverError) -> CudaError {
        match CudaError::call(format!("launching {kernel}"), e) {
            CudaError::Driver { source, .. } => CudaError::LaunchFailed {
                kernel: kernel.to_string(),
                source,
            },
            other => other,
        }
    }

    /// The error itself, under any [`CudaError::Gpu`] that names the GPU.
    pub fn root(&self) -> &CudaError {
        match self {
            CudaError::Gpu { source, .. } => source.root(),
            other => other,
        }
    }

    /// The driver's error code, where the driver returned one.
    pub fn driver_code(&self) -> Option<CUresult> {
        use CudaError::*;
        match self.root() {
            VersionQuery { source }
            | Init { source, .. }
            | PtxTooNew { source, .. }
            | ModuleLoad { source, .. }
            | MissingKernel { source, .. }
            | OutOfMemory { source, .. }
            | LaunchFailed { source, .. }
            | ContextLost { source, .. }
            | Driver { source, .. } => Some(source.0),
            _ => None,
        }
    }
}

fn is_out_of_memory(e: DriverError) -> bool {
    e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY
}

/// The errors after which the driver refuses every later call in the process ("the process must
/// be terminated and relaunched", CUDA driver API, error types).
fn is_sticky(e: DriverError) -> bool {
    use CUresult::*;
    matches!(
        e.0,
        CUDA_ERROR_ILLEGAL_ADDRESS
            | CUDA_ERROR_LAUNCH_TIMEOUT
            | CUDA_ERROR_ASSERT
            | CUDA_ERROR_HARDWARE_STACK_ERROR
            | CUDA_ERROR_ILLEGAL_INSTRUCTION
            | CUDA_ERROR_MISALIGNED_ADDRESS
            | CUDA_ERROR_INVALID_ADDRESS_SPACE
            | CUDA_ERROR_INVALID_PC
            | CUDA_ERROR_LAUNCH_FAILED
            | CUDA_ERROR_ECC_UNCORRECTABLE
    )
}

/// "; JIT log: …", or nothing when the JIT said nothing.
fn jit_log(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("; JIT log: {log}")
    }
}

/// Which driver to install for PTX ISA `isa`.
fn upgrade_for_isa(isa: &str) -> String {
    match min_driver_for_isa(isa) {
        Some((v, branch)) => format!(
            "Install a driver for CUDA {} or newer ({branch}+)",
            cuda_version_string(v)
        ),
        None => "Upgrade the NVIDIA driver".to_string(),
    }
}

fn init_message(e: DriverError, version: u32) -> String {
    let ver = cuda_version_string(version);
    match e.0 {
        CUresult::CUDA_ERROR_NO_DEVICE => format!(
            "the NVIDIA driver (CUDA {ver}) is loaded but finds no CUDA device (cuInit: {}). \
             Check `nvidia-smi`, CUDA_VISIBLE_DEVICES and the container's GPU access.",
            drv(e)
        ),
        CUresult::CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE
        | CUresult::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH => format!(
            "cuInit failed: {}. The user-space driver library (libcuda.so, CUDA {ver}) does not \
             match the kernel module; remove any forward-compatibility libcuda from \
             LD_LIBRARY_PATH or reboot after a driver upgrade.",
            drv(e)
        ),
        _ => format!(
            "cuInit failed: {} (driver for CUDA {ver}). Check `nvidia-smi` and `dmesg` for \
             driver errors; a reboot after a driver upgrade is often needed.",
            drv(e)
        ),
    }
}

/// The device-count query failed after `cuInit`.
pub(crate) fn device_count_error(driver: u32, e: DriverError) -> CudaError {
    CudaError::call(
        format!(
            "the NVIDIA driver (CUDA {}) could not count devices",
            cuda_version_string(driver)
        ),
        e,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(code: CUresult) -> DriverError {
        DriverError(code)
    }

    #[test]
    fn driver_errors_are_sorted_by_what_the_caller_must_do() {
        assert!(matches!(
            CudaError::call("allocating", e(CUresult::CUDA_ERROR_OUT_OF_MEMORY)),
            CudaError::OutOfMemory { .. }
        ));
        for sticky in [
            CUresult::CUDA_ERROR_ILLEGAL_ADDRESS,
            CUresult::CUDA_ERROR_MISALIGNED_ADDRESS,
            CUresult::CUDA_ERROR_LAUNCH_FAILED,
            CUresult::CUDA_ERROR_ECC_UNCORRECTABLE,
        ] {
            assert!(
                matches!(
                    CudaError::call("sync", e(sticky)),
                    CudaError::ContextLost { .. }
                ),
                "{sticky:?}"
            );
            // A launch that reports a sticky error lost the context too.
            assert!(matches!(
                CudaError::launch("k", e(sticky)),
                CudaError::ContextLost { .. }
            ));
        }
        assert!(matches!(
            CudaError::call("copying", e(CUresult::CUDA_ERROR_INVALID_VALUE)),
            CudaError::Driver { .. }
        ));
        let refused = CudaError::launch("k", e(CUresult::CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES));
        assert!(
            matches!(&refused, CudaError::LaunchFailed { kernel, .. } if kernel == "k"),
            "{refused:?}"
        );
        assert_eq!(
            refused.driver_code(),
            Some(CUresult::CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES)
        );
        // The driver's error is the source.
        let source = std::error::Error::source(&refused).expect("a source");
        assert!(source.downcast_ref::<DriverError>().is_some());
    }

    #[test]
    fn a_gpu_wrapper_keeps_the_error_reachable() {
        let inner = CudaError::NoSuchGpu {
            ordinal: 3,
            count: 1,
        };
        let wrapped = CudaError::Gpu {
            ordinal: 0,
            source: Box::new(inner.clone()),
        };
        assert_eq!(wrapped.root(), &inner);
        assert!(wrapped
            .to_string()
            .starts_with("GPU 0: GPU 3 does not exist"));
    }

    #[test]
    fn a_jit_too_old_for_the_ptx_names_the_driver_to_install() {
        let err = CudaError::PtxTooNew {
            module: "gemm",
            target: "compute_80",
            ptx_isa: "8.0",
            driver: 11040,
            log: "ptxas fatal".into(),
            source: e(CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION),
        };
        let m = err.to_string();
        assert!(m.contains("CUDA_ERROR_UNSUPPORTED_PTX_VERSION"), "{m}");
        assert!(m.contains("CUDA 12.0 or newer (R525+)"), "{m}");
        assert!(m.contains("accepts PTX ISA 7.4 at most"), "{m}");
        assert!(m.ends_with("; JIT log: ptxas fatal"), "{m}");
    }
}
