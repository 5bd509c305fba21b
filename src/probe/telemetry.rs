//! GPU telemetry through NVML (`libnvidia-ml.so.1`, installed with the NVIDIA driver): SM and
//! memory clocks, temperature, power, the power limit, clock-throttle reasons and the PCIe link.
//!
//! NVML is optional at run time. The library is opened through the `nvml-wrapper` crate (which
//! `dlopen`s it) the first time it is needed, and stays initialised for the life of the
//! process; when it is absent, or `nvmlInit` fails, or a device cannot be found, every entry
//! point returns a [`TelemetryError`] that says why, and nothing panics. Each reading that the
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
//! [`TelemetrySummary`] that goes into the report with the timed samples behind it.

use nvml_wrapper::enum_wrappers::device::{Clock, EncoderType, TemperatureSensor};
use nvml_wrapper::error::{nvml_sym, nvml_try, NvmlError};
use nvml_wrapper::{Device, Nvml};
use nvml_wrapper_sys::bindings::NvmlLib;
use serde::{Deserialize, Serialize};
use std::ffi::{CString, OsStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

pub use crate::model::telemetry::{TelemetryPoint, TelemetrySample, TelemetrySummary};
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
// NVML, loaded at run time through nvml-wrapper.
// ---------------------------------------------------------------------------------------------

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

/// Whether an NVML library exports each entry point [`NVML_READINGS`] names. nvml-wrapper's sys
/// layer (`NvmlLib`) looks every symbol up when the library is loaded and keeps the ones it did
/// not find as errors, so this asks it rather than `dlsym` again.
macro_rules! exports {
    ($($sym:ident),* $(,)?) => {
        const EXPORTS: &[(&str, fn(&NvmlLib) -> bool)] =
            &[$((stringify!($sym), |lib: &NvmlLib| lib.$sym.is_ok())),*];
    };
}

exports!(
    nvmlDeviceGetClockInfo,
    nvmlDeviceGetMaxClockInfo,
    nvmlDeviceGetTemperature,
    nvmlDeviceGetPowerUsage,
    nvmlDeviceGetEnforcedPowerLimit,
    nvmlDeviceGetCurrentClocksEventReasons,
    nvmlDeviceGetCurrentClocksThrottleReasons,
    nvmlDeviceGetCurrPcieLinkGeneration,
    nvmlDeviceGetCurrPcieLinkWidth,
    nvmlDeviceGetMaxPcieLinkGeneration,
    nvmlDeviceGetMaxPcieLinkWidth,
    nvmlDeviceGetEncoderCapacity,
    nvmlDeviceGetEncoderUtilization,
    nvmlDeviceGetEncoderStats,
);

fn exported(lib: &NvmlLib, name: &str) -> bool {
    EXPORTS.iter().any(|(n, has)| *n == name && has(lib))
}

/// Why NVML telemetry cannot be had. Each is "telemetry not sampled" with its reason, never a
/// failed run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelemetryError {
    /// No NVML library could be loaded under any of its names; `tried` holds each `dlopen`
    /// error (which names the file).
    #[error(
        "NVML not available: libnvidia-ml.so.1 (installed with the NVIDIA driver) was not \
         found; looked up by name through LD_LIBRARY_PATH, RUNPATH and the ld.so cache, then in \
         /usr/lib/wsl/lib ({})",
        tried.join("; ")
    )]
    LibraryNotFound { tried: Vec<String> },
    /// The library loaded but lacks an entry point NVML cannot be used without.
    #[error("NVML not available: {library} lacks {entry_point}")]
    MissingEntryPoint {
        library: String,
        entry_point: &'static str,
    },
    /// `nvmlInit` returned an error.
    #[error("NVML not available: nvmlInit failed: {reason} (is the NVIDIA kernel driver loaded?)")]
    InitFailed { reason: String },
    /// Neither a UUID nor a PCI bus id was given.
    #[error("NVML: no UUID or PCI bus id to look the GPU up by")]
    NoDeviceId,
    /// NVML found no device by the UUID nor by the PCI bus id; `tried` is "id: why" for each.
    #[error("NVML could not find the GPU ({})", tried.join("; "))]
    DeviceNotFound { tried: Vec<String> },
    /// A backstop: something in NVML or here panicked.
    #[error("{0} panicked")]
    Panicked(&'static str),
}

#[cfg(windows)]
const LIBRARY_NAMES: &[&str] = &["nvml.dll"];
/// The names the library is looked for under, in order: the driver's versioned name (the one
/// every driver ships), the development link, and WSL2's location of the driver's libraries
/// (outside the ld.so cache).
#[cfg(not(windows))]
const LIBRARY_NAMES: &[&str] = &[
    "libnvidia-ml.so.1",
    "libnvidia-ml.so",
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
];

/// Loads and initialises NVML from the first of `names` that `dlopen` finds.
fn load(names: &[&str]) -> Result<Nvml, TelemetryError> {
    let mut tried = Vec::new();
    for name in names {
        match Nvml::builder().lib_path(OsStr::new(name)).init() {
            Ok(nvml) => return Ok(nvml),
            // The library is not there under this name (libloading's message is dlerror's).
            Err(NvmlError::LibloadingError(e)) => tried.push(e.to_string()),
            // nvml-wrapper initialises through nvmlInit_v2 only, and has no constructor to
            // fall back to the plain nvmlInit with. Every NVML since R319 (CUDA 5.5) exports
            // nvmlInit_v2, far older than R418, the oldest driver gpugate supports.
            Err(NvmlError::FailedToLoadSymbol(_)) => {
                return Err(TelemetryError::MissingEntryPoint {
                    library: (*name).to_string(),
                    entry_point: "nvmlInit_v2",
                })
            }
            Err(e) => {
                return Err(TelemetryError::InitFailed {
                    reason: e.to_string(),
                })
            }
        }
    }
    Err(TelemetryError::LibraryNotFound { tried })
}

/// NVML, loaded and initialised once per process and never shut down (the process's exit
/// releases it), or why it cannot be used. Keeping it initialised also spares each GPU's
/// telemetry an nvmlInit, which can take seconds on GPUs without persistence mode.
fn nvml() -> Result<&'static Nvml, TelemetryError> {
    static NVML: OnceLock<Result<Nvml, TelemetryError>> = OnceLock::new();
    NVML.get_or_init(|| {
        catch_unwind(|| load(LIBRARY_NAMES))
            .unwrap_or(Err(TelemetryError::Panicked("loading NVML")))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Runs `f`, turning a panic into an error (a backstop: nothing here is expected to panic).
fn guarded<T>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, TelemetryError>,
) -> Result<T, TelemetryError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(Err(TelemetryError::Panicked(what)))
}

/// Whether NVML can be used here, or why not (library not found and where it was looked for,
/// init failed, …).
pub fn nvml_status() -> Result<(), TelemetryError> {
    guarded("NVML status", || nvml().map(|_| ()))
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
    device: Device<'static>,
    /// The readings this NVML cannot give ([`unavailable_readings`]).
    unavailable: Vec<String>,
}

impl std::fmt::Debug for GpuTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuTelemetry").finish_non_exhaustive()
    }
}

/// A device by its PCI bus id: nvml-wrapper's `device_by_pci_bus_id` calls
/// `nvmlDeviceGetHandleByPciBusId_v2` only; an NVML without it gets the plain name, called
/// through nvml-wrapper's sys layer (nvml-wrapper-sys, `legacy-functions`).
fn by_pci_bus_id(nvml: &'static Nvml, id: &str) -> Result<Device<'static>, NvmlError> {
    match nvml.device_by_pci_bus_id(id) {
        Err(NvmlError::FailedToLoadSymbol(_)) => {
            let lookup = nvml_sym(nvml.lib().nvmlDeviceGetHandleByPciBusId.as_ref())?;
            let id = CString::new(id)?;
            let mut handle = std::ptr::null_mut();
            // SAFETY: a NUL-terminated id and a valid out-pointer, as nvml.h declares.
            nvml_try(unsafe { lookup(id.as_ptr(), &mut handle) })?;
            // SAFETY: a handle NVML just gave, valid while NVML stays initialised (always).
            Ok(unsafe { Device::new(handle, nvml) })
        }
        other => other,
    }
}

/// A way to look a GPU up by an id.
type Lookup = fn(&'static Nvml, &str) -> Result<Device<'static>, NvmlError>;

/// What NVML said when looking a GPU up, for the message.
fn lookup_failure(e: &NvmlError) -> String {
    match e {
        NvmlError::NotFound => "NVML knows no GPU by this id (Not Found)".to_string(),
        other => other.to_string(),
    }
}

/// Opens a GPU by UUID (`GPU-…`), falling back to its PCI bus id (`0000:65:00.0`).
pub fn open(uuid: &str, pci_bus_id: &str) -> Result<GpuTelemetry, TelemetryError> {
    guarded("NVML open", || {
        let nvml = nvml()?;
        if uuid.is_empty() && pci_bus_id.is_empty() {
            return Err(TelemetryError::NoDeviceId);
        }
        let lookups: [(&str, Lookup); 2] = [
            (uuid, |nvml, id| nvml.device_by_uuid(id)),
            (pci_bus_id, by_pci_bus_id),
        ];
        let mut tried = Vec::new();
        for (id, lookup) in lookups.into_iter().filter(|(id, _)| !id.is_empty()) {
            match lookup(nvml, id) {
                Ok(device) => {
                    let unavailable = unavailable_readings(|n| exported(nvml.lib(), n));
                    return Ok(GpuTelemetry {
                        device,
                        unavailable,
                    });
                }
                Err(e) => tried.push(format!("{id}: {}", lookup_failure(&e))),
            }
        }
        Err(TelemetryError::DeviceNotFound { tried })
    })
}

/// The outcomes of the encoder queries, for the note that says why readings are missing.
#[derive(Default)]
struct Outcomes {
    /// Entry points this driver's NVML does not export.
    missing: Vec<&'static str>,
    /// Some query said NOT_SUPPORTED.
    unsupported: bool,
    /// "entry point: error" of the queries that failed otherwise.
    failed: Vec<String>,
}

impl Outcomes {
    fn take<T>(&mut self, name: &'static str, r: Result<T, NvmlError>) -> Option<T> {
        match r {
            Ok(v) => return Some(v),
            Err(NvmlError::FailedToLoadSymbol(_)) => self.missing.push(name),
            Err(NvmlError::NotSupported) => self.unsupported = true,
            Err(e) => self.failed.push(format!("{name}: {e}")),
        }
        None
    }
}

impl GpuTelemetry {
    /// The clock-throttle reason mask. Through nvml-wrapper's sys layer: its
    /// `current_throttle_reasons` calls only the pre-R535 name and drops the bits its flags do
    /// not know, where gpugate prefers the R535 name and names unknown bits.
    fn throttle_mask(&self) -> Option<u64> {
        let lib = self.device.nvml().lib();
        // Renamed "clocks event reasons" in CUDA 12.2's nvml.h; same function, same bits.
        let read = lib
            .nvmlDeviceGetCurrentClocksEventReasons
            .as_ref()
            .or(lib.nvmlDeviceGetCurrentClocksThrottleReasons.as_ref())
            .ok()?;
        let mut mask = 0;
        // SAFETY: the handle of an open device (NVML stays initialised) and an out-pointer.
        nvml_try(unsafe { read(self.device.handle(), &mut mask) }).ok()?;
        Some(mask)
    }

    /// The PCIe link now and at most; None unless all four values can be read (NVML often
    /// cannot in VMs with passed-through GPUs). An idle GPU trains its link down to save power,
    /// so `current_*` under no load may be lower than `max_*` on a healthy machine.
    pub fn pcie_link(&self) -> Option<PcieLink> {
        let d = &self.device;
        Some(PcieLink {
            current_gen: d.current_pcie_link_gen().ok()?,
            current_width: d.current_pcie_link_width().ok()?,
            max_gen: d.max_pcie_link_gen().ok()?,
            max_width: d.max_pcie_link_width().ok()?,
        })
    }

    /// The GPU's hardware video encoder as NVML sees it: whether there is one, its H.264
    /// capacity, utilisation and sessions. An entry point this driver's NVML lacks is "not
    /// available on this driver"; NOT_SUPPORTED means the GPU has no encoder. Never an error.
    pub fn encoder(&self) -> EncoderReadings {
        let d = &self.device;
        let mut r = EncoderReadings::default();
        let mut o = Outcomes::default();
        let capacity = d.encoder_capacity(EncoderType::H264);
        r.supported = match &capacity {
            Ok(_) => Some(true),
            Err(NvmlError::NotSupported) => Some(false),
            Err(_) => None,
        };
        r.capacity_h264_percent = o.take("nvmlDeviceGetEncoderCapacity", capacity);
        let utilization = o.take("nvmlDeviceGetEncoderUtilization", d.encoder_utilization());
        r.utilization_percent = utilization.map(|u| u.utilization);
        if let Some(s) = o.take("nvmlDeviceGetEncoderStats", d.encoder_stats()) {
            r.sessions = Some(s.session_count);
            r.average_fps = Some(s.average_fps);
            r.average_latency_us = Some(s.average_latency);
        }
        let mut notes = Vec::new();
        if r.supported == Some(false) {
            notes.push("the driver reports no encoder on this GPU (Not Supported)".to_string());
        } else if o.unsupported {
            notes.push("some encoder readings are not supported on this GPU".to_string());
        }
        if !o.missing.is_empty() {
            notes.push(format!(
                "not available on this driver ({})",
                o.missing.join(", ")
            ));
        }
        notes.extend(o.failed);
        r.note = (!notes.is_empty()).then(|| notes.join("; "));
        r
    }

    /// The NVML device, for the other NVML readings of `probe` (`probe::health`).
    pub(crate) fn device(&self) -> &Device<'static> {
        &self.device
    }

    /// The readings this driver's NVML cannot give, each as "name (missing entry points)":
    /// not available on this driver, which is not an error (empty on R418 and newer).
    pub fn unavailable_readings(&self) -> &[String] {
        &self.unavailable
    }

    /// The highest SM clock the device can run, MHz.
    pub fn max_sm_clock_mhz(&self) -> Option<u32> {
        self.device.max_clock_info(Clock::SM).ok()
    }

    /// The power limit the board enforces now, W.
    pub fn power_limit_w(&self) -> Option<f64> {
        let mw = self.device.enforced_power_limit().ok()?;
        Some(f64::from(mw) / 1000.0)
    }

    /// Reads clocks, temperature, power and throttle reasons now. Power is NVML's power
    /// usage, which on recent GPUs is an average over the last second or so.
    pub fn sample(&self) -> TelemetrySample {
        let d = &self.device;
        TelemetrySample {
            sm_clock_mhz: d.clock_info(Clock::SM).ok(),
            mem_clock_mhz: d.clock_info(Clock::Memory).ok(),
            temperature_c: d.temperature(TemperatureSensor::Gpu).ok(),
            power_w: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
            throttle: self
                .throttle_mask()
                .map(throttle_reason_names)
                .unwrap_or_default(),
        }
    }

    /// Samples every `period` on a background thread (the first sample at once) until
    /// [`TelemetryRecorder::finish`], timing each sample from `epoch` (the start of the run).
    /// Dropping the recorder also stops the thread.
    pub fn start(self: Arc<Self>, period: Duration, epoch: Instant) -> TelemetryRecorder {
        let (stop, stopped) = mpsc::channel::<()>();
        let device = Arc::clone(&self);
        let thread = std::thread::Builder::new()
            .name("gpugate-telemetry".into())
            .spawn(move || {
                let mut trace = Vec::new();
                loop {
                    let at_s = epoch.elapsed().as_secs_f64();
                    let sample = device.sample();
                    trace.push(TelemetryPoint { at_s, sample });
                    match stopped.recv_timeout(period) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => break,
                    }
                }
                trace
            })
            .ok();
        TelemetryRecorder {
            device: self,
            stop: Some(stop),
            thread,
        }
    }
}

/// What a recorder saw during one measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The summary that goes into the result.
    pub summary: TelemetrySummary,
    /// Every sample behind it, in the order taken, timed from the start of the run.
    pub trace: Vec<TelemetryPoint>,
}

/// A running background sampler; see [`GpuTelemetry::start`].
pub struct TelemetryRecorder {
    device: Arc<GpuTelemetry>,
    stop: Option<mpsc::Sender<()>>,
    /// None when the thread could not be spawned (the summary then has no samples).
    thread: Option<JoinHandle<Vec<TelemetryPoint>>>,
}

impl TelemetryRecorder {
    /// Stops the sampler, waits for it and summarizes what it saw.
    pub fn finish(mut self) -> Recording {
        drop(self.stop.take());
        let trace = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let samples: Vec<TelemetrySample> = trace.iter().map(|p| p.sample.clone()).collect();
        Recording {
            summary: summarize(
                &samples,
                self.device.max_sm_clock_mhz(),
                self.device.power_limit_w(),
            ),
            trace,
        }
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

    /// Every entry point a reading names is one whose presence is asked of the library.
    #[test]
    fn every_reading_entry_point_is_looked_up() {
        for (reading, syms) in NVML_READINGS {
            for sym in *syms {
                assert!(
                    EXPORTS.iter().any(|(n, _)| n == sym),
                    "{reading}: {sym} is never looked up"
                );
            }
        }
    }

    /// An entry point the driver's NVML lacks is "not available on this driver", NOT_SUPPORTED
    /// is the GPU's answer, anything else a failure: none of them an error of the caller's.
    #[test]
    fn encoder_outcomes_tell_missing_from_unsupported_from_failed() {
        let mut o = Outcomes::default();
        assert_eq!(o.take("a", Ok(7)), Some(7));
        let missing: Result<u32, _> = Err(NvmlError::FailedToLoadSymbol("undefined".into()));
        assert_eq!(o.take("nvmlDeviceGetEncoderStats", missing), None);
        assert!(!o.unsupported && o.failed.is_empty());
        assert_eq!(o.take::<u32>("b", Err(NvmlError::NotSupported)), None);
        assert!(o.unsupported);
        assert_eq!(o.take::<u32>("c", Err(NvmlError::Unknown)), None);
        assert_eq!(o.missing, ["nvmlDeviceGetEncoderStats"]);
        assert_eq!(o.failed.len(), 1);
        assert!(o.failed[0].starts_with("c: "), "{:?}", o.failed);
    }

    /// A library found under none of the names: every dlopen error is kept, and nothing panics.
    #[test]
    fn no_library_is_library_not_found() {
        let names = [
            "libgpugate-no-such-nvml.so.1",
            "/nonexistent/libnvidia-ml.so.1",
        ];
        match load(&names) {
            Err(TelemetryError::LibraryNotFound { tried }) => {
                assert_eq!(tried.len(), 2, "{tried:?}");
                assert!(
                    tried[0].contains("libgpugate-no-such-nvml.so.1"),
                    "{tried:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// A library that is not NVML (here the C library) lacks nvmlInit_v2: named, not a panic.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_library_without_nvml_init_is_named() {
        match load(&["libc.so.6"]) {
            Err(TelemetryError::MissingEntryPoint {
                library,
                entry_point,
            }) => assert_eq!(
                (library.as_str(), entry_point),
                ("libc.so.6", "nvmlInit_v2")
            ),
            other => panic!("{other:?}"),
        }
    }

    /// On this machine, whatever it has: never panics; without NVML both calls say why.
    #[test]
    fn status_and_open_on_this_machine() {
        match nvml_status() {
            Err(reason) => {
                assert!(
                    matches!(
                        reason,
                        TelemetryError::LibraryNotFound { .. } | TelemetryError::InitFailed { .. }
                    ),
                    "{reason:?}"
                );
                let err = open("GPU-00000000-0000-0000-0000-000000000000", "0000:00:00.0")
                    .expect_err("no NVML, no device");
                assert_eq!(err, reason, "open says why NVML cannot be used");
            }
            Ok(()) => {
                let err =
                    open("GPU-00000000-0000-0000-0000-000000000000", "").expect_err("no such GPU");
                match err {
                    TelemetryError::DeviceNotFound { tried } => assert_eq!(tried.len(), 1),
                    other => panic!("{other:?}"),
                }
                assert_eq!(open("", "").unwrap_err(), TelemetryError::NoDeviceId);
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
        let epoch = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let rec = t.start(Duration::from_millis(50), epoch);
        std::thread::sleep(Duration::from_millis(200));
        let Recording { summary, trace } = rec.finish();
        assert!(summary.samples >= 2, "{summary:?}");
        assert!(summary.sm_clock_mhz_median.is_some(), "{summary:?}");
        // The trace is the samples behind the summary, timed from the epoch, in order.
        assert_eq!(trace.len(), summary.samples);
        assert!(trace[0].at_s >= 0.02, "{:?}", trace[0]);
        assert!(trace.windows(2).all(|w| w[0].at_s < w[1].at_s), "{trace:?}");
        let samples: Vec<_> = trace.into_iter().map(|p| p.sample).collect();
        assert_eq!(
            summarize(&samples, summary.max_sm_clock_mhz, summary.power_limit_w),
            summary
        );
    }
}
