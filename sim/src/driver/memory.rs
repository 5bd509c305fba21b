//! Device memory, pinned host memory, copies and memsets.
//!
//! Every copy and memset is bounds-checked against the allocation that holds its device range
//! (CUDA_ERROR_INVALID_VALUE when none holds all of it), done at once on the calling thread,
//! and charged to its stream's clock by the time model.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cudarc::driver::sys::{CUcontext, CUdeviceptr, CUresult, CUstream};
use serde_json::json;

use super::log;
use super::state::{ctx_handle, driver, force_stuck, Allocation, Driver, Inner, Pinned, Target};
use super::timing::{self, CopyKind, Factors};
use super::{guard, out, CuResult};

/// The context of `stream` (`None`: the current context).
fn stream_ctx(st: &Inner, stream: Option<CUstream>) -> CuResult<u64> {
    match stream {
        Some(h) => Ok(st.target(h)?.0),
        None => st.current(),
    }
}

fn alloc(dptr: *mut CUdeviceptr, size: usize, stream: Option<CUstream>) -> CuResult {
    let d = driver()?;
    if dptr.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let mut st = d.lock();
    let c = stream_ctx(&st, stream)?;
    let dev = st.ctxs[&c].device;
    d.sticky(dev)?;
    let a = st.allocate(d.gpu(dev), c, size as u64, false)?;
    // SAFETY: checked non-null.
    unsafe { out(dptr, a.base) }
}

/// `CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)`: 0 bytes is
/// CUDA_ERROR_INVALID_VALUE; more than the model has free (or the `oom-after` fault allows) is
/// CUDA_ERROR_OUT_OF_MEMORY.
///
/// # Safety
/// `dptr` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuMemAlloc_v2(dptr: *mut CUdeviceptr, size: usize) -> CUresult {
    guard(|| alloc(dptr, size, None))
}

/// `CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)`: from the
/// stream's context; usable at once (allocation takes no simulated time).
///
/// # Safety
/// `dptr` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuMemAllocAsync(
    dptr: *mut CUdeviceptr,
    size: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| alloc(dptr, size, Some(stream)))
}

fn free(p: CUdeviceptr, stream: Option<CUstream>) -> CuResult {
    let d = driver()?;
    let mut st = d.lock();
    let c = stream_ctx(&st, stream)?;
    d.sticky(st.ctxs[&c].device)?;
    let a = st.alloc_at(p).ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
    if a.read_only || is_module_var(&st, &a) {
        // Module variables belong to their module.
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    st.free(d.machine, p)
}

fn is_module_var(st: &Inner, a: &Allocation) -> bool {
    st.modules
        .values()
        .any(|m| m.vars.iter().any(|(_, b, _)| *b == a.base))
}

/// `CUresult cuMemFree_v2(CUdeviceptr dptr)`: `dptr` must be what an allocation returned.
#[no_mangle]
pub extern "C" fn cuMemFree_v2(dptr: CUdeviceptr) -> CUresult {
    guard(|| free(dptr, None))
}

/// `CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)`
#[no_mangle]
pub extern "C" fn cuMemFreeAsync(dptr: CUdeviceptr, stream: CUstream) -> CUresult {
    guard(|| free(dptr, Some(stream)))
}

/// `CUresult cuMemGetInfo_v2(size_t *free, size_t *total)`: total from the model, free =
/// total − the context reservation − live allocations (module variables included).
///
/// # Safety
/// Both pointers must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuMemGetInfo_v2(free: *mut usize, total: *mut usize) -> CUresult {
    guard(|| {
        let d = driver()?;
        if free.is_null() || total.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let st = d.lock();
        let c = st.current()?;
        let g = d.gpu(st.ctxs[&c].device);
        let m = &g.model.memory;
        let used = g.used_bytes.load(Ordering::Relaxed);
        let f = m
            .total_bytes
            .saturating_sub(m.context_reserved_bytes)
            .saturating_sub(used);
        // SAFETY: checked non-null.
        unsafe {
            out(free, f as usize)?;
            out(total, m.total_bytes as usize)
        }
    })
}

/// `CU_MEMHOSTALLOC_PORTABLE | DEVICEMAP | WRITECOMBINED`
const HOST_ALLOC_FLAGS: u32 = 0x7;

fn host_alloc(pp: *mut *mut c_void, size: usize, flags: c_uint) -> CuResult {
    let d = driver()?;
    if pp.is_null() || size == 0 || flags & !HOST_ALLOC_FLAGS != 0 {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let mut st = d.lock();
    let c = st.current()?;
    d.sticky(st.ctxs[&c].device)?;
    let p = Pinned::new(size, c, flags).ok_or(CUresult::CUDA_ERROR_OUT_OF_MEMORY)?;
    let ptr = p.ptr;
    st.pinned.insert(ptr, p);
    // SAFETY: checked non-null.
    unsafe { out(pp, ptr as *mut c_void) }
}

/// `CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)`: page-aligned
/// host memory (zeroed), usable by the host and recognised as pinned by copies.
///
/// # Safety
/// `pp` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuMemHostAlloc(
    pp: *mut *mut c_void,
    size: usize,
    flags: c_uint,
) -> CUresult {
    guard(|| host_alloc(pp, size, flags))
}

/// `CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)`
///
/// # Safety
/// `pp` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuMemAllocHost_v2(pp: *mut *mut c_void, size: usize) -> CUresult {
    guard(|| host_alloc(pp, size, 0))
}

/// `CUresult cuMemFreeHost(void *p)`: `p` must be what cuMemHostAlloc returned.
#[no_mangle]
pub extern "C" fn cuMemFreeHost(p: *mut c_void) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        st.pinned
            .remove(&(p as usize))
            .map(|_| ())
            .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)
    })
}

/// One end of a copy, as the caller named it.
#[derive(Clone, Copy)]
enum Spec {
    Host(usize),
    Device(u64),
    /// Either (cuMemcpy with unified addressing): a live device allocation, or host memory.
    Unified(u64),
}

/// One end of a copy, resolved.
enum End {
    Host { ptr: usize, pinned: bool },
    Device { alloc: Arc<Allocation>, offset: u64 },
}

impl End {
    fn ptr(&self) -> *mut u8 {
        match self {
            End::Host { ptr, .. } => *ptr as *mut u8,
            // SAFETY (of the arithmetic): offset + n lies within the allocation (checked in
            // `resolve`); the pointer is only formed here, used by `copy_bytes`.
            End::Device { alloc, offset } => alloc.ptr.wrapping_add(*offset as usize),
        }
    }
}

fn resolve(st: &Inner, s: Spec, n: u64) -> CuResult<End> {
    let dev = |addr: u64| -> CuResult<End> {
        let a = st
            .find_alloc(addr, n.max(1))
            .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
        Ok(End::Device {
            offset: addr - a.base,
            alloc: a,
        })
    };
    match s {
        Spec::Device(addr) => dev(addr),
        Spec::Host(p) => {
            if p == 0 {
                return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
            }
            Ok(End::Host {
                ptr: p,
                pinned: st.is_pinned(p, n as usize),
            })
        }
        Spec::Unified(addr) => match st.find_alloc(addr, 1) {
            Some(_) => dev(addr),
            None if addr == 0 => Err(CUresult::CUDA_ERROR_INVALID_VALUE),
            None => Ok(End::Host {
                ptr: addr as usize,
                pinned: st.is_pinned(addr as usize, n as usize),
            }),
        },
    }
}

/// Where a copy goes in time: an explicit stream, or the legacy stream of a context.
#[derive(Clone, Copy)]
enum Queue {
    Stream(CUstream),
    LegacyOf(CUcontext),
}

fn copy(dst: Spec, src: Spec, n: usize, q: Queue) -> CuResult {
    let d = driver()?;
    let n = n as u64;
    let (target, dst_end, src_end, gpu_index, kind, stuck) = {
        let st = d.lock();
        let (c, target) = match q {
            Queue::Stream(h) => st.target(h)?,
            Queue::LegacyOf(h) => {
                let c = st.ctx_from_handle(h)?;
                (c, Target::Legacy(c))
            }
        };
        let ctx_dev = st.ctxs[&c].device;
        d.sticky(ctx_dev)?;
        if n == 0 {
            return Ok(());
        }
        let dst_end = resolve(&st, dst, n)?;
        let src_end = resolve(&st, src, n)?;
        let (gpu_index, kind) = match (&dst_end, &src_end) {
            (End::Device { alloc, .. }, End::Host { pinned, .. }) => {
                (alloc.device, CopyKind::HostToDevice { pinned: *pinned })
            }
            (End::Host { pinned, .. }, End::Device { alloc, .. }) => {
                (alloc.device, CopyKind::DeviceToHost { pinned: *pinned })
            }
            (End::Device { alloc: a, .. }, End::Device { alloc: b, .. }) => {
                if a.device == b.device {
                    (a.device, CopyKind::DeviceToDevice)
                } else {
                    let other = d.gpu(a.device).pcie_link();
                    let direct = peer_enabled(&st, a.ctx, b.ctx);
                    (
                        b.device,
                        CopyKind::Peer {
                            other_link: other,
                            direct,
                        },
                    )
                }
            }
            (End::Host { .. }, End::Host { .. }) => (ctx_dev, CopyKind::HostToHost),
        };
        for e in [&dst_end, &src_end] {
            if let End::Device { alloc, .. } = e {
                if d.gpu(alloc.device).sticky.load(Ordering::Acquire) != 0 {
                    d.sticky(alloc.device)?;
                }
            }
        }
        let stuck = match &dst_end {
            End::Device { alloc, .. } => st.stuck_cell(alloc.device),
            End::Host { .. } => None,
        };
        (target, dst_end, src_end, gpu_index, kind, stuck)
    };
    // SAFETY: both ranges were checked: device ranges lie within live allocations kept mapped
    // by the Arcs held here; host ranges are the caller's promise, as for the real driver.
    // `copy` (memmove) is used because a device-to-device copy may overlap.
    unsafe { std::ptr::copy(src_end.ptr() as *const u8, dst_end.ptr(), n as usize) };
    if let (End::Device { alloc, offset }, CopyKind::Peer { .. }) = (&dst_end, kind) {
        if d.gpu(alloc.device).faults.p2p_sdc {
            // SAFETY: offset + n/2 < offset + n lies within the allocation (checked above).
            unsafe { *alloc.ptr.add((*offset + n / 2) as usize) ^= 1 };
        }
    }
    if let End::Device { alloc, .. } = &dst_end {
        force_stuck(alloc, stuck);
    }
    finish_copy(d, target, gpu_index, kind, n, q);
    Ok(())
}

/// Whether a copy between allocations of contexts `a` and `b` goes over the link: either
/// context has enabled peer access to the other (cuCtxEnablePeerAccess). Otherwise the driver
/// stages it through host memory.
fn peer_enabled(st: &Inner, a: u64, b: u64) -> bool {
    let has = |x: u64, y: u64| st.ctxs.get(&x).is_some_and(|c| c.peers.contains(&y));
    has(a, b) || has(b, a)
}

fn finish_copy(d: &Driver, target: Target, gpu_index: usize, kind: CopyKind, n: u64, q: Queue) {
    let g = d.gpu(gpu_index);
    let secs = timing::copy_seconds(&g.model, Factors::of(g), kind, n);
    let (start, end) = d.lock().enqueue(target, secs);
    if log::enabled() {
        let pinned = match kind {
            CopyKind::HostToDevice { pinned } | CopyKind::DeviceToHost { pinned } => Some(pinned),
            _ => None,
        };
        log::record(json!({
            "event": "copy",
            "gpu": gpu_index,
            "kind": kind.as_str(),
            "bytes": n,
            "pinned": pinned,
            "seconds": secs,
            "start": start,
            "end": end,
            "stream": match q {
                Queue::Stream(h) => log::handle(h),
                Queue::LegacyOf(_) => "0x0".to_string(),
            },
        }));
    }
}

/// `CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)`
///
/// # Safety
/// `src` must be valid for `n` bytes of reads.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyHtoD_v2(
    dst: CUdeviceptr,
    src: *const c_void,
    n: usize,
) -> CUresult {
    // SAFETY: the same contract, on the legacy default stream.
    unsafe { cuMemcpyHtoDAsync_v2(dst, src, n, std::ptr::null_mut()) }
}

/// `CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t
/// ByteCount, CUstream hStream)`
///
/// # Safety
/// `src` must be valid for `n` bytes of reads.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyHtoDAsync_v2(
    dst: CUdeviceptr,
    src: *const c_void,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| {
        copy(
            Spec::Device(dst),
            Spec::Host(src as usize),
            n,
            Queue::Stream(stream),
        )
    })
}

/// `CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)`
///
/// # Safety
/// `dst` must be valid for `n` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoH_v2(dst: *mut c_void, src: CUdeviceptr, n: usize) -> CUresult {
    // SAFETY: the same contract, on the legacy default stream.
    unsafe { cuMemcpyDtoHAsync_v2(dst, src, n, std::ptr::null_mut()) }
}

/// `CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
/// CUstream hStream)`
///
/// # Safety
/// `dst` must be valid for `n` bytes of writes.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyDtoHAsync_v2(
    dst: *mut c_void,
    src: CUdeviceptr,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| {
        copy(
            Spec::Host(dst as usize),
            Spec::Device(src),
            n,
            Queue::Stream(stream),
        )
    })
}

/// `CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)`
#[no_mangle]
pub extern "C" fn cuMemcpyDtoD_v2(dst: CUdeviceptr, src: CUdeviceptr, n: usize) -> CUresult {
    cuMemcpyDtoDAsync_v2(dst, src, n, std::ptr::null_mut())
}

/// `CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t
/// ByteCount, CUstream hStream)`
#[no_mangle]
pub extern "C" fn cuMemcpyDtoDAsync_v2(
    dst: CUdeviceptr,
    src: CUdeviceptr,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| {
        copy(
            Spec::Device(dst),
            Spec::Device(src),
            n,
            Queue::Stream(stream),
        )
    })
}

/// `CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)`: unified
/// addressing; each end is device memory if it lies in a live allocation, else host memory.
///
/// # Safety
/// A host end must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpy(dst: CUdeviceptr, src: CUdeviceptr, n: usize) -> CUresult {
    // SAFETY: the same contract, on the legacy default stream.
    unsafe { cuMemcpyAsync(dst, src, n, std::ptr::null_mut()) }
}

/// `CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream
/// hStream)`
///
/// # Safety
/// A host end must be valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn cuMemcpyAsync(
    dst: CUdeviceptr,
    src: CUdeviceptr,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| {
        copy(
            Spec::Unified(dst),
            Spec::Unified(src),
            n,
            Queue::Stream(stream),
        )
    })
}

fn peer(
    dst: CUdeviceptr,
    dst_ctx: CUcontext,
    src: CUdeviceptr,
    src_ctx: CUcontext,
    n: usize,
    q: Option<CUstream>,
) -> CuResult {
    let d = driver()?;
    {
        let st = d.lock();
        let dc = st.ctx_from_handle(dst_ctx)?;
        let sc = st.ctx_from_handle(src_ctx)?;
        // Each pointer must be memory of its context's device.
        for (addr, c) in [(dst, dc), (src, sc)] {
            if n > 0 {
                let a = st
                    .find_alloc(addr, n as u64)
                    .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
                if a.device != st.ctxs[&c].device {
                    return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
                }
            }
        }
    }
    let queue = match q {
        Some(h) => Queue::Stream(h),
        None => Queue::LegacyOf(dst_ctx),
    };
    copy(Spec::Device(dst), Spec::Device(src), n, queue)
}

/// `CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
/// CUcontext srcContext, size_t ByteCount)`
#[no_mangle]
pub extern "C" fn cuMemcpyPeer(
    dst: CUdeviceptr,
    dst_ctx: CUcontext,
    src: CUdeviceptr,
    src_ctx: CUcontext,
    n: usize,
) -> CUresult {
    guard(|| peer(dst, dst_ctx, src, src_ctx, n, None))
}

/// `CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr
/// srcDevice, CUcontext srcContext, size_t ByteCount, CUstream hStream)`
#[no_mangle]
pub extern "C" fn cuMemcpyPeerAsync(
    dst: CUdeviceptr,
    dst_ctx: CUcontext,
    src: CUdeviceptr,
    src_ctx: CUcontext,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| peer(dst, dst_ctx, src, src_ctx, n, Some(stream)))
}

fn memset(dst: CUdeviceptr, pattern: &[u8], count: usize, stream: CUstream) -> CuResult {
    let d = driver()?;
    let size = pattern.len() as u64;
    let bytes = (count as u64)
        .checked_mul(size)
        .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
    let (target, alloc, offset, stuck) = {
        let st = d.lock();
        let (c, target) = st.target(stream)?;
        d.sticky(st.ctxs[&c].device)?;
        if !dst.is_multiple_of(size) {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        if count == 0 {
            return Ok(());
        }
        let a = st
            .find_alloc(dst, bytes)
            .ok_or(CUresult::CUDA_ERROR_INVALID_VALUE)?;
        let off = dst - a.base;
        let stuck = st.stuck_cell(a.device);
        (target, a, off, stuck)
    };
    // A memset keeps the GPU busy for its whole time (`crate::power`).
    let _busy = d.gpu(alloc.device).busy();
    // SAFETY: [offset, offset + bytes) lies within the allocation (checked above), which the
    // Arc keeps mapped.
    unsafe {
        let p = alloc.ptr.add(offset as usize);
        if size == 1 {
            std::ptr::write_bytes(p, pattern[0], bytes as usize);
        } else {
            for i in 0..count {
                std::ptr::copy_nonoverlapping(
                    pattern.as_ptr(),
                    p.add(i * pattern.len()),
                    pattern.len(),
                );
            }
        }
    }
    force_stuck(&alloc, stuck);
    let g = d.gpu(alloc.device);
    let secs = timing::memset_seconds(&g.model, Factors::of(g), bytes);
    let (start, end) = d.lock().enqueue(target, secs);
    if log::enabled() {
        log::record(json!({
            "event": "memset",
            "gpu": alloc.device,
            "bytes": bytes,
            "seconds": secs,
            "start": start,
            "end": end,
            "stream": log::handle(stream),
        }));
    }
    Ok(())
}

/// `CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)`
#[no_mangle]
pub extern "C" fn cuMemsetD8_v2(dst: CUdeviceptr, uc: u8, n: usize) -> CUresult {
    cuMemsetD8Async(dst, uc, n, std::ptr::null_mut())
}

/// `CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)`: `dst` 2-byte
/// aligned.
#[no_mangle]
pub extern "C" fn cuMemsetD16_v2(dst: CUdeviceptr, us: u16, n: usize) -> CUresult {
    cuMemsetD16Async(dst, us, n, std::ptr::null_mut())
}

/// `CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)`: `dst` 4-byte
/// aligned.
#[no_mangle]
pub extern "C" fn cuMemsetD32_v2(dst: CUdeviceptr, ui: u32, n: usize) -> CUresult {
    cuMemsetD32Async(dst, ui, n, std::ptr::null_mut())
}

/// `CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream)`
#[no_mangle]
pub extern "C" fn cuMemsetD8Async(
    dst: CUdeviceptr,
    uc: u8,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| memset(dst, &[uc], n, stream))
}

/// `CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream)`
#[no_mangle]
pub extern "C" fn cuMemsetD16Async(
    dst: CUdeviceptr,
    us: u16,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| memset(dst, &us.to_ne_bytes(), n, stream))
}

/// `CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream)`
#[no_mangle]
pub extern "C" fn cuMemsetD32Async(
    dst: CUdeviceptr,
    ui: u32,
    n: usize,
    stream: CUstream,
) -> CUresult {
    guard(|| memset(dst, &ui.to_ne_bytes(), n, stream))
}

/// `CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)`
/// for device allocations and pinned host memory: CONTEXT, MEMORY_TYPE, DEVICE_POINTER,
/// HOST_POINTER, DEVICE_ORDINAL, RANGE_START_ADDR, RANGE_SIZE, BUFFER_ID, IS_MANAGED,
/// MAPPED. Anything else (or memory the driver does not know) is CUDA_ERROR_INVALID_VALUE.
///
/// # Safety
/// `data` must be NULL or valid for a write of the attribute's type.
#[no_mangle]
pub unsafe extern "C" fn cuPointerGetAttribute(
    data: *mut c_void,
    attribute: c_int,
    ptr: CUdeviceptr,
) -> CUresult {
    use cudarc::driver::sys::CUpointer_attribute as P;
    guard(|| {
        let d = driver()?;
        if data.is_null() {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let st = d.lock();
        let is = |p: P| attribute == p as c_int;
        if let Some(a) = st.find_alloc(ptr, 1) {
            // SAFETY (all writes below): `data` is non-null and the caller sized it for the
            // attribute's type.
            unsafe {
                match () {
                    _ if is(P::CU_POINTER_ATTRIBUTE_CONTEXT) => {
                        out(data as *mut CUcontext, ctx_handle(a.ctx))
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_MEMORY_TYPE) => out(data as *mut c_uint, 2),
                    _ if is(P::CU_POINTER_ATTRIBUTE_DEVICE_POINTER) => {
                        out(data as *mut CUdeviceptr, ptr)
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) => {
                        out(data as *mut c_int, a.device as c_int)
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_RANGE_START_ADDR) => {
                        out(data as *mut CUdeviceptr, a.base)
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_RANGE_SIZE) => {
                        out(data as *mut usize, a.size as usize)
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_BUFFER_ID) => out(data as *mut u64, a.base),
                    _ if is(P::CU_POINTER_ATTRIBUTE_IS_MANAGED) => out(data as *mut c_uint, 0),
                    _ if is(P::CU_POINTER_ATTRIBUTE_MAPPED) => out(data as *mut c_uint, 1),
                    _ => Err(CUresult::CUDA_ERROR_INVALID_VALUE),
                }
            }
        } else if let Some((_, p)) = st
            .pinned
            .range(..=(ptr as usize))
            .next_back()
            .filter(|(_, p)| (ptr as usize) < p.ptr + p.len)
        {
            // SAFETY: as above.
            unsafe {
                match () {
                    _ if is(P::CU_POINTER_ATTRIBUTE_CONTEXT) => {
                        out(data as *mut CUcontext, ctx_handle(p.ctx))
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_MEMORY_TYPE) => out(data as *mut c_uint, 1),
                    _ if is(P::CU_POINTER_ATTRIBUTE_HOST_POINTER) => {
                        out(data as *mut *mut c_void, ptr as usize as *mut c_void)
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_RANGE_START_ADDR) => {
                        out(data as *mut CUdeviceptr, p.ptr as u64)
                    }
                    _ if is(P::CU_POINTER_ATTRIBUTE_RANGE_SIZE) => out(data as *mut usize, p.len),
                    _ if is(P::CU_POINTER_ATTRIBUTE_IS_MANAGED) => out(data as *mut c_uint, 0),
                    _ if is(P::CU_POINTER_ATTRIBUTE_MAPPED) => out(data as *mut c_uint, 1),
                    _ => Err(CUresult::CUDA_ERROR_INVALID_VALUE),
                }
            }
        } else {
            Err(CUresult::CUDA_ERROR_INVALID_VALUE)
        }
    })
}
