//! NVML of gpugate-sim, in-process, on a machine of an m40 (0), an h100 under the `throttle`
//! and `pcie=4,8` faults (1) and an a100 (2). NVML's reference count is process-wide, so the
//! tests take turns.

mod driver_common;

use std::ffi::{c_char, c_uint, CStr};
use std::sync::{Mutex, MutexGuard};

use cudarc::driver::sys::CUdevice_attribute as A;
use driver_common::*;
use gpugate_sim::model;
use gpugate_sim::nvml::*;

fn setup() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let g = TURN.lock().unwrap_or_else(|p| p.into_inner());
    machine(
        &["m40", "h100", "a100"],
        &["gpu=1:throttle", "gpu=1:pcie=4,8"],
    );
    init();
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

fn string(f: impl FnOnce(*mut c_char, c_uint) -> NvmlReturn) -> String {
    let mut buf = [0 as c_char; 96];
    nok(f(buf.as_mut_ptr(), 96));
    // SAFETY: NUL-terminated by the call.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn uint(f: impl FnOnce(*mut c_uint) -> NvmlReturn) -> u32 {
    let mut v: c_uint = 12345;
    nok(f(&mut v));
    v
}

#[test]
fn init_is_reference_counted() {
    let _t = setup();
    let mut n = 0;
    // SAFETY: valid out-pointers.
    unsafe {
        assert_eq!(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
        assert_eq!(nvmlDeviceGetCount_v2(&mut n), NVML_ERROR_UNINITIALIZED);
        nok(nvmlInit_v2());
        nok(nvmlInitWithFlags(0));
        assert_eq!(nvmlInitWithFlags(0x10), NVML_ERROR_INVALID_ARGUMENT);
        nok(nvmlShutdown());
        nok(nvmlDeviceGetCount_v2(&mut n));
        assert_eq!(n, 3);
        nok(nvmlDeviceGetCount(&mut n));
        nok(nvmlShutdown());
        assert_eq!(nvmlDeviceGetCount_v2(&mut n), NVML_ERROR_UNINITIALIZED);
        nok(nvmlInit());
        nok(nvmlShutdown());
        let s = CStr::from_ptr(nvmlErrorString(NVML_ERROR_LIBRARY_NOT_FOUND));
        assert_eq!(s.to_str(), Ok("NVML Shared Library Not Found"));
    }
}

#[test]
fn devices_are_found_by_what_gpugate_formats_from_the_driver() {
    let _t = setup();
    // SAFETY: valid buffers and out-pointers throughout.
    unsafe {
        nok(nvmlInit_v2());
        for i in 0..3u32 {
            let h = handle(i);
            let dev = i as CUdevice;
            let mut name = [0 as c_char; 128];
            ok(cuDeviceGetName(name.as_mut_ptr(), 128, dev));
            let cu_name = CStr::from_ptr(name.as_ptr()).to_str().unwrap().to_string();
            assert_eq!(string(|b, l| nvmlDeviceGetName(h, b, l)), cu_name);

            let uuid_s = format_uuid(&uuid(dev));
            assert_eq!(string(|b, l| nvmlDeviceGetUUID(h, b, l)), uuid_s);
            let c_uuid = std::ffi::CString::new(uuid_s.clone()).unwrap();
            let mut by: NvmlDevice = std::ptr::null_mut();
            nok(nvmlDeviceGetHandleByUUID(c_uuid.as_ptr(), &mut by));
            assert_eq!(by, h);

            let bus = format_pci_bus_id(
                attr(A::CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID as i32, dev).unwrap() as u32,
                attr(A::CU_DEVICE_ATTRIBUTE_PCI_BUS_ID as i32, dev).unwrap() as u32,
                attr(A::CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID as i32, dev).unwrap() as u32,
            );
            let mut pci = std::mem::zeroed::<NvmlPciInfo>();
            nok(nvmlDeviceGetPciInfo_v3(h, &mut pci));
            let nvml_bus = CStr::from_ptr(pci.bus_id.as_ptr()).to_str().unwrap();
            assert_eq!(nvml_bus, bus, "the same text as gpugate formats");
            let legacy = CStr::from_ptr(pci.bus_id_legacy.as_ptr()).to_str().unwrap();
            assert_eq!(legacy, &bus[4..]);
            assert_eq!(pci.pci_device_id & 0xffff, 0x10de, "NVIDIA's vendor id");
            let c_bus = std::ffi::CString::new(bus).unwrap();
            nok(nvmlDeviceGetHandleByPciBusId_v2(c_bus.as_ptr(), &mut by));
            assert_eq!(by, h);
            assert_eq!(uint(|v| nvmlDeviceGetIndex(h, v)), i);
        }
        let mut by: NvmlDevice = std::ptr::null_mut();
        assert_eq!(
            nvmlDeviceGetHandleByUUID(
                c"GPU-00000000-0000-0000-0000-000000000000".as_ptr(),
                &mut by
            ),
            NVML_ERROR_NOT_FOUND
        );
        assert_eq!(
            nvmlDeviceGetHandleByPciBusId_v2(c"00000000:77:00.0".as_ptr(), &mut by),
            NVML_ERROR_NOT_FOUND
        );
        assert_eq!(
            nvmlDeviceGetHandleByIndex_v2(3, &mut by),
            NVML_ERROR_INVALID_ARGUMENT
        );
        let mut small = [0 as c_char; 8];
        assert_eq!(
            nvmlDeviceGetUUID(handle(0), small.as_mut_ptr(), 8),
            NVML_ERROR_INSUFFICIENT_SIZE
        );
        let mut v = 0;
        assert_eq!(
            nvmlDeviceGetPowerUsage(0x1234 as NvmlDevice, &mut v),
            NVML_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            string(|b, l| nvmlSystemGetDriverVersion(b, l)),
            "550.127.05"
        );
        assert_eq!(
            string(|b, l| nvmlSystemGetNVMLVersion(b, l)),
            "12.550.127.05"
        );
        let mut cv = 0;
        nok(nvmlSystemGetCudaDriverVersion(&mut cv));
        assert_eq!(cv, 12040);
        let (mut ma, mut mi) = (0, 0);
        nok(nvmlDeviceGetCudaComputeCapability(
            handle(1),
            &mut ma,
            &mut mi,
        ));
        assert_eq!((ma, mi), (9, 0));
        nok(nvmlShutdown());
    }
}

#[test]
fn telemetry_follows_the_model_the_faults_and_the_open_contexts() {
    let _t = setup();
    let m40 = model::load("m40").unwrap();
    // SAFETY: valid out-pointers throughout.
    unsafe {
        nok(nvmlInit_v2());
        let (g0, g1) = (handle(0), handle(1));
        // The M40 idles until a context is open on it.
        let r = {
            let mut r = 0u64;
            nok(nvmlDeviceGetCurrentClocksEventReasons(g0, &mut r));
            r
        };
        assert_eq!(r, REASON_GPU_IDLE);
        assert_eq!(uint(|v| nvmlDeviceGetClockInfo(g0, NVML_CLOCK_SM, v)), 324);
        assert_eq!(uint(|v| nvmlDeviceGetPowerUsage(g0, v)), 30_000);
        let ctx = new_ctx(0);
        let p = alloc(1 << 20);
        assert_eq!(uint(|v| nvmlDeviceGetClockInfo(g0, NVML_CLOCK_SM, v)), 1114);
        assert_eq!(
            uint(|v| nvmlDeviceGetClockInfo(g0, NVML_CLOCK_GRAPHICS, v)),
            1114
        );
        assert_eq!(
            uint(|v| nvmlDeviceGetClockInfo(g0, NVML_CLOCK_MEM, v)),
            3004
        );
        assert_eq!(
            uint(|v| nvmlDeviceGetMaxClockInfo(g0, NVML_CLOCK_SM, v)),
            1114
        );
        assert_eq!(
            uint(|v| nvmlDeviceGetApplicationsClock(g0, NVML_CLOCK_SM, v)),
            948
        );
        // Open but idle: the power, temperature and utilisation follow the work, not the
        // context (sim/src/power.rs).
        assert_eq!(uint(|v| nvmlDeviceGetPowerUsage(g0, v)), 30_000);
        assert_eq!(uint(|v| nvmlDeviceGetTemperature(g0, 0, v)), 32);
        let mut u = NvmlUtilization::default();
        nok(nvmlDeviceGetUtilizationRates(g0, &mut u));
        assert_eq!((u.gpu, u.memory), (0, 0));
        // Memsets back to back for 0.4 s: the M40 draws more, heats and is busy, and no
        // more than its limit; the H100 beside it stays idle (each GPU has its own state).
        let h100_before = uint(|v| nvmlDeviceGetPowerUsage(g1, v));
        let t0 = std::time::Instant::now();
        while t0.elapsed().as_secs_f64() < 0.4 {
            ok(cuMemsetD8_v2(p, 0x5a, 1 << 20));
        }
        let loaded = uint(|v| nvmlDeviceGetPowerUsage(g0, v));
        assert!((60_000..=250_000).contains(&loaded), "{loaded} mW");
        assert!(uint(|v| nvmlDeviceGetTemperature(g0, 0, v)) >= 32);
        nok(nvmlDeviceGetUtilizationRates(g0, &mut u));
        assert!(u.gpu >= 20 && u.memory.abs_diff(u.gpu / 2) <= 1, "{u:?}");
        assert_eq!(uint(|v| nvmlDeviceGetPowerUsage(g1, v)), h100_before);
        assert_eq!(h100_before, 70_000);
        assert_eq!(uint(|v| nvmlDeviceGetEnforcedPowerLimit(g0, v)), 250_000);
        assert_eq!(uint(|v| nvmlDeviceGetPowerManagementLimit(g0, v)), 250_000);
        assert_eq!(uint(|v| nvmlDeviceGetPerformanceState(g0, v)), 0);
        let mut r = 9u64;
        nok(nvmlDeviceGetCurrentClocksThrottleReasons(g0, &mut r));
        assert_eq!(r, 0, "a healthy GPU under load has no throttle reason");
        let mut mem = NvmlMemory::default();
        nok(nvmlDeviceGetMemoryInfo(g0, &mut mem));
        assert_eq!(mem.total, m40.memory.total_bytes);
        assert_eq!(mem.used, m40.memory.context_reserved_bytes + (1 << 20));
        assert_eq!(mem.free, mem.total - mem.used);
        assert_eq!(
            nvmlDeviceGetClockInfo(g0, 7, &mut 0),
            NVML_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            nvmlDeviceGetTemperature(g0, 1, &mut 0),
            NVML_ERROR_INVALID_ARGUMENT
        );

        // The throttled H100: 60 % of 1980 MHz, at its slowdown temperature, thermal reasons.
        assert_eq!(uint(|v| nvmlDeviceGetClockInfo(g1, NVML_CLOCK_SM, v)), 1188);
        assert_eq!(
            uint(|v| nvmlDeviceGetMaxClockInfo(g1, NVML_CLOCK_SM, v)),
            1980
        );
        assert_eq!(uint(|v| nvmlDeviceGetTemperature(g1, 0, v)), 90);
        // Each model's slowdown temperature is its NVML threshold (SLOWDOWN = 1); the models
        // give no shutdown temperature (SHUTDOWN = 0).
        assert_eq!(uint(|v| nvmlDeviceGetTemperatureThreshold(g0, 1, v)), 92);
        assert_eq!(uint(|v| nvmlDeviceGetTemperatureThreshold(g1, 1, v)), 90);
        assert_eq!(
            nvmlDeviceGetTemperatureThreshold(g0, 0, &mut 0),
            NVML_ERROR_NOT_SUPPORTED
        );
        nok(nvmlDeviceGetCurrentClocksEventReasons(g1, &mut r));
        assert_eq!(r, REASON_SW_THERMAL_SLOWDOWN | REASON_HW_THERMAL_SLOWDOWN);

        // PCIe: the current link of the pcie fault, the model's max link.
        assert_eq!(uint(|v| nvmlDeviceGetCurrPcieLinkGeneration(g1, v)), 4);
        assert_eq!(uint(|v| nvmlDeviceGetCurrPcieLinkWidth(g1, v)), 8);
        assert_eq!(uint(|v| nvmlDeviceGetMaxPcieLinkGeneration(g1, v)), 5);
        assert_eq!(uint(|v| nvmlDeviceGetMaxPcieLinkWidth(g1, v)), 16);
        assert_eq!(uint(|v| nvmlDeviceGetCurrPcieLinkGeneration(g0, v)), 3);
        assert_eq!(uint(|v| nvmlDeviceGetMaxPcieLinkWidth(g0, v)), 16);
        assert_eq!(uint(|v| nvmlDeviceGetMemoryBusWidth(g1, v)), 5120);

        // ECC on and clean.
        let (mut cur, mut pend) = (9, 9);
        nok(nvmlDeviceGetEccMode(g0, &mut cur, &mut pend));
        assert_eq!((cur, pend), (1, 1));
        let mut n = 9u64;
        nok(nvmlDeviceGetTotalEccErrors(g0, 1, 0, &mut n));
        assert_eq!(n, 0);
        nok(nvmlDeviceGetTotalEccErrors(g0, 0, 1, &mut n));
        assert_eq!(n, 0);
        nok(nvmlDeviceGetMemoryErrorCounter(g0, 1, 1, 2, &mut n));
        assert_eq!(n, 0);
        assert_eq!(
            nvmlDeviceGetTotalEccErrors(g0, 2, 0, &mut n),
            NVML_ERROR_INVALID_ARGUMENT
        );

        // NVENC: two engines on the M40, none on the H100.
        assert_eq!(uint(|v| nvmlDeviceGetEncoderCapacity(g0, 0, v)), 100);
        assert_eq!(uint(|v| nvmlDeviceGetEncoderCapacity(g0, 1, v)), 100);
        assert_eq!(
            nvmlDeviceGetEncoderCapacity(g0, 2, &mut 0),
            NVML_ERROR_NOT_SUPPORTED
        );
        assert_eq!(
            nvmlDeviceGetEncoderCapacity(g1, 0, &mut 0),
            NVML_ERROR_NOT_SUPPORTED
        );
        let (mut util, mut period) = (9, 0);
        nok(nvmlDeviceGetEncoderUtilization(g0, &mut util, &mut period));
        assert_eq!((util, period), (0, 167_000));
        let (mut s, mut fps, mut lat) = (9, 9, 9);
        nok(nvmlDeviceGetEncoderStats(g0, &mut s, &mut fps, &mut lat));
        assert_eq!((s, fps, lat), (0, 0, 0));
        assert_eq!(
            nvmlDeviceGetEncoderStats(g1, &mut s, &mut fps, &mut lat),
            NVML_ERROR_NOT_SUPPORTED
        );

        ok(cuMemFree_v2(p));
        ok(cuCtxDestroy_v2(ctx));
        nok(nvmlDeviceGetCurrentClocksEventReasons(g0, &mut r));
        assert_eq!(r, REASON_GPU_IDLE, "idle again once the context is gone");
        nok(nvmlDeviceGetMemoryInfo(g0, &mut mem));
        assert_eq!(mem.used, 0);
        nok(nvmlShutdown());
    }
}
