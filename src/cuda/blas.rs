//! The optional cuBLAS peer: vendor SGEMM/DGEMM run beside gpugate's own kernels, for
//! comparison only (never gated).
//!
//! SGEMM runs in `CUBLAS_PEDANTIC_MATH` (IEEE FP32, never TF32); DGEMM in the default math mode,
//! which on GPUs with FP64 tensor cores (A100, H100, …) may use them. Every result says which.

use std::panic::catch_unwind;

use cudarc::cublas::sys::{cublasMath_t, cublasOperation_t};
use cudarc::cublas::{sys as blas_sys, CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaSlice, DeviceRepr, ValidAsZeroBits};

use super::device::CudaDevice;
use super::{drv, guarded};
use crate::model::Verification;
use crate::verify::gemm::check_gemm;
use crate::verify::Elem;
use crate::workload::device::DeviceError;
use crate::workload::gemm::gemm_inputs;
use crate::workload::{Precision, Trial, TrialInfo, WorkloadError};

/// Is cuBLAS loadable? Err says where it was looked for and what to do. Never panics.
pub fn cublas_status() -> Result<(), String> {
    // SAFETY: only tries to dlopen the library by name.
    let present = catch_unwind(|| unsafe { blas_sys::is_culib_present() }).unwrap_or(false);
    if present {
        return Ok(());
    }
    let names = [
        "libcublas.so",
        "libcublas.so.13",
        "libcublas.so.12",
        "libcublas.so.11",
    ];
    let ld = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    Err(format!(
        "cuBLAS not found: looked for {} by bare name through LD_LIBRARY_PATH ({}), the \
         executable's RUNPATH and the ld.so cache (`ldconfig -p | grep cublas`). The cuBLAS peer \
         is optional; to run it, install cuBLAS (CUDA toolkit, or `pip install \
         nvidia-cublas-cu12` for drivers before R580) and add the directory holding \
         libcublas.so.* to LD_LIBRARY_PATH.",
        names.join(", "),
        if ld.is_empty() { "unset" } else { ld.as_str() }
    ))
}

/// Element types the cuBLAS peer runs, with their labels and math mode.
pub trait BlasElem: Elem + DeviceRepr + ValidAsZeroBits + Default
where
    CudaBlas: Gemm<Self>,
{
    const IMPLEMENTATION: &'static str;
    const MATH_MODE_LABEL: &'static str;
    const MATH_MODE: cublasMath_t;
    const ONE: Self;
    const ZERO: Self;
}

impl BlasElem for f32 {
    const IMPLEMENTATION: &'static str = "cuBLAS sgemm";
    const MATH_MODE_LABEL: &'static str = "cuBLAS pedantic FP32 (no TF32)";
    const MATH_MODE: cublasMath_t = cublasMath_t::CUBLAS_PEDANTIC_MATH;
    const ONE: Self = 1.0;
    const ZERO: Self = 0.0;
}

impl BlasElem for f64 {
    const IMPLEMENTATION: &'static str = "cuBLAS dgemm";
    const MATH_MODE_LABEL: &'static str = "cuBLAS FP64 (default math: may use FP64 tensor cores)";
    const MATH_MODE: cublasMath_t = cublasMath_t::CUBLAS_DEFAULT_MATH;
    const ONE: Self = 1.0;
    const ZERO: Self = 0.0;
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

/// A cuBLAS GEMM prepared on one device: inputs uploaded, output allocated. Borrows the device
/// (its stream and timer); one per device at a time.
pub struct CublasGemmTrial<'d, T>
where
    T: BlasElem,
    CudaBlas: Gemm<T>,
{
    dev: &'d CudaDevice,
    blas: CudaBlas,
    cfg: GemmConfig<T>,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    a: Vec<T>,
    b: Vec<T>,
    da: CudaSlice<T>,
    db: CudaSlice<T>,
    dc: CudaSlice<T>,
}

fn dev_err(what: &str, e: impl std::fmt::Debug) -> WorkloadError {
    WorkloadError::Device(DeviceError(format!("{what}: {e:?}")))
}

/// CUDA 13's cuBLAS dropped Maxwell, Pascal and Volta: say so when a GEMM fails on one.
fn with_arch_hint(cc: (u32, u32), msg: String) -> String {
    if cc < (7, 5) {
        format!(
            "{msg}. Note: cuBLAS 13 supports compute capability 7.5 and newer only; on this \
             sm_{}{} GPU make cuBLAS 12 (libcublas.so.12) the library found first",
            cc.0, cc.1
        )
    } else {
        msg
    }
}

fn hint_workload_error(cc: (u32, u32), e: WorkloadError) -> WorkloadError {
    match e {
        WorkloadError::Device(DeviceError(m)) => {
            WorkloadError::Device(DeviceError(with_arch_hint(cc, m)))
        }
        other => other,
    }
}

/// Checks the shape, makes a cuBLAS handle on the device's stream in `math` mode, uploads A and
/// B (as the library reads them) and allocates a zeroed C.
#[allow(clippy::type_complexity)]
fn set_up<In: DeviceRepr, Out: DeviceRepr + ValidAsZeroBits>(
    dev: &CudaDevice,
    (m, n, k): (usize, usize, usize),
    math: cublasMath_t,
    a: &[In],
    b: &[In],
) -> Result<(CudaBlas, CudaSlice<In>, CudaSlice<In>, CudaSlice<Out>), String> {
    let limit = i32::MAX as usize;
    if m == 0 || n == 0 || k == 0 || m > limit || n > limit || k > limit {
        return Err(format!(
            "GEMM {m}x{n}x{k}: each dimension must be in 1..2^31 (cuBLAS takes 32-bit sizes)"
        ));
    }
    let stream = dev.stream.clone();
    dev.bind().map_err(|e| e.0)?;
    let blas =
        CudaBlas::new(stream.clone()).map_err(|e| format!("creating a cuBLAS handle: {e:?}"))?;
    // SAFETY: the handle is valid; the mode is a documented enumerator.
    unsafe { blas_sys::cublasSetMathMode(*blas.handle(), math) }
        .result()
        .map_err(|e| format!("setting cuBLAS math mode {math:?}: {e:?}"))?;
    let da = stream
        .clone_htod(a)
        .map_err(|e| format!("uploading A ({m}x{k}): {}", drv(e)))?;
    let db = stream
        .clone_htod(b)
        .map_err(|e| format!("uploading B ({k}x{n}): {}", drv(e)))?;
    let dc = stream
        .alloc_zeros::<Out>(m * n)
        .map_err(|e| format!("allocating C ({m}x{n}): {}", drv(e)))?;
    stream
        .synchronize()
        .map_err(|e| format!("uploading GEMM inputs: {}", drv(e)))?;
    Ok((blas, da, db, dc))
}

/// Runs `enqueue` `iters` times between the device's timing events; returns device seconds.
fn timed_calls(
    dev: &CudaDevice,
    iters: u64,
    mut enqueue: impl FnMut() -> Result<(), WorkloadError>,
) -> Result<f64, WorkloadError> {
    use crate::workload::device::KernelDevice;
    let cc = dev.info().compute_capability;
    let mut timed = || -> Result<f64, WorkloadError> {
        dev.bind()?;
        dev.timer_start()?;
        for _ in 0..iters {
            enqueue()?;
        }
        Ok(dev.timer_stop()?)
    };
    timed().map_err(|e| hint_workload_error(cc, e))
}

/// Copies C back to the host and waits for it.
fn read_back<T: DeviceRepr + Default + Clone>(
    dev: &CudaDevice,
    dc: &CudaSlice<T>,
) -> Result<Vec<T>, WorkloadError> {
    dev.bind()?;
    let stream = dev.stream.clone();
    let c = stream
        .clone_dtoh(dc)
        .map_err(|e| dev_err("reading C back", drv(e)))?;
    stream
        .synchronize()
        .map_err(|e| dev_err("reading C back", drv(e)))?;
    Ok(c)
}

impl<'d, T> CublasGemmTrial<'d, T>
where
    T: BlasElem,
    CudaBlas: Gemm<T>,
{
    fn prepare(
        dev: &'d CudaDevice,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    ) -> Result<Self, String> {
        let (a, b) = gemm_inputs::<T>(m, n, k, seed);
        let (blas, da, db, dc) = set_up::<T, T>(dev, (m, n, k), T::MATH_MODE, &a, &b)?;
        let (cm, cn, ck, lda, ldb, ldc) = row_major_as_col_major(m, n, k);
        let cfg = GemmConfig {
            transa: cublasOperation_t::CUBLAS_OP_N,
            transb: cublasOperation_t::CUBLAS_OP_N,
            m: cm as i32,
            n: cn as i32,
            k: ck as i32,
            alpha: T::ONE,
            lda: lda as i32,
            ldb: ldb as i32,
            beta: T::ZERO,
            ldc: ldc as i32,
        };
        Ok(CublasGemmTrial {
            dev,
            blas,
            cfg,
            m,
            n,
            k,
            seed,
            a,
            b,
            da,
            db,
            dc,
        })
    }

    fn enqueue(&mut self) -> Result<(), WorkloadError> {
        // SAFETY: the operands were allocated with exactly the sizes `cfg` describes
        // (B: K×N as N×K col-major with ld N, A: M×K as K×M with ld K, C: M×N as N×M with ld N).
        unsafe { self.blas.gemm(self.cfg, &self.db, &self.da, &mut self.dc) }
            .map_err(|e| dev_err(T::IMPLEMENTATION, e))
    }
}

impl<T> Trial for CublasGemmTrial<'_, T>
where
    T: BlasElem,
    CudaBlas: Gemm<T>,
{
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: T::IMPLEMENTATION.to_string(),
            math_mode: Some(T::MATH_MODE_LABEL.to_string()),
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let dev = self.dev;
        timed_calls(dev, iters, || self.enqueue())
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let c = read_back(self.dev, &self.dc)?;
        Ok(check_gemm::<T>(
            self.m, self.n, self.k, &self.a, &self.b, &c, self.seed,
        ))
    }
}

/// The cuBLAS peer of HGEMM: `cublasGemmEx` with FP16 A and B, FP32 C and FP32 compute, in
/// default math (cuBLAS may use tensor cores where the GPU has them; gpugate's HGEMM does not yet).
pub struct CublasHgemmTrial<'d> {
    dev: &'d CudaDevice,
    blas: CudaBlas,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    /// The halves' exact f32 values, for the reference.
    a: Vec<f32>,
    b: Vec<f32>,
    da: CudaSlice<u16>,
    db: CudaSlice<u16>,
    dc: CudaSlice<f32>,
}

const HGEMM_PEER: &str = "cuBLAS gemmEx (FP16 A, B; FP32 C)";
const HGEMM_PEER_MATH: &str =
    "cuBLAS FP16 inputs, FP32 accumulate (default math: may use tensor cores)";

impl<'d> CublasHgemmTrial<'d> {
    fn prepare(
        dev: &'d CudaDevice,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    ) -> Result<Self, String> {
        let (a, b, abits, bbits) = crate::workload::gemm::hgemm_inputs(m, n, k, seed);
        let (blas, da, db, dc) = set_up::<u16, f32>(
            dev,
            (m, n, k),
            cublasMath_t::CUBLAS_DEFAULT_MATH,
            &abits,
            &bbits,
        )?;
        Ok(CublasHgemmTrial {
            dev,
            blas,
            m,
            n,
            k,
            seed,
            a,
            b,
            da,
            db,
            dc,
        })
    }

    fn enqueue(&mut self) -> Result<(), WorkloadError> {
        use cudarc::driver::{DevicePtr, DevicePtrMut};
        let (cm, cn, ck, lda, ldb, ldc) = row_major_as_col_major(self.m, self.n, self.k);
        let (alpha, beta) = (1.0f32, 0.0f32);
        let stream = self.dev.stream.clone();
        let (pb, _rb) = self.db.device_ptr(&stream);
        let (pa, _ra) = self.da.device_ptr(&stream);
        let (pc, _rc) = self.dc.device_ptr_mut(&stream);
        // SAFETY: the operands were allocated with the sizes the dimensions describe (B as
        // cuBLAS's A: N×K col-major, ld N; A as its B: K×M, ld K; C: N×M, ld N); alpha and beta
        // are f32 as CUBLAS_COMPUTE_32F requires; the pointers outlive the call (guards above).
        unsafe {
            blas_sys::cublasGemmEx(
                *self.blas.handle(),
                cublasOperation_t::CUBLAS_OP_N,
                cublasOperation_t::CUBLAS_OP_N,
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
        .map_err(|e| dev_err(HGEMM_PEER, e))
    }
}

impl Trial for CublasHgemmTrial<'_> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: HGEMM_PEER.to_string(),
            math_mode: Some(HGEMM_PEER_MATH.to_string()),
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let dev = self.dev;
        timed_calls(dev, iters, || self.enqueue())
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let c = read_back(self.dev, &self.dc)?;
        Ok(check_gemm::<f32>(
            self.m, self.n, self.k, &self.a, &self.b, &c, self.seed,
        ))
    }
}

impl CudaDevice {
    /// Prepares the cuBLAS peer GEMM (row-major C[M×N] = A[M×K]·B[K×N], inputs from
    /// `gemm_inputs(m, n, k, seed)`, or `hgemm_inputs` for F16): sgemm in pedantic FP32, dgemm
    /// in default math, or gemmEx with FP16 inputs and FP32 accumulation in default math; timed
    /// with this device's events and verified like gpugate's own GEMM.
    ///
    /// The trial borrows the device (it runs on the device's stream and timer). Err when cuBLAS
    /// is not installed (see [`cublas_status`]) or cannot start; never panics.
    pub fn cublas_gemm_trial(
        &self,
        precision: Precision,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    ) -> Result<Box<dyn Trial + '_>, String> {
        cublas_status()?;
        let cc = self.info().compute_capability;
        guarded("preparing the cuBLAS GEMM", || match precision {
            Precision::F32 => CublasGemmTrial::<f32>::prepare(self, m, n, k, seed)
                .map(|t| Box::new(t) as Box<dyn Trial + '_>),
            Precision::F64 => CublasGemmTrial::<f64>::prepare(self, m, n, k, seed)
                .map(|t| Box::new(t) as Box<dyn Trial + '_>),
            Precision::F16 => CublasHgemmTrial::prepare(self, m, n, k, seed)
                .map(|t| Box::new(t) as Box<dyn Trial + '_>),
        })
        .map_err(|e| with_arch_hint(cc, e))
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
        let m = with_arch_hint((5, 2), "CUBLAS_STATUS_ARCH_MISMATCH".into());
        assert!(m.contains("sm_52") && m.contains("libcublas.so.12"), "{m}");
        assert_eq!(with_arch_hint((9, 0), "x".into()), "x");
        let e = hint_workload_error((6, 0), WorkloadError::Device(DeviceError("boom".into())));
        assert!(e.to_string().contains("sm_60"), "{e}");
        let u = hint_workload_error((6, 0), WorkloadError::Unsupported("u".into()));
        assert_eq!(u.to_string(), "u");
    }

    #[test]
    fn labels_are_honest() {
        assert_eq!(<f32 as BlasElem>::IMPLEMENTATION, "cuBLAS sgemm");
        assert!(<f32 as BlasElem>::MATH_MODE_LABEL.contains("no TF32"));
        assert_eq!(
            <f32 as BlasElem>::MATH_MODE,
            cublasMath_t::CUBLAS_PEDANTIC_MATH
        );
        assert_eq!(<f64 as BlasElem>::IMPLEMENTATION, "cuBLAS dgemm");
        assert_eq!(
            <f64 as BlasElem>::MATH_MODE,
            cublasMath_t::CUBLAS_DEFAULT_MATH
        );
    }

    #[test]
    fn cublas_status_never_panics_and_says_where_it_looked() {
        if let Err(e) = cublas_status() {
            assert!(e.contains("libcublas.so"), "{e}");
            assert!(e.contains("LD_LIBRARY_PATH"), "{e}");
            assert!(e.contains("optional"), "{e}");
        }
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU, driver and cuBLAS"]
    fn gpu_cublas_sgemm_and_dgemm_verify() {
        let (dev, _) = CudaDevice::open(0).expect("open GPU 0");
        cublas_status().expect("cuBLAS present");
        for p in [Precision::F32, Precision::F64, Precision::F16] {
            let mut t = dev.cublas_gemm_trial(p, 64, 64, 64, 42).expect("prepare");
            let info = t.info();
            assert!(info.implementation.starts_with("cuBLAS"));
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
        assert!(dev.cublas_gemm_trial(Precision::F32, 0, 4, 4, 1).is_err());
    }
}
