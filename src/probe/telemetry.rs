//! GPU telemetry through NVML (`libnvidia-ml.so.1`, installed with the NVIDIA driver): SM and
//! memory clocks, temperature, power, the power limit, clock-throttle reasons and the PCIe link.
//!
//! NVML is optional at run time. The library is opened with `dlopen` (through `libloading`) the
//! first time it is needed; when it is absent, or `nvmlInit` fails, or a device cannot be found,
//! every entry point returns an error that says why, and nothing panics. Each reading that the
//! device does not support is `None` on its own, so a GPU that reports clocks but not power
//! (common on older boards and in passthrough VMs) still gives clocks.
//!
//! Devices are opened by their UUID (`GPU-xxxxxxxx-…`, the same text CUDA and NVML print), with
//! the PCI bus id as a fallback, never by index: NVML does not see `CUDA_VISIBLE_DEVICES`, so
//! indices can disagree.
//!
//! Units: clocks in MHz, temperature in °C, power in W (NVML reports mW).
//!
//! [`summarize`] and [`throttle_reason_names`] are pure; the sampler ([`GpuTelemetry::start`])
//! samples on its own thread while a workload runs, and [`TelemetryRecorder::finish`] returns the
//! [`TelemetrySummary`] that goes into the report.

use serde::{Deserialize, Serialize};
use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Pure parts: throttle reasons and the summary.
// ---------------------------------------------------------------------------------------------

/// Bits of NVML's clock-throttle (since 12.2 "clocks event") reason mask, with the names used in
/// reports. `idle` and `applications_clocks_setting` are decoded but not reported as throttling
/// (see [`throttle_reason_names`]).
const REASON_BITS: [(u64, &str); 9] = [
    (0x1, "idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake"),
    (0x100, "display_clock_setting"),
];

/// Reasons that do not mean the clock was pulled down by the board: the GPU idling between
/// kernels, and clocks pinned by the operator (`nvidia-smi -ac`).
const NOT_THROTTLING: u64 = 0x1 | 0x2;

/// Names of the active throttle reasons in an NVML reason mask, in bit order, leaving out `idle`
/// and `applications_clocks_setting`. A bit this table does not know (from a newer driver) is
/// reported as `unknown_0x…` rather than dropped.
pub fn throttle_reason_names(mask: u64) -> Vec<String> {
    let mut names = Vec::new();
    let mut known = 0u64;
    for (bit, name) in REASON_BITS {
        known |= bit;
        if mask & bit != 0 && bit & NOT_THROTTLING == 0 {
            names.push(name.to_string());
        }
    }
    let mut unknown = mask & !known;
    while unknown != 0 {
        let bit = unknown & unknown.wrapping_neg();
        names.push(format!("unknown_{bit:#x}"));
        unknown &= !bit;
    }
    names
}

pub use crate::model::telemetry::{TelemetrySample, TelemetrySummary};
use crate::util::median;

/// Summarizes samples taken during a measurement. Fields no sample reported stay `None`;
/// `max_sm_clock` and `power_limit` (read once from the device) are carried through.
pub fn summarize(
    samples: &[TelemetrySample],
    max_sm_clock: Option<u32>,
    power_limit: Option<f64>,
) -> TelemetrySummary {
    let sm: Vec<u32> = samples.iter().filter_map(|s| s.sm_clock_mhz).collect();
    let mut reasons: Vec<String> = samples
        .iter()
        .flat_map(|s| s.throttle.iter().cloned())
        .collect();
    reasons.sort();
    reasons.dedup();
    let throttled = samples.iter().filter(|s| !s.throttle.is_empty()).count();
    TelemetrySummary {
        samples: samples.len(),
        sm_clock_mhz_median: median(sm.iter().map(|&v| f64::from(v)).collect()),
        sm_clock_mhz_min: sm.iter().copied().min(),
        max_sm_clock_mhz: max_sm_clock,
        mem_clock_mhz_median: median(
            samples
                .iter()
                .filter_map(|s| s.mem_clock_mhz.map(f64::from))
                .collect(),
        ),
        temperature_c_max: samples.iter().filter_map(|s| s.temperature_c).max(),
        power_w_median: median(samples.iter().filter_map(|s| s.power_w).collect()),
        power_limit_w: power_limit,
        throttle_reasons: reasons,
        throttled_fraction: if samples.is_empty() {
            0.0
        } else {
            throttled as f64 / samples.len() as f64
        },
    }
}

// ---------------------------------------------------------------------------------------------
// NVML, loaded at run time.
// ---------------------------------------------------------------------------------------------

/// `nvmlDevice_t`: an opaque pointer owned by NVML, valid until the last `nvmlShutdown`.
type Device = *mut c_void;
type Ret = c_int;
const NVML_SUCCESS: Ret = 0;
const NVML_CLOCK_SM: c_uint = 1;
const NVML_CLOCK_MEM: c_uint = 2;
const NVML_TEMPERATURE_GPU: c_uint = 0;
const NVML_ERROR_NOT_SUPPORTED: Ret = 3;
/// `NVML_ENCODER_QUERY_H264` of `nvmlEncoderType_t`.
const NVML_ENCODER_QUERY_H264: c_uint = 0;

type FnVoid = unsafe extern "C" fn() -> Ret;
type FnErrorString = unsafe extern "C" fn(Ret) -> *const c_char;
type FnHandle = unsafe extern "C" fn(*const c_char, *mut Device) -> Ret;
type FnClock = unsafe extern "C" fn(Device, c_uint, *mut c_uint) -> Ret;
type FnUint = unsafe extern "C" fn(Device, *mut c_uint) -> Ret;
type FnUlonglong = unsafe extern "C" fn(Device, *mut c_ulonglong) -> Ret;
type FnUint2 = unsafe extern "C" fn(Device, *mut c_uint, *mut c_uint) -> Ret;
type FnUint3 = unsafe extern "C" fn(Device, *mut c_uint, *mut c_uint, *mut c_uint) -> Ret;

/// The readings gpugate takes through NVML and the entry points that give each, preferred
/// first. Every one is optional: a driver whose NVML lacks all of a reading's entry points does
/// not give that reading ("not available on this driver"), which is never an error. All of them
/// are in R418's NVML (the oldest driver gpugate supports); the newest,
/// `nvmlDeviceGetCurrentClocksEventReasons` (R535), falls back to its old name. The encoder
/// readings are read once, for the inventory (`crate::probe::gpus`), not sampled.
pub const NVML_READINGS: &[(&str, &[&str])] = &[
    ("SM and memory clocks", &["nvmlDeviceGetClockInfo"]),
    ("maximum SM clock", &["nvmlDeviceGetMaxClockInfo"]),
    ("temperature", &["nvmlDeviceGetTemperature"]),
    ("power", &["nvmlDeviceGetPowerUsage"]),
    ("power limit", &["nvmlDeviceGetEnforcedPowerLimit"]),
    (
        "throttle reasons",
        &[
            "nvmlDeviceGetCurrentClocksEventReasons",
            "nvmlDeviceGetCurrentClocksThrottleReasons",
        ],
    ),
    (
        "PCIe link",
        &[
            "nvmlDeviceGetCurrPcieLinkGeneration",
            "nvmlDeviceGetCurrPcieLinkWidth",
            "nvmlDeviceGetMaxPcieLinkGeneration",
            "nvmlDeviceGetMaxPcieLinkWidth",
        ],
    ),
    ("encoder capacity", &["nvmlDeviceGetEncoderCapacity"]),
    ("encoder utilisation", &["nvmlDeviceGetEncoderUtilization"]),
    ("encoder sessions", &["nvmlDeviceGetEncoderStats"]),
];

/// The readings an NVML exporting what `has` finds cannot give, each as "name (entry point)".
/// (The PCIe link needs all four of its entry points; every other reading needs one of its.)
pub fn unavailable_readings(has: impl Fn(&str) -> bool) -> Vec<String> {
    NVML_READINGS
        .iter()
        .filter(|(name, syms)| {
            if *name == "PCIe link" {
                !syms.iter().all(|s| has(s))
            } else {
                !syms.iter().any(|s| has(s))
            }
        })
        .map(|(name, syms)| {
            let missing: Vec<&str> = syms.iter().copied().filter(|s| !has(s)).collect();
            format!("{name} ({})", missing.join(", "))
        })
        .collect()
}

/// The library and the entry points used. Only init, shutdown and one way to find a device are
/// required; every reading is optional so that an old driver missing one symbol still works.
struct Nvml {
    init: FnVoid,
    shutdown: FnVoid,
    error_string: Option<FnErrorString>,
    by_uuid: Option<FnHandle>,
    by_pci: Option<FnHandle>,
    clock: Option<FnClock>,
    max_clock: Option<FnClock>,
    temperature: Option<FnClock>,
    power: Option<FnUint>,
    power_limit: Option<FnUint>,
    throttle: Option<FnUlonglong>,
    pcie_gen: Option<FnUint>,
    pcie_width: Option<FnUint>,
    pcie_max_gen: Option<FnUint>,
    pcie_max_width: Option<FnUint>,
    encoder_capacity: Option<FnClock>,
    encoder_utilization: Option<FnUint2>,
    encoder_stats: Option<FnUint3>,
    /// The readings this NVML cannot give ([`unavailable_readings`]).
    unavailable: Vec<String>,
    /// Keeps the library mapped (for the life of the process: it is never unloaded).
    _lib: libloading::Library,
}

#[cfg(windows)]
const LIBRARY_NAMES: &[&str] = &["nvml.dll"];
#[cfg(not(windows))]
const LIBRARY_NAMES: &[&str] = &[
    "libnvidia-ml.so.1",
    "libnvidia-ml.so",
    // WSL2 keeps the driver's user-space libraries here, outside the ld.so cache.
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
];

/// Copies a symbol's function pointer out of the library, or None when it is not exported.
///
/// # Safety
/// `T` must be the symbol's true C signature.
unsafe fn symbol<T: Copy>(lib: &libloading::Library, name: &str) -> Option<T> {
    lib.get::<T>(name.as_bytes()).ok().map(|s| *s)
}

impl Nvml {
    fn load() -> Result<Nvml, String> {
        let mut errors = Vec::new();
        let mut found = None;
        for name in LIBRARY_NAMES {
            // SAFETY: loading NVML runs no initialisation code that needs arguments from us.
            match unsafe { libloading::Library::new(*name) } {
                Ok(lib) => {
                    found = Some(lib);
                    break;
                }
                // libloading's message is just "dlopen failed"; dlerror's text is its source.
                Err(e) => errors.push(match std::error::Error::source(&e) {
                    Some(why) => why.to_string(),
                    None => format!("{name}: {e}"),
                }),
            }
        }
        let Some(lib) = found else {
            return Err(format!(
                "NVML not available: libnvidia-ml.so.1 (installed with the NVIDIA driver) was not \
                 found; looked up by name through LD_LIBRARY_PATH, RUNPATH and the ld.so cache, \
                 then in /usr/lib/wsl/lib ({})",
                errors.join("; ")
            ));
        };
        // SAFETY: every type below is the signature declared in nvml.h for that symbol.
        unsafe {
            let init = symbol::<FnVoid>(&lib, "nvmlInit_v2").or_else(|| symbol(&lib, "nvmlInit"));
            let shutdown = symbol::<FnVoid>(&lib, "nvmlShutdown");
            let (Some(init), Some(shutdown)) = (init, shutdown) else {
                return Err(
                    "NVML not available: libnvidia-ml lacks nvmlInit_v2/nvmlShutdown".to_string(),
                );
            };
            let by_uuid = symbol(&lib, "nvmlDeviceGetHandleByUUID");
            let by_pci = symbol(&lib, "nvmlDeviceGetHandleByPciBusId_v2")
                .or_else(|| symbol(&lib, "nvmlDeviceGetHandleByPciBusId"));
            if by_uuid.is_none() && by_pci.is_none() {
                return Err(
                    "NVML not available: libnvidia-ml has no way to look a device up".to_string(),
                );
            }
            Ok(Nvml {
                init,
                shutdown,
                error_string: symbol(&lib, "nvmlErrorString"),
                by_uuid,
                by_pci,
                clock: symbol(&lib, "nvmlDeviceGetClockInfo"),
                max_clock: symbol(&lib, "nvmlDeviceGetMaxClockInfo"),
                temperature: symbol(&lib, "nvmlDeviceGetTemperature"),
                power: symbol(&lib, "nvmlDeviceGetPowerUsage"),
                power_limit: symbol(&lib, "nvmlDeviceGetEnforcedPowerLimit"),
                // Renamed "clocks event reasons" in CUDA 12.2's nvml.h; same function, same bits.
                throttle: symbol(&lib, "nvmlDeviceGetCurrentClocksEventReasons")
                    .or_else(|| symbol(&lib, "nvmlDeviceGetCurrentClocksThrottleReasons")),
                pcie_gen: symbol(&lib, "nvmlDeviceGetCurrPcieLinkGeneration"),
                pcie_width: symbol(&lib, "nvmlDeviceGetCurrPcieLinkWidth"),
                pcie_max_gen: symbol(&lib, "nvmlDeviceGetMaxPcieLinkGeneration"),
                pcie_max_width: symbol(&lib, "nvmlDeviceGetMaxPcieLinkWidth"),
                encoder_capacity: symbol(&lib, "nvmlDeviceGetEncoderCapacity"),
                encoder_utilization: symbol(&lib, "nvmlDeviceGetEncoderUtilization"),
                encoder_stats: symbol(&lib, "nvmlDeviceGetEncoderStats"),
                unavailable: unavailable_readings(|n| {
                    symbol::<unsafe extern "C" fn()>(&lib, n).is_some()
                }),
                _lib: lib,
            })
        }
    }

    fn describe(&self, ret: Ret) -> String {
        let text = self.error_string.and_then(|f| {
            // SAFETY: nvmlErrorString returns a static NUL-terminated string (or NULL).
            let p = unsafe { f(ret) };
            (!p.is_null()).then(|| {
                unsafe { std::ffi::CStr::from_ptr(p) }
                    .to_string_lossy()
                    .into_owned()
            })
        });
        match text {
            Some(t) => format!("{t} (NVML error {ret})"),
            None => format!("NVML error {ret}"),
        }
    }
}

/// The library, loaded once per process.
fn nvml() -> Result<&'static Nvml, String> {
    static NVML: OnceLock<Result<Nvml, String>> = OnceLock::new();
    NVML.get_or_init(|| {
        catch_unwind(Nvml::load)
            .unwrap_or_else(|_| Err("NVML not available: loading it panicked".to_string()))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// One `nvmlInit` … `nvmlShutdown` pair (NVML counts them, so sessions may overlap).
struct Session {
    nvml: &'static Nvml,
}

impl Session {
    fn new() -> Result<Session, String> {
        let nvml = nvml()?;
        // SAFETY: nvmlInit_v2 takes no arguments and may be called any number of times.
        let ret = unsafe { (nvml.init)() };
        if ret != NVML_SUCCESS {
            return Err(format!(
                "NVML not available: nvmlInit failed: {} (is the NVIDIA kernel driver loaded?)",
                nvml.describe(ret)
            ));
        }
        Ok(Session { nvml })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: matches the successful nvmlInit of this session.
        unsafe { (self.nvml.shutdown)() };
    }
}

/// Runs `f`, turning a panic into an error (a backstop: nothing here is expected to panic).
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(format!("{what} panicked")))
}

/// Whether NVML can be used here, or why not (library not found and where it was looked for,
/// init failed, …).
pub fn nvml_status() -> Result<(), String> {
    guarded("NVML status", || Session::new().map(|_| ()))
}

/// The PCIe link of a GPU: what it runs at now and the most it can run at in this slot.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcieLink {
    pub current_gen: u32,
    pub current_width: u32,
    /// The highest generation the GPU and the system can both run (NVML's "max link").
    pub max_gen: u32,
    /// The widest link the GPU and the slot can both run.
    pub max_width: u32,
}

/// What NVML says about a GPU's hardware video encoder (NVENC), read once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct EncoderReadings {
    /// `Some(false)` when NVML says the GPU has no H.264 encoder (NVML_ERROR_NOT_SUPPORTED, as
    /// on the A100, H100 and H200), `Some(true)` when it reports its capacity, `None` when it
    /// could not tell.
    pub supported: Option<bool>,
    /// H.264 encoder capacity left, % of the maximum.
    pub capacity_h264_percent: Option<u32>,
    pub utilization_percent: Option<u32>,
    pub sessions: Option<u32>,
    pub average_fps: Option<u32>,
    pub average_latency_us: Option<u32>,
    /// Why readings are missing, e.g. "not available on this driver (nvmlDeviceGetEncoderStats)"
    /// or "no encoder on this GPU (nvmlDeviceGetEncoderCapacity: Not Supported)".
    pub note: Option<String>,
}

/// An open NVML device. Readings may be taken from any thread (NVML is thread-safe).
pub struct GpuTelemetry {
    session: Session,
    device: Device,
}

// SAFETY: `device` is an NVML handle, valid while `session` keeps NVML initialised; NVML's
// functions are documented thread-safe, and the handle is never dereferenced here.
unsafe impl Send for GpuTelemetry {}
unsafe impl Sync for GpuTelemetry {}

impl std::fmt::Debug for GpuTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuTelemetry").finish_non_exhaustive()
    }
}

/// Opens a GPU by UUID (`GPU-…`), falling back to its PCI bus id (`0000:65:00.0`).
pub fn open(uuid: &str, pci_bus_id: &str) -> Result<GpuTelemetry, String> {
    guarded("NVML open", || {
        let session = Session::new()?;
        let nvml = session.nvml;
        let mut tried = Vec::new();
        for (key, lookup) in [(uuid, nvml.by_uuid), (pci_bus_id, nvml.by_pci)] {
            let (Some(lookup), false) = (lookup, key.is_empty()) else {
                continue;
            };
            let Ok(text) = CString::new(key) else {
                tried.push(format!("{key:?}: not a valid id"));
                continue;
            };
            let mut device: Device = std::ptr::null_mut();
            // SAFETY: a NUL-terminated id and a valid out-pointer.
            let ret = unsafe { lookup(text.as_ptr(), &mut device) };
            if ret == NVML_SUCCESS && !device.is_null() {
                return Ok(GpuTelemetry { session, device });
            }
            tried.push(format!("{key}: {}", nvml.describe(ret)));
        }
        Err(if tried.is_empty() {
            "NVML: no UUID or PCI bus id to look the GPU up by".to_string()
        } else {
            format!("NVML could not find the GPU ({})", tried.join("; "))
        })
    })
}

impl GpuTelemetry {
    fn read_uint(&self, f: Option<FnUint>) -> Option<u32> {
        let f = f?;
        let mut v: c_uint = 0;
        // SAFETY: a valid device handle and out-pointer.
        (unsafe { f(self.device, &mut v) } == NVML_SUCCESS).then_some(v)
    }

    fn read_typed(&self, f: Option<FnClock>, kind: c_uint) -> Option<u32> {
        let f = f?;
        let mut v: c_uint = 0;
        // SAFETY: a valid device handle, an enum value from nvml.h and an out-pointer.
        (unsafe { f(self.device, kind, &mut v) } == NVML_SUCCESS).then_some(v)
    }

    fn throttle_mask(&self) -> Option<u64> {
        let f = self.session.nvml.throttle?;
        let mut v: c_ulonglong = 0;
        // SAFETY: a valid device handle and out-pointer.
        (unsafe { f(self.device, &mut v) } == NVML_SUCCESS).then_some(v)
    }

    /// The PCIe link now and at most; None unless all four values can be read (NVML often
    /// cannot in VMs with passed-through GPUs). An idle GPU trains its link down to save power,
    /// so `current_*` under no load may be lower than `max_*` on a healthy machine.
    pub fn pcie_link(&self) -> Option<PcieLink> {
        let n = self.session.nvml;
        Some(PcieLink {
            current_gen: self.read_uint(n.pcie_gen)?,
            current_width: self.read_uint(n.pcie_width)?,
            max_gen: self.read_uint(n.pcie_max_gen)?,
            max_width: self.read_uint(n.pcie_max_width)?,
        })
    }

    /// The GPU's hardware video encoder as NVML sees it: whether there is one, its H.264
    /// capacity, utilisation and sessions. An entry point this driver's NVML lacks is "not
    /// available on this driver"; NOT_SUPPORTED means the GPU has no encoder. Never an error.
    pub fn encoder(&self) -> EncoderReadings {
        let n = self.session.nvml;
        let mut r = EncoderReadings::default();
        let mut missing = Vec::new();
        let mut failed = Vec::new();
        let mut unsupported = false;
        let mut outcome = |name: &str, ret: Option<Ret>| -> bool {
            match ret {
                None => missing.push(name.to_string()),
                Some(NVML_SUCCESS) => return true,
                Some(NVML_ERROR_NOT_SUPPORTED) => unsupported = true,
                Some(e) => failed.push(format!("{name}: {}", n.describe(e))),
            }
            false
        };
        let (mut a, mut b, mut c): (c_uint, c_uint, c_uint) = (0, 0, 0);
        // SAFETY (all three): a valid device handle, an nvml.h enum value and out-pointers.
        let ret = n
            .encoder_capacity
            .map(|f| unsafe { f(self.device, NVML_ENCODER_QUERY_H264, &mut a) });
        if outcome("nvmlDeviceGetEncoderCapacity", ret) {
            r.supported = Some(true);
            r.capacity_h264_percent = Some(a);
        } else if ret == Some(NVML_ERROR_NOT_SUPPORTED) {
            r.supported = Some(false);
        }
        let ret = n
            .encoder_utilization
            .map(|f| unsafe { f(self.device, &mut a, &mut b) });
        if outcome("nvmlDeviceGetEncoderUtilization", ret) {
            r.utilization_percent = Some(a);
        }
        let ret = n
            .encoder_stats
            .map(|f| unsafe { f(self.device, &mut a, &mut b, &mut c) });
        if outcome("nvmlDeviceGetEncoderStats", ret) {
            r.sessions = Some(a);
            r.average_fps = Some(b);
            r.average_latency_us = Some(c);
        }
        let mut notes = Vec::new();
        if r.supported == Some(false) {
            notes.push("the driver reports no encoder on this GPU (Not Supported)".to_string());
        } else if unsupported {
            notes.push("some encoder readings are not supported on this GPU".to_string());
        }
        if !missing.is_empty() {
            notes.push(format!(
                "not available on this driver ({})",
                missing.join(", ")
            ));
        }
        notes.extend(failed);
        r.note = (!notes.is_empty()).then(|| notes.join("; "));
        r
    }

    /// The readings this driver's NVML cannot give, each as "name (missing entry points)":
    /// not available on this driver, which is not an error (empty on R418 and newer).
    pub fn unavailable_readings(&self) -> &[String] {
        &self.session.nvml.unavailable
    }

    /// The highest SM clock the device can run, MHz.
    pub fn max_sm_clock_mhz(&self) -> Option<u32> {
        self.read_typed(self.session.nvml.max_clock, NVML_CLOCK_SM)
    }

    /// The power limit the board enforces now, W.
    pub fn power_limit_w(&self) -> Option<f64> {
        self.read_uint(self.session.nvml.power_limit)
            .map(|mw| f64::from(mw) / 1000.0)
    }

    /// Reads clocks, temperature, power and throttle reasons now. Power is NVML's power
    /// usage, which on recent GPUs is an average over the last second or so.
    pub fn sample(&self) -> TelemetrySample {
        let n = self.session.nvml;
        TelemetrySample {
            sm_clock_mhz: self.read_typed(n.clock, NVML_CLOCK_SM),
            mem_clock_mhz: self.read_typed(n.clock, NVML_CLOCK_MEM),
            temperature_c: self.read_typed(n.temperature, NVML_TEMPERATURE_GPU),
            power_w: self.read_uint(n.power).map(|mw| f64::from(mw) / 1000.0),
            throttle: self
                .throttle_mask()
                .map(throttle_reason_names)
                .unwrap_or_default(),
        }
    }

    /// Samples every `period` on a background thread (the first sample at once) until
    /// [`TelemetryRecorder::finish`]. Dropping the recorder also stops the thread.
    pub fn start(self: Arc<Self>, period: Duration) -> TelemetryRecorder {
        let (stop, stopped) = mpsc::channel::<()>();
        let device = Arc::clone(&self);
        let thread = std::thread::Builder::new()
            .name("gpugate-telemetry".into())
            .spawn(move || {
                let mut samples = Vec::new();
                loop {
                    samples.push(device.sample());
                    match stopped.recv_timeout(period) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                }
                samples
            })
            .ok();
        TelemetryRecorder {
            device: self,
            stop: Some(stop),
            thread,
        }
    }
}

/// A running background sampler; see [`GpuTelemetry::start`].
pub struct TelemetryRecorder {
    device: Arc<GpuTelemetry>,
    stop: Option<mpsc::Sender<()>>,
    /// None when the thread could not be spawned (the summary then has no samples).
    thread: Option<JoinHandle<Vec<TelemetrySample>>>,
}

impl TelemetryRecorder {
    /// Stops the sampler, waits for it and summarizes what it saw.
    pub fn finish(mut self) -> TelemetrySummary {
        drop(self.stop.take());
        let samples = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        summarize(
            &samples,
            self.device.max_sm_clock_mhz(),
            self.device.power_limit_w(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(sm: Option<u32>, throttle: &[&str]) -> TelemetrySample {
        TelemetrySample {
            sm_clock_mhz: sm,
            throttle: throttle.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn reason_names_decode_every_bit() {
        assert!(throttle_reason_names(0).is_empty());
        // Idle and application clocks are not throttling.
        assert!(throttle_reason_names(0x1 | 0x2).is_empty());
        assert_eq!(throttle_reason_names(0x4), ["sw_power_cap"]);
        assert_eq!(
            throttle_reason_names(0x1 | 0x8 | 0x40),
            ["hw_slowdown", "hw_thermal_slowdown"]
        );
        assert_eq!(
            throttle_reason_names(0x1ff),
            [
                "sw_power_cap",
                "hw_slowdown",
                "sync_boost",
                "sw_thermal_slowdown",
                "hw_thermal_slowdown",
                "hw_power_brake",
                "display_clock_setting",
            ]
        );
        assert_eq!(
            throttle_reason_names(0x20 | 0x400 | (1 << 63)),
            [
                "sw_thermal_slowdown",
                "unknown_0x400",
                "unknown_0x8000000000000000"
            ]
        );
    }

    #[test]
    fn summary_of_nothing() {
        let sum = summarize(&[], None, None);
        assert_eq!(
            sum,
            TelemetrySummary {
                samples: 0,
                sm_clock_mhz_median: None,
                sm_clock_mhz_min: None,
                max_sm_clock_mhz: None,
                mem_clock_mhz_median: None,
                temperature_c_max: None,
                power_w_median: None,
                power_limit_w: None,
                throttle_reasons: vec![],
                throttled_fraction: 0.0,
            }
        );
        // Carried through even with no samples.
        let sum = summarize(&[], Some(1114), Some(250.0));
        assert_eq!(sum.max_sm_clock_mhz, Some(1114));
        assert_eq!(sum.power_limit_w, Some(250.0));
    }

    #[test]
    fn summary_of_samples_without_readings() {
        let samples = vec![TelemetrySample::default(); 3];
        let sum = summarize(&samples, Some(1980), None);
        assert_eq!(sum.samples, 3);
        assert_eq!(sum.sm_clock_mhz_median, None);
        assert_eq!(sum.sm_clock_mhz_min, None);
        assert_eq!(sum.mem_clock_mhz_median, None);
        assert_eq!(sum.temperature_c_max, None);
        assert_eq!(sum.power_w_median, None);
        assert_eq!(sum.throttled_fraction, 0.0);
        assert_eq!(sum.max_sm_clock_mhz, Some(1980));
    }

    #[test]
    fn summary_medians_extremes_and_missing_fields() {
        let samples = vec![
            TelemetrySample {
                sm_clock_mhz: Some(1000),
                mem_clock_mhz: Some(3000),
                temperature_c: Some(60),
                power_w: Some(200.0),
                throttle: vec![],
            },
            TelemetrySample {
                sm_clock_mhz: Some(900),
                mem_clock_mhz: None,
                temperature_c: Some(71),
                power_w: Some(250.5),
                throttle: vec![],
            },
            TelemetrySample {
                sm_clock_mhz: None,
                mem_clock_mhz: Some(3004),
                temperature_c: None,
                power_w: None,
                throttle: vec![],
            },
            TelemetrySample {
                sm_clock_mhz: Some(1100),
                mem_clock_mhz: Some(3002),
                temperature_c: Some(65),
                power_w: Some(240.0),
                throttle: vec![],
            },
        ];
        let sum = summarize(&samples, Some(1114), Some(250.0));
        assert_eq!(sum.samples, 4);
        // Odd count of SM readings: the middle one.
        assert_eq!(sum.sm_clock_mhz_median, Some(1000.0));
        assert_eq!(sum.sm_clock_mhz_min, Some(900));
        assert_eq!(sum.mem_clock_mhz_median, Some(3002.0));
        assert_eq!(sum.temperature_c_max, Some(71));
        assert_eq!(sum.power_w_median, Some(240.0));
        assert_eq!(sum.power_limit_w, Some(250.0));
        assert_eq!(sum.max_sm_clock_mhz, Some(1114));

        // Even count: the mean of the two middle values, whatever the order.
        let even = [
            s(Some(1400), &[]),
            s(Some(1000), &[]),
            s(Some(1300), &[]),
            s(Some(1100), &[]),
        ];
        let sum = summarize(&even, None, None);
        assert_eq!(sum.sm_clock_mhz_median, Some(1200.0));
        assert_eq!(sum.sm_clock_mhz_min, Some(1000));
    }

    #[test]
    fn median_ignores_nan() {
        assert_eq!(median(vec![f64::NAN, 3.0, 1.0]), Some(2.0));
        assert_eq!(median(vec![f64::NAN]), None);
        assert_eq!(median(vec![5.0]), Some(5.0));
    }

    #[test]
    fn summary_unions_reasons_and_counts_throttled_samples() {
        let samples = [
            s(Some(1000), &["sw_power_cap"]),
            s(Some(1000), &[]),
            s(Some(900), &["hw_thermal_slowdown", "sw_power_cap"]),
            s(Some(1000), &[]),
            s(Some(950), &["hw_slowdown"]),
        ];
        let sum = summarize(&samples, None, None);
        assert_eq!(
            sum.throttle_reasons,
            ["hw_slowdown", "hw_thermal_slowdown", "sw_power_cap"]
        );
        assert!((sum.throttled_fraction - 0.6).abs() < 1e-12);

        let all = [s(None, &["sync_boost"]), s(None, &["sync_boost"])];
        let sum = summarize(&all, None, None);
        assert_eq!(sum.throttle_reasons, ["sync_boost"]);
        assert_eq!(sum.throttled_fraction, 1.0);
    }

    #[test]
    fn summary_round_trips_through_json() {
        let sum = summarize(&[s(Some(1000), &["sw_power_cap"])], Some(1114), Some(250.0));
        let text = serde_json::to_string(&sum).unwrap();
        assert_eq!(
            serde_json::from_str::<TelemetrySummary>(&text).unwrap(),
            sum
        );
        // No samples: still valid JSON (no NaN).
        let empty = serde_json::to_string(&summarize(&[], None, None)).unwrap();
        assert!(empty.contains("\"throttled_fraction\":0.0"), "{empty}");
    }

    #[test]
    fn readings_an_old_nvml_lacks_are_named_not_errors() {
        assert!(unavailable_readings(|_| true).is_empty());
        // Before R535: the old name of the throttle reasons is used.
        let r470 = |n: &str| n != "nvmlDeviceGetCurrentClocksEventReasons";
        assert!(unavailable_readings(r470).is_empty());
        let neither = |n: &str| !n.starts_with("nvmlDeviceGetCurrentClocks");
        assert_eq!(
            unavailable_readings(neither),
            ["throttle reasons (nvmlDeviceGetCurrentClocksEventReasons, \
              nvmlDeviceGetCurrentClocksThrottleReasons)"]
        );
        let no_width = |n: &str| n != "nvmlDeviceGetMaxPcieLinkWidth";
        assert_eq!(
            unavailable_readings(no_width),
            ["PCIe link (nvmlDeviceGetMaxPcieLinkWidth)"]
        );
        assert_eq!(unavailable_readings(|_| false).len(), NVML_READINGS.len());
    }

    /// On this machine, whatever it has: never panics; without NVML both calls say why.
    #[test]
    fn status_and_open_on_this_machine() {
        match nvml_status() {
            Err(reason) => {
                assert!(
                    reason.contains("libnvidia-ml") || reason.contains("nvmlInit"),
                    "{reason}"
                );
                let err = open("GPU-00000000-0000-0000-0000-000000000000", "0000:00:00.0")
                    .expect_err("no NVML, no device");
                assert!(err.contains("NVML"), "{err}");
            }
            Ok(()) => {
                let err =
                    open("GPU-00000000-0000-0000-0000-000000000000", "").expect_err("no such GPU");
                assert!(err.contains("could not find"), "{err}");
                assert!(open("", "").is_err());
            }
        }
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU and driver, or the simulator (run by cuda::tests::gpu_tests_on_the_simulator)"]
    fn samples_device_0() {
        let inv = crate::probe::gpus();
        let d = inv.devices.first().expect("a GPU");
        let t = open(&d.uuid, &d.pci_bus_id).expect("NVML opens GPU 0");
        let sample = t.sample();
        assert!(sample.sm_clock_mhz.is_some_and(|c| c > 0), "{sample:?}");
        assert!(t.max_sm_clock_mhz().is_some_and(|c| c > 0));
        // Opening by PCI bus id alone works too.
        let by_pci = open("", &d.pci_bus_id).expect("NVML opens GPU 0 by PCI bus id");
        assert!(by_pci.sample().sm_clock_mhz.is_some());
        // Every datacenter GPU gpugate gates reports these (the simulator's models do too).
        assert!(
            sample.temperature_c.is_some_and(|c| c > 0 && c < 120),
            "{sample:?}"
        );
        assert!(sample.power_w.is_some_and(|w| w > 0.0), "{sample:?}");
        assert!(t.power_limit_w().is_some_and(|w| w > 0.0));
        let link = t.pcie_link().expect("the PCIe link");
        assert!(
            link.current_gen >= 1 && link.current_gen <= link.max_gen,
            "{link:?}"
        );
        assert!(
            link.current_width >= 1 && link.current_width <= link.max_width,
            "{link:?}"
        );
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU and driver, or the simulator (run by cuda::tests::gpu_tests_on_the_simulator)"]
    fn recorder_collects_samples() {
        let inv = crate::probe::gpus();
        let d = inv.devices.first().expect("a GPU");
        let t = Arc::new(open(&d.uuid, &d.pci_bus_id).expect("NVML opens GPU 0"));
        let rec = t.start(Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(200));
        let sum = rec.finish();
        assert!(sum.samples >= 2, "{sum:?}");
        assert!(sum.sm_clock_mhz_median.is_some(), "{sum:?}");
    }
}
