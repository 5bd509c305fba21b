//! The CUDA backend: the only module that touches `cudarc`.
//!
//! - [`driver_status`]: is there a usable driver, which CUDA version, how many devices. Never
//!   panics: the driver library is probed before any call (cudarc panics when `libcuda.so` is
//!   missing), a driver older than [`OLDEST_DRIVER`] (R418) or without an entry point gpugate
//!   calls is refused with the reason before anything else runs, and every driver call runs
//!   under `catch_unwind` as a backstop.
//! - [`check_driver_supported`]: a driver older than [`OLDEST_DRIVER`] refused with what to
//!   install (the PTX ISA table, what each driver's JIT accepts, is data of `crate::kernels`).
//! - [`list_devices`]: the inventory of every GPU, from device attributes.
//! - [`CudaDevice`]: one context and one stream on one GPU, with every embedded kernel module
//!   loaded once (JIT timed separately), implementing
//!   [`KernelDevice`](crate::workload::device::KernelDevice).
//! - [`cublas_status`] and [`CudaDevice::cublas_gemm_trial`]: the optional cuBLAS peer.
//!
//! The driver is called through gpugate's own thin layer over `cudarc::driver::sys`
//! ([`driver`]: [`DRIVER_CALLS`] lists every entry point with the release that introduced it),
//! never through cudarc's safe layer, which needs CUDA 11.2+ drivers.
//!
//! Nothing here prints; every failure comes back as a [`CudaError`] (or, for the cuBLAS peer,
//! a [`BlasError`]) whose message says what to do.

mod blas;
mod device;
pub mod driver;
mod error;
pub mod p2p;

pub use blas::{cublas_fits_driver, cublas_status, BlasError, CublasGemmTrial, CublasLibrary};
pub use device::CudaDevice;
pub use driver::{DriverCall, DRIVER_CALLS};
pub use error::CudaError;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::driver::sys;

use crate::kernels::{max_ptx_isa, OLDEST_DRIVER};
use crate::model::DeviceInfo;
use driver::{Context, DriverError};

/// What the driver says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverStatus {
    /// CUDA version the driver supports, as `cuDriverGetVersion` reports it (12040 = 12.4).
    pub driver_cuda_version: u32,
    pub device_count: u32,
}

/// [`CudaError::DriverTooOld`] (its message says what to install) when a driver for CUDA
/// `driver_cuda_version` is older than the oldest gpugate supports ([`OLDEST_DRIVER`], R418).
pub fn check_driver_supported(driver_cuda_version: u32) -> Result<(), CudaError> {
    if driver_cuda_version >= OLDEST_DRIVER {
        return Ok(());
    }
    Err(CudaError::DriverTooOld {
        driver: driver_cuda_version,
    })
}

/// Runs `f`, turning a panic inside cudarc (missing library or symbol) into
/// [`CudaError::Panicked`].
pub(crate) fn guarded<T, E: From<CudaError>>(
    what: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(CudaError::Panicked {
                what: what.to_string(),
                message,
            }
            .into())
        }
    }
}

/// A driver error as "CUDA_ERROR_NAME (description)".
pub(crate) fn drv(e: DriverError) -> String {
    // cuGetErrorName/String are checked present before any call (CUDA 6.0+); the guard is a
    // backstop for a library that lost them.
    let name = catch_unwind(|| {
        e.error_name()
            .ok()
            .map(|s| s.to_string_lossy().into_owned())
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| format!("{:?}", e.0));
    match catch_unwind(|| {
        e.error_string()
            .ok()
            .map(|s| s.to_string_lossy().into_owned())
    }) {
        Ok(Some(s)) => format!("{name} ({s})"),
        _ => name,
    }
}

/// Is the driver library loadable? Does not call into it.
pub(crate) fn driver_library_present() -> bool {
    // SAFETY: only tries to dlopen the library by name; no symbol is called.
    catch_unwind(|| unsafe { sys::is_culib_present() }).unwrap_or(false)
}

/// Loads the driver, checks it, initialises it and counts devices. Never panics.
///
/// Errors (each says what to do): no `libcuda.so`; a driver older than [`OLDEST_DRIVER`]
/// (R418); a driver library without an entry point gpugate calls ([`DRIVER_CALLS`]); `cuInit`
/// failed (with the driver's own reason, e.g. a kernel-module/library version mismatch); no
/// CUDA device.
pub fn driver_status() -> Result<DriverStatus, CudaError> {
    if !driver_library_present() {
        return Err(CudaError::NoDriver);
    }
    guarded("querying the CUDA driver", || {
        if !driver::exported("cuDriverGetVersion") {
            return Err(CudaError::NotADriver);
        }
        let mut version: std::ffi::c_int = 0;
        // SAFETY: plain out-parameter call; valid before cuInit.
        unsafe { sys::cuDriverGetVersion(&mut version) }
            .result()
            .map_err(|source| CudaError::VersionQuery { source })?;
        let version = version.max(0) as u32;
        // Before any other call: an older driver lacks entry points, attributes and PTX ISA
        // versions gpugate uses.
        check_driver_supported(version)?;
        driver::check_entry_points(version)?;
        // SAFETY: no arguments but the flags, which must be 0.
        unsafe { sys::cuInit(0) }
            .result()
            .map_err(|source| CudaError::Init {
                driver: version,
                source,
            })?;
        let count = driver::device_count().map_err(|e| error::device_count_error(version, e))?;
        if count <= 0 {
            return Err(CudaError::NoDevice { driver: version });
        }
        Ok(DriverStatus {
            driver_cuda_version: version,
            device_count: count as u32,
        })
    })
}

fn attr(ctx: &Context, a: sys::CUdevice_attribute) -> Result<i32, CudaError> {
    ctx.attribute(a)
        .map_err(|e| CudaError::call(format!("reading device attribute {a:?}"), e))
}

/// Attribute that may legitimately be unavailable on some drivers: 0 when unknown.
fn attr_or_zero(ctx: &Context, a: sys::CUdevice_attribute) -> u32 {
    ctx.attribute(a).map(|v| v.max(0) as u32).unwrap_or(0)
}

/// "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi prints it.
pub fn format_uuid(bytes: &[u8; 16]) -> String {
    let h: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "GPU-{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// "00000000:65:00.0", as nvidia-smi and NVML print it (domain:bus:device.function; the driver
/// API does not report the function, which is 0 for every GPU).
pub fn format_pci_bus_id(domain: u32, bus: u32, device: u32) -> String {
    format!("{domain:08x}:{bus:02x}:{device:02x}.0")
}

pub(crate) fn device_info(
    ctx: &Context,
    index: u32,
    driver_cuda_version: u32,
) -> Result<DeviceInfo, CudaError> {
    use sys::CUdevice_attribute as A;
    let name = ctx
        .name()
        .map_err(|e| CudaError::call("reading the device name", e))?;
    let uuid = ctx.uuid().map(|u| format_uuid(&u)).unwrap_or_default();
    let major = attr(ctx, A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = attr(ctx, A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    let (free, total) = ctx
        .mem_info()
        .map_err(|e| CudaError::call("reading device memory", e))?;
    let mut info = DeviceInfo {
        index,
        name,
        uuid,
        pci_bus_id: format_pci_bus_id(
            attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
            attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
            attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID),
        ),
        compute_capability: (major.max(0) as u32, minor.max(0) as u32),
        sm_count: attr(ctx, A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?.max(0) as u32,
        sm_clock_khz: attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_CLOCK_RATE),
        memory_clock_khz: attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE),
        memory_bus_width_bits: attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH),
        total_memory_bytes: total as u64,
        free_memory_bytes: free as u64,
        l2_cache_bytes: attr_or_zero(ctx, A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE) as u64,
        driver_cuda_version,
        max_ptx_isa: max_ptx_isa(driver_cuda_version),
        // Not available from the driver API; NVML fills these in.
        pcie_link_gen: None,
        pcie_link_width: None,
        driver_identity: driver::simulator_identity(),
        simulated: false,
        // The catalogue and NVML fill this in (crate::probe::gpus).
        nvenc: Default::default(),
    };
    info.simulated = info.is_simulated();
    Ok(info)
}

/// The inventory of every CUDA device, in ordinal order. Creates (and releases) each device's
/// primary context to read its free memory. Never panics.
pub fn list_devices() -> Result<Vec<DeviceInfo>, CudaError> {
    let status = driver_status()?;
    guarded("listing CUDA devices", || {
        (0..status.device_count)
            .map(|i| {
                Context::retain(i)
                    .map_err(|e| CudaError::call("creating a context", e))
                    .and_then(|ctx| device_info(&ctx, i, status.driver_cuda_version))
                    .map_err(|e| CudaError::Gpu {
                        ordinal: i,
                        source: Box::new(e),
                    })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::ptx_supported;

    #[test]
    fn a_driver_older_than_r418_is_refused_with_what_to_install() {
        for ok in [10010, 10020, 11000, 11040, 12000, 13010] {
            assert_eq!(check_driver_supported(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_driver_supported(8000),
            Err(CudaError::DriverTooOld { driver: 8000 })
        );
        // The message says which driver this is and what to install.
        let e = check_driver_supported(8000).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "the NVIDIA driver (CUDA 8.0, R375) is older than the oldest gpugate supports, \
                 R418 (CUDA 10.1)"
            ),
            "{e}"
        );
        assert!(e.contains("Install R418 or newer"), "{e}");
        // The branches in between: the PTX table's, named in the message.
        let e = check_driver_supported(10000).unwrap_err().to_string();
        assert!(e.contains("(CUDA 10.0, R410)"), "{e}");
        assert!(check_driver_supported(9020)
            .unwrap_err()
            .to_string()
            .contains("CUDA 9.2, R396"));
    }

    #[test]
    fn uuid_and_pci_ids_format_like_nvidia_smi() {
        let mut b = [0u8; 16];
        for (i, v) in b.iter_mut().enumerate() {
            *v = (i as u8) * 17;
        }
        assert_eq!(format_uuid(&b), "GPU-00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(format_pci_bus_id(0, 0x65, 0), "00000000:65:00.0");
        assert_eq!(format_pci_bus_id(1, 3, 0x1f), "00000001:03:1f.0");
    }

    #[test]
    fn guarded_turns_a_panic_into_an_error() {
        let r: Result<(), CudaError> = guarded("testing", || panic!("boom"));
        assert_eq!(
            r,
            Err(CudaError::Panicked {
                what: "testing".into(),
                message: "boom".into()
            })
        );
        assert_eq!(guarded("ok", || Ok::<_, CudaError>(3)), Ok(3));
    }

    /// On a machine without the driver this must be a clean error that names libcuda; on a GPU
    /// machine it must succeed. Either way: no panic.
    #[test]
    fn driver_status_never_panics() {
        match driver_status() {
            Ok(s) => {
                assert!(s.device_count > 0);
                assert!(s.driver_cuda_version >= 9000);
            }
            Err(e) => {
                if !driver_library_present() {
                    assert_eq!(e, CudaError::NoDriver);
                    let m = e.to_string();
                    assert!(
                        m.contains("libcuda.so") && m.contains("no NVIDIA driver"),
                        "{m}"
                    );
                }
            }
        }
        // list_devices agrees.
        match (list_devices(), driver_status()) {
            (Ok(d), Ok(s)) => assert_eq!(d.len(), s.device_count as usize),
            (Err(e), Err(s)) => assert_eq!(e, s),
            (d, s) => panic!("list_devices {d:?}, driver_status {s:?}"),
        }
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU and driver, or the simulator (run by gpu_tests_on_the_simulator)"]
    fn gpu_inventory_is_filled_in() {
        let devices = list_devices().expect("devices");
        assert!(!devices.is_empty());
        for d in &devices {
            assert!(!d.name.is_empty());
            assert!(
                d.uuid.starts_with("GPU-") && d.uuid.len() == 40,
                "{}",
                d.uuid
            );
            assert_eq!(d.pci_bus_id.len(), 16, "{}", d.pci_bus_id);
            assert!(d.compute_capability >= (5, 0));
            assert!(d.sm_count > 0);
            assert!(d.total_memory_bytes > 0 && d.free_memory_bytes <= d.total_memory_bytes);
            assert!(d.memory_bus_width_bits > 0);
            assert!(d.l2_cache_bytes > 0);
            assert_ne!(d.max_ptx_isa, "unknown");
            assert!(ptx_supported(d.driver_cuda_version, &d.max_ptx_isa));
            // A simulated GPU is known from its driver, and says so in its name and inventory;
            // a GPU on NVIDIA's driver has no identity of the simulator's.
            assert_eq!(d.simulated, d.driver_identity.is_some(), "{}", d.name);
            assert_eq!(
                d.simulated,
                crate::model::is_simulated_name(&d.name),
                "{}",
                d.name
            );
            if let Some(id) = &d.driver_identity {
                assert!(id.starts_with("gpugate-sim "), "{id}");
            }
        }
    }

    /// The ignored GPU tests of this test executable (here, in `device` and in
    /// `probe::telemetry`), run again under gpugate-sim's simulated M40, once on the
    /// simulator's default driver and once on R418, the oldest gpugate supports (which lacks
    /// `cuDevicePrimaryCtxRelease_v2`, `cuDeviceGetUuid_v2`, memory pools, the newer device
    /// attributes and NVML's clocks-event reasons): `gpugate-sim` beside
    /// the test executable's directory (`target/<profile>/`, where `cargo test --workspace`
    /// builds it), or `$GPUGATE_SIM`. The cuBLAS peer runs on the simulator's cuBLAS 12 on the
    /// default driver, and is refused with the reason on R418 (too old for cuBLAS 12).
    #[test]
    fn gpu_tests_on_the_simulator() {
        let exe = std::env::current_exe().expect("the test executable");
        let launcher = std::env::var_os("GPUGATE_SIM")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                let dir = exe.parent()?.parent()?;
                Some(dir.join("gpugate-sim"))
            })
            .filter(|p| p.exists());
        let Some(launcher) = launcher else {
            // On a GPU machine the tests come in the device bundle, without the simulator:
            // there the ignored tests run on the real GPU themselves (--include-ignored).
            let inv = crate::probe::gpus();
            if !inv.devices.is_empty() && inv.devices.iter().all(|d| !d.simulated) {
                eprintln!(
                    "gpu_tests_on_the_simulator: not run: gpugate-sim is not built here, and \
                     this machine has a real GPU, on which the ignored tests run themselves"
                );
                return;
            }
            panic!(
                "gpugate-sim is not built beside {}: run the tests with `cargo test \
                 --workspace` (it builds the simulator), or set GPUGATE_SIM to the launcher",
                exe.display()
            )
        };
        for driver in [None, Some("418")] {
            let mut cmd = std::process::Command::new(&launcher);
            cmd.args(["--model", "m40"]);
            if let Some(d) = driver {
                cmd.args(["--driver", d]);
            }
            cmd.arg("--").arg(&exe).arg("--ignored");
            if driver.is_some() {
                cmd.args([
                    "--skip",
                    "cuda::blas::tests::gpu_cublas_sgemm_and_dgemm_verify",
                ]);
            }
            let o = cmd
                .env(
                    "GPUGATE_TEST_CUBLAS_EXPECT",
                    if driver.is_some() { "refused" } else { "runs" },
                )
                .output()
                .expect("gpugate-sim runs");
            let text = format!(
                "driver {driver:?}:\n{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(o.status.code(), Some(0), "{text}");
            let mut tests = vec![
                "cuda::blas::tests::gpu_cublas_runs_exactly_where_the_driver_can_run_it",
                "cuda::tests::gpu_inventory_is_filled_in",
                "cuda::device::tests::gpu_stream_copy_kernel_moves_the_bytes",
                "cuda::device::tests::gpu_event_timer_and_pinned_copies",
                "probe::telemetry::tests::samples_device_0",
                "probe::telemetry::tests::recorder_collects_samples",
            ];
            if driver.is_none() {
                tests.push("cuda::blas::tests::gpu_cublas_sgemm_and_dgemm_verify");
            }
            for test in tests {
                assert!(
                    text.contains(&format!("test {test} ... ok")),
                    "{test}:\n{text}"
                );
            }
            assert!(text.contains("test result: ok."), "{text}");
        }
    }
}
