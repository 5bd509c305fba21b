//! The CUDA driver API (`libcuda.so.1`) on the CPU.
//!
//! Every `cu*` function here is exported with C linkage under the name and signature of the
//! CUDA Driver API, and behaves as its reference describes for the calls gpugate and cudarc
//! make (error codes included). They are ordinary Rust functions too, so the tests call them
//! in-process. A call that panics inside returns CUDA_ERROR_UNKNOWN; nothing unwinds into C.
//!
//! Execution model: work runs synchronously when it is enqueued, on the calling thread (the
//! engine spreads one launch's blocks over the host's cores), so the library is deterministic.
//! Each stream carries a simulated clock (seconds) that every launch, copy and memset advances
//! by what the time model ([`timing`]) says it would take on the modelled GPU; events stamp a
//! stream's clock, and `cuEventElapsedTime` is the difference. A kernel fault (illegal address,
//! misaligned access, failed collective, the `launch-fail-after` fault) is sticky, as on a GPU:
//! the launch returns CUDA_SUCCESS and every later call on that device returns the error.
//!
//! Layout: [`state`] (handles, contexts, streams, events, memory; the one lock), [`shared`]
//! (per-GPU facts and counters NVML reads too), [`timing`] (the time model), [`log`] (the
//! JSON-lines log and stderr), and one file of exports per area of the API.

pub mod context;
pub mod device;
pub mod errors;
pub mod launch;
pub mod loader;
pub mod log;
pub mod memory;
pub mod module;
pub mod shared;
pub mod state;
pub mod stream;
pub mod timing;

use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::driver::sys::CUresult;

/// What the inner functions return: `Err` carries the CUDA error code.
pub type CuResult<T = ()> = Result<T, CUresult>;

/// Runs the body of an export: a panic becomes CUDA_ERROR_UNKNOWN (with a line on stderr), an
/// `Err(code)` becomes `code`.
pub(crate) fn guard(f: impl FnOnce() -> CuResult) -> CUresult {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CUresult::CUDA_SUCCESS,
        Ok(Err(code)) => code,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            log::stderr(&format!(
                "internal error (returned CUDA_ERROR_UNKNOWN): {msg}"
            ));
            CUresult::CUDA_ERROR_UNKNOWN
        }
    }
}

/// Writes `v` through an out-pointer, or fails with CUDA_ERROR_INVALID_VALUE when it is NULL.
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn out<T>(p: *mut T, v: T) -> CuResult {
    if p.is_null() {
        return Err(CUresult::CUDA_ERROR_INVALID_VALUE);
    }
    // SAFETY: non-null, and the caller promises it is writable.
    unsafe { p.write(v) };
    Ok(())
}

/// Copies `s` into a C buffer of `len` bytes, NUL-terminated and truncated to fit.
///
/// # Safety
/// `buf` must be valid for `len` bytes of writes.
pub(crate) unsafe fn write_c_string(buf: *mut std::ffi::c_char, len: usize, s: &str) {
    if buf.is_null() || len == 0 {
        return;
    }
    let bytes = s.as_bytes();
    let n = bytes.len().min(len - 1);
    // SAFETY: n + 1 <= len bytes are written into the caller's buffer.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf as *mut u8, n);
        *buf.add(n) = 0;
    }
}
