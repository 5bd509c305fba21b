//! Initialisation, the driver version, devices and their attributes, and primary contexts.

use std::ffi::{c_char, c_int, c_uint};
use std::sync::atomic::Ordering;

use cudarc::driver::sys::{CUcontext, CUdevice, CUdevice_attribute as A, CUresult, CUuuid};

use super::shared::{machine, Gpu};
use super::state::{self, ctx_handle, driver};
use super::{guard, out, write_c_string, CuResult};

/// `CUresult cuInit(unsigned int Flags)`: Flags must be 0.
#[no_mangle]
pub extern "C" fn cuInit(flags: c_uint) -> CUresult {
    guard(|| {
        if flags != 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        state::init().map(|_| ())
    })
}

/// What the simulator declares itself to be, NUL-terminated (see [`gpugateSimIdentity`]).
pub const IDENTITY: &str = concat!(
    "gpugate-sim ",
    env!("CARGO_PKG_VERSION"),
    ": a simulated NVIDIA driver executing PTX on the CPU, not a GPU\0"
);

/// `const char *gpugateSimIdentity(void)`: the simulator's identity, a static NUL-terminated
/// string. No NVIDIA library exports this name, and every library the simulator stands in for
/// (`libcuda.so.1`, `libnvidia-ml.so.1`, …) is this one object, so a program that finds the
/// name in the driver it loaded knows the driver is simulated, whatever the devices are called.
/// gpugate looks it up in the libcuda it loaded and records the string in run.json.
#[no_mangle]
pub extern "C" fn gpugateSimIdentity() -> *const c_char {
    IDENTITY.as_ptr().cast()
}

/// `CUresult cuDriverGetVersion(int *driverVersion)`: valid before cuInit.
///
/// # Safety
/// `version` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDriverGetVersion(version: *mut c_int) -> CUresult {
    guard(|| {
        if version.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let m = machine().map_err(|_| CUresult::CUDA_ERROR_INVALID_VALUE)?;
        // SAFETY: checked non-null; the caller provides the storage.
        unsafe { out(version, m.config.driver_cuda_version() as c_int) }
    })
}

/// `CUresult cuDeviceGetCount(int *count)`
///
/// # Safety
/// `count` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetCount(count: *mut c_int) -> CUresult {
    guard(|| {
        let d = driver()?;
        // SAFETY: out-pointer from the caller.
        unsafe { out(count, d.machine.gpus.len() as c_int) }
    })
}

/// `CUresult cuDeviceGet(CUdevice *device, int ordinal)`
///
/// # Safety
/// `device` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGet(device: *mut CUdevice, ordinal: c_int) -> CUresult {
    guard(|| {
        let d = driver()?;
        if device.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let i = d.device(ordinal)?;
        // SAFETY: checked non-null.
        unsafe { out(device, i as CUdevice) }
    })
}

fn gpu_of(dev: CUdevice) -> CuResult<&'static Gpu> {
    let d = driver()?;
    Ok(d.gpu(d.device(dev)?))
}

/// `CUresult cuDeviceGetName(char *name, int len, CUdevice dev)`
///
/// # Safety
/// `name` must be NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetName(name: *mut c_char, len: c_int, dev: CUdevice) -> CUresult {
    guard(|| {
        let g = gpu_of(dev)?;
        if name.is_null() || len <= 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // SAFETY: the caller's buffer holds `len` bytes.
        unsafe { write_c_string(name, len as usize, &g.model.name) };
        Ok(())
    })
}

/// `CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)`
///
/// # Safety
/// `uuid` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetUuid(uuid: *mut CUuuid, dev: CUdevice) -> CUresult {
    guard(|| {
        let g = gpu_of(dev)?;
        let bytes = g.uuid.map(|b| b as c_char);
        // SAFETY: out-pointer from the caller.
        unsafe { out(uuid, CUuuid { bytes }) }
    })
}

/// `CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)` (the same UUID; v2 differs only
/// under MIG, which the simulator does not model).
///
/// # Safety
/// `uuid` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetUuid_v2(uuid: *mut CUuuid, dev: CUdevice) -> CUresult {
    // SAFETY: same contract.
    unsafe { cuDeviceGetUuid(uuid, dev) }
}

/// `CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)`
///
/// # Safety
/// `bytes` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceTotalMem_v2(bytes: *mut usize, dev: CUdevice) -> CUresult {
    guard(|| {
        let g = gpu_of(dev)?;
        // SAFETY: out-pointer from the caller.
        unsafe { out(bytes, g.model.memory.total_bytes as usize) }
    })
}

/// `CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)` (deprecated).
///
/// # Safety
/// Both pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceComputeCapability(
    major: *mut c_int,
    minor: *mut c_int,
    dev: CUdevice,
) -> CUresult {
    guard(|| {
        let g = gpu_of(dev)?;
        if major.is_null() || minor.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let [ma, mi] = g.model.compute.capability;
        // SAFETY: checked non-null.
        unsafe {
            out(major, ma as c_int)?;
            out(minor, mi as c_int)
        }
    })
}

/// `CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)`: "0000:BB:DD.0".
///
/// # Safety
/// `bus_id` must be NULL or valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetPCIBusId(
    bus_id: *mut c_char,
    len: c_int,
    dev: CUdevice,
) -> CUresult {
    guard(|| {
        let g = gpu_of(dev)?;
        if bus_id.is_null() || len <= 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let s = format!(
            "{:04x}:{:02x}:{:02x}.0",
            g.pci_domain, g.pci_bus, g.pci_device
        );
        // SAFETY: the caller's buffer holds `len` bytes.
        unsafe { write_c_string(bus_id, len as usize, &s) };
        Ok(())
    })
}

/// The value of device attribute `attr` of `g`, or None for an attribute the simulator does
/// not model (the caller then gets CUDA_ERROR_INVALID_VALUE).
pub fn attribute(g: &Gpu, attr: c_int) -> Option<i32> {
    let m = &g.model;
    let c = &m.compute;
    let mem = &m.memory;
    let b = |x: bool| x as i32;
    let v = |x: u32| x.min(i32::MAX as u32) as i32;
    let is = |a: A| attr == a as c_int;
    Some(match () {
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) => v(c.max_threads_per_block),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) => v(c.max_block_dim[0]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) => v(c.max_block_dim[1]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) => v(c.max_block_dim[2]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) => v(c.max_grid_dim[0]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) => v(c.max_grid_dim[1]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) => v(c.max_grid_dim[2]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK) => v(c.shared_per_block),
        _ if is(A::CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY) => v(c.total_constant_bytes),
        _ if is(A::CU_DEVICE_ATTRIBUTE_WARP_SIZE) => v(c.warp_size),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_PITCH) => i32::MAX,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK) => v(c.regs_per_block),
        _ if is(A::CU_DEVICE_ATTRIBUTE_CLOCK_RATE) => v(c.sm_clock_max_mhz * 1000),
        _ if is(A::CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT) => 512,
        _ if is(A::CU_DEVICE_ATTRIBUTE_GPU_OVERLAP) => b(c.async_engines > 0),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) => v(c.sm_count),
        _ if is(A::CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_INTEGRATED) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY) => 1,
        _ if is(A::CU_DEVICE_ATTRIBUTE_COMPUTE_MODE) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT) => 512,
        _ if is(A::CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS) => b(c.concurrent_kernels),
        _ if is(A::CU_DEVICE_ATTRIBUTE_ECC_ENABLED) => b(mem.ecc_enabled),
        _ if is(A::CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) => v(g.pci_bus),
        _ if is(A::CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID) => v(g.pci_device),
        _ if is(A::CU_DEVICE_ATTRIBUTE_TCC_DRIVER) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE) => v(mem.clock_mhz * 1000),
        _ if is(A::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH) => v(mem.bus_width_bits),
        _ if is(A::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE) => v(mem.l2_bytes),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR) => v(c.max_threads_per_sm),
        _ if is(A::CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT) => v(c.async_engines),
        _ if is(A::CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING) => b(mem.unified_addressing),
        _ if is(A::CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID) => v(g.pci_domain),
        _ if is(A::CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT) => 32,
        _ if is(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) => v(c.capability[0]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) => v(c.capability[1]),
        _ if is(A::CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED) => 1,
        _ if is(A::CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED) => 1,
        _ if is(A::CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED) => 1,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR) => v(c.shared_per_sm),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR) => v(c.regs_per_sm),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY) => b(mem.managed_memory),
        _ if is(A::CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID) => g.index as i32,
        _ if is(A::CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO) => {
            v(c.single_to_double_ratio)
        }
        _ if is(A::CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS) => {
            b(mem.managed_memory && c.capability[0] >= 6)
        }
        _ if is(A::CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED) => b(c.capability[0] >= 6),
        _ if is(A::CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM) => 1,
        _ if is(A::CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH) => b(c.cooperative_launch),
        _ if is(A::CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN) => {
            v(c.shared_per_block_optin)
        }
        _ if is(A::CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED) => 1,
        _ if is(A::CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_VIRTUAL_ADDRESS_MANAGEMENT_SUPPORTED) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR) => v(c.max_blocks_per_sm),
        _ if is(A::CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK) => {
            v(c.reserved_shared_per_block)
        }
        _ if is(A::CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) => b(mem.memory_pools),
        _ if is(A::CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED) => 0,
        _ if is(A::CU_DEVICE_ATTRIBUTE_MPS_ENABLED) => 0,
        _ => return None,
    })
}

/// `CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)`
///
/// # Safety
/// `pi` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceGetAttribute(
    pi: *mut c_int,
    attrib: c_int,
    dev: CUdevice,
) -> CUresult {
    guard(|| {
        let g = gpu_of(dev)?;
        if pi.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        // An attribute newer than the machine's driver does not exist there.
        let known = crate::config::get().is_ok_and(|c| c.has_attribute(attrib));
        let v = attribute(g, attrib)
            .filter(|_| known)
            .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
        // SAFETY: checked non-null.
        unsafe { out(pi, v) }
    })
}

/// `CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)`:
/// simulated GPUs can all reach each other, except a device itself (0, as the real driver
/// answers) and a pair in which a GPU has the `no-p2p` fault (0). An invalid device is
/// CUDA_ERROR_INVALID_DEVICE.
///
/// # Safety
/// `can` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDeviceCanAccessPeer(
    can: *mut c_int,
    dev: CUdevice,
    peer: CUdevice,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        let a = d.device(dev)?;
        let b = d.device(peer)?;
        let reachable = a != b && !d.gpu(a).faults.no_p2p && !d.gpu(b).faults.no_p2p;
        // SAFETY: out-pointer from the caller.
        unsafe { out(can, reachable as c_int) }
    })
}

/// Marks a context of GPU `d` as open (NVML sees the GPU in use).
pub(crate) fn opened(d: usize) {
    if let Ok(m) = machine() {
        m.gpus[d].open_contexts.fetch_add(1, Ordering::Relaxed);
    }
}

/// Marks a context of GPU `d` as closed.
pub(crate) fn closed(d: usize) {
    if let Ok(m) = machine() {
        let _ = m.gpus[d]
            .open_contexts
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// `CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)`
///
/// # Safety
/// `pctx` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxRetain(pctx: *mut CUcontext, dev: CUdevice) -> CUresult {
    guard(|| {
        let d = driver()?;
        let i = d.device(dev)?;
        if pctx.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let mut st = d.lock();
        let id = st.primary[i];
        let c = st.ctxs.get_mut(&id).expect("primary context exists");
        c.retain += 1;
        if !c.active {
            c.active = true;
            opened(i);
        }
        // SAFETY: checked non-null.
        unsafe { out(pctx, ctx_handle(id)) }
    })
}

fn primary_release(dev: CUdevice) -> CuResult {
    let d = driver()?;
    let i = d.device(dev)?;
    let mut st = d.lock();
    let id = st.primary[i];
    let c = st.ctxs.get_mut(&id).expect("primary context exists");
    if c.retain == 0 {
        return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
    }
    c.retain -= 1;
    if c.retain == 0 {
        // The last reference: the context is reset (its resources freed) and goes inactive.
        c.active = false;
        c.flags = 0;
        c.limits.clear();
        st.release_resources(d.machine, id);
        closed(i);
    }
    Ok(())
}

/// `CUresult cuDevicePrimaryCtxRelease(CUdevice dev)`
#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxRelease(dev: CUdevice) -> CUresult {
    guard(|| primary_release(dev))
}

/// `CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)`
#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxRelease_v2(dev: CUdevice) -> CUresult {
    guard(|| primary_release(dev))
}

fn primary_reset(dev: CUdevice) -> CuResult {
    let d = driver()?;
    let i = d.device(dev)?;
    let mut st = d.lock();
    let id = st.primary[i];
    st.release_resources(d.machine, id);
    if let Some(c) = st.ctxs.get_mut(&id) {
        c.flags = 0;
        c.limits.clear();
    }
    Ok(())
}

/// `CUresult cuDevicePrimaryCtxReset(CUdevice dev)`: frees everything the primary context
/// holds. A sticky kernel error stays: the simulator, like the driver's documentation, treats
/// the process as unable to use the device again.
#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxReset(dev: CUdevice) -> CUresult {
    guard(|| primary_reset(dev))
}

/// `CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)`
#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxReset_v2(dev: CUdevice) -> CUresult {
    guard(|| primary_reset(dev))
}

/// `CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)`
///
/// # Safety
/// Both pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuDevicePrimaryCtxGetState(
    dev: CUdevice,
    flags: *mut c_uint,
    active: *mut c_int,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        let i = d.device(dev)?;
        if flags.is_null() || active.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let st = d.lock();
        let c = &st.ctxs[&st.primary[i]];
        // SAFETY: checked non-null.
        unsafe {
            out(flags, c.flags)?;
            out(active, c.active as c_int)
        }
    })
}

/// The context flags cuCtxCreate / cuDevicePrimaryCtxSetFlags accept: a scheduling mode
/// (0–4), CU_CTX_MAP_HOST (8), CU_CTX_LMEM_RESIZE_TO_MAX (16), CU_CTX_COREDUMP_ENABLE (32),
/// CU_CTX_USER_COREDUMP_ENABLE (64), CU_CTX_SYNC_MEMOPS (128).
pub(crate) fn valid_ctx_flags(flags: c_uint) -> bool {
    let sched = flags & 0x7;
    sched <= 4 && flags & !0xff == 0
}

fn primary_set_flags(dev: CUdevice, flags: c_uint) -> CuResult {
    let d = driver()?;
    let i = d.device(dev)?;
    if !valid_ctx_flags(flags) {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let mut st = d.lock();
    let id = st.primary[i];
    st.ctxs.get_mut(&id).expect("primary context exists").flags = flags;
    Ok(())
}

/// `CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)`
#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxSetFlags(dev: CUdevice, flags: c_uint) -> CUresult {
    guard(|| primary_set_flags(dev, flags))
}

/// `CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)`
#[no_mangle]
pub extern "C" fn cuDevicePrimaryCtxSetFlags_v2(dev: CUdevice, flags: c_uint) -> CUresult {
    guard(|| primary_set_flags(dev, flags))
}
