//! The CUDA backend: the only module that touches `cudarc`.
//!
//! - [`driver_status`]: is there a usable driver, which CUDA version, how many devices. Never
//!   panics: the driver library is probed before any call (cudarc panics when `libcuda.so` is
//!   missing), a driver older than [`OLDEST_DRIVER`] (R418) or without an entry point gpugate
//!   calls is refused with the reason before anything else runs, and every driver call runs
//!   under `catch_unwind` as a backstop.
//! - [`max_ptx_isa`] / [`ptx_supported`]: what the driver's PTX JIT accepts.
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

pub use blas::{cublas_fits_driver, cublas_status, BlasError, CublasGemmTrial, CublasLibrary};
pub use device::CudaDevice;
pub use driver::{DriverCall, DRIVER_CALLS, OLDEST_BRANCH, OLDEST_DRIVER};
pub use error::CudaError;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::driver::sys;

use crate::model::DeviceInfo;
use driver::{Context, DriverError};

/// What the driver says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverStatus {
    /// CUDA version the driver supports, as `cuDriverGetVersion` reports it (12040 = 12.4).
    pub driver_cuda_version: u32,
    pub device_count: u32,
}

/// PTX ISA versions and the first CUDA release (driver) whose JIT accepts them, newest first.
///
/// From the PTX ISA release history (PTX ISA manual, "Release Notes"). CUDA 12.6 kept ISA 8.5;
/// ISA 8.6 came with 12.7, which shipped no driver. The third column is the first driver branch
/// of that CUDA release, for messages.
const PTX_ISA_TABLE: &[(u32, &str, &str)] = &[
    (13010, "9.1", "R590"),
    (13000, "9.0", "R580"),
    (12090, "8.8", "R575"),
    (12080, "8.7", "R570"),
    (12070, "8.6", "R565"),
    (12050, "8.5", "R555"),
    (12040, "8.4", "R550"),
    (12030, "8.3", "R545"),
    (12020, "8.2", "R535"),
    (12010, "8.1", "R530"),
    (12000, "8.0", "R525"),
    (11080, "7.8", "R520"),
    (11070, "7.7", "R515"),
    (11060, "7.6", "R510"),
    (11050, "7.5", "R495"),
    (11040, "7.4", "R470"),
    (11030, "7.3", "R465"),
    (11020, "7.2", "R460"),
    (11010, "7.1", "R455"),
    (11000, "7.0", "R450"),
    (10020, "6.5", "R440"),
    (10010, "6.4", "R418"),
    (10000, "6.3", "R410"),
    (9020, "6.2", "R396"),
    (9010, "6.1", "R390"),
    (9000, "6.0", "R384"),
];

/// The highest PTX ISA the JIT of a driver for CUDA `driver_cuda_version` accepts, e.g. "8.4"
/// for 12040. A driver newer than the table gets the newest ISA the table knows (it accepts at
/// least that); one older than CUDA 9.0 gets "unknown", which [`ptx_supported`] rejects.
pub fn max_ptx_isa(driver_cuda_version: u32) -> String {
    PTX_ISA_TABLE
        .iter()
        .find(|(first, _, _)| driver_cuda_version >= *first)
        .map(|(_, isa, _)| isa.to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Whether a driver for CUDA `driver_cuda_version` can JIT PTX that declares `.version isa`.
pub fn ptx_supported(driver_cuda_version: u32, isa: &str) -> bool {
    match (parse_isa(&max_ptx_isa(driver_cuda_version)), parse_isa(isa)) {
        (Some(max), Some(want)) => want <= max,
        _ => false,
    }
}

/// The oldest CUDA release (as `cuDriverGetVersion` numbers it) and driver branch that accept
/// PTX ISA `isa`, when the table knows it.
pub fn min_driver_for_isa(isa: &str) -> Option<(u32, &'static str)> {
    let want = parse_isa(isa)?;
    PTX_ISA_TABLE
        .iter()
        .rev()
        .find(|(_, i, _)| parse_isa(i).is_some_and(|have| have >= want))
        .map(|(v, _, branch)| (*v, *branch))
}

/// Driver branches older than the PTX ISA table's, for messages about them.
const OLDER_BRANCHES: &[(u32, &str)] = &[(8000, "R375"), (7050, "R352"), (7000, "R346")];

/// The first driver branch of the CUDA release a driver reports, e.g. "R418" for 10010 (any
/// R418 driver reports CUDA 10.1). None before CUDA 7.0.
pub fn driver_branch(driver_cuda_version: u32) -> Option<&'static str> {
    PTX_ISA_TABLE
        .iter()
        .map(|(v, _, b)| (*v, *b))
        .chain(OLDER_BRANCHES.iter().copied())
        .find(|(first, _)| driver_cuda_version >= *first)
        .map(|(_, b)| b)
}

/// "CUDA 10.1, R418": a driver version for messages.
pub fn driver_label(driver_cuda_version: u32) -> String {
    match driver_branch(driver_cuda_version) {
        Some(b) => format!("CUDA {}, {b}", cuda_version_string(driver_cuda_version)),
        None => format!("CUDA {}", cuda_version_string(driver_cuda_version)),
    }
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

/// "12.4" for 12040.
pub fn cuda_version_string(v: u32) -> String {
    format!("{}.{}", v / 1000, (v % 1000) / 10)
}

fn parse_isa(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
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

    #[test]
    fn ptx_isa_table_matches_cuda_releases() {
        let cases = [
            (12000, "8.0"),
            (12010, "8.1"),
            (12020, "8.2"),
            (12030, "8.3"),
            (12040, "8.4"),
            (12050, "8.5"),
            (12060, "8.5"),
            (12080, "8.7"),
            (12090, "8.8"),
            (13000, "9.0"),
            (13010, "9.1"),
            (11000, "7.0"),
            (11020, "7.2"),
            (11040, "7.4"),
            (11080, "7.8"),
            (10020, "6.5"),
            (9000, "6.0"),
        ];
        for (v, isa) in cases {
            assert_eq!(max_ptx_isa(v), isa, "driver {v}");
        }
        // Newer than the table: the newest known ISA (the driver accepts at least that).
        assert_eq!(max_ptx_isa(13040), "9.1");
        assert_eq!(max_ptx_isa(99990), "9.1");
        // Older than the table.
        assert_eq!(max_ptx_isa(8000), "unknown");
        assert_eq!(max_ptx_isa(0), "unknown");
    }

    #[test]
    fn ptx_support_compares_versions_numerically() {
        assert!(ptx_supported(12000, "8.0"));
        assert!(ptx_supported(12040, "8.0"));
        assert!(ptx_supported(13000, "8.0"));
        assert!(ptx_supported(12040, "7.8"));
        assert!(!ptx_supported(11080, "8.0"));
        assert!(!ptx_supported(12000, "8.1"));
        assert!(!ptx_supported(12060, "8.6"));
        assert!(ptx_supported(12090, "8.8"));
        assert!(!ptx_supported(12090, "9.0"));
        // "8.10" would be newer than "8.9", not older.
        assert!(!ptx_supported(12090, "8.10"));
        // Garbage and unknown drivers are never supported.
        assert!(!ptx_supported(12040, "eight"));
        assert!(!ptx_supported(12040, ""));
        assert!(!ptx_supported(0, "6.0"));
    }

    #[test]
    fn every_embedded_module_runs_on_an_r450_driver_and_the_m40_ones_on_r384() {
        for m in crate::kernels::MODULES {
            assert!(
                ptx_supported(11000, m.ptx_isa),
                "{} {} needs ISA {}",
                m.name,
                m.target,
                m.ptx_isa
            );
            if m.min_cc <= (5, 2) {
                assert!(ptx_supported(9000, m.ptx_isa), "{} {}", m.name, m.target);
            }
        }
    }

    #[test]
    fn min_driver_for_isa_names_the_release() {
        assert_eq!(min_driver_for_isa("8.0"), Some((12000, "R525")));
        assert_eq!(min_driver_for_isa("8.5"), Some((12050, "R555")));
        assert_eq!(min_driver_for_isa("8.7"), Some((12080, "R570")));
        assert_eq!(min_driver_for_isa("7.0"), Some((11000, "R450")));
        assert_eq!(min_driver_for_isa("99.0"), None);
        assert_eq!(min_driver_for_isa("x"), None);
        assert_eq!(cuda_version_string(12040), "12.4");
        assert_eq!(cuda_version_string(13000), "13.0");
    }

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
        assert_eq!(driver_branch(10010), Some("R418"));
        assert_eq!(driver_branch(11040), Some("R470"));
        assert_eq!(driver_branch(7050), Some("R352"));
        assert_eq!(driver_branch(6050), None);
        assert_eq!(driver_label(6050), "CUDA 6.5");
        assert_eq!(driver_branch(OLDEST_DRIVER), Some(OLDEST_BRANCH));
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
