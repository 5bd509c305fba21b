//! Streams and events over simulated time.
//!
//! All work has finished when its enqueueing call returns, so synchronising and querying only
//! report errors (the device's sticky error, bad handles). Time is simulated: each stream has a
//! clock that launches, copies and memsets advance; `cuEventRecord` stamps the stream's clock
//! (after the legacy-stream ordering rules), `cuStreamWaitEvent` moves a stream's clock up to an
//! event, and `cuEventElapsedTime` is the difference in milliseconds.

use std::ffi::{c_int, c_uint};

use cudarc::driver::sys::{CUevent, CUresult, CUstream};

use super::state::{driver, event_handle, id_of, stream_handle, Event, Kind, Stream, Target};
use super::timing;
use super::{guard, out, CuResult};

/// `CU_EVENT_DISABLE_TIMING`
const EVENT_DISABLE_TIMING: u32 = 0x2;
/// `CU_EVENT_INTERPROCESS`
const EVENT_INTERPROCESS: u32 = 0x4;

fn create(ph: *mut CUstream, flags: c_uint, priority: Option<c_int>) -> CuResult {
    let d = driver()?;
    if ph.is_null() || flags > 1 {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let mut st = d.lock();
    let c = st.current()?;
    let dev = st.ctxs[&c].device;
    d.sticky(dev)?;
    let [least, greatest] = d.gpu(dev).model.compute.stream_priority_range;
    // Priorities outside the range are clamped, as the reference says.
    let priority = priority.unwrap_or(0).clamp(greatest, least);
    let id = st.new_id();
    // A new stream starts at the context's present time: its clock is the legacy stream's.
    let clock = st.ctxs[&c].legacy_clock;
    st.streams.insert(
        id,
        Stream {
            ctx: c,
            flags,
            priority,
            clock,
        },
    );
    // SAFETY: checked non-null; the caller's out-pointer.
    unsafe { out(ph, stream_handle(id)) }
}

/// `CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)`: Flags 0 (blocking) or
/// CU_STREAM_NON_BLOCKING.
///
/// # Safety
/// `ph` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuStreamCreate(ph: *mut CUstream, flags: c_uint) -> CUresult {
    guard(|| create(ph, flags, None))
}

/// `CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)`
///
/// # Safety
/// `ph` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuStreamCreateWithPriority(
    ph: *mut CUstream,
    flags: c_uint,
    priority: c_int,
) -> CUresult {
    guard(|| create(ph, flags, Some(priority)))
}

fn stream_id(h: CUstream) -> CuResult<u64> {
    id_of(Kind::Stream, h as usize).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
}

fn destroy(h: CUstream) -> CuResult {
    let d = driver()?;
    let mut st = d.lock();
    let id = stream_id(h)?;
    let s = st
        .streams
        .remove(&id)
        .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
    // Work still "in" a destroyed stream completes; the legacy stream orders after it.
    if let Some(c) = st.ctxs.get_mut(&s.ctx) {
        if s.flags & super::state::STREAM_NON_BLOCKING == 0 {
            c.legacy_clock = c.legacy_clock.max(s.clock);
        }
    }
    Ok(())
}

/// `CUresult cuStreamDestroy_v2(CUstream hStream)`
#[no_mangle]
pub extern "C" fn cuStreamDestroy_v2(h: CUstream) -> CUresult {
    guard(|| destroy(h))
}

/// `CUresult cuStreamDestroy(CUstream hStream)`
#[no_mangle]
pub extern "C" fn cuStreamDestroy(h: CUstream) -> CUresult {
    guard(|| destroy(h))
}

/// Checks a stream handle and returns its device's sticky error, if any.
fn check(h: CUstream) -> CuResult {
    let d = driver()?;
    let dev = {
        let st = d.lock();
        let (c, _) = st.target(h)?;
        st.ctxs[&c].device
    };
    d.sticky(dev)
}

/// `CUresult cuStreamSynchronize(CUstream hStream)`
#[no_mangle]
pub extern "C" fn cuStreamSynchronize(h: CUstream) -> CUresult {
    guard(|| check(h))
}

/// `CUresult cuStreamQuery(CUstream hStream)`: always complete (or the sticky error).
#[no_mangle]
pub extern "C" fn cuStreamQuery(h: CUstream) -> CUresult {
    guard(|| check(h))
}

/// A property of stream `h`; `default` for the default streams.
fn stream_field<T>(h: CUstream, get: impl Fn(&Stream) -> T, default: T) -> CuResult<T> {
    let d = driver()?;
    let st = d.lock();
    Ok(match st.target(h)?.1 {
        Target::Stream(id) => get(&st.streams[&id]),
        _ => default,
    })
}

/// `CUresult cuStreamGetPriority(CUstream hStream, int *priority)`
///
/// # Safety
/// `priority` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuStreamGetPriority(h: CUstream, priority: *mut c_int) -> CUresult {
    // SAFETY: the caller's out-pointer.
    guard(|| unsafe { out(priority, stream_field(h, |s| s.priority, 0)?) })
}

/// `CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)`
///
/// # Safety
/// `flags` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuStreamGetFlags(h: CUstream, flags: *mut c_uint) -> CUresult {
    // SAFETY: the caller's out-pointer.
    guard(|| unsafe { out(flags, stream_field(h, |s| s.flags, 0)?) })
}

/// `CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)`: later
/// work on the stream starts no earlier than the event. An event never recorded is no
/// dependency. Flags: 0 or CU_EVENT_WAIT_EXTERNAL.
#[no_mangle]
pub extern "C" fn cuStreamWaitEvent(h: CUstream, ev: CUevent, flags: c_uint) -> CUresult {
    guard(|| {
        let d = driver()?;
        if flags > 1 {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let mut st = d.lock();
        let (c, t) = st.target(h)?;
        let eid = event_id(ev)?;
        let e = st
            .events
            .get(&eid)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
        let dev = st.ctxs[&c].device;
        d.sticky(dev)?;
        if let Some(time) = e.time {
            let now = st.start_of(t);
            st.set_clock(t, now.max(time));
        }
        Ok(())
    })
}

fn event_id(h: CUevent) -> CuResult<u64> {
    id_of(Kind::Event, h as usize).ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
}

/// `CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)`: CU_EVENT_DEFAULT,
/// BLOCKING_SYNC, DISABLE_TIMING, INTERPROCESS (which needs DISABLE_TIMING).
///
/// # Safety
/// `ph` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuEventCreate(ph: *mut CUevent, flags: c_uint) -> CUresult {
    guard(|| {
        let d = driver()?;
        if ph.is_null()
            || flags & !0x7 != 0
            || (flags & EVENT_INTERPROCESS != 0 && flags & EVENT_DISABLE_TIMING == 0)
        {
            return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
        }
        let mut st = d.lock();
        let c = st.current()?;
        let id = st.new_id();
        st.events.insert(
            id,
            Event {
                ctx: c,
                flags,
                time: None,
            },
        );
        // SAFETY: checked non-null.
        unsafe { out(ph, event_handle(id)) }
    })
}

/// `CUresult cuEventRecord(CUevent hEvent, CUstream hStream)`: stamps the stream's present
/// simulated time. The stream must belong to the event's context.
#[no_mangle]
pub extern "C" fn cuEventRecord(ev: CUevent, h: CUstream) -> CUresult {
    guard(|| {
        let d = driver()?;
        let mut st = d.lock();
        let eid = event_id(ev)?;
        let ectx = st
            .events
            .get(&eid)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?
            .ctx;
        let (c, t) = st.target(h)?;
        if c != ectx {
            return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
        }
        d.sticky(st.ctxs[&c].device)?;
        let (_, now) = st.enqueue(t, 0.0);
        st.events.get_mut(&eid).expect("checked above").time = Some(now);
        Ok(())
    })
}

fn event_check(ev: CUevent) -> CuResult {
    let d = driver()?;
    let dev = {
        let st = d.lock();
        let e = st
            .events
            .get(&event_id(ev)?)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?;
        st.ctxs
            .get(&e.ctx)
            .map(|c| c.device)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)?
    };
    d.sticky(dev)
}

/// `CUresult cuEventSynchronize(CUevent hEvent)`
#[no_mangle]
pub extern "C" fn cuEventSynchronize(ev: CUevent) -> CUresult {
    guard(|| event_check(ev))
}

/// `CUresult cuEventQuery(CUevent hEvent)`: complete (or the sticky error).
#[no_mangle]
pub extern "C" fn cuEventQuery(ev: CUevent) -> CUresult {
    guard(|| event_check(ev))
}

fn event_destroy(ev: CUevent) -> CuResult {
    let d = driver()?;
    let mut st = d.lock();
    st.events
        .remove(&event_id(ev)?)
        .map(|_| ())
        .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
}

/// `CUresult cuEventDestroy_v2(CUevent hEvent)`
#[no_mangle]
pub extern "C" fn cuEventDestroy_v2(ev: CUevent) -> CUresult {
    guard(|| event_destroy(ev))
}

/// `CUresult cuEventDestroy(CUevent hEvent)`
#[no_mangle]
pub extern "C" fn cuEventDestroy(ev: CUevent) -> CUresult {
    guard(|| event_destroy(ev))
}

unsafe fn elapsed(ms: *mut f32, start: CUevent, end: CUevent) -> CuResult {
    let d = driver()?;
    if ms.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    let st = d.lock();
    let get = |h: CUevent| -> CuResult<&Event> {
        st.events
            .get(&event_id(h)?)
            .ok_or(CUresult::CUDA_ERROR_INVALID_HANDLE)
    };
    let (a, b) = (get(start)?, get(end)?);
    if (a.flags | b.flags) & EVENT_DISABLE_TIMING != 0 {
        return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
    }
    let (Some(t0), Some(t1)) = (a.time, b.time) else {
        return Err(CUresult::CUDA_ERROR_INVALID_HANDLE);
    };
    let mut secs = t1 - t0;
    if let Some(c) = st.ctxs.get(&a.ctx) {
        d.sticky(c.device)?;
        // The GPU's timer faults (`timer=zero`, `jitter=SIGMA`).
        let gpu = d.gpu(c.device);
        let launches = gpu.launches.load(std::sync::atomic::Ordering::Acquire);
        let seed = timing::jitter_seed(c.device, t0, t1, launches);
        secs = timing::reported_elapsed(&gpu.faults, secs, seed);
    }
    // SAFETY: checked non-null; the caller's out-pointer.
    unsafe { ms.write((secs * 1e3) as f32) };
    Ok(())
}

/// `CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)`
///
/// # Safety
/// `ms` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuEventElapsedTime(
    ms: *mut f32,
    start: CUevent,
    end: CUevent,
) -> CUresult {
    // SAFETY: same contract.
    guard(|| unsafe { elapsed(ms, start, end) })
}

/// `CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)`
/// (CUDA 12.8+; exported whatever the model's driver version, as gpugate picks by version).
///
/// # Safety
/// `ms` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cuEventElapsedTime_v2(
    ms: *mut f32,
    start: CUevent,
    end: CUevent,
) -> CUresult {
    // SAFETY: same contract.
    guard(|| unsafe { elapsed(ms, start, end) })
}
