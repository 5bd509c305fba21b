//! NVML (`libnvidia-ml.so.1`) for the simulated GPUs: the calls gpugate's telemetry and
//! inventory make, with the NVML C ABI and return codes.
//!
//! Values come from each GPU's model, with its faults applied, and from the driver's state:
//! while a context is open on a GPU (the process is using it) NVML reports its max SM clock and
//! P0, otherwise its idle clock and P8; its power, temperature and utilisation follow the work
//! that runs on it (`crate::power`: they rise under load and level off). Under the
//! `throttle` fault the SM clock is held at the model's throttle fraction, the temperature is at
//! the slowdown threshold and the clocks-event reasons are SW + HW thermal slowdown. The
//! `pcie` fault changes the current link (the max link stays the model's); `launch-fail-after`
//! makes the uncorrectable ECC counters 1 once it fired. The health faults (`crate::health`)
//! move the ECC counters from their time, heat the GPU under load up to a hardware slowdown
//! (`thermal=RISE[@T]`) and hold its power at its limit under load (`power-cap`); the other
//! health entry points (retired pages, row remapping, PCIe replays, event sets) are in
//! `crate::nvml_health`. Everything but the power, temperature and utilisation (which follow
//! the work run) is deterministic for a given time since the driver started.
//!
//! UUID and PCI bus id strings are exactly what gpugate formats from the driver API
//! ("GPU-xxxxxxxx-…", "00000000:BB:DD.0"), so it finds each NVML device by them.

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::driver::shared::{machine, uptime_s, Gpu, Machine};

/// `nvmlReturn_t`
pub type NvmlReturn = c_int;
/// `nvmlDevice_t`
pub type NvmlDevice = *mut c_void;

pub const NVML_SUCCESS: NvmlReturn = 0;
pub const NVML_ERROR_UNINITIALIZED: NvmlReturn = 1;
pub const NVML_ERROR_INVALID_ARGUMENT: NvmlReturn = 2;
pub const NVML_ERROR_NOT_SUPPORTED: NvmlReturn = 3;
pub const NVML_ERROR_NOT_FOUND: NvmlReturn = 6;
pub const NVML_ERROR_INSUFFICIENT_SIZE: NvmlReturn = 7;
pub const NVML_ERROR_TIMEOUT: NvmlReturn = 10;
pub const NVML_ERROR_LIBRARY_NOT_FOUND: NvmlReturn = 12;
pub const NVML_ERROR_UNKNOWN: NvmlReturn = 999;

/// `nvmlClockType_t`
pub const NVML_CLOCK_GRAPHICS: c_uint = 0;
pub const NVML_CLOCK_SM: c_uint = 1;
pub const NVML_CLOCK_MEM: c_uint = 2;
pub const NVML_CLOCK_VIDEO: c_uint = 3;

/// Clocks-event (throttle) reason bits.
pub const REASON_GPU_IDLE: u64 = 0x1;
pub const REASON_SW_POWER_CAP: u64 = 0x4;
pub const REASON_HW_SLOWDOWN: u64 = 0x8;
pub const REASON_SW_THERMAL_SLOWDOWN: u64 = 0x20;
pub const REASON_HW_THERMAL_SLOWDOWN: u64 = 0x40;

/// `nvmlMemory_t`
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvmlMemory {
    pub total: c_ulonglong,
    pub free: c_ulonglong,
    pub used: c_ulonglong,
}

/// `nvmlUtilization_t`
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NvmlUtilization {
    pub gpu: c_uint,
    pub memory: c_uint,
}

/// `nvmlPciInfo_t` (the layout of nvmlDeviceGetPciInfo_v2 and _v3).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct NvmlPciInfo {
    pub bus_id_legacy: [c_char; 16],
    pub domain: c_uint,
    pub bus: c_uint,
    pub device: c_uint,
    pub pci_device_id: c_uint,
    pub pci_sub_system_id: c_uint,
    pub bus_id: [c_char; 32],
}

/// nvmlInit / nvmlShutdown pairs outstanding.
static INIT_COUNT: Mutex<u32> = Mutex::new(0);

pub(crate) type NvmlResult<T = ()> = Result<T, NvmlReturn>;

pub(crate) fn nguard(f: impl FnOnce() -> NvmlResult) -> NvmlReturn {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => NVML_SUCCESS,
        Ok(Err(r)) => r,
        Err(_) => {
            crate::driver::log::stderr("internal error in NVML (returned NVML_ERROR_UNKNOWN)");
            NVML_ERROR_UNKNOWN
        }
    }
}

fn count() -> std::sync::MutexGuard<'static, u32> {
    INIT_COUNT.lock().unwrap_or_else(|p| p.into_inner())
}

fn init() -> NvmlResult {
    let m = machine().map_err(|_| NVML_ERROR_UNKNOWN)?;
    if m.config.no_nvml {
        return Err(NVML_ERROR_LIBRARY_NOT_FOUND);
    }
    *count() += 1;
    Ok(())
}

/// The machine, once NVML is initialised.
pub(crate) fn ready() -> NvmlResult<&'static Machine> {
    if *count() == 0 {
        return Err(NVML_ERROR_UNINITIALIZED);
    }
    machine().map_err(|_| NVML_ERROR_UNKNOWN)
}

const HANDLE_TAG: usize = 0x6e76_6d6c_0000_0000;

pub(crate) fn handle_of(index: usize) -> NvmlDevice {
    (HANDLE_TAG | (index + 1)) as NvmlDevice
}

pub(crate) fn gpu(h: NvmlDevice) -> NvmlResult<&'static Gpu> {
    let m = ready()?;
    let v = h as usize;
    if v & !0xffff != HANDLE_TAG || v & 0xffff == 0 {
        return Err(NVML_ERROR_INVALID_ARGUMENT);
    }
    m.gpus
        .get((v & 0xffff) - 1)
        .ok_or(NVML_ERROR_INVALID_ARGUMENT)
}

/// # Safety
/// `p` must be NULL or writable.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) -> NvmlResult {
    if p.is_null() {
        return Err(NVML_ERROR_INVALID_ARGUMENT);
    }
    // SAFETY: non-null; the caller's storage.
    unsafe { p.write(v) };
    Ok(())
}

/// Writes `s` NUL-terminated into a buffer of `len` bytes, or INSUFFICIENT_SIZE.
///
/// # Safety
/// `buf` must be NULL or valid for `len` bytes.
unsafe fn put_str(buf: *mut c_char, len: c_uint, s: &str) -> NvmlResult {
    if buf.is_null() {
        return Err(NVML_ERROR_INVALID_ARGUMENT);
    }
    if (len as usize) < s.len() + 1 {
        return Err(NVML_ERROR_INSUFFICIENT_SIZE);
    }
    // SAFETY: the buffer holds len >= s.len() + 1 bytes.
    unsafe { crate::driver::write_c_string(buf, len as usize, s) };
    Ok(())
}

/// `nvmlReturn_t nvmlInit_v2(void)`: reference counted with nvmlShutdown. Under the `no-nvml`
/// fault: NVML_ERROR_LIBRARY_NOT_FOUND.
#[no_mangle]
pub extern "C" fn nvmlInit_v2() -> NvmlReturn {
    nguard(init)
}

/// `nvmlReturn_t nvmlInit(void)`
#[no_mangle]
pub extern "C" fn nvmlInit() -> NvmlReturn {
    nguard(init)
}

/// `nvmlReturn_t nvmlInitWithFlags(unsigned int flags)`: NVML_INIT_FLAG_NO_GPUS (1) and
/// NVML_INIT_FLAG_NO_ATTACH (2) are accepted.
#[no_mangle]
pub extern "C" fn nvmlInitWithFlags(flags: c_uint) -> NvmlReturn {
    nguard(|| {
        if flags & !0x3 != 0 {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        init()
    })
}

/// `nvmlReturn_t nvmlShutdown(void)`: UNINITIALIZED when there is no init to match.
#[no_mangle]
pub extern "C" fn nvmlShutdown() -> NvmlReturn {
    nguard(|| {
        let mut c = count();
        if *c == 0 {
            return Err(NVML_ERROR_UNINITIALIZED);
        }
        *c -= 1;
        Ok(())
    })
}

/// `const char* nvmlErrorString(nvmlReturn_t result)`
#[no_mangle]
pub extern "C" fn nvmlErrorString(result: NvmlReturn) -> *const c_char {
    let s: &'static str = match result {
        0 => "Success\0",
        1 => "Uninitialized\0",
        2 => "Invalid Argument\0",
        3 => "Not Supported\0",
        4 => "Insufficient Permissions\0",
        5 => "Already Initialized\0",
        6 => "Not Found\0",
        7 => "Insufficient Size\0",
        8 => "Insufficient External Power\0",
        9 => "Driver Not Loaded\0",
        10 => "Timeout\0",
        11 => "Interrupt request issue\0",
        12 => "NVML Shared Library Not Found\0",
        13 => "Function Not Found\0",
        14 => "Corrupted infoROM\0",
        15 => "GPU is lost\0",
        16 => "GPU requires restart\0",
        17 => "The operating system has blocked the request.\0",
        18 => "RM has detected an NVML/RM version mismatch.\0",
        19 => "In use by another client\0",
        20 => "Insufficient Memory\0",
        21 => "No data\0",
        _ => "Unknown Error\0",
    };
    s.as_ptr() as *const c_char
}

/// `nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)`
///
/// # Safety
/// `version` must be NULL or valid for `length` bytes.
#[no_mangle]
pub unsafe extern "C" fn nvmlSystemGetDriverVersion(
    version: *mut c_char,
    length: c_uint,
) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        // SAFETY: the caller's buffer.
        unsafe { put_str(version, length, &m.config.driver_version_string()) }
    })
}

/// `nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)`: the CUDA
/// major version and the driver version, "12.550.127.05".
///
/// # Safety
/// `version` must be NULL or valid for `length` bytes.
#[no_mangle]
pub unsafe extern "C" fn nvmlSystemGetNVMLVersion(
    version: *mut c_char,
    length: c_uint,
) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        let s = format!(
            "{}.{}",
            m.config.driver_cuda_version() / 1000,
            m.config.driver_version_string()
        );
        // SAFETY: the caller's buffer.
        unsafe { put_str(version, length, &s) }
    })
}

/// `nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)`: 12040 for 12.4.
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlSystemGetCudaDriverVersion(v: *mut c_int) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(v, m.config.driver_cuda_version() as c_int) }
    })
}

/// `nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)`
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlSystemGetCudaDriverVersion_v2(v: *mut c_int) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { nvmlSystemGetCudaDriverVersion(v) }
}

/// `nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)`
///
/// # Safety
/// `n` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCount_v2(n: *mut c_uint) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(n, m.gpus.len() as c_uint) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)`
///
/// # Safety
/// `n` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCount(n: *mut c_uint) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { nvmlDeviceGetCount_v2(n) }
}

/// `nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)`
///
/// # Safety
/// `device` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetHandleByIndex_v2(
    index: c_uint,
    device: *mut NvmlDevice,
) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        if index as usize >= m.gpus.len() {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        // SAFETY: the caller's out-pointer.
        unsafe { put(device, handle_of(index as usize)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)`
///
/// # Safety
/// `device` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetHandleByIndex(
    index: c_uint,
    device: *mut NvmlDevice,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { nvmlDeviceGetHandleByIndex_v2(index, device) }
}

/// # Safety
/// `s` must be NULL or NUL-terminated.
unsafe fn c_str<'a>(s: *const c_char) -> NvmlResult<&'a str> {
    if s.is_null() {
        return Err(NVML_ERROR_INVALID_ARGUMENT);
    }
    // SAFETY: the caller's NUL-terminated string.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| NVML_ERROR_NOT_FOUND)
}

/// `nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)`
///
/// # Safety
/// `uuid` must be NULL or NUL-terminated; `device` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetHandleByUUID(
    uuid: *const c_char,
    device: *mut NvmlDevice,
) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        // SAFETY: forwarded contract.
        let want = unsafe { c_str(uuid)? }.trim();
        let g = m
            .gpus
            .iter()
            .find(|g| g.uuid_string().eq_ignore_ascii_case(want))
            .ok_or(NVML_ERROR_NOT_FOUND)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(device, handle_of(g.index)) }
    })
}

/// Parses "DDDDDDDD:BB:DD.F", "DDDD:BB:DD.F" or "BB:DD.F" (hex, any case) into (domain, bus,
/// device).
pub fn parse_pci_bus_id(s: &str) -> Option<(u32, u32, u32)> {
    let s = s.trim();
    let (addr, _function) = s.rsplit_once('.').unwrap_or((s, "0"));
    let parts: Vec<&str> = addr.split(':').collect();
    let (dom, bus, dev) = match parts.as_slice() {
        [d, b, v] => (*d, *b, *v),
        [b, v] => ("0", *b, *v),
        _ => return None,
    };
    Some((
        u32::from_str_radix(dom, 16).ok()?,
        u32::from_str_radix(bus, 16).ok()?,
        u32::from_str_radix(dev, 16).ok()?,
    ))
}

/// `nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)`
///
/// # Safety
/// `id` must be NULL or NUL-terminated; `device` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetHandleByPciBusId_v2(
    id: *const c_char,
    device: *mut NvmlDevice,
) -> NvmlReturn {
    nguard(|| {
        let m = ready()?;
        // SAFETY: forwarded contract.
        let s = unsafe { c_str(id)? };
        let want = parse_pci_bus_id(s).ok_or(NVML_ERROR_NOT_FOUND)?;
        let g = m
            .gpus
            .iter()
            .find(|g| (g.pci_domain, g.pci_bus, g.pci_device) == want)
            .ok_or(NVML_ERROR_NOT_FOUND)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(device, handle_of(g.index)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)`
///
/// # Safety
/// As the _v2 form.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetHandleByPciBusId(
    id: *const c_char,
    device: *mut NvmlDevice,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { nvmlDeviceGetHandleByPciBusId_v2(id, device) }
}

/// `nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)`
///
/// # Safety
/// `index` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetIndex(device: NvmlDevice, index: *mut c_uint) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(index, g.index as c_uint) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)`
///
/// # Safety
/// `name` must be NULL or valid for `length` bytes.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetName(
    device: NvmlDevice,
    name: *mut c_char,
    length: c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's buffer.
        unsafe { put_str(name, length, &g.model.name) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)`
///
/// # Safety
/// `uuid` must be NULL or valid for `length` bytes.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetUUID(
    device: NvmlDevice,
    uuid: *mut c_char,
    length: c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's buffer.
        unsafe { put_str(uuid, length, &g.uuid_string()) }
    })
}

fn fixed<const N: usize>(s: &str) -> [c_char; N] {
    let mut out = [0 as c_char; N];
    for (o, b) in out.iter_mut().zip(s.bytes().take(N - 1)) {
        *o = b as c_char;
    }
    out
}

/// The PCI information of a GPU.
pub fn pci_info(g: &Gpu) -> NvmlPciInfo {
    NvmlPciInfo {
        bus_id_legacy: fixed(&format!(
            "{:04X}:{:02X}:{:02X}.0",
            g.pci_domain, g.pci_bus, g.pci_device
        )),
        domain: g.pci_domain,
        bus: g.pci_bus,
        device: g.pci_device,
        pci_device_id: g.model.pci.device_id,
        pci_sub_system_id: g.model.pci.subsystem_id,
        bus_id: fixed(&g.pci_bus_id()),
    }
}

/// `nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)`
///
/// # Safety
/// `pci` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPciInfo_v3(
    device: NvmlDevice,
    pci: *mut NvmlPciInfo,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(pci, pci_info(g)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)`
///
/// # Safety
/// `pci` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPciInfo_v2(
    device: NvmlDevice,
    pci: *mut NvmlPciInfo,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { nvmlDeviceGetPciInfo_v3(device, pci) }
}

/// The clock of `kind` now, MHz.
pub fn clock_now(g: &Gpu, kind: c_uint) -> Option<u32> {
    let c = &g.model.compute;
    Some(match kind {
        NVML_CLOCK_GRAPHICS | NVML_CLOCK_SM => {
            // Under `throttle` the clock is held even when idle; otherwise a GPU in use holds
            // its clock (reduced under `thermal=RISE@T` and `power-cap`), an idle one drops.
            if g.faults.throttle || g.is_open() {
                g.sm_clock_mhz()
            } else {
                c.sm_clock_idle_mhz
            }
        }
        NVML_CLOCK_MEM => g.model.memory.clock_mhz,
        NVML_CLOCK_VIDEO => g.model.nvml.video_clock_mhz,
        _ => return None,
    })
}

/// The maximum clock of `kind`, MHz.
pub fn clock_max(g: &Gpu, kind: c_uint) -> Option<u32> {
    Some(match kind {
        NVML_CLOCK_GRAPHICS | NVML_CLOCK_SM => g.model.compute.sm_clock_max_mhz,
        NVML_CLOCK_MEM => g.model.memory.clock_mhz,
        NVML_CLOCK_VIDEO => g.model.nvml.video_clock_mhz,
        _ => return None,
    })
}

unsafe fn clock_query(
    device: NvmlDevice,
    kind: c_uint,
    clock: *mut c_uint,
    f: fn(&Gpu, c_uint) -> Option<u32>,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        let v = f(g, kind).ok_or(NVML_ERROR_INVALID_ARGUMENT)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(clock, v) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned
/// int *clock)`
///
/// # Safety
/// `clock` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetClockInfo(
    device: NvmlDevice,
    kind: c_uint,
    clock: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { clock_query(device, kind, clock, clock_now) }
}

/// `nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type,
/// unsigned int *clock)`
///
/// # Safety
/// `clock` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetMaxClockInfo(
    device: NvmlDevice,
    kind: c_uint,
    clock: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { clock_query(device, kind, clock, clock_max) }
}

fn app_clock(g: &Gpu, kind: c_uint) -> Option<u32> {
    match kind {
        NVML_CLOCK_GRAPHICS | NVML_CLOCK_SM => Some(g.model.compute.sm_clock_base_mhz),
        _ => clock_max(g, kind),
    }
}

/// `nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t
/// clockType, unsigned int *clockMHz)`: the base clock (the default applications clock).
///
/// # Safety
/// `clock` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetApplicationsClock(
    device: NvmlDevice,
    kind: c_uint,
    clock: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { clock_query(device, kind, clock, app_clock) }
}

/// `nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t
/// clockType, unsigned int *clockMHz)`
///
/// # Safety
/// `clock` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetDefaultApplicationsClock(
    device: NvmlDevice,
    kind: c_uint,
    clock: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { clock_query(device, kind, clock, app_clock) }
}

/// The GPU temperature now, °C: the load-following model's (`crate::power`), with
/// `thermal=RISE[@T]` on top while a context is open; the slowdown temperature under `throttle`.
pub fn temperature(g: &Gpu) -> u32 {
    let n = &g.model.nvml;
    let model_c = g.heat().temperature_c;
    if g.faults.throttle {
        n.slowdown_temperature_c
    } else if g.is_open() {
        g.faults
            .health
            .temperature_c(model_c, n.slowdown_temperature_c, uptime_s())
    } else {
        model_c.round() as u32
    }
}

/// `nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t
/// sensorType, unsigned int *temp)`: sensor NVML_TEMPERATURE_GPU (0) only.
///
/// # Safety
/// `temp` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetTemperature(
    device: NvmlDevice,
    sensor: c_uint,
    temp: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if sensor != 0 {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        // SAFETY: the caller's out-pointer.
        unsafe { put(temp, temperature(g)) }
    })
}

/// `nvmlTemperatureThresholds_t` NVML_TEMPERATURE_THRESHOLD_SLOWDOWN (1; SHUTDOWN is 0): where the GPU begins its hardware slowdown.
pub const NVML_TEMPERATURE_THRESHOLD_SLOWDOWN: c_uint = 1;

/// `nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device,
/// nvmlTemperatureThresholds_t thresholdType, unsigned int *temp)`: the slowdown threshold is
/// the model's `slowdown_temperature_c` (the temperature `throttle` and `thermal=RISE@T`
/// report); the models give no shutdown threshold (NVML_ERROR_NOT_SUPPORTED, as a GPU without
/// that sensor answers), and any other kind is not supported either.
///
/// # Safety
/// `temp` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetTemperatureThreshold(
    device: NvmlDevice,
    kind: c_uint,
    temp: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        match kind {
            NVML_TEMPERATURE_THRESHOLD_SLOWDOWN => {
                // SAFETY: the caller's out-pointer.
                unsafe { put(temp, g.model.nvml.slowdown_temperature_c) }
            }
            _ => Err(NVML_ERROR_NOT_SUPPORTED),
        }
    })
}

/// Board power now, mW: the load-following model's (`crate::power`; under `power-cap` held at
/// the power limit while loaded).
pub fn power_mw(g: &Gpu) -> u32 {
    (g.heat().power_w * 1000.0).round() as u32
}

/// `nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)` (mW)
///
/// # Safety
/// `power` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPowerUsage(
    device: NvmlDevice,
    power: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(power, power_mw(g)) }
    })
}

unsafe fn power_limit(device: NvmlDevice, limit: *mut c_uint) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(limit, g.model.nvml.power_limit_w * 1000) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)`
/// (mW)
///
/// # Safety
/// `limit` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetEnforcedPowerLimit(
    device: NvmlDevice,
    limit: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { power_limit(device, limit) }
}

/// `nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)`
///
/// # Safety
/// `limit` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPowerManagementLimit(
    device: NvmlDevice,
    limit: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { power_limit(device, limit) }
}

/// `nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned int
/// *defaultLimit)`
///
/// # Safety
/// `limit` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPowerManagementDefaultLimit(
    device: NvmlDevice,
    limit: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { power_limit(device, limit) }
}

/// The clocks-event (throttle) reasons now.
pub fn reasons(g: &Gpu) -> u64 {
    let h = &g.faults.health;
    if g.faults.throttle {
        REASON_SW_THERMAL_SLOWDOWN | REASON_HW_THERMAL_SLOWDOWN
    } else if h.hw_slowdown(uptime_s()) {
        REASON_HW_SLOWDOWN | REASON_HW_THERMAL_SLOWDOWN
    } else if g.is_open() && g.heat().capped {
        REASON_SW_POWER_CAP
    } else if g.is_open() {
        0
    } else {
        REASON_GPU_IDLE
    }
}

/// `nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long
/// long *clocksEventReasons)`
///
/// # Safety
/// `r` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCurrentClocksEventReasons(
    device: NvmlDevice,
    r: *mut c_ulonglong,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(r, reasons(g)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long
/// long *clocksThrottleReasons)` (the name before CUDA 12.2)
///
/// # Safety
/// `r` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCurrentClocksThrottleReasons(
    device: NvmlDevice,
    r: *mut c_ulonglong,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { nvmlDeviceGetCurrentClocksEventReasons(device, r) }
}

unsafe fn link_query(device: NvmlDevice, v: *mut c_uint, f: fn(&Gpu) -> u32) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(v, f(g)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int
/// *currLinkGen)`
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCurrPcieLinkGeneration(
    device: NvmlDevice,
    v: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { link_query(device, v, |g| g.pcie_link().0) }
}

/// `nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int
/// *currLinkWidth)`
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCurrPcieLinkWidth(
    device: NvmlDevice,
    v: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { link_query(device, v, |g| g.pcie_link().1) }
}

/// `nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int
/// *maxLinkGen)`
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetMaxPcieLinkGeneration(
    device: NvmlDevice,
    v: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { link_query(device, v, |g| g.model.pci.gen) }
}

/// `nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int
/// *maxLinkWidth)`
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetMaxPcieLinkWidth(
    device: NvmlDevice,
    v: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { link_query(device, v, |g| g.model.pci.width) }
}

/// Memory as NVML sees it: used = live allocations, plus the context reservation while a
/// context is open.
pub fn memory(g: &Gpu) -> NvmlMemory {
    let m = &g.model.memory;
    let mut used = g.used_bytes.load(Ordering::Relaxed);
    if g.is_open() {
        used += m.context_reserved_bytes;
    }
    let used = used.min(m.total_bytes);
    NvmlMemory {
        total: m.total_bytes,
        free: m.total_bytes - used,
        used,
    }
}

/// `nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)`
///
/// # Safety
/// `mem` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetMemoryInfo(
    device: NvmlDevice,
    mem: *mut NvmlMemory,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(mem, memory(g)) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned int *busWidth)`
///
/// # Safety
/// `v` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetMemoryBusWidth(
    device: NvmlDevice,
    v: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { link_query(device, v, |g| g.model.memory.bus_width_bits) }
}

/// `nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t
/// *utilization)`: the GPU's busy share over the last second (`crate::power`), and half of it
/// for the memory.
///
/// # Safety
/// `u` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetUtilizationRates(
    device: NvmlDevice,
    u: *mut NvmlUtilization,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        let busy = g.heat().utilization;
        let v = NvmlUtilization {
            gpu: (100.0 * busy).round() as c_uint,
            memory: (50.0 * busy).round() as c_uint,
        };
        // SAFETY: the caller's out-pointer.
        unsafe { put(u, v) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState)`:
/// P0 while a context is open, P8 otherwise.
///
/// # Safety
/// `p` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetPerformanceState(
    device: NvmlDevice,
    p: *mut c_uint,
) -> NvmlReturn {
    // SAFETY: same contract.
    unsafe { link_query(device, p, |g| if g.is_open() { 0 } else { 8 }) }
}

/// `nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int
/// *minor)`
///
/// # Safety
/// Both pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetCudaComputeCapability(
    device: NvmlDevice,
    major: *mut c_int,
    minor: *mut c_int,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        let [a, b] = g.model.compute.capability;
        // SAFETY: the caller's out-pointers.
        unsafe {
            put(major, a as c_int)?;
            put(minor, b as c_int)
        }
    })
}

/// `nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current,
/// nvmlEnableState_t *pending)`
///
/// # Safety
/// Both pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetEccMode(
    device: NvmlDevice,
    current: *mut c_uint,
    pending: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        let on = g.model.memory.ecc_enabled as c_uint;
        // SAFETY: the caller's out-pointers.
        unsafe {
            put(current, on)?;
            put(pending, on)
        }
    })
}

/// The ECC error count of a type (0 corrected, 1 uncorrected), whatever the counter (volatile
/// or aggregate: the simulator's counters start with the process): the `launch-fail-after`
/// fault's uncorrected error, and the `ecc=sbe@T` / `ecc=dbe@T` faults' from their time.
pub(crate) fn ecc_count(g: &Gpu, error_type: c_uint, counter_type: c_uint) -> NvmlResult<u64> {
    if !g.model.memory.ecc_enabled {
        return Err(NVML_ERROR_NOT_SUPPORTED);
    }
    if counter_type > 1 {
        return Err(NVML_ERROR_INVALID_ARGUMENT);
    }
    match error_type {
        0 => Ok(g.faults.health.corrected(uptime_s())),
        1 => Ok(g
            .ecc_uncorrected
            .load(Ordering::Acquire)
            .max(g.faults.health.uncorrected(uptime_s()))),
        _ => Err(NVML_ERROR_INVALID_ARGUMENT),
    }
}

/// `nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t
/// errorType, nvmlEccCounterType_t counterType, unsigned long long *eccCounts)`
///
/// # Safety
/// `counts` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetTotalEccErrors(
    device: NvmlDevice,
    error_type: c_uint,
    counter_type: c_uint,
    counts: *mut c_ulonglong,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        let n = ecc_count(g, error_type, counter_type)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(counts, n) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetMemoryErrorCounter(nvmlDevice_t device, nvmlMemoryErrorType_t
/// errorType, nvmlEccCounterType_t counterType, nvmlMemoryLocation_t locationType, unsigned
/// long long *count)`: the errors are in device memory (location DRAM, 2).
///
/// # Safety
/// `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetMemoryErrorCounter(
    device: NvmlDevice,
    error_type: c_uint,
    counter_type: c_uint,
    location: c_uint,
    count: *mut c_ulonglong,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if location > 7 {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        let n = ecc_count(g, error_type, counter_type)?;
        // SAFETY: the caller's out-pointer.
        unsafe { put(count, if location == 2 { n } else { 0 }) }
    })
}

fn encoder(g: &Gpu) -> NvmlResult {
    if g.nvenc_engines() == 0 {
        Err(NVML_ERROR_NOT_SUPPORTED)
    } else {
        Ok(())
    }
}

/// `nvmlReturn_t nvmlDeviceGetEncoderCapacity(nvmlDevice_t device, nvmlEncoderType_t
/// encoderQueryType, unsigned int *encoderCapacity)`: H.264 (0) and HEVC (1) on GPUs with
/// NVENC (100 %: idle); AV1 (2) is not supported by the modelled GPUs; NOT_SUPPORTED without
/// NVENC.
///
/// # Safety
/// `capacity` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetEncoderCapacity(
    device: NvmlDevice,
    kind: c_uint,
    capacity: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        if kind > 2 {
            return Err(NVML_ERROR_INVALID_ARGUMENT);
        }
        encoder(g)?;
        if kind == 2 {
            return Err(NVML_ERROR_NOT_SUPPORTED);
        }
        // SAFETY: the caller's out-pointer.
        unsafe { put(capacity, 100) }
    })
}

/// `nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int
/// *utilization, unsigned int *samplingPeriodUs)`: 0 % over 167 ms.
///
/// # Safety
/// Both pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetEncoderUtilization(
    device: NvmlDevice,
    utilization: *mut c_uint,
    period_us: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        encoder(g)?;
        // SAFETY: the caller's out-pointers.
        unsafe {
            put(utilization, 0)?;
            put(period_us, 167_000)
        }
    })
}

/// `nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t device, unsigned int *sessionCount,
/// unsigned int *averageFps, unsigned int *averageLatency)`: no sessions.
///
/// # Safety
/// All pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn nvmlDeviceGetEncoderStats(
    device: NvmlDevice,
    sessions: *mut c_uint,
    fps: *mut c_uint,
    latency: *mut c_uint,
) -> NvmlReturn {
    nguard(|| {
        let g = gpu(device)?;
        encoder(g)?;
        // SAFETY: the caller's out-pointers.
        unsafe {
            put(sessions, 0)?;
            put(fps, 0)?;
            put(latency, 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_bus_ids_parse_in_every_form() {
        assert_eq!(parse_pci_bus_id("00000000:65:00.0"), Some((0, 0x65, 0)));
        assert_eq!(parse_pci_bus_id("0000:3b:00.0"), Some((0, 0x3b, 0)));
        assert_eq!(parse_pci_bus_id("0001:3B:1f.0"), Some((1, 0x3b, 0x1f)));
        assert_eq!(parse_pci_bus_id("04:00.0"), Some((0, 4, 0)));
        assert_eq!(parse_pci_bus_id("garbage"), None);
    }

    #[test]
    fn error_strings_are_nul_terminated() {
        for r in [0, 1, 2, 3, 6, 7, 12, 999, 12345] {
            let p = nvmlErrorString(r);
            // SAFETY: a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap();
            assert!(!s.is_empty());
        }
    }

    #[test]
    fn pci_info_layout_matches_nvml_h() {
        assert_eq!(std::mem::size_of::<NvmlPciInfo>(), 16 + 5 * 4 + 32);
        assert_eq!(std::mem::size_of::<NvmlMemory>(), 24);
    }
}
