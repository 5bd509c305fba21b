//! Contexts: creation, the per-thread context stack, limits, synchronisation, peer access.

use std::ffi::{c_int, c_uint};

use cudarc::driver::sys::{CUcontext, CUdevice, CUlimit_enum as L, CUresult};

use super::device::{closed, opened, valid_ctx_flags};
use super::state::{self, ctx_handle, driver, id_of, Ctx, Kind};
use super::{guard, out, CuResult};

/// `CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)`: a new context,
/// pushed onto the calling thread's stack.
///
/// # Safety
/// `pctx` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxCreate_v2(
    pctx: *mut CUcontext,
    flags: c_uint,
    dev: CUdevice,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        let i = d.device(dev)?;
        if pctx.is_null() || !valid_ctx_flags(flags) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        d.sticky(i)?;
        let mut st = d.lock();
        let id = st.new_id();
        let mut c = Ctx {
            flags,
            ..ctx_template(i)
        };
        c.active = true;
        st.ctxs.insert(id, c);
        opened(i);
        state::push_current(id);
        // SAFETY: checked non-null.
        unsafe { out(pctx, ctx_handle(id)) }
    })
}

fn ctx_template(device: usize) -> Ctx {
    Ctx {
        device,
        primary: false,
        retain: 0,
        active: true,
        flags: 0,
        limits: Default::default(),
        peers: Default::default(),
        legacy_clock: 0.0,
        per_thread_clock: 0.0,
        cache_config: 0,
    }
}

fn destroy(ctx: CUcontext) -> CuResult {
    let d = driver()?;
    let mut st = d.lock();
    let id = id_of(Kind::Context, ctx as usize).ok_or(CUresult::CUDA_ERROR_INVALID_CONTEXT)?;
    let c = st
        .ctxs
        .get(&id)
        .ok_or(CUresult::CUDA_ERROR_INVALID_CONTEXT)?;
    if c.primary {
        // A primary context is released, never destroyed.
        return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
    }
    let dev = c.device;
    st.release_resources(d.machine, id);
    st.ctxs.remove(&id);
    closed(dev);
    state::forget_current(id);
    Ok(())
}

/// `CUresult cuCtxDestroy_v2(CUcontext ctx)`
#[no_mangle]
pub extern "C" fn cuCtxDestroy_v2(ctx: CUcontext) -> CUresult {
    guard(|| destroy(ctx))
}

/// `CUresult cuCtxDestroy(CUcontext ctx)`
#[no_mangle]
pub extern "C" fn cuCtxDestroy(ctx: CUcontext) -> CUresult {
    guard(|| destroy(ctx))
}

/// `CUresult cuCtxSetCurrent(CUcontext ctx)`: replaces the top of the thread's stack; NULL pops.
#[no_mangle]
pub extern "C" fn cuCtxSetCurrent(ctx: CUcontext) -> CUresult {
    guard(|| {
        let d = driver()?;
        if ctx.is_null() {
            state::set_current(None);
            return Ok(());
        }
        let st = d.lock();
        let id = id_of(Kind::Context, ctx as usize)
            .filter(|id| st.ctxs.contains_key(id))
            .ok_or(CUresult::CUDA_ERROR_INVALID_CONTEXT)?;
        state::set_current(Some(id));
        Ok(())
    })
}

/// `CUresult cuCtxGetCurrent(CUcontext *pctx)`: NULL when the thread has none.
///
/// # Safety
/// `pctx` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetCurrent(pctx: *mut CUcontext) -> CUresult {
    guard(|| {
        driver()?;
        let h = state::current_id()
            .map(ctx_handle)
            .unwrap_or(std::ptr::null_mut());
        // SAFETY: out-pointer from the caller.
        unsafe { out(pctx, h) }
    })
}

fn push(ctx: CUcontext) -> CuResult {
    let d = driver()?;
    let st = d.lock();
    let id = st.ctx_from_handle(ctx)?;
    state::push_current(id);
    Ok(())
}

/// `CUresult cuCtxPushCurrent_v2(CUcontext ctx)`
#[no_mangle]
pub extern "C" fn cuCtxPushCurrent_v2(ctx: CUcontext) -> CUresult {
    guard(|| push(ctx))
}

/// `CUresult cuCtxPushCurrent(CUcontext ctx)`
#[no_mangle]
pub extern "C" fn cuCtxPushCurrent(ctx: CUcontext) -> CUresult {
    guard(|| push(ctx))
}

unsafe fn pop(pctx: *mut CUcontext) -> CuResult {
    driver()?;
    let id = state::pop_current().ok_or(CUresult::CUDA_ERROR_INVALID_CONTEXT)?;
    if !pctx.is_null() {
        // SAFETY: non-null out-pointer from the caller.
        unsafe { pctx.write(ctx_handle(id)) };
    }
    Ok(())
}

/// `CUresult cuCtxPopCurrent_v2(CUcontext *pctx)`
///
/// # Safety
/// `pctx` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxPopCurrent_v2(pctx: *mut CUcontext) -> CUresult {
    // SAFETY: same contract.
    guard(|| unsafe { pop(pctx) })
}

/// `CUresult cuCtxPopCurrent(CUcontext *pctx)`
///
/// # Safety
/// `pctx` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxPopCurrent(pctx: *mut CUcontext) -> CUresult {
    // SAFETY: same contract.
    guard(|| unsafe { pop(pctx) })
}

/// A property of the current context.
fn current_field<T>(get: impl Fn(&Ctx) -> T) -> CuResult<T> {
    let d = driver()?;
    let st = d.lock();
    let c = st.current()?;
    Ok(get(&st.ctxs[&c]))
}

/// `CUresult cuCtxGetDevice(CUdevice *device)`
///
/// # Safety
/// `device` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetDevice(device: *mut CUdevice) -> CUresult {
    // SAFETY: out-pointer from the caller.
    guard(|| unsafe { out(device, current_field(|c| c.device as CUdevice)?) })
}

/// `CUresult cuCtxSynchronize(void)`: all work is done at enqueue; returns the device's sticky
/// error if a kernel faulted.
#[no_mangle]
pub extern "C" fn cuCtxSynchronize() -> CUresult {
    guard(|| {
        let d = driver()?;
        let dev = {
            let st = d.lock();
            let c = st.current()?;
            st.ctxs[&c].device
        };
        d.sticky(dev)
    })
}

/// `CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)`: 3020, as for every
/// context created through the v2 API.
///
/// # Safety
/// `version` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetApiVersion(ctx: CUcontext, version: *mut c_uint) -> CUresult {
    guard(|| {
        let d = driver()?;
        let st = d.lock();
        if ctx.is_null() {
            st.current()?;
        } else {
            st.ctx_from_handle(ctx)?;
        }
        // SAFETY: out-pointer from the caller.
        unsafe { out(version, 3020) }
    })
}

/// `CUresult cuCtxGetFlags(unsigned int *flags)`
///
/// # Safety
/// `flags` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetFlags(flags: *mut c_uint) -> CUresult {
    // SAFETY: out-pointer from the caller.
    guard(|| unsafe { out(flags, current_field(|c| c.flags)?) })
}

/// `CUresult cuCtxSetFlags(unsigned int flags)`
#[no_mangle]
pub extern "C" fn cuCtxSetFlags(flags: c_uint) -> CUresult {
    guard(|| {
        let d = driver()?;
        if !valid_ctx_flags(flags) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let mut st = d.lock();
        let c = st.current()?;
        st.ctxs.get_mut(&c).expect("current context exists").flags = flags;
        Ok(())
    })
}

/// The default of a limit, or None when the device does not support it.
fn limit_default(sm: u32, limit: c_int) -> Option<u64> {
    let is = |l: L| limit == l as c_int;
    Some(match () {
        _ if is(L::CU_LIMIT_STACK_SIZE) => 1024,
        _ if is(L::CU_LIMIT_PRINTF_FIFO_SIZE) => 1 << 20,
        _ if is(L::CU_LIMIT_MALLOC_HEAP_SIZE) => 8 << 20,
        _ if is(L::CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH) => 2,
        _ if is(L::CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT) => 2048,
        _ if is(L::CU_LIMIT_MAX_L2_FETCH_GRANULARITY) => 64,
        _ if is(L::CU_LIMIT_PERSISTING_L2_CACHE_SIZE) && sm >= 80 => 0,
        _ => return None,
    })
}

/// `CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)`
///
/// # Safety
/// `pvalue` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetLimit(pvalue: *mut usize, limit: c_int) -> CUresult {
    guard(|| {
        let d = driver()?;
        let st = d.lock();
        let c = st.current()?;
        let ctx = &st.ctxs[&c];
        let sm = d.gpu(ctx.device).model.sm();
        let def = limit_default(sm, limit).ok_or(CUresult::CUDA_ERROR_UNSUPPORTED_LIMIT)?;
        let v = ctx.limits.get(&limit).copied().unwrap_or(def);
        // SAFETY: out-pointer from the caller.
        unsafe { out(pvalue, v as usize) }
    })
}

/// `CUresult cuCtxSetLimit(CUlimit limit, size_t value)`
#[no_mangle]
pub extern "C" fn cuCtxSetLimit(limit: c_int, value: usize) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        let c = st.current()?;
        let dev = st.ctxs[&c].device;
        let sm = d.gpu(dev).model.sm();
        limit_default(sm, limit).ok_or(CUresult::CUDA_ERROR_UNSUPPORTED_LIMIT)?;
        st.ctxs
            .get_mut(&c)
            .expect("current context exists")
            .limits
            .insert(limit, value as u64);
        Ok(())
    })
}

/// `CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest)`: either may be NULL.
///
/// # Safety
/// Each pointer must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetStreamPriorityRange(
    least: *mut c_int,
    greatest: *mut c_int,
) -> CUresult {
    guard(|| {
        let d = driver()?;
        let st = d.lock();
        let c = st.current()?;
        let [lo, hi] = d
            .gpu(st.ctxs[&c].device)
            .model
            .compute
            .stream_priority_range;
        // SAFETY: each is written only when non-null.
        unsafe {
            if !least.is_null() {
                least.write(lo);
            }
            if !greatest.is_null() {
                greatest.write(hi);
            }
        }
        Ok(())
    })
}

/// `CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)`
///
/// # Safety
/// `pconfig` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuCtxGetCacheConfig(pconfig: *mut c_int) -> CUresult {
    // SAFETY: out-pointer from the caller.
    guard(|| unsafe { out(pconfig, current_field(|c| c.cache_config)?) })
}

/// `CUresult cuCtxSetCacheConfig(CUfunc_cache config)`: a preference (0–3), recorded.
#[no_mangle]
pub extern "C" fn cuCtxSetCacheConfig(config: c_int) -> CUresult {
    guard(|| {
        let d = driver()?;
        if !(0..=3).contains(&config) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let mut st = d.lock();
        let c = st.current()?;
        st.ctxs
            .get_mut(&c)
            .expect("current context exists")
            .cache_config = config;
        Ok(())
    })
}

/// `CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags)`: kernels of the
/// current context may then use the peer context's allocations, and peer copies between the
/// two run over the link. The peer being the current context is CUDA_ERROR_INVALID_CONTEXT,
/// flags other than 0 CUDA_ERROR_INVALID_VALUE, a pair cuDeviceCanAccessPeer answers 0 for (a
/// device and itself, a GPU with `no-p2p`) CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, a second
/// enabling CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED.
#[no_mangle]
pub extern "C" fn cuCtxEnablePeerAccess(peer: CUcontext, flags: c_uint) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        let cur = st.current()?;
        let p = st.ctx_from_handle(peer)?;
        if p == cur {
            return Err(CUresult::CUDA_ERROR_INVALID_CONTEXT);
        }
        if flags != 0 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let (a, b) = (st.ctxs[&cur].device, st.ctxs[&p].device);
        if a == b || d.gpu(a).faults.no_p2p || d.gpu(b).faults.no_p2p {
            // cuDeviceCanAccessPeer says 0 for a device and itself, and under `no-p2p`.
            return Err(CUresult::CUDA_ERROR_PEER_ACCESS_UNSUPPORTED);
        }
        let c = st.ctxs.get_mut(&cur).expect("current context exists");
        if !c.peers.insert(p) {
            return Err(CUresult::CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
        }
        Ok(())
    })
}

/// `CUresult cuCtxDisablePeerAccess(CUcontext peerContext)`
#[no_mangle]
pub extern "C" fn cuCtxDisablePeerAccess(peer: CUcontext) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        let cur = st.current()?;
        let p = st.ctx_from_handle(peer)?;
        let c = st.ctxs.get_mut(&cur).expect("current context exists");
        if !c.peers.remove(&p) {
            return Err(CUresult::CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
        }
        Ok(())
    })
}
