//! GEMM on a [`KernelDevice`]: C[M×N] = A[M×K]·B[K×N], row-major, with gpugate's own kernels.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::device::{as_bytes, as_bytes_mut, DevBuf, KArg, KernelDevice, LaunchConfig, Pod};
use super::{Precision, Trial, TrialInfo, WorkloadError};
use crate::kernels::{gemm_kernel, GemmKernel};
use crate::model::Verification;
use crate::verify::{gemm::check_gemm, Elem};

/// Random inputs in [-1, 1) from `seed` (never zeros: zeros hide bugs).
pub fn gemm_inputs<T: Elem>(m: usize, n: usize, k: usize, seed: u64) -> (Vec<T>, Vec<T>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut gen = |len: usize| -> Vec<T> {
        (0..len)
            .map(|_| {
                let v: f64 = rng.gen_range(-1.0..1.0);
                // keep values away from exact zero
                T::from_f64(if v.abs() < 1e-3 { 0.5 } else { v })
            })
            .collect()
    };
    let a = gen(m * k);
    let b = gen(k * n);
    (a, b)
}

pub fn gemm_inputs_f32(m: usize, n: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    gemm_inputs(m, n, k, seed)
}

pub fn gemm_inputs_f64(m: usize, n: usize, k: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    gemm_inputs(m, n, k, seed)
}

/// HGEMM inputs: random values in [-1, 1) rounded to IEEE binary16. Returns the halves' f32
/// values (exact, for the reference) and their bit patterns (for the device).
pub fn hgemm_inputs(
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>, Vec<u16>, Vec<u16>) {
    let (a, b) = gemm_inputs::<f32>(m, n, k, seed);
    let round = |v: Vec<f32>| -> (Vec<f32>, Vec<u16>) {
        let h: Vec<half::f16> = v.into_iter().map(half::f16::from_f32).collect();
        (
            h.iter().map(|x| x.to_f32()).collect(),
            h.iter().map(|x| x.to_bits()).collect(),
        )
    };
    let (a, abits) = round(a);
    let (b, bbits) = round(b);
    (a, b, abits, bbits)
}

/// Launch geometry of `kernel` for an M×N output.
pub fn gemm_launch_config(kernel: &GemmKernel, m: usize, n: usize) -> LaunchConfig {
    LaunchConfig {
        grid: (
            n.div_ceil(kernel.bn as usize) as u32,
            m.div_ceil(kernel.bm as usize) as u32,
            1,
        ),
        block: (kernel.threads, 1, 1),
        shared_bytes: 0,
    }
}

/// Device bytes a GEMM of this shape needs.
pub fn gemm_device_bytes(p: Precision, m: usize, n: usize, k: usize) -> u64 {
    ((m * k + k * n) * p.bytes() + m * n * p.output_bytes()) as u64
}

struct GemmTrial<T: Elem + Pod, D: KernelDevice + ?Sized> {
    dev: Arc<D>,
    kernel: GemmKernel,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    a: Vec<T>,
    b: Vec<T>,
    bufs: [DevBuf; 3],
}

/// Prepares a GEMM on `dev` with the default kernel of `precision` (see [`prepare_gemm_with`]).
pub fn prepare_gemm<D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    precision: Precision,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    prepare_gemm_with(dev, gemm_kernel(precision), m, n, k, seed)
}

/// Prepares a GEMM on `dev` with a given kernel variant: generates inputs from `seed`, uploads
/// them, and fills C with NaN so that an element the kernel never writes fails verification.
pub fn prepare_gemm_with<D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    kernel: GemmKernel,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
) -> Result<Box<dyn Trial>, WorkloadError> {
    let max = i32::MAX as usize;
    if m == 0 || n == 0 || k == 0 || m > max || n > max || k > max {
        return Err(WorkloadError::Unsupported(format!(
            "GEMM shape {m}x{n}x{k} is out of range (each dimension 1..2^31)"
        )));
    }
    match kernel.precision {
        Precision::F32 => {
            let (a, b) = gemm_inputs::<f32>(m, n, k, seed);
            let (ab, bb) = (as_bytes(&a).to_vec(), as_bytes(&b).to_vec());
            prepare_typed::<f32, D>(dev, kernel, m, n, k, seed, (a, b), (ab, bb))
        }
        Precision::F64 => {
            let (a, b) = gemm_inputs::<f64>(m, n, k, seed);
            let (ab, bb) = (as_bytes(&a).to_vec(), as_bytes(&b).to_vec());
            prepare_typed::<f64, D>(dev, kernel, m, n, k, seed, (a, b), (ab, bb))
        }
        Precision::F16 => {
            // The device gets the half bit patterns; the reference their exact f32 values, and
            // C is FP32.
            let (a, b, abits, bbits) = hgemm_inputs(m, n, k, seed);
            let (ab, bb) = (as_bytes(&abits).to_vec(), as_bytes(&bbits).to_vec());
            prepare_typed::<f32, D>(dev, kernel, m, n, k, seed, (a, b), (ab, bb))
        }
    }
}

/// `T` is the output (and reference) type; `device_inputs` are A and B as the kernel reads them.
#[allow(clippy::too_many_arguments)]
fn prepare_typed<T: Elem + Pod, D: KernelDevice + ?Sized + 'static>(
    dev: Arc<D>,
    kernel: GemmKernel,
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    (a, b): (Vec<T>, Vec<T>),
    (a_dev, b_dev): (Vec<u8>, Vec<u8>),
) -> Result<Box<dyn Trial>, WorkloadError> {
    let sz = std::mem::size_of::<T>();
    let da = dev.alloc(a_dev.len())?;
    let db = match dev.alloc(b_dev.len()) {
        Ok(b) => b,
        Err(e) => {
            dev.free(da);
            return Err(e.into());
        }
    };
    let dc = match dev.alloc(m * n * sz) {
        Ok(c) => c,
        Err(e) => {
            dev.free(da);
            dev.free(db);
            return Err(e.into());
        }
    };
    let trial = GemmTrial {
        dev,
        kernel,
        m,
        n,
        k,
        seed,
        a,
        b,
        bufs: [da, db, dc],
    };
    trial.dev.upload(da, &a_dev)?;
    trial.dev.upload(db, &b_dev)?;
    trial.dev.upload(dc, &vec![0xFFu8; m * n * sz])?; // all-ones bytes are NaN in f32 and f64
    Ok(Box::new(trial))
}

impl<T: Elem + Pod, D: KernelDevice + ?Sized> GemmTrial<T, D> {
    fn launch(&self) -> Result<(), WorkloadError> {
        let [a, b, c] = self.bufs;
        self.dev.launch(
            self.kernel.kernel,
            gemm_launch_config(&self.kernel, self.m, self.n),
            &[
                KArg::I32(self.m as i32),
                KArg::I32(self.n as i32),
                KArg::I32(self.k as i32),
                KArg::Buf(a),
                KArg::Buf(b),
                KArg::Buf(c),
            ],
        )?;
        Ok(())
    }
}

impl<T: Elem + Pod, D: KernelDevice + ?Sized> Trial for GemmTrial<T, D> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: format!("gpugate {}", self.kernel.kernel.entry),
            math_mode: Some(self.kernel.math_mode.to_string()),
        }
    }

    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        self.dev.timer_start()?;
        for _ in 0..iters {
            self.launch()?;
        }
        Ok(self.dev.timer_stop()?)
    }

    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let mut c = vec![T::from_f64(0.0); self.m * self.n];
        self.dev.download(self.bufs[2], as_bytes_mut(&mut c))?;
        Ok(check_gemm(
            self.m, self.n, self.k, &self.a, &self.b, &c, self.seed,
        ))
    }

    fn output(&mut self) -> Result<(Vec<u8>, usize), WorkloadError> {
        let mut c = vec![0u8; self.bufs[2].bytes];
        self.dev.download(self.bufs[2], &mut c)?;
        Ok((c, std::mem::size_of::<T>()))
    }
    fn device_output(&self) -> Option<(DevBuf, usize)> {
        Some((self.bufs[2], std::mem::size_of::<T>()))
    }
}

impl<T: Elem + Pod, D: KernelDevice + ?Sized> Drop for GemmTrial<T, D> {
    fn drop(&mut self) {
        for b in self.bufs {
            self.dev.free(b);
        }
    }
}
