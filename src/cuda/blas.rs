//! The optional cuBLAS peer: vendor SGEMM/DGEMM run beside gpugate's own kernels, for
//! comparison only (never gated).
//!
//! SGEMM runs in `CUBLAS_PEDANTIC_MATH` (IEEE FP32, never TF32); DGEMM in the default math mode,
//! which on GPUs with FP64 tensor cores (A100, H100, …) may use them. Every result says which.
//!
//! cuBLAS is called through cudarc's lower layers (`cudarc::cublas::result` and `sys`) with the
//! device's own buffers, stream and timer: raw device pointers from [`CudaDevice`], never
//! cudarc's safe driver types. A cuBLAS that the driver is too old for, or older than the
//! peer needs (11.0: pedantic math, `cublasComputeType_t`), is not run, with the reason
//! ([`cublas_status`]).
//!
//! Every peer result names the library it came from, with its version ([`CublasLibrary`]):
//! "cuBLAS 12.4.5 sgemm", or "cuBLAS 12.4.5 (gpugate-sim) sgemm" for the simulator's, which is
//! recognised by what it is (the very object loaded as the CUDA driver), not by a name.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cudarc::cublas::result::{self as blas, CublasError};
use cudarc::cublas::sys::{self as blas_sys, cublasHandle_t, cublasMath_t, cublasOperation_t};

use super::device::CudaDevice;
use super::{guarded, CudaError};
use crate::kernels::{cuda_version_string, driver_branch, driver_label};
use crate::model::Verification;
use crate::verify::gemm::check_gemm;
use crate::verify::Elem;
use crate::workload::device::KernelDevice;
use crate::workload::device::{as_bytes, as_bytes_mut, DevBuf, DeviceError, Pod};
use crate::workload::gemm::gemm_inputs;
use crate::workload::{Precision, Trial, TrialInfo, WorkloadError};

/// The oldest cuBLAS the peer runs: 11.0 brought `CUBLAS_PEDANTIC_MATH` (the honest FP32 peer)
/// and `cublasComputeType_t` (the FP16 peer's `cublasGemmEx`).
pub const CUBLAS_MIN_MAJOR: i32 = 11;

/// Why the cuBLAS peer was not run, or failed. Each message says what to do; the peer is
/// optional, so none of these fails a run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BlasError {
    /// No `libcuBLAS.so*` on the library path (`ld_library_path`: LD_LIBRARY_PATH's value).
    #[error("{}", not_found(ld_library_path))]
    NotFound { ld_library_path: String },
    /// The cuBLAS found (major, minor, patch; `simulated`: gpugate-sim's) is older than the peer
    /// needs (11.0).
    #[error("{}", too_old(*found, *simulated))]
    TooOld {
        found: (i32, i32, i32),
        simulated: bool,
    },
    /// The cuBLAS found (`simulated`: gpugate-sim's) needs a newer driver than this one (CUDA
    /// version, as `cuDriverGetVersion` numbers it).
    #[error("{}", needs_driver(*found, *simulated, *driver))]
    NeedsNewerDriver {
        found: (i32, i32, i32),
        simulated: bool,
        driver: u32,
    },
    /// A shape cuBLAS cannot take.
    #[error("GEMM {m}x{n}x{k}: each dimension must be in 1..2^31 (cuBLAS takes 32-bit sizes)")]
    BadShape { m: usize, n: usize, k: usize },
    /// A cuBLAS call failed on a GPU of compute capability `cc` with cuBLAS of major version
    /// `major` (None: unknown); the message adds the cuBLAS 13 hint on GPUs it dropped.
    #[error("{what}: {source:?}{}", arch_hint(*cc, *major))]
    Call {
        what: String,
        cc: (u32, u32),
        major: Option<i32>,
        #[source]
        source: CublasError,
    },
    /// The device failed under the peer (allocating, copying, timing). Boxed: the device's
    /// error is large, and most of this enum's values are not.
    #[error("{what}: {source}{}", arch_hint(*cc, *major))]
    Device {
        what: String,
        cc: (u32, u32),
        major: Option<i32>,
        #[source]
        source: Box<DeviceError>,
    },
    /// The CUDA bindings failed (a panic inside them).
    #[error(transparent)]
    Cuda(#[from] CudaError),
}

/// The cuBLAS library a peer runs: its version, where it was loaded from, and whether it is
/// gpugate-sim's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CublasLibrary {
    /// (major, minor, patch) from `cublasGetProperty`; None when it does not say.
    pub version: Option<(i32, i32, i32)>,
    /// The file the loader mapped (symlinks resolved); None when it does not say.
    pub path: Option<String>,
    /// gpugate-sim's simulated cuBLAS: the same loaded object as the CUDA driver (NVIDIA ships
    /// cuBLAS as a library of its own; the simulator serves both from one file).
    pub simulated: bool,
}

impl CublasLibrary {
    /// "cuBLAS 12.4.5", "cuBLAS 12.4.5 (gpugate-sim)", "cuBLAS (version unknown)".
    pub fn label(&self) -> String {
        let version = match self.version {
            Some((a, b, c)) => format!("{a}.{b}.{c}"),
            None => "(version unknown)".into(),
        };
        format!(
            "cuBLAS {version}{}",
            if self.simulated { " (gpugate-sim)" } else { "" }
        )
    }
}

/// The CUDA backend's edge for the peer: a cuBLAS failure is a backend-neutral
/// [`WorkloadError::Backend`] that carries this error.
impl From<BlasError> for WorkloadError {
    fn from(e: BlasError) -> Self {
        WorkloadError::backend(e)
    }
}

/// Is cuBLAS loadable, one the peer can use, and one this driver can run? Ok names the library
/// (version, file, gpugate-sim's or not); Err says what was found, where it was looked for and
/// what to do. Never panics.
pub fn cublas_status() -> Result<CublasLibrary, BlasError> {
    // SAFETY: only tries to dlopen the library by name.
    let present = catch_unwind(|| unsafe { blas_sys::is_culib_present() }).unwrap_or(false);
    if !present {
        return Err(BlasError::NotFound {
            ld_library_path: std::env::var("LD_LIBRARY_PATH").unwrap_or_default(),
        });
    }
    let driver_present = super::driver_library_present();
    let driver = if driver_present {
        super::driver_status().ok().map(|s| s.driver_cuda_version)
    } else {
        None
    };
    // SAFETY: both libraries were found; only the addresses of their symbols are looked up,
    // nothing is called.
    let cublas_object = catch_unwind(|| unsafe {
        blas_sys::culib()
            .get::<*mut c_void>(b"cublasCreate_v2")
            .ok()
            .map(|s| *s)
    })
    .ok()
    .flatten()
    .and_then(loaded_object);
    let driver_object = if driver_present {
        // SAFETY: as above.
        catch_unwind(|| unsafe {
            cudarc::driver::sys::culib()
                .get::<*mut c_void>(b"cuInit")
                .ok()
                .map(|s| *s)
        })
        .ok()
        .flatten()
        .and_then(loaded_object)
    } else {
        None
    };
    let lib = CublasLibrary {
        version: cublas_version(),
        path: cublas_object.as_ref().map(|(_, path)| path.clone()),
        simulated: matches!(
            (&cublas_object, &driver_object),
            (Some((a, _)), Some((b, _))) if a == b
        ),
    };
    cublas_fits_driver(&lib, driver)?;
    Ok(lib)
}

/// The loaded object that holds `addr` (a symbol's address): its base address and its file
/// (symlinks resolved), as the dynamic loader tells (`dladdr`).
fn loaded_object(addr: *mut c_void) -> Option<(usize, String)> {
    // SAFETY: Dl_info is plain data (pointers and NULL are valid values).
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: `addr` is an address inside a loaded object; `info` is writable.
    if unsafe { libc::dladdr(addr as *const c_void, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr filled in a NUL-terminated file name owned by the loader.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) }
        .to_string_lossy()
        .into_owned();
    let path = std::fs::canonicalize(&name)
        .map(|p| p.display().to_string())
        .unwrap_or(name);
    Some((info.dli_fbase as usize, path))
}

fn not_found(ld: &str) -> String {
    let names = [
        "libcublas.so",
        "libcublas.so.13",
        "libcublas.so.12",
        "libcublas.so.11",
    ];
    format!(
        "cuBLAS not found: looked for {} by bare name through LD_LIBRARY_PATH ({}), the \
         executable's RUNPATH and the ld.so cache (`ldconfig -p | grep cublas`). The cuBLAS peer \
         is optional; to run it, install cuBLAS (CUDA toolkit, or `pip install \
         nvidia-cublas-cu12` for drivers before R580) and add the directory holding \
         libcublas.so.* to LD_LIBRARY_PATH.",
        names.join(", "),
        if ld.is_empty() { "unset" } else { ld }
    )
}

/// The version of the cuBLAS library found (major, minor, patch), when it says.
fn cublas_version() -> Option<(i32, i32, i32)> {
    use blas_sys::libraryPropertyType as P;
    let get = |p: P| {
        let mut v = 0;
        // SAFETY: an out-parameter call that needs no handle and no GPU (cuBLAS 8.0+).
        let s = unsafe { blas_sys::cublasGetProperty(p, &mut v) };
        (s == blas_sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS).then_some(v)
    };
    catch_unwind(|| {
        Some((
            get(P::MAJOR_VERSION)?,
            get(P::MINOR_VERSION)?,
            get(P::PATCH_LEVEL)?,
        ))
    })
    .ok()
    .flatten()
}

/// The oldest driver (CUDA version as `cuDriverGetVersion` numbers it) that runs cuBLAS of
/// major version `major`: a CUDA 11.x library needs a CUDA 11.0 driver (R450, with minor-version
/// compatibility), 12.x R525, 13.x R580, and so on.
pub fn cublas_min_driver(major: i32) -> u32 {
    (major.max(0) as u32) * 1000
}

/// Whether cuBLAS `lib` (its version None when it does not say) can serve as the peer on a
/// driver for CUDA `driver` (None when unknown): Err says why not and what to do.
pub fn cublas_fits_driver(lib: &CublasLibrary, driver: Option<u32>) -> Result<(), BlasError> {
    let Some(found) = lib.version else {
        return Ok(());
    };
    let simulated = lib.simulated;
    if found.0 < CUBLAS_MIN_MAJOR {
        return Err(BlasError::TooOld { found, simulated });
    }
    match driver {
        Some(d) if d < cublas_min_driver(found.0) => Err(BlasError::NeedsNewerDriver {
            found,
            simulated,
            driver: d,
        }),
        _ => Ok(()),
    }
}

/// "cuBLAS 12.4.5" or "cuBLAS 12.4.5 (gpugate-sim)".
fn found_label(found: (i32, i32, i32), simulated: bool) -> String {
    CublasLibrary {
        version: Some(found),
        path: None,
        simulated,
    }
    .label()
}

fn too_old(found: (i32, i32, i32), simulated: bool) -> String {
    format!(
        "{} was found, older than the peer needs: cuBLAS \
         {CUBLAS_MIN_MAJOR} or newer (CUBLAS_PEDANTIC_MATH for an honest FP32 peer and \
         cublasComputeType_t came with 11.0). The cuBLAS peer is optional; to run it, install \
         cuBLAS 11 or newer (`pip install nvidia-cublas-cu11` or `-cu12`) with a driver that runs \
         it (R450+ for 11, R525+ for 12).",
        found_label(found, simulated)
    )
}

fn needs_driver(found: (i32, i32, i32), simulated: bool, d: u32) -> String {
    let major = found.0;
    let needs = cublas_min_driver(major);
    let branch = driver_branch(needs)
        .map(|b| format!(" ({b}+)"))
        .unwrap_or_default();
    let instead = if d >= cublas_min_driver(CUBLAS_MIN_MAJOR) {
        format!(
            "put a cuBLAS this driver runs first on LD_LIBRARY_PATH (cuBLAS {}.x, e.g. `pip \
             install nvidia-cublas-cu{}`), or upgrade the driver",
            d / 1000,
            d / 1000
        )
    } else {
        format!(
            "no cuBLAS the peer can use runs on it (cuBLAS {CUBLAS_MIN_MAJOR} needs R450 or \
             newer); upgrade the driver to run the peer"
        )
    };
    format!(
        "{} was found, which needs an NVIDIA driver for CUDA {} or newer{branch}; this driver \
         is {}. The cuBLAS peer is optional; to run it here, {instead}.",
        found_label(found, simulated),
        cuda_version_string(needs),
        driver_label(d)
    )
}

/// Element types the cuBLAS peer runs, with their labels, math mode and GEMM entry point.
pub trait BlasElem: Elem + Pod + Default {
    /// The routine, as the result's implementation names it after the library: "sgemm".
    const ROUTINE: &'static str;
    const MATH_MODE_LABEL: &'static str;
    const MATH_MODE: cublasMath_t;
    const ONE: Self;
    const ZERO: Self;
    const NAN: Self;

    /// Column-major C = alpha·op(A)·op(B) + beta·C on device pointers.
    ///
    /// # Safety
    /// The pointers must be device memory of the sizes the dimensions describe.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        handle: cublasHandle_t,
        mnk: (i32, i32, i32),
        alpha: Self,
        a: u64,
        lda: i32,
        b: u64,
        ldb: i32,
        beta: Self,
        c: u64,
        ldc: i32,
    ) -> Result<(), CublasError>;
}

const N: cublasOperation_t = cublasOperation_t::CUBLAS_OP_N;

impl BlasElem for f32 {
    const ROUTINE: &'static str = "sgemm";
    const MATH_MODE_LABEL: &'static str = "cuBLAS pedantic FP32 (no TF32)";
    const MATH_MODE: cublasMath_t = cublasMath_t::CUBLAS_PEDANTIC_MATH;
    const ONE: Self = 1.0;
    const ZERO: Self = 0.0;
    const NAN: Self = f32::NAN;

    unsafe fn gemm(
        handle: cublasHandle_t,
        (m, n, k): (i32, i32, i32),
        alpha: Self,
        a: u64,
        lda: i32,
        b: u64,
        ldb: i32,
        beta: Self,
        c: u64,
        ldc: i32,
    ) -> Result<(), CublasError> {
        // SAFETY: see the trait's contract; alpha and beta are host values.
        unsafe {
            blas::sgemm(
                handle, N, N, m, n, k, &alpha, a as _, lda, b as _, ldb, &beta, c as _, ldc,
            )
        }
    }
}

impl BlasElem for f64 {
    const ROUTINE: &'static str = "dgemm";
    const MATH_MODE_LABEL: &'static str = "cuBLAS FP64 (default math: may use FP64 tensor cores)";
    const MATH_MODE: cublasMath_t = cublasMath_t::CUBLAS_DEFAULT_MATH;
    const ONE: Self = 1.0;
    const ZERO: Self = 0.0;
    const NAN: Self = f64::NAN;

    unsafe fn gemm(
        handle: cublasHandle_t,
        (m, n, k): (i32, i32, i32),
        alpha: Self,
        a: u64,
        lda: i32,
        b: u64,
        ldb: i32,
        beta: Self,
        c: u64,
        ldc: i32,
    ) -> Result<(), CublasError> {
        // SAFETY: see the trait's contract; alpha and beta are host values.
        unsafe {
            blas::dgemm(
                handle, N, N, m, n, k, &alpha, a as _, lda, b as _, ldb, &beta, c as _, ldc,
            )
        }
    }
}

/// cuBLAS operands for a row-major C[M×N] = A[M×K]·B[K×N] through column-major GEMM.
///
/// A row-major matrix read column-major is its transpose, so compute Cᵀ = Bᵀ·Aᵀ: cuBLAS sees
/// an N×M result from the N×K matrix stored as B (ld N) and the K×M matrix stored as A (ld K).
/// Returns (m', n', k', lda', ldb', ldc') with B passed as cuBLAS's "A" and A as its "B".
pub fn row_major_as_col_major(
    m: usize,
    n: usize,
    k: usize,
) -> (usize, usize, usize, usize, usize, usize) {
    (n, m, k, n, k, n)
}

/// CUDA 13's cuBLAS dropped Maxwell, Pascal and Volta: say so when a GEMM fails on one with a
/// cuBLAS of major `major` that may be 13 or newer (None: unknown).
fn arch_hint(cc: (u32, u32), major: Option<i32>) -> String {
    if cc < (7, 5) && major.is_none_or(|m| m >= 13) {
        format!(
            ". Note: cuBLAS 13 supports compute capability 7.5 and newer only; on this sm_{}{} \
             GPU make cuBLAS 12 (libcublas.so.12) the library found first",
            cc.0, cc.1
        )
    } else {
        String::new()
    }
}

/// A cuBLAS handle on the device's stream and its operands (A, B, C) in the device's memory.
/// Dropping it destroys the handle and frees the operands, with the device's context bound.
struct Peer<'d> {
    dev: &'d CudaDevice,
    lib: CublasLibrary,
    handle: cublasHandle_t,
    bufs: Vec<DevBuf>,
    /// A call failed: C holds no result of this trial's, so it is not verified.
    failed: bool,
}

impl Peer<'_> {
    /// Device pointers of A, B and C.
    fn ptrs(&self) -> Result<(u64, u64, u64), BlasError> {
        let p = |i: usize| {
            self.dev
                .device_ptr(self.bufs[i])
                .map_err(|e| self.device_err("the operands' addresses", e))
        };
        Ok((p(0)?, p(1)?, p(2)?))
    }

    fn device_err(&self, what: &str, source: DeviceError) -> BlasError {
        BlasError::Device {
            what: what.to_string(),
            cc: self.dev.info().compute_capability,
            major: self.lib.version.map(|v| v.0),
            source: Box::new(source),
        }
    }

    fn call_err(&self, what: &str, source: CublasError) -> BlasError {
        BlasError::Call {
            what: what.to_string(),
            cc: self.dev.info().compute_capability,
            major: self.lib.version.map(|v| v.0),
            source,
        }
    }

    /// "cuBLAS 12.4.5 (gpugate-sim) sgemm": the library and the routine.
    fn implementation(&self, routine: &str) -> String {
        format!("{} {routine}", self.lib.label())
    }

    /// The verification of C, unless a call failed (then C is no result of the trial's).
    fn verify_with(
        &self,
        check: impl FnOnce() -> Result<Verification, BlasError>,
    ) -> Result<Verification, BlasError> {
        if self.failed {
            return Ok(Verification::not_checked(
                "not verified: a cuBLAS call failed, so C holds no result",
            ));
        }
        check()
    }
}

impl Drop for Peer<'_> {
    fn drop(&mut self) {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let _ = self.dev.bind();
            let _ = self.dev.synchronize();
            if !self.handle.is_null() {
                // SAFETY: created by `set_up`, destroyed once, with the context current.
                let _ = unsafe { blas::destroy_handle(self.handle) };
            }
        }));
        for b in self.bufs.drain(..) {
            self.dev.free(b);
        }
    }
}

/// Checks the shape, makes a cuBLAS handle on the device's stream in `math` mode, uploads A and
/// B (as the library reads them) and allocates C, filled with NaN (beta is 0: cuBLAS never
/// reads it, and an element it does not write fails verification).
fn set_up<'d, In: Pod, Out: Pod>(
    dev: &'d CudaDevice,
    lib: &CublasLibrary,
    (m, n, k): (usize, usize, usize),
    math: cublasMath_t,
    a: &[In],
    b: &[In],
    c_fill: Out,
) -> Result<Peer<'d>, BlasError> {
    let limit = i32::MAX as usize;
    if m == 0 || n == 0 || k == 0 || m > limit || n > limit || k > limit {
        return Err(BlasError::BadShape { m, n, k });
    }
    let mut peer = Peer {
        dev,
        lib: lib.clone(),
        handle: std::ptr::null_mut(),
        bufs: Vec::new(),
        failed: false,
    };
    dev.bind()
        .map_err(|e| peer.device_err("binding the context", e))?;
    peer.handle =
        blas::create_handle().map_err(|e| peer.call_err("creating a cuBLAS handle", e))?;
    // SAFETY: the handle is valid; the stream is the device's, alive as long as the device.
    unsafe { blas::set_stream(peer.handle, dev.stream.raw() as blas_sys::cudaStream_t) }
        .map_err(|e| peer.call_err("setting the cuBLAS stream", e))?;
    // SAFETY: the handle is valid; the mode is a documented enumerator.
    unsafe { blas_sys::cublasSetMathMode(peer.handle, math) }
        .result()
        .map_err(|e| peer.call_err(&format!("setting cuBLAS math mode {math:?}"), e))?;
    let c = vec![c_fill; m * n];
    for (what, bytes) in [
        (format!("A ({m}x{k})"), as_bytes(a)),
        (format!("B ({k}x{n})"), as_bytes(b)),
        (format!("C ({m}x{n})"), as_bytes(&c)),
    ] {
        let buf = dev
            .alloc(bytes.len())
            .map_err(|e| peer.device_err(&format!("allocating {what}"), e))?;
        peer.bufs.push(buf);
        dev.upload(buf, bytes)
            .map_err(|e| peer.device_err(&format!("uploading {what}"), e))?;
    }
    Ok(peer)
}

/// Runs `enqueue` `iters` times between the device's timing events; returns device seconds.
/// A failure marks the peer failed (its C is then not verified).
fn timed_calls(
    peer: &mut Peer<'_>,
    iters: u64,
    mut enqueue: impl FnMut(&Peer<'_>) -> Result<(), BlasError>,
) -> Result<f64, BlasError> {
    let r = (|| {
        let dev = peer.dev;
        dev.bind()
            .map_err(|e| peer.device_err("binding the context", e))?;
        dev.timer_start()
            .map_err(|e| peer.device_err("starting the timer", e))?;
        for _ in 0..iters {
            enqueue(peer)?;
        }
        dev.timer_stop()
            .map_err(|e| peer.device_err("stopping the timer", e))
    })();
    if r.is_err() {
        peer.failed = true;
    }
    r
}

/// Copies C (`len` elements) back to the host and waits for it.
fn read_back<T: Pod + Default>(peer: &Peer<'_>, len: usize) -> Result<Vec<T>, BlasError> {
    let mut c = vec![T::default(); len];
    peer.dev
        .download(peer.bufs[2], as_bytes_mut(&mut c))
        .map_err(|e| peer.device_err("reading C back", e))?;
    Ok(c)
}

/// A cuBLAS GEMM prepared on one device: inputs uploaded, output allocated. Borrows the device
/// (its stream and timer); one per device at a time.
pub struct CublasGemmTrial<'d, T: BlasElem> {
    peer: Peer<'d>,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    a: Vec<T>,
    b: Vec<T>,
}

impl<'d, T: BlasElem> CublasGemmTrial<'d, T> {
    fn prepare(
        dev: &'d CudaDevice,
        lib: &CublasLibrary,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    ) -> Result<Self, BlasError> {
        let (a, b) = gemm_inputs::<T>(m, n, k, seed);
        let peer = set_up::<T, T>(dev, lib, (m, n, k), T::MATH_MODE, &a, &b, T::NAN)?;
        Ok(CublasGemmTrial {
            peer,
            m,
            n,
            k,
            seed,
            a,
            b,
        })
    }

    fn enqueue_on(peer: &Peer<'_>, (m, n, k): (usize, usize, usize)) -> Result<(), BlasError> {
        let (cm, cn, ck, lda, ldb, ldc) = row_major_as_col_major(m, n, k);
        let (pa, pb, pc) = peer.ptrs()?;
        // SAFETY: the operands were allocated with exactly the sizes the dimensions describe
        // (B: K×N as N×K col-major with ld N, A: M×K as K×M with ld K, C: M×N as N×M with ld
        // N), and live as long as the trial.
        unsafe {
            T::gemm(
                peer.handle,
                (cm as i32, cn as i32, ck as i32),
                T::ONE,
                pb,
                lda as i32,
                pa,
                ldb as i32,
                T::ZERO,
                pc,
                ldc as i32,
            )
        }
        .map_err(|e| peer.call_err(&peer.implementation(T::ROUTINE), e))
    }
}

impl<T: BlasElem> Trial for CublasGemmTrial<'_, T> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: self.peer.implementation(T::ROUTINE),
            math_mode: Some(T::MATH_MODE_LABEL.to_string()),
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let shape = (self.m, self.n, self.k);
        Ok(timed_calls(&mut self.peer, iters, |p| {
            Self::enqueue_on(p, shape)
        })?)
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        Ok(self.peer.verify_with(|| {
            let c = read_back::<T>(&self.peer, self.m * self.n)?;
            Ok(check_gemm::<T>(
                self.m, self.n, self.k, &self.a, &self.b, &c, self.seed,
            ))
        })?)
    }
}

/// The cuBLAS peer of HGEMM: `cublasGemmEx` with FP16 A and B, FP32 C and FP32 compute, in
/// default math (cuBLAS may use tensor cores where the GPU has them).
pub struct CublasHgemmTrial<'d> {
    peer: Peer<'d>,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    /// The halves' exact f32 values, for the reference.
    a: Vec<f32>,
    b: Vec<f32>,
}

/// The FP16 peer's routine, after the library's label.
const HGEMM_ROUTINE: &str = "gemmEx (FP16 A, B; FP32 C)";
const HGEMM_PEER_MATH: &str =
    "cuBLAS FP16 inputs, FP32 accumulate (default math: may use tensor cores)";

impl<'d> CublasHgemmTrial<'d> {
    fn prepare(
        dev: &'d CudaDevice,
        lib: &CublasLibrary,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    ) -> Result<Self, BlasError> {
        let (a, b, abits, bbits) = crate::workload::gemm::hgemm_inputs(m, n, k, seed);
        let peer = set_up::<u16, f32>(
            dev,
            lib,
            (m, n, k),
            cublasMath_t::CUBLAS_DEFAULT_MATH,
            &abits,
            &bbits,
            f32::NAN,
        )?;
        Ok(CublasHgemmTrial {
            peer,
            m,
            n,
            k,
            seed,
            a,
            b,
        })
    }

    fn enqueue_on(peer: &Peer<'_>, (m, n, k): (usize, usize, usize)) -> Result<(), BlasError> {
        let (cm, cn, ck, lda, ldb, ldc) = row_major_as_col_major(m, n, k);
        let (alpha, beta) = (1.0f32, 0.0f32);
        let (pa, pb, pc) = peer.ptrs()?;
        // SAFETY: the operands were allocated with the sizes the dimensions describe (B as
        // cuBLAS's A: N×K col-major, ld N; A as its B: K×M, ld K; C: N×M, ld N) and live as
        // long as the trial; alpha and beta are f32 as CUBLAS_COMPUTE_32F requires.
        unsafe {
            blas_sys::cublasGemmEx(
                peer.handle,
                N,
                N,
                cm as i32,
                cn as i32,
                ck as i32,
                &alpha as *const f32 as *const std::ffi::c_void,
                pb as *const std::ffi::c_void,
                blas_sys::cudaDataType_t::CUDA_R_16F,
                lda as i32,
                pa as *const std::ffi::c_void,
                blas_sys::cudaDataType_t::CUDA_R_16F,
                ldb as i32,
                &beta as *const f32 as *const std::ffi::c_void,
                pc as *mut std::ffi::c_void,
                blas_sys::cudaDataType_t::CUDA_R_32F,
                ldc as i32,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .result()
        .map_err(|e| peer.call_err(&peer.implementation(HGEMM_ROUTINE), e))
    }
}

impl Trial for CublasHgemmTrial<'_> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: self.peer.implementation(HGEMM_ROUTINE),
            math_mode: Some(HGEMM_PEER_MATH.to_string()),
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let shape = (self.m, self.n, self.k);
        Ok(timed_calls(&mut self.peer, iters, |p| {
            Self::enqueue_on(p, shape)
        })?)
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        Ok(self.peer.verify_with(|| {
            let c = read_back::<f32>(&self.peer, self.m * self.n)?;
            Ok(check_gemm::<f32>(
                self.m, self.n, self.k, &self.a, &self.b, &c, self.seed,
            ))
        })?)
    }
}

impl CudaDevice {
    /// Prepares the cuBLAS peer GEMM (row-major C[M×N] = A[M×K]·B[K×N], inputs from
    /// `gemm_inputs(m, n, k, seed)`, or `hgemm_inputs` for F16): sgemm in pedantic FP32, dgemm
    /// in default math, or gemmEx with FP16 inputs and FP32 accumulation in default math; timed
    /// with this device's events and verified like gpugate's own GEMM.
    ///
    /// The trial borrows the device (it runs on the device's stream and timer). Err when cuBLAS
    /// is not installed, too old for the peer or too new for the driver (see
    /// [`cublas_status`]), or cannot start; never panics.
    pub fn cublas_gemm_trial(
        &self,
        precision: Precision,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    ) -> Result<Box<dyn Trial + '_>, BlasError> {
        let lib = cublas_status()?;
        let lib = &lib;
        guarded("preparing the cuBLAS GEMM", || match precision {
            Precision::F32 => CublasGemmTrial::<f32>::prepare(self, lib, m, n, k, seed)
                .map(|t| Box::new(t) as Box<dyn Trial + '_>),
            Precision::F64 => CublasGemmTrial::<f64>::prepare(self, lib, m, n, k, seed)
                .map(|t| Box::new(t) as Box<dyn Trial + '_>),
            Precision::F16 => CublasHgemmTrial::prepare(self, lib, m, n, k, seed)
                .map(|t| Box::new(t) as Box<dyn Trial + '_>),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column-major reading of the row-major operands, multiplied naively, must give row-major C.
    #[test]
    fn transpose_trick_gives_row_major_c() {
        let (m, n, k) = (3usize, 5usize, 4usize);
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 + 1.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64) * 0.5 - 2.0).collect();
        let (cm, cn, ck, lda, ldb, ldc) = row_major_as_col_major(m, n, k);
        // Column-major GEMM: C'[i + j*ldc] = Σ_p A'[i + p*lda] · B'[p + j*ldb], A' = b, B' = a.
        let mut c = vec![0.0; m * n];
        for j in 0..cn {
            for i in 0..cm {
                let mut s = 0.0;
                for p in 0..ck {
                    s += b[i + p * lda] * a[p + j * ldb];
                }
                c[i + j * ldc] = s;
            }
        }
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert_eq!(c[i * n + j], want, "C[{i},{j}]");
            }
        }
    }

    #[test]
    fn old_gpus_get_the_cublas_13_hint() {
        let failed = |cc, major| BlasError::Call {
            what: "cuBLAS 13.0.2 sgemm".into(),
            cc,
            major,
            source: CublasError(blas_sys::cublasStatus_t::CUBLAS_STATUS_ARCH_MISMATCH),
        };
        let m = failed((5, 2), Some(13)).to_string();
        assert!(
            m.starts_with("cuBLAS 13.0.2 sgemm: CublasError(CUBLAS_STATUS_ARCH_MISMATCH)"),
            "{m}"
        );
        assert!(m.contains("sm_52") && m.contains("libcublas.so.12"), "{m}");
        assert!(
            failed((5, 2), None).to_string().contains("Note"),
            "unknown version"
        );
        assert!(!failed((9, 0), Some(13)).to_string().contains("Note"));
        // A cuBLAS 12 failing on an M40 is not cuBLAS 13's missing support.
        assert!(!failed((5, 2), Some(12)).to_string().contains("Note"));
        let device = BlasError::Device {
            what: "allocating A (4x4)".into(),
            cc: (6, 0),
            major: Some(13),
            source: Box::new(DeviceError::Invalid("boom".into())),
        };
        assert!(device.to_string().contains("sm_60"), "{device}");
        // Through a workload, the peer's error stays reachable.
        let w = WorkloadError::from(failed((5, 2), Some(13)));
        assert!(
            matches!(
                w.backend_error::<BlasError>(),
                Some(BlasError::Call { cc: (5, 2), .. })
            ),
            "{w:?}"
        );
    }

    /// A library of version `v` (None: unknown), gpugate-sim's when `simulated`.
    fn lib(v: Option<(i32, i32, i32)>, simulated: bool) -> CublasLibrary {
        CublasLibrary {
            version: v,
            path: None,
            simulated,
        }
    }

    #[test]
    fn cublas_runs_only_where_the_driver_can_run_it() {
        let real = |v| lib(Some(v), false);
        // Unknown version or driver: not refused here (a failure then says why).
        assert_eq!(cublas_fits_driver(&lib(None, false), Some(10010)), Ok(()));
        assert_eq!(cublas_fits_driver(&real((12, 0, 2)), None), Ok(()));
        // Each major version on the first driver that runs it, and later ones.
        for (major, driver) in [
            (11, 11000),
            (11, 11040),
            (12, 12000),
            (12, 12080),
            (13, 13000),
        ] {
            assert_eq!(
                cublas_fits_driver(&real((major, 2, 0)), Some(driver)),
                Ok(()),
                "cuBLAS {major} on {driver}"
            );
        }
        // cuBLAS 12 on R470: not run, naming what it needs and what would run there.
        let e = cublas_fits_driver(&real((12, 1, 3)), Some(11040)).unwrap_err();
        assert_eq!(
            e,
            BlasError::NeedsNewerDriver {
                found: (12, 1, 3),
                simulated: false,
                driver: 11040
            }
        );
        let e = e.to_string();
        assert!(e.starts_with("cuBLAS 12.1.3 was found"), "{e}");
        assert!(e.contains("CUDA 12.0 or newer (R525+)"), "{e}");
        assert!(e.contains("CUDA 11.4, R470"), "{e}");
        assert!(
            e.contains("nvidia-cublas-cu11") && e.contains("optional"),
            "{e}"
        );
        // gpugate-sim's cuBLAS says so.
        let e = cublas_fits_driver(&lib(Some((12, 4, 5)), true), Some(11000))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cuBLAS 12.4.5 (gpugate-sim) was found, which needs"),
            "{e}"
        );
        assert!(e.contains("CUDA 11.0, R450"), "{e}");
        // cuBLAS 13 on R525.
        let e = cublas_fits_driver(&real((13, 0, 0)), Some(12000))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CUDA 13.0 or newer (R580+)"), "{e}");
        // On R418 no cuBLAS the peer can use runs.
        let e = cublas_fits_driver(&real((11, 0, 0)), Some(10010))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CUDA 10.1, R418") && e.contains("R450"), "{e}");
        // cuBLAS 10 lacks pedantic math and cublasComputeType_t, whatever the driver.
        let e = cublas_fits_driver(&real((10, 2, 1)), Some(10010)).unwrap_err();
        assert_eq!(
            e,
            BlasError::TooOld {
                found: (10, 2, 1),
                simulated: false
            }
        );
        let e = e.to_string();
        assert!(
            e.contains("cuBLAS 10.2.1") && e.contains("11 or newer"),
            "{e}"
        );
        assert_eq!(
            cublas_fits_driver(&real((10, 2, 1)), Some(12040)),
            Err(BlasError::TooOld {
                found: (10, 2, 1),
                simulated: false
            })
        );
    }

    #[test]
    fn labels_are_honest() {
        assert_eq!(lib(Some((12, 4, 5)), false).label(), "cuBLAS 12.4.5");
        assert_eq!(
            lib(Some((12, 4, 5)), true).label(),
            "cuBLAS 12.4.5 (gpugate-sim)"
        );
        assert_eq!(lib(None, false).label(), "cuBLAS (version unknown)");
        assert_eq!(<f32 as BlasElem>::ROUTINE, "sgemm");
        assert!(<f32 as BlasElem>::MATH_MODE_LABEL.contains("no TF32"));
        assert_eq!(
            <f32 as BlasElem>::MATH_MODE,
            cublasMath_t::CUBLAS_PEDANTIC_MATH
        );
        assert_eq!(<f64 as BlasElem>::ROUTINE, "dgemm");
        assert_eq!(
            <f64 as BlasElem>::MATH_MODE,
            cublasMath_t::CUBLAS_DEFAULT_MATH
        );
    }

    #[test]
    fn cublas_status_never_panics_and_says_where_it_looked() {
        if let Err(e) = cublas_status() {
            let e = e.to_string();
            assert!(e.contains("libcublas.so"), "{e}");
            assert!(e.contains("LD_LIBRARY_PATH"), "{e}");
            assert!(e.contains("optional"), "{e}");
        }
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU, driver and cuBLAS"]
    fn gpu_cublas_sgemm_and_dgemm_verify() {
        let (dev, _) = CudaDevice::open(0).expect("open GPU 0");
        let lib = cublas_status().expect("cuBLAS present");
        // gpugate-sim's cuBLAS is the driver's own object: named so on a simulated GPU, and
        // only there.
        assert_eq!(lib.simulated, dev.info().simulated, "{lib:?}");
        assert!(lib.version.is_some() && lib.path.is_some(), "{lib:?}");
        for p in [Precision::F32, Precision::F64, Precision::F16] {
            let mut t = dev.cublas_gemm_trial(p, 64, 64, 64, 42).expect("prepare");
            let info = t.info();
            assert!(
                info.implementation
                    .starts_with(&format!("{} ", lib.label())),
                "{info:?}"
            );
            let secs = t.run(3).expect("run");
            assert!(secs > 0.0, "{secs}");
            let v = t.verify().expect("verify");
            assert!(v.passed(), "{p:?}: {v:?}");
        }
        // Odd shapes exercise the transpose trick's leading dimensions.
        let mut t = dev
            .cublas_gemm_trial(Precision::F32, 37, 53, 19, 7)
            .unwrap();
        t.run(1).unwrap();
        assert!(t.verify().unwrap().passed());
        assert!(matches!(
            dev.cublas_gemm_trial(Precision::F32, 0, 4, 4, 1),
            Err(BlasError::BadShape { m: 0, .. })
        ));
    }

    /// The peer runs exactly where the driver runs the cuBLAS found: on a driver too old for it
    /// (gpugate-sim --driver 418 with its cuBLAS 12) every trial is refused with the reason
    /// before cuBLAS is called. `GPUGATE_TEST_CUBLAS_EXPECT` (`runs` or `refused`), where set,
    /// says which case this machine must be.
    #[test]
    #[ignore = "needs an NVIDIA GPU, driver and cuBLAS"]
    fn gpu_cublas_runs_exactly_where_the_driver_can_run_it() {
        let (dev, _) = CudaDevice::open(0).expect("open GPU 0");
        let driver = dev.info().driver_cuda_version;
        let found = cublas_status();
        let case = match &found {
            Ok(lib) => {
                let major = lib.version.expect("cuBLAS says its version").0;
                assert!(driver >= cublas_min_driver(major), "{lib:?} on {driver}");
                let mut t = dev
                    .cublas_gemm_trial(Precision::F32, 16, 16, 16, 3)
                    .expect("the peer runs");
                t.run(1).expect("run");
                assert!(t.verify().expect("verify").passed());
                "runs"
            }
            Err(
                e @ BlasError::NeedsNewerDriver {
                    found, driver: d, ..
                },
            ) => {
                assert_eq!(*d, driver);
                assert!(*d < cublas_min_driver(found.0));
                let msg = e.to_string();
                assert!(msg.contains("optional"), "{msg}");
                assert!(
                    !dev.info().simulated || msg.contains("(gpugate-sim) was found"),
                    "{msg}"
                );
                let again = dev.cublas_gemm_trial(Precision::F64, 16, 16, 16, 3);
                assert_eq!(again.err().as_ref(), Some(e), "the trial is refused alike");
                "refused"
            }
            Err(e) => panic!("cuBLAS cannot be used here: {e}"),
        };
        if let Ok(want) = std::env::var("GPUGATE_TEST_CUBLAS_EXPECT") {
            assert_eq!(case, want, "{found:?}");
        }
    }
}
