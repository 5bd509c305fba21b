//! GPU health through NVML: the counters a burn-in and an acceptance run read before and after
//! ([`snapshot`]: ECC errors, retired pages or remapped rows, PCIe replays) and the Xid events
//! the driver reports while they run ([`XidWatcher`]: a thread waiting on an NVML event set).
//!
//! Every reading is optional: an entry point this driver's NVML lacks is "not available on
//! this driver (entry point)", a query the GPU does not support (page retirement on an A100,
//! row remapping on an M40, ECC counts with ECC off) is "not supported on this GPU"; neither is
//! an error. The device comes from the telemetry's NVML ([`GpuTelemetry`]), opened by UUID.
//!
//! Entry points through nvml-wrapper where it calls one that every supported driver has, else
//! through its sys layer: the retired-page count through the plain `nvmlDeviceGetRetiredPages`
//! (nvml-wrapper reads the addresses through `_v2`), row remapping (which nvml-wrapper does not
//! wrap), and the event wait (`nvmlEventSetWait_v2` from R450, the plain name before; the older
//! event data is the same structure without the MIG instance ids at its end).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;

use nvml_wrapper::enum_wrappers::device::{EccCounter, MemoryError};
use nvml_wrapper::error::{nvml_sym, nvml_try, NvmlError};
use nvml_wrapper_sys::bindings::{nvmlDevice_t, nvmlEventData_t, nvmlEventSet_t, NvmlLib};

use super::telemetry::GpuTelemetry;
use crate::model::health::{EccCounts, HealthEvent, HealthSnapshot, Reading};

/// `nvmlEventTypeXidCriticalError` (nvml.h).
pub const EVENT_XID_CRITICAL: u64 = 0x8;
/// `NVML_ERROR_TIMEOUT`, what an event wait with nothing to deliver returns.
const NVML_ERROR_TIMEOUT: u32 = 10;
/// `NVML_ERROR_INSUFFICIENT_SIZE`: a count query with no room gives the count with it.
const NVML_ERROR_INSUFFICIENT_SIZE: u32 = 7;
/// How long one event wait blocks before the watcher looks whether it should stop, ms.
pub const XID_WAIT_MS: u32 = 100;

/// A reading from an NVML result: the value, or why there is none (never an error).
pub fn reading<T>(entry_point: &str, r: Result<T, NvmlError>) -> Reading<T> {
    match r {
        Ok(v) => Reading::Value(v),
        Err(NvmlError::FailedToLoadSymbol(_)) => {
            Reading::NotAvailable(format!("not available on this driver ({entry_point})"))
        }
        Err(NvmlError::NotSupported) => {
            Reading::NotAvailable(format!("not supported on this GPU ({entry_point})"))
        }
        Err(e) => Reading::NotAvailable(format!("{entry_point} failed: {e}")),
    }
}

/// The count of pages retired for `cause` (0: multiple single-bit errors, 1: a double-bit
/// error), through the plain entry point with no room for addresses.
fn retired_count(lib: &NvmlLib, device: nvmlDevice_t, cause: u32) -> Result<u32, NvmlError> {
    let f = nvml_sym(lib.nvmlDeviceGetRetiredPages.as_ref())?;
    let (mut count, mut unused) = (0u32, 0u64);
    // SAFETY: a device handle of an initialised NVML and valid out-pointers; with a count of
    // 0 NVML writes no address.
    let r = unsafe { f(device, cause, &mut count, &mut unused) };
    if r == NVML_ERROR_INSUFFICIENT_SIZE {
        return Ok(count);
    }
    nvml_try(r).map(|_| count)
}

/// Row remapping: (correctable rows, uncorrectable rows, pending, failure).
fn remapped_rows(lib: &NvmlLib, device: nvmlDevice_t) -> Result<[u32; 4], NvmlError> {
    let f = nvml_sym(lib.nvmlDeviceGetRemappedRows.as_ref())?;
    let mut v = [0u32; 4];
    let [a, b, c, d] = &mut v;
    // SAFETY: a device handle of an initialised NVML and four valid out-pointers.
    nvml_try(unsafe { f(device, a, b, c, d) })?;
    Ok(v)
}

/// ECC counts of one kind; "ECC is off" when the GPU says so.
fn ecc_counts(t: &GpuTelemetry, kind: MemoryError, ecc_on: &Reading<bool>) -> EccCounts {
    if let Reading::Value(false) = ecc_on {
        let off = || Reading::NotAvailable("ECC is off on this GPU".to_string());
        return EccCounts {
            volatile: off(),
            aggregate: off(),
        };
    }
    let d = t.device();
    let sym = "nvmlDeviceGetTotalEccErrors";
    EccCounts {
        volatile: reading(sym, d.total_ecc_errors(kind, EccCounter::Volatile)),
        aggregate: reading(sym, d.total_ecc_errors(kind, EccCounter::Aggregate)),
    }
}

/// The GPU's own slowdown temperature, °C: where NVML says its hardware slowdown begins
/// (`nvmlDeviceGetTemperatureThreshold`, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN).
pub fn slowdown_temperature(t: &GpuTelemetry) -> Reading<u32> {
    use nvml_wrapper::enum_wrappers::device::TemperatureThreshold;
    reading(
        "nvmlDeviceGetTemperatureThreshold",
        t.device()
            .temperature_threshold(TemperatureThreshold::Slowdown),
    )
}

/// The GPU's health counters now, `at_s` seconds since the run started.
pub fn snapshot(t: &GpuTelemetry, at_s: f64) -> HealthSnapshot {
    let d = t.device();
    let lib = d.nvml().lib();
    // SAFETY: the handle of an open device of an NVML that stays initialised.
    let handle = unsafe { d.handle() };
    let ecc_enabled = reading(
        "nvmlDeviceGetEccMode",
        d.is_ecc_enabled().map(|m| m.currently_enabled),
    );
    let pages = "nvmlDeviceGetRetiredPages";
    let rows = reading("nvmlDeviceGetRemappedRows", remapped_rows(lib, handle));
    let row = |i: usize| match &rows {
        Reading::Value(v) => Reading::Value(v[i]),
        Reading::NotAvailable(why) => Reading::NotAvailable(why.clone()),
    };
    let flag = |r: Reading<u32>| match r {
        Reading::Value(v) => Reading::Value(v != 0),
        Reading::NotAvailable(why) => Reading::NotAvailable(why),
    };
    HealthSnapshot {
        at_s,
        ecc_corrected: ecc_counts(t, MemoryError::Corrected, &ecc_enabled),
        ecc_uncorrected: ecc_counts(t, MemoryError::Uncorrected, &ecc_enabled),
        ecc_enabled,
        retired_pages_sbe: reading(pages, retired_count(lib, handle, 0)),
        retired_pages_dbe: reading(pages, retired_count(lib, handle, 1)),
        retirement_pending: reading(
            "nvmlDeviceGetRetiredPagesPendingStatus",
            d.are_pages_pending_retired(),
        ),
        remapped_rows_correctable: row(0),
        remapped_rows_uncorrectable: row(1),
        remap_pending: flag(row(2)),
        remap_failure: flag(row(3)),
        pcie_replays: reading(
            "nvmlDeviceGetPcieReplayCounter",
            d.pcie_replay_counter().map(u64::from),
        ),
    }
}

/// An NVML event set and the GPUs registered on it, owned by the watcher's thread.
struct EventSet {
    lib: &'static NvmlLib,
    set: nvmlEventSet_t,
    /// (device handle, GPU index) of every registered GPU.
    gpus: Vec<(usize, u32)>,
}

// SAFETY: NVML handles may be used from any thread (NVML is thread-safe); the set is used by
// one thread at a time (created here, then only the watcher's thread).
unsafe impl Send for EventSet {}

impl Drop for EventSet {
    fn drop(&mut self) {
        if let Ok(free) = self.lib.nvmlEventSetFree.as_ref() {
            // SAFETY: a set this value created and nobody else frees.
            unsafe { free(self.set) };
        }
    }
}

/// Creates a set and registers each GPU for critical Xid events; a GPU that cannot be
/// registered is returned with why.
fn event_set(
    gpus: &[(u32, Arc<GpuTelemetry>)],
) -> Result<(EventSet, Vec<(u32, String)>), NvmlError> {
    let Some((_, first)) = gpus.first() else {
        return Err(NvmlError::NotFound);
    };
    let lib: &'static NvmlLib = first.device().nvml().lib();
    let create = nvml_sym(lib.nvmlEventSetCreate.as_ref())?;
    let register = nvml_sym(lib.nvmlDeviceRegisterEvents.as_ref())?;
    let mut set: nvmlEventSet_t = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    nvml_try(unsafe { create(&mut set) })?;
    let mut es = EventSet {
        lib,
        set,
        gpus: Vec::new(),
    };
    let mut failed = Vec::new();
    for (gpu, t) in gpus {
        // SAFETY: the handle of an open device.
        let handle = unsafe { t.device().handle() };
        // SAFETY: a device handle and the set just created.
        match nvml_try(unsafe { register(handle, EVENT_XID_CRITICAL, set) }) {
            Ok(()) => es.gpus.push((handle as usize, *gpu)),
            Err(e) => failed.push((*gpu, format!("nvmlDeviceRegisterEvents: {e}"))),
        }
    }
    Ok((es, failed))
}

/// The watcher thread: waits on the set until told to stop, sending each Xid event.
fn watch(es: EventSet, epoch: Instant, stop: Arc<AtomicBool>, tx: mpsc::Sender<HealthEvent>) {
    let lib = es.lib;
    let Ok(wait) = lib
        .nvmlEventSetWait_v2
        .as_ref()
        .or(lib.nvmlEventSetWait.as_ref())
    else {
        return;
    };
    while !stop.load(Ordering::Acquire) {
        // SAFETY: plain data, all zeros is a valid value.
        let mut data: nvmlEventData_t = unsafe { std::mem::zeroed() };
        // SAFETY: the set is alive (dropped after this loop) and `data` is writable; the plain
        // wait writes only its prefix of the structure.
        let r = unsafe { wait(es.set, &mut data, XID_WAIT_MS) };
        if r == NVML_ERROR_TIMEOUT {
            continue;
        }
        if nvml_try(r).is_err() {
            return;
        }
        let gpu = es.gpus.iter().find(|(h, _)| *h == data.device as usize);
        if let (Some(&(_, gpu)), true) = (gpu, data.eventType & EVENT_XID_CRITICAL != 0) {
            let at_s = epoch.elapsed().as_secs_f64();
            let _ = tx.send(HealthEvent {
                gpu,
                xid: data.eventData,
                at_s,
                interval: None,
            });
        }
    }
}

/// Xid events of a set of GPUs, watched on a thread of their own from [`XidWatcher::start`]
/// until [`XidWatcher::finish`], timed from the start of the run.
pub struct XidWatcher {
    stop: Arc<AtomicBool>,
    events: mpsc::Receiver<HealthEvent>,
    thread: Option<JoinHandle<()>>,
    /// GPUs that could not be registered, with why.
    pub unwatched: Vec<(u32, String)>,
}

/// Why a run's Xid events cannot be watched (recorded as text: each GPU's health note).
#[derive(Debug, thiserror::Error)]
pub enum XidWatchError {
    #[error("not available on this driver ({0})")]
    NotOnThisDriver(String),
    #[error("no NVML event set: {0}")]
    EventSet(NvmlError),
    #[error("the Xid watcher thread could not start: {0}")]
    Thread(std::io::Error),
    #[error("NVML could not be used (see the note)")]
    NoNvml,
}

impl XidWatcher {
    /// Registers every GPU (index, its NVML device) for critical Xid events and starts
    /// waiting. Err: why no event can be watched (no event sets on this driver, …).
    pub fn start(gpus: &[(u32, Arc<GpuTelemetry>)], epoch: Instant) -> Result<Self, XidWatchError> {
        let needs_wait =
            |lib: &NvmlLib| lib.nvmlEventSetWait_v2.is_ok() || lib.nvmlEventSetWait.is_ok();
        let (es, unwatched) = event_set(gpus).map_err(|e| match e {
            NvmlError::FailedToLoadSymbol(s) => XidWatchError::NotOnThisDriver(s),
            e => XidWatchError::EventSet(e),
        })?;
        if !needs_wait(es.lib) {
            return Err(XidWatchError::NotOnThisDriver("nvmlEventSetWait".into()));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, events) = mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("gpugate-xid".into())
            .spawn(move || watch(es, epoch, flag, tx))
            .map_err(XidWatchError::Thread)?;
        Ok(XidWatcher {
            stop,
            events,
            thread: Some(thread),
            unwatched,
        })
    }

    /// The events seen since the last poll (or the start), in the order they came.
    pub fn poll(&self) -> Vec<HealthEvent> {
        self.events.try_iter().collect()
    }

    /// Stops watching (within [`XID_WAIT_MS`]) and returns the events not yet polled.
    pub fn finish(mut self) -> Vec<HealthEvent> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.events.try_iter().collect()
    }
}

impl Drop for XidWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_say_why_they_are_missing() {
        assert_eq!(reading("x", Ok(3u32)), Reading::Value(3));
        let missing = reading::<u32>("nvmlDeviceGetRemappedRows", Err(NvmlError::NotSupported));
        assert_eq!(
            missing,
            Reading::NotAvailable(
                "not supported on this GPU (nvmlDeviceGetRemappedRows)".to_string()
            )
        );
        let r = reading::<u32>("f", Err(NvmlError::GpuLost));
        assert!(matches!(r, Reading::NotAvailable(s) if s.starts_with("f failed: ")));
    }
}
