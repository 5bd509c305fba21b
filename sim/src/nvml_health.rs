//! NVML's health entry points for the simulated GPUs, with the C signatures and return codes of
//! `nvml.h`: retired pages and their pending status (page retirement, GPUs before Ampere), row
//! remapping (Ampere and later: compute capability 8.0 up), the PCIe replay counter, and event
//! sets (`nvmlEventSetCreate`, `nvmlDeviceRegisterEvents`, `nvmlEventSetWait(_v2)`,
//! `nvmlEventSetFree`) delivering the Xid, single- and double-bit ECC events of the health
//! faults (`crate::health`). The ECC counters themselves are `nvmlDeviceGetTotalEccErrors` and
//! `nvmlDeviceGetMemoryErrorCounter` in `crate::nvml`.
//!
//! A page-retirement GPU answers the row-remapping query NVML_ERROR_NOT_SUPPORTED, and a
//! row-remapping GPU the page-retirement queries, as the real ones do. An event set receives
//! every event of the GPUs and types it registered for, whenever it registered: the simulated
//! driver keeps the events of its faults from its start (a real driver delivers only what
//! happens after registration; a burn-in registers at its start, before its fault times).

use std::ffi::{c_uint, c_ulonglong, c_void};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::driver::shared::{uptime_s, Gpu};
use crate::nvml::{
    gpu, handle_of, nguard, put, ready, NvmlDevice, NvmlResult, NvmlReturn,
    NVML_ERROR_INSUFFICIENT_SIZE, NVML_ERROR_INVALID_ARGUMENT, NVML_ERROR_NOT_SUPPORTED,
    NVML_ERROR_TIMEOUT,
};

/// `nvmlEventSet_t`
pub type NvmlEventSet = *mut c_void;

/// `nvmlEventType*` bits.
pub const EVENT_SINGLE_BIT_ECC: u64 = 0x1;
pub const EVENT_DOUBLE_BIT_ECC: u64 = 0x2;
pub const EVENT_PSTATE: u64 = 0x4;
pub const EVENT_XID_CRITICAL: u64 = 0x8;
pub const EVENT_CLOCK: u64 = 0x10;

/// What the simulated GPUs support (`nvmlDeviceGetSupportedEventTypes`).
pub const SUPPORTED_EVENTS: u64 =
    EVENT_SINGLE_BIT_ECC | EVENT_DOUBLE_BIT_ECC | EVENT_PSTATE | EVENT_XID_CRITICAL | EVENT_CLOCK;

/// `nvmlPageRetirementCause_t`
pub const RETIRED_MULTIPLE_SBE: c_uint = 0;
pub const RETIRED_DBE: c_uint = 1;

/// `nvmlEventData_t` of `nvmlEventSetWait_v2` (R450 on). The plain `nvmlEventSetWait` writes
/// the first three fields only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NvmlEventData {
    pub device: NvmlDevice,
    pub event_type: c_ulonglong,
    pub event_data: c_ulonglong,
    pub gpu_instance_id: c_uint,
    pub compute_instance_id: c_uint,
}

/// `nvmlEventData_t` of the plain `nvmlEventSetWait`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NvmlEventDataV1 {
    pub device: NvmlDevice,
    pub event_type: c_ulonglong,
    pub event_data: c_ulonglong,
}

/// Whether the GPU remaps rows (Ampere on) rather than retiring pages.
pub fn remaps_rows(g: &Gpu) -> bool {
    g.model.compute.capability >= [8, 0]
}

/// `nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t
/// cause, unsigned int *pageCount, unsigned long long *addresses)`: with `*pageCount` smaller
/// than the count, NVML_ERROR_INSUFFICIENT_SIZE and the count in `*pageCount`.
///
/// # Safety
/// `count` must be NULL or writable; `addresses` NULL or valid for `*count` elements.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetRetiredPages(
    device: NvmlDevice,
    cause: c_uint,
    count: *mut c_uint,
    addresses: *mut c_ulonglong,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if remaps_rows(g) || !g.model.memory.ecc_enabled {
            return Err(NVML_ERROR_NOT_SUPPORTED);
        }
        let (sbe, dbe) = g.faults.health.retired(uptime_s());
        let n = match cause {
            RETIRED_MULTIPLE_SBE => sbe,
            RETIRED_DBE => dbe,
            _ => return Err(NVML_ERROR_INVALID_ARGUMENT),
        };
        if count.is_null() {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        // SAFETY: checked non-null; the caller's storage.
        let room = unsafe { *count };
        // SAFETY: the caller's out-pointer.
        unsafe { put(count, n)? };
        if room < n {
            return Err(NVML_ERROR_INSUFFICIENT_SIZE);
        }
        if n > 0 && addresses.is_null() {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        for i in 0..n as usize {
            // A page address per retirement (4 KiB frames, distinct per cause).
            let a = ((u64::from(cause) << 32) | i as u64) << 12;
            // SAFETY: the caller's array of at least `room` >= n elements.
            unsafe { addresses.add(i).write(a) };
        }
        Ok(())
    })
}

/// `nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device,
/// nvmlEnableState_t *isPending)`
///
/// # Safety
/// `pending` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetRetiredPagesPendingStatus(
    device: NvmlDevice,
    pending: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if remaps_rows(g) || !g.model.memory.ecc_enabled {
            return Err(NVML_ERROR_NOT_SUPPORTED);
        }
        // SAFETY: the caller's out-pointer.
        unsafe { put(pending, c_uint::from(g.faults.health.pending(uptime_s()))) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows,
/// unsigned int *uncRows, unsigned int *isPending, unsigned int *failureOccurred)`: Ampere and
/// later only. The `retired-pages=N` fault's N are rows remapped for uncorrectable errors, plus
/// one for an `ecc=dbe@T` from T.
///
/// # Safety
/// Every pointer must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetRemappedRows(
    device: NvmlDevice,
    corrected: *mut c_uint,
    uncorrected: *mut c_uint,
    pending: *mut c_uint,
    failure: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if !remaps_rows(g) {
            return Err(NVML_ERROR_NOT_SUPPORTED);
        }
        let now = uptime_s();
        let (sbe, dbe) = g.faults.health.retired(now);
        // SAFETY: the caller's out-pointers.
        unsafe {
            put(corrected, 0)?;
            put(uncorrected, sbe + dbe)?;
            put(pending, c_uint::from(g.faults.health.pending(now)))?;
            put(failure, 0)
        }
    })
}

/// `nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t device, unsigned int *value)`
///
/// # Safety
/// `value` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPcieReplayCounter(
    device: NvmlDevice,
    value: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(value, g.faults.health.pcie_replays.unwrap_or(0)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long
/// *eventTypes)`
///
/// # Safety
/// `types` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetSupportedEventTypes(
    device: NvmlDevice,
    types: *mut c_ulonglong,
) -> NvmlReturn {
    nguard(|| {
        gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(types, SUPPORTED_EVENTS) }
    })
}

/// One event of a GPU's faults: (GPU, type, data, time).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Event {
    gpu: usize,
    kind: u64,
    data: u64,
    at_s: f64,
}

/// Every event the faults of the machine's GPUs raise, in time order.
fn fault_events() -> NvmlResult<Vec<Event>> {
    let m = ready()?;
    let mut v = Vec::new();
    for g in &m.gpus {
        let h = &g.faults.health;
        for (xid, at_s) in h.xid_events() {
            v.push(Event {
                gpu: g.index,
                kind: EVENT_XID_CRITICAL,
                data: u64::from(xid),
                at_s,
            });
        }
        let ecc = [
            (EVENT_SINGLE_BIT_ECC, h.sbe_at_s),
            (EVENT_DOUBLE_BIT_ECC, h.dbe_at_s),
        ];
        for (kind, at) in ecc {
            if let Some(at_s) = at {
                v.push(Event {
                    gpu: g.index,
                    kind,
                    data: 0,
                    at_s,
                });
            }
        }
    }
    v.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    Ok(v)
}

/// An event set: what it registered for and which events it has delivered.
#[derive(Debug, Default)]
struct EventSetState {
    /// (GPU, event type mask) registrations.
    registered: Vec<(usize, u64)>,
    /// Indices into [`fault_events`] already delivered.
    delivered: Vec<usize>,
}

/// Every event set created, by handle number; a freed one is None.
static SETS: Mutex<Vec<Option<EventSetState>>> = Mutex::new(Vec::new());

const SET_TAG: usize = 0x6576_7365_0000_0000;

fn sets() -> MutexGuard<'static, Vec<Option<EventSetState>>> {
    SETS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The index of a live set's handle.
fn set_index(set: NvmlEventSet, all: &[Option<EventSetState>]) -> NvmlResult<usize> {
    let v = set as usize;
    let i = (v & 0xffff_ffff).wrapping_sub(1);
    if v & !0xffff_ffff != SET_TAG || all.get(i).is_none_or(|s| s.is_none()) {
        return Err(NVML_ERROR_INVALID_ARGUMENT);
    }
    Ok(i)
}

/// `nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)`
///
/// # Safety
/// `set` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlEventSetCreate(set: *mut NvmlEventSet) -> NvmlReturn {
    nguard(|| {
        ready()?;
        if set.is_null() {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        let mut all = sets();
        all.push(Some(EventSetState::default()));
        // SAFETY: the caller's out-pointer.
        unsafe { put(set, (SET_TAG | all.len()) as NvmlEventSet) }
    })
}

/// `nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes,
/// nvmlEventSet_t set)`: NVML_ERROR_NOT_SUPPORTED for a type the GPU does not support.
#[no_mangle]
pub extern "C" fn nvmlDeviceRegisterEvents(
    device: NvmlDevice,
    types: c_ulonglong,
    set: NvmlEventSet,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if types & !SUPPORTED_EVENTS != 0 {
            return Err(NVML_ERROR_NOT_SUPPORTED);
        }
        let mut all = sets();
        let i = set_index(set, &all)?;
        if let Some(s) = all[i].as_mut() {
            s.registered.push((g.index, types));
        }
        Ok(())
    })
}

/// The next event for set `i` that has happened by `now_s` (marked delivered), or the time of
/// the next one still to come.
fn next_event(i: usize, events: &[Event], now_s: f64) -> Result<Event, Option<f64>> {
    let mut all = sets();
    let Some(s) = all.get_mut(i).and_then(|s| s.as_mut()) else {
        return Err(None);
    };
    let wanted = |e: &Event| {
        s.registered
            .iter()
            .any(|&(g, mask)| g == e.gpu && mask & e.kind != 0)
    };
    let mut later: Option<f64> = None;
    for (k, e) in events.iter().enumerate() {
        if !wanted(e) || s.delivered.contains(&k) {
            continue;
        }
        if e.at_s <= now_s {
            s.delivered.push(k);
            return Ok(*e);
        }
        later = Some(later.map_or(e.at_s, |t| t.min(e.at_s)));
    }
    Err(later)
}

/// Waits up to `timeout_ms` for the next event of `set`.
fn wait(set: NvmlEventSet, timeout_ms: c_uint) -> NvmlResult<Event> {
    let i = set_index(set, &sets())?;
    let events = fault_events()?;
    let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
    loop {
        let now = uptime_s();
        let next = match next_event(i, &events, now) {
            Ok(e) => return Ok(e),
            Err(next) => next,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(NVML_ERROR_TIMEOUT);
        }
        // Sleep until the next event or the deadline, re-checking at least every 50 ms.
        let until_next = next.map_or(left, |t| Duration::from_secs_f64((t - now).max(0.0)));
        std::thread::sleep(left.min(until_next).min(Duration::from_millis(50)));
    }
}

fn event_data(e: Event) -> NvmlEventData {
    NvmlEventData {
        device: handle_of(e.gpu),
        event_type: e.kind,
        event_data: e.data,
        gpu_instance_id: 0xFFFF_FFFF,
        compute_instance_id: 0xFFFF_FFFF,
    }
}

/// `nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int
/// timeoutms)`: the next event, or NVML_ERROR_TIMEOUT after `timeoutms`. An Xid event's data
/// is the Xid; the instance ids are all ones (no MIG).
///
/// # Safety
/// `data` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlEventSetWait_v2(
    set: NvmlEventSet,
    data: *mut NvmlEventData,
    timeout_ms: c_uint,
) -> NvmlReturn {
    nguard(|| {
        if data.is_null() {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        let e = wait(set, timeout_ms)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(data, event_data(e)) }
    })
}

/// `nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int
/// timeoutms)`: the form before R450, whose event data has no instance ids.
///
/// # Safety
/// `data` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlEventSetWait(
    set: NvmlEventSet,
    data: *mut NvmlEventDataV1,
    timeout_ms: c_uint,
) -> NvmlReturn {
    nguard(|| {
        if data.is_null() {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        let e = event_data(wait(set, timeout_ms)?);
        let v1 = NvmlEventDataV1 {
            device: e.device,
            event_type: e.event_type,
            event_data: e.event_data,
        };
        // SAFETY: the caller's out-pointer.
        unsafe { put(data, v1) }
    })
}

/// `nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)`
#[no_mangle]
pub extern "C" fn nvmlEventSetFree(set: NvmlEventSet) -> NvmlReturn {
    nguard(|| {
        let mut all = sets();
        let i = set_index(set, &all)?;
        all[i] = None;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_data_layouts_match_nvml_h() {
        assert_eq!(std::mem::size_of::<NvmlEventData>(), 32);
        assert_eq!(std::mem::size_of::<NvmlEventDataV1>(), 24);
    }
}
