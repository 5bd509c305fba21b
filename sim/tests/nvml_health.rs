//! NVML's health entry points of gpugate-sim, in-process, with their C signatures, on a machine
//! of an m40 with every health fault at time 0 (0), an m40 under `power-cap` (1) and an a100
//! with two rows remapped (2). Fault times are seconds since the simulated driver started, so
//! faults at 0 have happened and one at 3600 s has not, whatever the speed of the host: nothing
//! here depends on timing.

mod driver_common;

use std::ffi::c_uint;
use std::sync::{Mutex, MutexGuard};

use driver_common::*;
use gpugate_sim::nvml::*;
use gpugate_sim::nvml_health::*;

fn setup() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let g = TURN.lock().unwrap_or_else(|p| p.into_inner());
    machine(
        &["m40", "m40", "a100"],
        &[
            "gpu=0:ecc=sbe@0",
            "gpu=0:ecc=dbe@0",
            "gpu=0:retired-pages=3",
            "gpu=0:xid=79@0",
            "gpu=0:xid=13@3600",
            "gpu=0:pcie-replays=7",
            "gpu=0:thermal=100@0",
            "gpu=1:power-cap",
            "gpu=2:retired-pages=2",
        ],
    );
    init();
    nok(nvmlInit_v2());
    g
}

#[track_caller]
fn nok(r: NvmlReturn) {
    assert_eq!(r, NVML_SUCCESS);
}

fn handle(i: u32) -> NvmlDevice {
    let mut h: NvmlDevice = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    nok(unsafe { nvmlDeviceGetHandleByIndex_v2(i, &mut h) });
    h
}

fn uint(f: impl FnOnce(*mut c_uint) -> NvmlReturn) -> u32 {
    let mut v: c_uint = 12345;
    nok(f(&mut v));
    v
}

/// (error type, counter type) → count: 0/1 = corrected/uncorrected, 0/1 = volatile/aggregate.
fn ecc(h: NvmlDevice, error: c_uint, counter: c_uint) -> u64 {
    let mut n = 99u64;
    // SAFETY: a valid out-pointer.
    nok(unsafe { nvmlDeviceGetTotalEccErrors(h, error, counter, &mut n) });
    n
}

#[test]
fn ecc_counters_rise_with_the_faults_and_stay_zero_without() {
    let _t = setup();
    let (g0, g1) = (handle(0), handle(1));
    for counter in [0, 1] {
        assert_eq!((ecc(g0, 0, counter), ecc(g0, 1, counter)), (1, 1));
        assert_eq!((ecc(g1, 0, counter), ecc(g1, 1, counter)), (0, 0));
    }
    let mut n = 0u64;
    // SAFETY: a valid out-pointer.
    nok(unsafe { nvmlDeviceGetMemoryErrorCounter(g0, 1, 0, 2, &mut n) });
    assert_eq!(n, 1, "the uncorrected error is in device memory");
}

#[test]
fn retired_pages_and_pending_on_the_m40_row_remapping_on_the_a100() {
    let _t = setup();
    let (g0, g1, g2) = (handle(0), handle(1), handle(2));
    // SAFETY: valid out-pointers and arrays of the sizes passed.
    unsafe {
        // The count with no room: INSUFFICIENT_SIZE and the count, as nvml.h says.
        let mut count: c_uint = 0;
        let r =
            nvmlDeviceGetRetiredPages(g0, RETIRED_MULTIPLE_SBE, &mut count, [0u64; 1].as_mut_ptr());
        assert_eq!((r, count), (NVML_ERROR_INSUFFICIENT_SIZE, 3));
        let mut pages = [0u64; 8];
        count = 8;
        nok(nvmlDeviceGetRetiredPages(
            g0,
            RETIRED_MULTIPLE_SBE,
            &mut count,
            pages.as_mut_ptr(),
        ));
        assert_eq!(count, 3);
        assert!(pages[0] != pages[1] && pages[1] != pages[2]);
        count = 8;
        nok(nvmlDeviceGetRetiredPages(
            g0,
            RETIRED_DBE,
            &mut count,
            pages.as_mut_ptr(),
        ));
        assert_eq!(count, 1, "the double-bit error retired its page");
        assert_eq!(
            nvmlDeviceGetRetiredPages(g0, 2, &mut count, pages.as_mut_ptr()),
            NVML_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(uint(|v| nvmlDeviceGetRetiredPagesPendingStatus(g0, v)), 1);
        assert_eq!(uint(|v| nvmlDeviceGetRetiredPagesPendingStatus(g1, v)), 0);
        count = 0;
        nok(nvmlDeviceGetRetiredPages(
            g1,
            RETIRED_DBE,
            &mut count,
            pages.as_mut_ptr(),
        ));
        assert_eq!(count, 0);
        let (mut c, mut u, mut p, mut f) = (9, 9, 9, 9);
        assert_eq!(
            nvmlDeviceGetRemappedRows(g0, &mut c, &mut u, &mut p, &mut f),
            NVML_ERROR_NOT_SUPPORTED,
            "the M40 retires pages, it does not remap rows"
        );
        nok(nvmlDeviceGetRemappedRows(
            g2, &mut c, &mut u, &mut p, &mut f,
        ));
        assert_eq!((c, u, p, f), (0, 2, 0, 0));
        assert_eq!(
            nvmlDeviceGetRetiredPagesPendingStatus(g2, &mut p),
            NVML_ERROR_NOT_SUPPORTED,
            "the A100 remaps rows, it does not retire pages"
        );
    }
}

#[test]
fn pcie_replays_read_the_faults_count() {
    let _t = setup();
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(uint(|v| nvmlDeviceGetPcieReplayCounter(handle(0), v)), 7);
        assert_eq!(uint(|v| nvmlDeviceGetPcieReplayCounter(handle(1), v)), 0);
    }
}

fn new_set() -> NvmlEventSet {
    let mut set: NvmlEventSet = std::ptr::null_mut();
    // SAFETY: a valid out-pointer.
    nok(unsafe { nvmlEventSetCreate(&mut set) });
    set
}

#[test]
fn event_sets_deliver_each_registered_event_once() {
    let _t = setup();
    let (g0, g1) = (handle(0), handle(1));
    let mut supported = 0u64;
    // SAFETY: valid out-pointers; sets used only while alive.
    unsafe {
        nok(nvmlDeviceGetSupportedEventTypes(g0, &mut supported));
        assert_ne!(supported & EVENT_XID_CRITICAL, 0);
        let xids = new_set();
        nok(nvmlDeviceRegisterEvents(g0, EVENT_XID_CRITICAL, xids));
        nok(nvmlDeviceRegisterEvents(g1, EVENT_XID_CRITICAL, xids));
        assert_eq!(
            nvmlDeviceRegisterEvents(g0, 1 << 40, xids),
            NVML_ERROR_NOT_SUPPORTED
        );
        let mut got = Vec::new();
        let mut e = std::mem::zeroed::<NvmlEventData>();
        while nvmlEventSetWait_v2(xids, &mut e, 0) == NVML_SUCCESS {
            assert_eq!((e.device, e.event_type), (g0, EVENT_XID_CRITICAL));
            got.push(e.event_data);
        }
        got.sort_unstable();
        assert_eq!(
            got,
            vec![48, 79],
            "the DBE's Xid 48 and xid=79@0; 13 comes at 3600 s"
        );
        assert_eq!(nvmlEventSetWait_v2(xids, &mut e, 0), NVML_ERROR_TIMEOUT);

        // Another set gets the same events again, through the plain (pre-R450) wait.
        let ecc = new_set();
        nok(nvmlDeviceRegisterEvents(
            g0,
            EVENT_SINGLE_BIT_ECC | EVENT_DOUBLE_BIT_ECC,
            ecc,
        ));
        let mut v1 = std::mem::zeroed::<NvmlEventDataV1>();
        let mut kinds = Vec::new();
        while nvmlEventSetWait(ecc, &mut v1, 0) == NVML_SUCCESS {
            kinds.push(v1.event_type);
        }
        kinds.sort_unstable();
        assert_eq!(kinds, vec![EVENT_SINGLE_BIT_ECC, EVENT_DOUBLE_BIT_ECC]);

        nok(nvmlEventSetFree(xids));
        assert_eq!(nvmlEventSetFree(xids), NVML_ERROR_INVALID_ARGUMENT);
        assert_eq!(
            nvmlEventSetWait_v2(xids, &mut e, 0),
            NVML_ERROR_INVALID_ARGUMENT
        );
        nok(nvmlEventSetFree(ecc));
    }
}

#[test]
fn thermal_slowdown_and_power_cap_under_load() {
    let _t = setup();
    let (g0, g1) = (handle(0), handle(1));
    let c0 = new_ctx(0);
    let c1 = new_ctx(1);
    let mut r = 0u64;
    // SAFETY: valid out-pointers.
    unsafe {
        // thermal=100@0: in hardware slowdown, at the slowdown temperature, 60 % clock.
        nok(nvmlDeviceGetCurrentClocksEventReasons(g0, &mut r));
        assert_eq!(r, REASON_HW_SLOWDOWN | REASON_HW_THERMAL_SLOWDOWN);
        assert_eq!(uint(|v| nvmlDeviceGetTemperature(g0, 0, v)), 92);
        assert_eq!(uint(|v| nvmlDeviceGetClockInfo(g0, NVML_CLOCK_SM, v)), 668);
        // power-cap: idle, below its limit and no reason; 95 % clock.
        nok(nvmlDeviceGetCurrentClocksEventReasons(g1, &mut r));
        assert_eq!(r, 0);
        assert_eq!(uint(|v| nvmlDeviceGetPowerUsage(g1, v)), 30_000);
        assert_eq!(uint(|v| nvmlDeviceGetClockInfo(g1, NVML_CLOCK_SM, v)), 1058);
        // Loaded (memsets back to back for 2.5 s): held at the power limit, the SW power cap
        // its only reason.
        let p = alloc(1 << 20);
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs_f64() < 2.5 {
            ok(cuMemsetD8_v2(p, 0x5a, 1 << 20));
        }
        nok(nvmlDeviceGetCurrentClocksEventReasons(g1, &mut r));
        assert_eq!(r, REASON_SW_POWER_CAP);
        assert_eq!(uint(|v| nvmlDeviceGetPowerUsage(g1, v)), 250_000);
        assert!(uint(|v| nvmlDeviceGetTemperature(g1, 0, v)) > 32);
        ok(cuMemFree_v2(p));
        ok(cuCtxDestroy_v2(c0));
        ok(cuCtxDestroy_v2(c1));
    }
}
