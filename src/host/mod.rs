//! The CPU backend: the same workloads on the host, labelled host, never counted as GPU results.
//!
//! GEMM uses the `matrixmultiply` crate (threaded over the host's cores); stream ops are plain
//! loops split across threads; the "transfer" is a host memcpy between two buffers. Every
//! result is verified with the same references as the GPU's.

use std::time::Instant;

use crate::model::{BackendKind, Verification};
use crate::verify::stream::{check_dot, check_elementwise, StreamArrays};
use crate::verify::{bytes::check_bytes, gemm::check_gemm, Elem};
use crate::workload::backend::Backend;
use crate::workload::gemm::gemm_inputs;
use crate::workload::stream::stream_inputs;
use crate::workload::transfer::transfer_data;
use crate::workload::{Precision, StreamOp, Trial, TrialInfo, WorkloadError, WorkloadSpec};

/// The host as a backend.
pub struct HostBackend {
    pub cpu_model: String,
    pub threads: usize,
}

impl HostBackend {
    pub fn new(cpu_model: impl Into<String>) -> Self {
        HostBackend {
            cpu_model: cpu_model.into(),
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

impl Backend for HostBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Host
    }
    fn device_index(&self) -> Option<u32> {
        None
    }
    fn device_name(&self) -> String {
        format!("host CPU ({}, {} threads)", self.cpu_model, self.threads)
    }
    fn prepare(&self, spec: &WorkloadSpec, seed: u64) -> Result<Box<dyn Trial>, WorkloadError> {
        match *spec {
            WorkloadSpec::Gemm {
                precision, m, n, k, ..
            } => Ok(match precision {
                Precision::F32 => Box::new(HostGemm::<f32>::new(m, n, k, seed)),
                Precision::F64 => Box::new(HostGemm::<f64>::new(m, n, k, seed)),
                Precision::F16 => Box::new(HostGemm::<f32>::new_f16(m, n, k, seed)),
            }),
            WorkloadSpec::Stream { op, precision, n } => Ok(match precision {
                Precision::F32 => Box::new(HostStream::<f32>::new(op, n, seed, self.threads)),
                Precision::F64 => Box::new(HostStream::<f64>::new(op, n, seed, self.threads)),
                Precision::F16 => {
                    return Err(WorkloadError::Unsupported(
                        "there are no half-precision stream workloads".into(),
                    ))
                }
            }),
            WorkloadSpec::Transfer { bytes, .. } => Ok(Box::new(HostCopy::new(bytes, seed))),
            WorkloadSpec::Video { .. } => Err(WorkloadError::Unsupported(
                "the video stages run on GPUs; on the host they exist only as the references \
                 that check the GPU's output"
                    .into(),
            )),
            WorkloadSpec::Encode { .. } => Err(WorkloadError::Unsupported(
                "hardware encode needs a GPU's NVENC; the host has no hardware encoder".into(),
            )),
        }
    }
}

/// Element types the host GEMM crate supports.
pub trait HostGemmElem: Elem + Default {
    /// C = A·B, row-major. Panics when a slice is shorter than its shape (m·k, k·n, m·n):
    /// the raw pointers handed to matrixmultiply are valid only for those lengths.
    fn gemm(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], c: &mut [Self]);
    const ROUTINE: &'static str;
}

/// The bounds check of [`HostGemmElem::gemm`]: every slice holds its whole matrix.
fn check_gemm_lengths(m: usize, n: usize, k: usize, a: usize, b: usize, c: usize) {
    let need = |rows: usize, cols: usize| rows.checked_mul(cols).expect("GEMM shape overflows");
    assert!(
        a >= need(m, k) && b >= need(k, n) && c >= need(m, n),
        "host GEMM {m}x{n}x{k}: slices of {a}, {b} and {c} elements are shorter than A (m·k), \
         B (k·n) and C (m·n)"
    );
}

impl HostGemmElem for f32 {
    fn gemm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
        check_gemm_lengths(m, n, k, a.len(), b.len(), c.len());
        // SAFETY: the slices hold at least the elements the shapes and strides address
        // (checked just above).
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        }
    }
    const ROUTINE: &'static str = "matrixmultiply::sgemm (host FP32)";
}

impl HostGemmElem for f64 {
    fn gemm(m: usize, n: usize, k: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
        check_gemm_lengths(m, n, k, a.len(), b.len(), c.len());
        // SAFETY: as above.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        }
    }
    const ROUTINE: &'static str = "matrixmultiply::dgemm (host FP64)";
}

struct HostGemm<T> {
    m: usize,
    n: usize,
    k: usize,
    seed: u64,
    a: Vec<T>,
    b: Vec<T>,
    c: Vec<T>,
}

impl<T: HostGemmElem> HostGemm<T> {
    fn new(m: usize, n: usize, k: usize, seed: u64) -> Self {
        let (a, b) = gemm_inputs::<T>(m, n, k, seed);
        HostGemm {
            m,
            n,
            k,
            seed,
            a,
            b,
            c: vec![T::from_f64(f64::NAN); m * n],
        }
    }
}

impl HostGemm<f32> {
    /// HGEMM on the host: the same half-rounded inputs as the GPU's, multiplied in FP32.
    fn new_f16(m: usize, n: usize, k: usize, seed: u64) -> Self {
        let (a, b, _, _) = crate::workload::gemm::hgemm_inputs(m, n, k, seed);
        HostGemm {
            m,
            n,
            k,
            seed,
            a,
            b,
            c: vec![f32::NAN; m * n],
        }
    }
}

impl<T: HostGemmElem> Trial for HostGemm<T> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: T::ROUTINE.to_string(),
            math_mode: Some(format!("host {} FMA/SIMD", T::NAME)),
        }
    }
    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let t = Instant::now();
        for _ in 0..iters {
            T::gemm(self.m, self.n, self.k, &self.a, &self.b, &mut self.c);
        }
        Ok(t.elapsed().as_secs_f64())
    }
    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        Ok(check_gemm(
            self.m, self.n, self.k, &self.a, &self.b, &self.c, self.seed,
        ))
    }
}

/// Independent accumulators per thread in the host dot product.
const DOT_LANES: usize = 8;

struct HostStream<T> {
    op: StreamOp,
    x: StreamArrays<T>,
    threads: usize,
    dot: f64,
}

impl<T: Elem + Default> HostStream<T> {
    fn new(op: StreamOp, n: usize, seed: u64, threads: usize) -> Self {
        let mut x = stream_inputs::<T>(n, seed);
        let nan = T::from_f64(f64::NAN);
        match op {
            StreamOp::Copy | StreamOp::Add => x.c.fill(nan),
            StreamOp::Scale => x.b.fill(nan),
            StreamOp::Triad => x.a.fill(nan),
            StreamOp::Dot => {}
        }
        // Keep the original inputs for the gold values: the output array is overwritten.
        HostStream {
            op,
            x,
            threads: threads.max(1),
            dot: f64::NAN,
        }
    }

    fn chunk(&self) -> usize {
        self.x.a.len().div_ceil(self.threads).max(1)
    }

    /// One pass of the operation over the arrays, split across the threads.
    fn once(&mut self) {
        let chunk = self.chunk();
        let x = &mut self.x;
        match self.op {
            StreamOp::Copy => copy(x, chunk),
            StreamOp::Scale => scale(x, chunk),
            StreamOp::Add => add(x, chunk),
            StreamOp::Triad => triad(x, chunk),
            StreamOp::Dot => self.dot = dot(x, chunk),
        }
    }
}

/// c = a, `chunk` elements a thread.
fn copy<T: Elem>(x: &mut StreamArrays<T>, chunk: usize) {
    std::thread::scope(|sc| {
        for (c, a) in x.c.chunks_mut(chunk).zip(x.a.chunks(chunk)) {
            sc.spawn(move || c.copy_from_slice(a));
        }
    })
}

/// b = scalar·c, `chunk` elements a thread.
fn scale<T: Elem>(x: &mut StreamArrays<T>, chunk: usize) {
    let s = x.scalar.to_f64();
    std::thread::scope(|sc| {
        for (b, c) in x.b.chunks_mut(chunk).zip(x.c.chunks(chunk)) {
            sc.spawn(move || {
                for (b, c) in b.iter_mut().zip(c) {
                    *b = T::from_f64(s * c.to_f64());
                }
            });
        }
    })
}

/// c = a + b, `chunk` elements a thread.
fn add<T: Elem>(x: &mut StreamArrays<T>, chunk: usize) {
    std::thread::scope(|sc| {
        for ((c, a), b) in
            x.c.chunks_mut(chunk)
                .zip(x.a.chunks(chunk))
                .zip(x.b.chunks(chunk))
        {
            sc.spawn(move || {
                for ((c, a), b) in c.iter_mut().zip(a).zip(b) {
                    *c = T::from_f64(a.to_f64() + b.to_f64());
                }
            });
        }
    })
}

/// a = b + scalar·c, `chunk` elements a thread.
fn triad<T: Elem>(x: &mut StreamArrays<T>, chunk: usize) {
    let s = x.scalar.to_f64();
    std::thread::scope(|sc| {
        for ((a, b), c) in
            x.a.chunks_mut(chunk)
                .zip(x.b.chunks(chunk))
                .zip(x.c.chunks(chunk))
        {
            sc.spawn(move || {
                for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                    *a = T::from_f64(b.to_f64() + s * c.to_f64());
                }
            });
        }
    })
}

/// a·b, `chunk` elements a thread; the threads' partial sums added in order.
fn dot<T: Elem>(x: &StreamArrays<T>, chunk: usize) -> f64 {
    std::thread::scope(|sc| {
        let hs: Vec<_> =
            x.a.chunks(chunk)
                .zip(x.b.chunks(chunk))
                .map(|(a, b)| sc.spawn(move || dot_lanes(a, b)))
                .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or(f64::NAN))
            .sum::<f64>()
    })
}

/// One thread's part of the dot product: DOT_LANES independent accumulators in T, like a
/// GPU's threads, summed in f64.
fn dot_lanes<T: Elem>(a: &[T], b: &[T]) -> f64 {
    let mut acc = [T::from_f64(0.0); DOT_LANES];
    let mut ca = a.chunks_exact(DOT_LANES);
    let mut cb = b.chunks_exact(DOT_LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for l in 0..DOT_LANES {
            acc[l] = T::from_f64(acc[l].to_f64() + xa[l].to_f64() * xb[l].to_f64());
        }
    }
    for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[l] = T::from_f64(acc[l].to_f64() + x.to_f64() * y.to_f64());
    }
    acc.iter().map(|v| v.to_f64()).sum::<f64>()
}

impl<T: Elem + Default> Trial for HostStream<T> {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: format!("host loop ({} threads)", self.threads),
            math_mode: None,
        }
    }
    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let t = Instant::now();
        for _ in 0..iters {
            self.once();
        }
        Ok(t.elapsed().as_secs_f64())
    }
    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        let x = &self.x;
        Ok(match self.op {
            StreamOp::Copy => check_elementwise(self.op, x, &x.c),
            StreamOp::Scale => check_elementwise(self.op, x, &x.b),
            StreamOp::Add => check_elementwise(self.op, x, &x.c),
            StreamOp::Triad => check_elementwise(self.op, x, &x.a),
            StreamOp::Dot => check_dot(&x.a, &x.b, self.dot, self.chunk().div_ceil(DOT_LANES)),
        })
    }
}

struct HostCopy {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl HostCopy {
    fn new(bytes: usize, seed: u64) -> Self {
        HostCopy {
            src: transfer_data(bytes, seed),
            dst: vec![0; bytes],
        }
    }
}

impl Trial for HostCopy {
    fn info(&self) -> TrialInfo {
        TrialInfo {
            implementation: "host memcpy (no device on this backend)".into(),
            math_mode: None,
        }
    }
    fn run(&mut self, iters: u64) -> Result<f64, WorkloadError> {
        let t = Instant::now();
        for _ in 0..iters {
            self.dst.copy_from_slice(std::hint::black_box(&self.src));
        }
        Ok(t.elapsed().as_secs_f64())
    }
    fn verify(&mut self) -> Result<Verification, WorkloadError> {
        Ok(check_bytes(&self.src, &self.dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VerifyStatus;
    use crate::workload::Direction;

    /// A slice shorter than its shape is refused before any pointer reaches matrixmultiply
    /// (it read and wrote out of bounds instead).
    #[test]
    fn host_gemm_refuses_slices_shorter_than_their_shape() {
        let (m, n, k) = (4, 3, 2);
        for (a, b, c) in [(7, 6, 12), (8, 5, 12), (8, 6, 11)] {
            let r = std::panic::catch_unwind(|| {
                let (a, b, mut c) = (vec![1.0f32; a], vec![1.0f32; b], vec![0.0f32; c]);
                f32::gemm(m, n, k, &a, &b, &mut c);
            });
            assert!(r.is_err(), "{a} {b} {c}");
            let r = std::panic::catch_unwind(|| {
                let (a, b, mut c) = (vec![1.0f64; a], vec![1.0f64; b], vec![0.0f64; c]);
                f64::gemm(m, n, k, &a, &b, &mut c);
            });
            assert!(r.is_err(), "{a} {b} {c}");
        }
        let mut c = vec![0.0f32; 12];
        f32::gemm(m, n, k, &[1.0; 8], &[1.0; 6], &mut c);
        assert_eq!(c, vec![2.0; 12]);
    }

    #[test]
    fn every_host_workload_runs_and_verifies_at_odd_sizes() {
        let host = HostBackend::new("test");
        let mut specs = vec![];
        for p in [Precision::F32, Precision::F64] {
            for &(m, n, k) in &[(1, 1, 1), (31, 31, 31), (100, 99, 17)] {
                specs.push(WorkloadSpec::Gemm {
                    precision: p,
                    m,
                    n,
                    k,
                    math: crate::workload::GemmMath::CudaCores,
                });
            }
            for op in StreamOp::ALL {
                for n in [1, 31, 1000] {
                    specs.push(WorkloadSpec::Stream {
                        op,
                        precision: p,
                        n,
                    });
                }
            }
        }
        specs.push(WorkloadSpec::Transfer {
            direction: Direction::HostToDevice,
            bytes: 1001,
            pinned: true,
        });
        for spec in specs {
            let mut t = host.prepare(&spec, 42).unwrap();
            assert!(
                t.verify().unwrap().status == VerifyStatus::Failed
                    || matches!(
                        spec,
                        WorkloadSpec::Stream {
                            op: StreamOp::Dot,
                            ..
                        }
                    ),
                "{spec:?} verified before it ran: the NaN fill is not working"
            );
            t.run(2).unwrap();
            let v = t.verify().unwrap();
            assert!(v.passed(), "{spec:?}: {v:?}");
        }
    }
}
