//! cuBLAS (`libcublas.so`) on the simulated GPUs: the entry points gpugate's cuBLAS peer calls
//! through cudarc, with cuBLAS's semantics and status codes.
//!
//! It is the same shared object as the driver: the launcher names it `libcublas.so` and
//! `libcublas.so.MAJOR` too, and the dynamic linker maps one file once whatever name it is
//! opened by, so a handle lives in the driver's contexts, and its GEMMs read and write the
//! driver's device memory and run on the driver's streams.
//!
//! Exported: `cublasCreate_v2`, `cublasDestroy_v2`, `cublasSetStream_v2`, `cublasGetStream_v2`,
//! `cublasSetMathMode`, `cublasGetMathMode`, `cublasGetProperty`, `cublasGetVersion_v2`,
//! `cublasSgemm_v2`, `cublasDgemm_v2`, `cublasGemmEx`. cudarc resolves each symbol when it is
//! first called, so these are all a program that calls only them needs; anything else is not
//! there (cudarc reports the missing symbol). Scalars are host pointers (the default pointer
//! mode; `cublasSetPointerMode_v2` is not exported).
//!
//! A GEMM is a kernel launch of the modelled GPU: it runs at once on the calling thread (the
//! product computed on the CPU, [`gemm`]), advances its stream's clock by the time model
//! ([`gemm::seconds`]), so CUDA events around it measure it, and is logged (`"event":"cublas"`).
//! It counts as a launch for `launch-fail-after`; an `sdc` fault whose substring its kernel name
//! (`cublas_sgemm`, `cublas_dgemm`, `cublas_hgemm`) contains flips a bit of its first result; an
//! operand outside every allocation of the handle's context is a sticky
//! CUDA_ERROR_ILLEGAL_ADDRESS (a misaligned one CUDA_ERROR_MISALIGNED_ADDRESS), and the call
//! itself returns CUBLAS_STATUS_SUCCESS, as an asynchronous kernel's fault does on a GPU. On a
//! device that already has a sticky error, under the `cublas-fail` fault, or on a stream of
//! another context, the launch fails: CUBLAS_STATUS_EXECUTION_FAILED.
//!
//! Version and driver: the library reports the machine's cuBLAS version (its first GPU's model,
//! `[cublas] version`). cuBLAS N needs a driver for CUDA N.0 or newer: on an older simulated
//! driver (`--driver 450` with cuBLAS 12) `cublasGetProperty` still answers, and
//! `cublasCreate_v2` fails with CUBLAS_STATUS_NOT_INITIALIZED, as the real library's CUDA
//! runtime cannot start there. Under `cublas-missing` the launcher offers no cuBLAS name and
//! `cublasCreate_v2` fails the same way.

pub mod gemm;

use std::collections::HashMap;
use std::ffi::{c_int, c_uint, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, OnceLock};

use cudarc::cublas::sys::cublasStatus_t as Status;
use cudarc::driver::sys::{CUcontext, CUresult};
use serde_json::json;

use crate::driver::state::{self, driver, id_of, Kind, Target, STREAM_LEGACY, STREAM_PER_THREAD};
use crate::driver::timing::Factors;
use crate::driver::{errors, log};
use gemm::{Compute, DType, Gemm};

/// Handles are opaque numbers like the driver's (`(0x6c << 48) | id`), never pointers.
const HANDLE_TAG: usize = 0x6c;
const TAG_SHIFT: u32 = 48;

/// `CUBLAS_PEDANTIC_MATH`.
const MATH_PEDANTIC: u32 = 2;
/// `CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION`, a flag on top of a mode.
const MATH_FLAG_NO_REDUCED_REDUCTION: u32 = 16;

/// One cuBLAS handle.
#[derive(Debug, Clone, Copy)]
struct Handle {
    /// The context that was current when it was created.
    ctx: u64,
    device: usize,
    /// The stream set by `cublasSetStream_v2` (0: the legacy default stream).
    stream: usize,
    /// The `cublasMath_t` value set on it.
    math: u32,
}

#[derive(Default)]
struct Handles {
    next: u64,
    live: HashMap<u64, Handle>,
}

fn handles() -> MutexGuard<'static, Handles> {
    static H: OnceLock<Mutex<Handles>> = OnceLock::new();
    H.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn handle_id(h: *mut c_void) -> Option<u64> {
    let v = h as usize;
    let id = (v & ((1usize << TAG_SHIFT) - 1)) as u64;
    (v >> TAG_SHIFT == HANDLE_TAG && id != 0).then_some(id)
}

/// The handle behind `h`: CUBLAS_STATUS_NOT_INITIALIZED for anything else (a stale or foreign
/// value), as cuBLAS answers for a handle it did not create.
fn get(h: *mut c_void) -> Result<(u64, Handle), Status> {
    let id = handle_id(h).ok_or(Status::CUBLAS_STATUS_NOT_INITIALIZED)?;
    handles()
        .live
        .get(&id)
        .map(|x| (id, *x))
        .ok_or(Status::CUBLAS_STATUS_NOT_INITIALIZED)
}

/// Runs an export's body: a panic becomes CUBLAS_STATUS_INTERNAL_ERROR (with a line on
/// stderr); nothing unwinds into C.
fn guard(f: impl FnOnce() -> Result<(), Status>) -> Status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Status::CUBLAS_STATUS_SUCCESS,
        Ok(Err(s)) => s,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            log::stderr(&format!(
                "internal error in cuBLAS (returned CUBLAS_STATUS_INTERNAL_ERROR): {msg}"
            ));
            Status::CUBLAS_STATUS_INTERNAL_ERROR
        }
    }
}

/// Writes through an out-pointer; CUBLAS_STATUS_INVALID_VALUE when it is NULL.
///
/// # Safety
/// `p` must be NULL or valid for a write of `T`.
unsafe fn out<T>(p: *mut T, v: T) -> Result<(), Status> {
    if p.is_null() {
        return Err(Status::CUBLAS_STATUS_INVALID_VALUE);
    }
    // SAFETY: non-null, writable by the caller's contract.
    unsafe { p.write(v) };
    Ok(())
}

/// The machine's cuBLAS version, or NOT_INITIALIZED when its configuration is bad.
fn version() -> Result<(u32, u32, u32), Status> {
    crate::driver::shared::machine()
        .map(|m| m.config.cublas_version())
        .map_err(|_| Status::CUBLAS_STATUS_NOT_INITIALIZED)
}

/// `cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)`: a handle on the current context's
/// device (with no current context, device 0's primary context is retained and made current,
/// as the CUDA runtime inside cuBLAS does). CUBLAS_STATUS_NOT_INITIALIZED when the driver is
/// older than this cuBLAS needs, under `cublas-missing`, or when the device has a sticky error.
///
/// # Safety
/// `handle` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cublasCreate_v2(handle: *mut *mut c_void) -> Status {
    guard(|| {
        if handle.is_null() {
            return Err(Status::CUBLAS_STATUS_INVALID_VALUE);
        }
        let not_init = Status::CUBLAS_STATUS_NOT_INITIALIZED;
        let machine = crate::driver::shared::machine().map_err(|_| not_init)?;
        let cfg = machine.config;
        let (major, minor, patch) = cfg.cublas_version();
        if cfg.cublas_missing {
            log::stderr(
                "cublasCreate_v2: this machine has no cuBLAS (fault cublas-missing): \
                 CUBLAS_STATUS_NOT_INITIALIZED",
            );
            return Err(not_init);
        }
        let drv = cfg.driver_cuda_version();
        if drv < major * 1000 {
            log::stderr(&format!(
                "cublasCreate_v2: cuBLAS {major}.{minor}.{patch} needs a driver for CUDA \
                 {major}.0 or newer and this driver is CUDA {} ({}): \
                 CUBLAS_STATUS_NOT_INITIALIZED, as the real library returns when its CUDA \
                 runtime cannot start (cudaErrorInsufficientDriver)",
                crate::driver_releases::cuda_string(drv),
                cfg.driver_version_string()
            ));
            return Err(not_init);
        }
        let d = state::init().map_err(|_| not_init)?;
        let ctx = match state::current_id().filter(|c| d.lock().live_ctx(*c).is_ok()) {
            Some(c) => c,
            None => {
                let mut c: CUcontext = std::ptr::null_mut();
                // SAFETY: a valid out-pointer.
                let r = unsafe { crate::driver::device::cuDevicePrimaryCtxRetain(&mut c, 0) };
                if r != CUresult::CUDA_SUCCESS
                    || crate::driver::context::cuCtxSetCurrent(c) != CUresult::CUDA_SUCCESS
                {
                    return Err(not_init);
                }
                id_of(Kind::Context, c as usize).ok_or(not_init)?
            }
        };
        let device = d.lock().ctxs.get(&ctx).map(|c| c.device).ok_or(not_init)?;
        d.sticky(device).map_err(|_| not_init)?;
        let mut hs = handles();
        hs.next += 1;
        let id = hs.next;
        hs.live.insert(
            id,
            Handle {
                ctx,
                device,
                stream: 0,
                math: 0,
            },
        );
        let h = ((HANDLE_TAG << TAG_SHIFT) | id as usize) as *mut c_void;
        // SAFETY: checked non-null.
        unsafe { out(handle, h) }
    })
}

/// `cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)`
#[no_mangle]
pub extern "C" fn cublasDestroy_v2(handle: *mut c_void) -> Status {
    guard(|| {
        let (id, _) = get(handle)?;
        handles().live.remove(&id);
        Ok(())
    })
}

/// `cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)`: the
/// stream later calls run on (NULL: the legacy default stream). It is checked when a GEMM runs.
#[no_mangle]
pub extern "C" fn cublasSetStream_v2(handle: *mut c_void, stream: *mut c_void) -> Status {
    guard(|| {
        let (id, _) = get(handle)?;
        if let Some(h) = handles().live.get_mut(&id) {
            h.stream = stream as usize;
        }
        Ok(())
    })
}

/// `cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *streamId)`
///
/// # Safety
/// `stream` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cublasGetStream_v2(
    handle: *mut c_void,
    stream: *mut *mut c_void,
) -> Status {
    guard(|| {
        let (_, h) = get(handle)?;
        // SAFETY: the caller's out-pointer.
        unsafe { out(stream, h.stream as *mut c_void) }
    })
}

/// `cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)`: DEFAULT (0),
/// TENSOR_OP (1, deprecated), PEDANTIC (2) or TF32_TENSOR_OP (3), optionally with
/// DISALLOW_REDUCED_PRECISION_REDUCTION (16); anything else is CUBLAS_STATUS_INVALID_VALUE.
/// PEDANTIC keeps GEMMs off the tensor cores (IEEE arithmetic of the compute type). TF32 is
/// accepted but not modelled: SGEMM still computes and is timed in FP32.
#[no_mangle]
pub extern "C" fn cublasSetMathMode(handle: *mut c_void, mode: c_uint) -> Status {
    guard(|| {
        let (id, _) = get(handle)?;
        if mode & !MATH_FLAG_NO_REDUCED_REDUCTION > 3 {
            return Err(Status::CUBLAS_STATUS_INVALID_VALUE);
        }
        if let Some(h) = handles().live.get_mut(&id) {
            h.math = mode;
        }
        Ok(())
    })
}

/// `cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode)`
///
/// # Safety
/// `mode` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cublasGetMathMode(handle: *mut c_void, mode: *mut c_uint) -> Status {
    guard(|| {
        let (_, h) = get(handle)?;
        // SAFETY: the caller's out-pointer.
        unsafe { out(mode, h.math) }
    })
}

/// `cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value)`: MAJOR_VERSION (0),
/// MINOR_VERSION (1) or PATCH_LEVEL (2) of the machine's cuBLAS; needs no handle and no
/// driver.
///
/// # Safety
/// `value` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cublasGetProperty(kind: c_int, value: *mut c_int) -> Status {
    guard(|| {
        let (major, minor, patch) = version()?;
        let v = match kind {
            0 => major,
            1 => minor,
            2 => patch,
            _ => return Err(Status::CUBLAS_STATUS_INVALID_VALUE),
        };
        // SAFETY: the caller's out-pointer.
        unsafe { out(value, v as c_int) }
    })
}

/// `cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version)`: major·10000 +
/// minor·100 + patch (CUBLAS_VERSION's encoding since cuBLAS 11).
///
/// # Safety
/// `version` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn cublasGetVersion_v2(handle: *mut c_void, version: *mut c_int) -> Status {
    guard(|| {
        get(handle)?;
        let (major, minor, patch) = self::version()?;
        // SAFETY: the caller's out-pointer.
        unsafe { out(version, (major * 10000 + minor * 100 + patch) as c_int) }
    })
}

/// `cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa,
/// cublasOperation_t transb, int m, int n, int k, const float *alpha, const float *A, int lda,
/// const float *B, int ldb, const float *beta, float *C, int ldc)`: IEEE FP32 on the CUDA cores
/// (timed at the model's `sgemm_efficiency`).
///
/// # Safety
/// `alpha` and `beta` must be NULL or readable host floats.
#[no_mangle]
pub unsafe extern "C" fn cublasSgemm_v2(
    handle: *mut c_void,
    transa: c_int,
    transb: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: *const f32,
    a: *const f32,
    lda: c_int,
    b: *const f32,
    ldb: c_int,
    beta: *const f32,
    c: *mut f32,
    ldc: c_int,
) -> Status {
    guard(|| {
        let (_, h) = get(handle)?;
        // SAFETY: the caller's scalars (NULL is refused).
        let (alpha, beta) = unsafe { scalars(alpha, beta)? };
        let g = checked(
            [transa, transb],
            [m, n, k, lda, ldb, ldc],
            [a as u64, b as u64, c as u64],
            (DType::F32, DType::F32, Compute::F32),
            (alpha, beta),
            h.math & 0xf == MATH_PEDANTIC,
        )?;
        launch(&h, "cublasSgemm_v2", &g)
    })
}

/// `cublasStatus_t cublasDgemm_v2(…, const double *alpha, const double *A, int lda, const double
/// *B, int ldb, const double *beta, double *C, int ldc)`: IEEE FP64; on the FP64 tensor cores in
/// default math where the model has them (as cuBLAS uses DMMA), else the FP64 units (timed at
/// the model's `dgemm_efficiency`).
///
/// # Safety
/// `alpha` and `beta` must be NULL or readable host doubles.
#[no_mangle]
pub unsafe extern "C" fn cublasDgemm_v2(
    handle: *mut c_void,
    transa: c_int,
    transb: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: *const f64,
    a: *const f64,
    lda: c_int,
    b: *const f64,
    ldb: c_int,
    beta: *const f64,
    c: *mut f64,
    ldc: c_int,
) -> Status {
    guard(|| {
        let (_, h) = get(handle)?;
        // SAFETY: the caller's scalars (NULL is refused).
        let (alpha, beta) = unsafe { scalars(alpha, beta)? };
        let g = checked(
            [transa, transb],
            [m, n, k, lda, ldb, ldc],
            [a as u64, b as u64, c as u64],
            (DType::F64, DType::F64, Compute::F64),
            (alpha, beta),
            h.math & 0xf == MATH_PEDANTIC,
        )?;
        launch(&h, "cublasDgemm_v2", &g)
    })
}

/// `cublasComputeType_t` values the simulator runs.
const COMPUTE_32F: c_int = 68;
const COMPUTE_32F_PEDANTIC: c_int = 69;
const COMPUTE_64F: c_int = 70;
const COMPUTE_64F_PEDANTIC: c_int = 71;

/// `cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
/// cublasOperation_t transb, int m, int n, int k, const void *alpha, const void *A,
/// cudaDataType_t Atype, int lda, const void *B, cudaDataType_t Btype, int ldb, const void
/// *beta, void *C, cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
/// cublasGemmAlgo_t algo)`: the combinations simulated are CUBLAS_COMPUTE_32F(_PEDANTIC) with
/// A, B, C = 16F, 16F, 32F (FP16 inputs, FP32 accumulation: the FP16 tensor cores in default
/// math where the model has them, timed at `hgemm_efficiency`), 16F, 16F, 16F, or 32F, 32F,
/// 32F (as SGEMM), and CUBLAS_COMPUTE_64F(_PEDANTIC) with 64F throughout (as DGEMM); alpha and
/// beta are floats for 32F, doubles for 64F. Any other combination is
/// CUBLAS_STATUS_NOT_SUPPORTED, with a line on stderr saying it is not simulated; an algorithm
/// outside CUBLAS_GEMM_DEFAULT (-1), 0–23 and 99–115 is CUBLAS_STATUS_INVALID_VALUE.
///
/// # Safety
/// `alpha` and `beta` must be NULL or readable host scalars of the compute type.
#[no_mangle]
pub unsafe extern "C" fn cublasGemmEx(
    handle: *mut c_void,
    transa: c_int,
    transb: c_int,
    m: c_int,
    n: c_int,
    k: c_int,
    alpha: *const c_void,
    a: *const c_void,
    a_type: c_int,
    lda: c_int,
    b: *const c_void,
    b_type: c_int,
    ldb: c_int,
    beta: *const c_void,
    c: *mut c_void,
    c_type: c_int,
    ldc: c_int,
    compute: c_int,
    algo: c_int,
) -> Status {
    guard(|| {
        let (_, h) = get(handle)?;
        if !(algo == -1 || (0..=23).contains(&algo) || (99..=115).contains(&algo)) {
            return Err(Status::CUBLAS_STATUS_INVALID_VALUE);
        }
        let types = (
            DType::from_cuda(a_type),
            DType::from_cuda(b_type),
            DType::from_cuda(c_type),
        );
        use DType::{F16, F32, F64};
        let (ab, ct, comp) = match (compute, types) {
            (COMPUTE_32F | COMPUTE_32F_PEDANTIC, (Some(F16), Some(F16), Some(F32))) => {
                (F16, F32, Compute::F32)
            }
            (COMPUTE_32F | COMPUTE_32F_PEDANTIC, (Some(F16), Some(F16), Some(F16))) => {
                (F16, F16, Compute::F32)
            }
            (COMPUTE_32F | COMPUTE_32F_PEDANTIC, (Some(F32), Some(F32), Some(F32))) => {
                (F32, F32, Compute::F32)
            }
            (COMPUTE_64F | COMPUTE_64F_PEDANTIC, (Some(F64), Some(F64), Some(F64))) => {
                (F64, F64, Compute::F64)
            }
            _ => {
                log::stderr(&format!(
                    "cublasGemmEx: compute type {compute} with A, B, C types {a_type}, \
                     {b_type}, {c_type} is not simulated by gpugate-sim (it runs \
                     CUBLAS_COMPUTE_32F with 16F/16F/32F, 16F/16F/16F or 32F/32F/32F, and \
                     CUBLAS_COMPUTE_64F with 64F): CUBLAS_STATUS_NOT_SUPPORTED"
                ));
                return Err(Status::CUBLAS_STATUS_NOT_SUPPORTED);
            }
        };
        let scalars = match comp {
            // SAFETY: the caller's float scalars (NULL is refused).
            Compute::F32 => unsafe { scalars(alpha as *const f32, beta as *const f32) },
            // SAFETY: the caller's double scalars (NULL is refused).
            Compute::F64 => unsafe { scalars(alpha as *const f64, beta as *const f64) },
        }?;
        let pedantic = h.math & 0xf == MATH_PEDANTIC
            || matches!(compute, COMPUTE_32F_PEDANTIC | COMPUTE_64F_PEDANTIC);
        let g = checked(
            [transa, transb],
            [m, n, k, lda, ldb, ldc],
            [a as u64, b as u64, c as u64],
            (ab, ct, comp),
            scalars,
            pedantic,
        )?;
        launch(&h, "cublasGemmEx", &g)
    })
}

/// alpha and beta from host pointers, widened to f64 (exact); NULL is INVALID_VALUE.
///
/// # Safety
/// Each pointer must be NULL or readable.
unsafe fn scalars<T: Copy + Into<f64>>(
    alpha: *const T,
    beta: *const T,
) -> Result<(f64, f64), Status> {
    if alpha.is_null() || beta.is_null() {
        return Err(Status::CUBLAS_STATUS_INVALID_VALUE);
    }
    // SAFETY: non-null and readable by the caller's contract.
    Ok(unsafe { (alpha.read_unaligned().into(), beta.read_unaligned().into()) })
}

/// A GEMM's arguments checked as cuBLAS checks them (CUBLAS_STATUS_INVALID_VALUE).
fn checked(
    [transa, transb]: [c_int; 2],
    [m, n, k, lda, ldb, ldc]: [c_int; 6],
    [a, b, c]: [u64; 3],
    (ab, c_type, compute): (DType, DType, Compute),
    (alpha, beta): (f64, f64),
    pedantic: bool,
) -> Result<Gemm, Status> {
    let invalid = Status::CUBLAS_STATUS_INVALID_VALUE;
    let (ta, tb) = (
        gemm::op(transa).ok_or(invalid)?,
        gemm::op(transb).ok_or(invalid)?,
    );
    let [m, n, k, lda, ldb, ldc] = gemm::check_sizes(
        ta, tb, m as i64, n as i64, k as i64, lda as i64, ldb as i64, ldc as i64,
    )
    .ok_or(invalid)?;
    Ok(Gemm {
        transa: ta,
        transb: tb,
        m,
        n,
        k,
        a,
        lda,
        b,
        ldb,
        c,
        ldc,
        ab,
        c_type,
        compute,
        alpha,
        beta,
        pedantic,
    })
}

/// Runs a checked GEMM as a launch on the handle's stream (see the module's documentation for
/// the errors and faults).
fn launch(h: &Handle, call: &'static str, g: &Gemm) -> Result<(), Status> {
    if g.is_noop() {
        return Ok(());
    }
    let failed = Status::CUBLAS_STATUS_EXECUTION_FAILED;
    let d = driver().map_err(|_| Status::CUBLAS_STATUS_NOT_INITIALIZED)?;
    let gpu = d.gpu(h.device);
    let kernel = g.kernel_name();
    let record = |rest: serde_json::Value| {
        if !log::enabled() {
            return;
        }
        let mut r = json!({
            "event": "cublas",
            "gpu": h.device,
            "call": call,
            "kernel": kernel,
            "transa": if g.transa { "T" } else { "N" },
            "transb": if g.transb { "T" } else { "N" },
            "m": g.m, "n": g.n, "k": g.k,
            "pedantic": g.pedantic,
            "flops": g.flops(),
            "bytes": g.bytes(),
            "stream": format!("{:#x}", h.stream),
        });
        if let (Some(r), serde_json::Value::Object(rest)) = (r.as_object_mut(), rest) {
            r.extend(rest);
        }
        log::record(r);
    };
    let fail = |why: String| {
        log::stderr(&format!(
            "GPU {}: {call} failed: {why}: CUBLAS_STATUS_EXECUTION_FAILED",
            h.device
        ));
        record(json!({"error": {"code": "CUBLAS_STATUS_EXECUTION_FAILED", "log": why}}));
        failed
    };
    if gpu.faults.cublas_fail {
        return Err(fail("the kernel did not launch (fault cublas-fail)".into()));
    }
    if let Err(code) = d.sticky(h.device) {
        return Err(fail(format!(
            "the device has a sticky error, {}",
            errors::name(code)
        )));
    }
    let (target, map, keep) = {
        let st = d.lock();
        if st.live_ctx(h.ctx).is_err() {
            return Err(fail("the handle's context was destroyed".into()));
        }
        let target = match h.stream {
            0 | STREAM_LEGACY => Target::Legacy(h.ctx),
            STREAM_PER_THREAD => Target::PerThread(h.ctx),
            raw => {
                match id_of(Kind::Stream, raw).and_then(|id| st.streams.get(&id).map(|s| (id, s))) {
                    Some((id, s)) if s.ctx == h.ctx => Target::Stream(id),
                    _ => {
                        return Err(fail(format!(
                            "stream {raw:#x} is not a stream of the handle's context"
                        )))
                    }
                }
            }
        };
        let (map, keep) = st.memory_map(h.ctx);
        (target, map, keep)
    };

    let n = gpu.launches.fetch_add(1, Ordering::AcqRel) + 1;
    if let Some(after) = gpu.faults.launch_fail_after {
        if n > after {
            gpu.ecc_uncorrected.fetch_max(1, Ordering::AcqRel);
            let code = CUresult::CUDA_ERROR_ECC_UNCORRECTABLE;
            d.set_sticky(h.device, code);
            let msg = format!(
                "GPU {}: launch {n} ({kernel}, {call}) hit an uncorrectable ECC error (fault \
                 launch-fail-after={after}); every later call returns {}",
                h.device,
                errors::name(code)
            );
            log::stderr(&msg);
            record(json!({"error": {"code": errors::name(code), "log": msg}}));
            return Ok(());
        }
    }

    // Every operand inside an allocation of the context, aligned to its element.
    let mut ptrs = [std::ptr::null_mut::<u8>(); 3];
    for (name, addr, bytes, size, write) in g.operands() {
        let region = gemm::region_of(&map, addr, bytes).filter(|r| !(write && r.read_only));
        let code = match region {
            None => Some(CUresult::CUDA_ERROR_ILLEGAL_ADDRESS),
            Some(_) if addr % size != 0 => Some(CUresult::CUDA_ERROR_MISALIGNED_ADDRESS),
            Some(_) => None,
        };
        if let Some(code) = code {
            d.set_sticky(h.device, code);
            let msg = format!(
                "GPU {} ({}): {} in {kernel} ({call}): {name} = {addr:#x}, {bytes} bytes, is \
                 not {} an allocation of the context; every later call returns {}",
                h.device,
                gpu.model.name,
                errors::name(code),
                if code == CUresult::CUDA_ERROR_ILLEGAL_ADDRESS {
                    "inside"
                } else {
                    "aligned to its element in"
                },
                errors::name(code)
            );
            log::stderr(&msg);
            record(json!({"sticky": true, "error": {"code": errors::name(code), "log": msg}}));
            return Ok(());
        }
        let r = region.expect("checked");
        // SAFETY: addr lies in the region (checked), so the offset is within its mapping.
        let p = unsafe { r.ptr.add((addr - r.base) as usize) };
        let slot = match name {
            "A" => 0,
            "B" => 1,
            _ => 2,
        };
        ptrs[slot] = p;
    }
    let sdc = gpu
        .faults
        .sdc
        .iter()
        .find(|(sub, _)| kernel.contains(sub.as_str()))
        .map(|(_, bit)| *bit);
    let ops = gemm::HostOperands {
        a: ptrs[0],
        b: ptrs[1],
        c: ptrs[2],
    };
    let watch = gpu.watch_others();
    gpu.launch_began();
    // SAFETY: each operand's span lies in a live allocation of the context (checked above),
    // kept mapped by `keep` until the product is written; C's is writable.
    unsafe { gemm::run(g, &ops, sdc, d.machine.config.threads.max(1)) };
    gpu.launch_ended();
    let together = watch.is_some_and(|w| gpu.overlapped(&w));
    drop(keep);

    let (secs, bound) = gemm::seconds(&gpu.model, Factors::during(gpu, together), g);
    let (start, end) = d.lock().enqueue(target, secs);
    record(json!({
        "unit": g.unit(&gpu.model).0.as_str(),
        "sdc": sdc.is_some(),
        "seconds": secs,
        "start": start,
        "end": end,
        "bound": bound,
        "error": null,
    }));
    Ok(())
}
