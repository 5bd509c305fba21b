//! One cuBLAS GEMM: its arguments checked as cuBLAS checks them, its operands read from the
//! simulated device memory, the product computed on the CPU, and the time the modelled GPU's
//! cuBLAS takes for it.
//!
//! The product is the BLAS one, column-major: C = alpha·op(A)·op(B) + beta·C, op(A) m×k, op(B)
//! k×n, C m×n, each operand with its leading dimension. Each element accumulates its k products
//! in order with fused multiply-adds in the compute precision (IEEE FP32 or FP64, what a
//! straightforward GEMM kernel does; FP16 inputs are widened exactly first), then
//! alpha·sum + beta·C is formed (beta·C as a fused multiply-add). With beta = 0, C is not read
//! (NaN in C does not propagate, as BLAS specifies); with alpha = 0 or k = 0, A and B are not
//! read.

use std::ops::Range;

use crate::driver::timing::Factors;
use crate::exec::{MemoryMap, Region};
use crate::model::DeviceModel;

/// An operand's element type (`cudaDataType_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F16,
    F32,
    F64,
}

impl DType {
    /// From a `cudaDataType_t` value: CUDA_R_16F 2, CUDA_R_32F 0, CUDA_R_64F 1.
    pub fn from_cuda(v: i32) -> Option<DType> {
        match v {
            2 => Some(DType::F16),
            0 => Some(DType::F32),
            1 => Some(DType::F64),
            _ => None,
        }
    }

    pub fn bytes(self) -> u64 {
        match self {
            DType::F16 => 2,
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    fn bits(self) -> u32 {
        self.bytes() as u32 * 8
    }

    /// The bit an `sdc` fault flips by default: the most significant mantissa bit.
    fn sdc_default_bit(self) -> u32 {
        match self {
            DType::F16 => 9,
            DType::F32 => 22,
            DType::F64 => 51,
        }
    }
}

/// The precision the products are summed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    F32,
    F64,
}

/// The unit of the modelled GPU a cuBLAS GEMM runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Fp32,
    Fp64,
    Fp64Tensor,
    Fp16Tensor,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Fp32 => "fp32",
            Unit::Fp64 => "fp64",
            Unit::Fp64Tensor => "fp64_tensor",
            Unit::Fp16Tensor => "fp16_tensor",
        }
    }
}

/// One GEMM call, its arguments checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gemm {
    /// op(A) = Aᵀ (CUBLAS_OP_T or CUBLAS_OP_C, the same for real types).
    pub transa: bool,
    pub transb: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: u64,
    pub lda: usize,
    pub b: u64,
    pub ldb: usize,
    pub c: u64,
    pub ldc: usize,
    /// The type of A and B.
    pub ab: DType,
    pub c_type: DType,
    pub compute: Compute,
    /// Host scalars, exactly as given (an f32 widens exactly).
    pub alpha: f64,
    pub beta: f64,
    /// CUBLAS_PEDANTIC_MATH on the handle, or a `_PEDANTIC` compute type: no tensor cores.
    pub pedantic: bool,
}

/// `cublasOperation_t` → transposed?; None for a value cuBLAS refuses in a GEMM.
pub fn op(v: i32) -> Option<bool> {
    match v {
        0 => Some(false),
        // CUBLAS_OP_T, CUBLAS_OP_C (the conjugate transpose of a real matrix is its transpose).
        1 | 2 => Some(true),
        _ => None,
    }
}

/// cuBLAS's argument checks of a GEMM (CUBLAS_STATUS_INVALID_VALUE when one fails): m, n, k ≥ 0,
/// lda ≥ max(1, rows of A as stored), ldb likewise, ldc ≥ max(1, m). Returns the sizes.
#[allow(clippy::too_many_arguments)]
pub fn check_sizes(
    transa: bool,
    transb: bool,
    m: i64,
    n: i64,
    k: i64,
    lda: i64,
    ldb: i64,
    ldc: i64,
) -> Option<[usize; 6]> {
    if m < 0 || n < 0 || k < 0 {
        return None;
    }
    let a_rows = if transa { k } else { m };
    let b_rows = if transb { n } else { k };
    if lda < a_rows.max(1) || ldb < b_rows.max(1) || ldc < m.max(1) {
        return None;
    }
    Some([m, n, k, lda, ldb, ldc].map(|v| v as usize))
}

impl Gemm {
    /// Multiply-adds of the product (zero when alpha or k is zero).
    pub fn reads_ab(&self) -> bool {
        self.k > 0 && self.alpha != 0.0
    }

    pub fn reads_c(&self) -> bool {
        self.beta != 0.0
    }

    /// Whether cuBLAS does anything at all: an empty C, or C = 1·C, is returned at once.
    pub fn is_noop(&self) -> bool {
        self.m == 0 || self.n == 0 || (!self.reads_ab() && self.beta == 1.0)
    }

    /// FLOPs as cuBLAS counts them: 2·m·n·k (0 when A and B are not read).
    pub fn flops(&self) -> u64 {
        if self.reads_ab() {
            2 * (self.m * self.n * self.k) as u64
        } else {
            0
        }
    }

    /// DRAM bytes the GEMM must move at least: A and B once, C written (and read when beta ≠ 0).
    pub fn bytes(&self) -> u64 {
        let ab = if self.reads_ab() {
            (self.m * self.k + self.k * self.n) as u64 * self.ab.bytes()
        } else {
            0
        };
        let c = (self.m * self.n) as u64 * self.c_type.bytes();
        ab + c * if self.reads_c() { 2 } else { 1 }
    }

    /// The byte range of A, B and C as stored: (name, device address, bytes, element size,
    /// written). A and B only when they are read.
    pub fn operands(&self) -> Vec<(&'static str, u64, u64, u64, bool)> {
        let span = |rows: usize, cols: usize, ld: usize, t: DType| -> u64 {
            if rows == 0 || cols == 0 {
                0
            } else {
                ((cols - 1) * ld + rows) as u64 * t.bytes()
            }
        };
        let (ar, ac) = if self.transa {
            (self.k, self.m)
        } else {
            (self.m, self.k)
        };
        let (br, bc) = if self.transb {
            (self.n, self.k)
        } else {
            (self.k, self.n)
        };
        let mut v = Vec::with_capacity(3);
        if self.reads_ab() {
            v.push((
                "A",
                self.a,
                span(ar, ac, self.lda, self.ab),
                self.ab.bytes(),
                false,
            ));
            v.push((
                "B",
                self.b,
                span(br, bc, self.ldb, self.ab),
                self.ab.bytes(),
                false,
            ));
        }
        v.push((
            "C",
            self.c,
            span(self.m, self.n, self.ldc, self.c_type),
            self.c_type.bytes(),
            true,
        ));
        v
    }

    /// The unit the GEMM runs on and the fraction of its peak it reaches, as the real cuBLAS
    /// would pick: FP64 on the FP64 tensor cores (DMMA) in default math where the model has
    /// them; FP16 inputs on the FP16 tensor cores in default math where it has them; otherwise
    /// the CUDA cores of the compute precision.
    pub fn unit(&self, model: &DeviceModel) -> (Unit, f64, f64) {
        let t = &model.time;
        let e = &model.cublas;
        match (self.compute, self.ab) {
            (Compute::F64, _) if !self.pedantic && t.fp64_tensor_tflops > 0.0 => {
                (Unit::Fp64Tensor, t.fp64_tensor_tflops, e.dgemm_efficiency)
            }
            (Compute::F64, _) => (Unit::Fp64, t.fp64_tflops, e.dgemm_efficiency),
            (Compute::F32, DType::F16) if !self.pedantic && t.fp16_tensor_tflops > 0.0 => {
                (Unit::Fp16Tensor, t.fp16_tensor_tflops, e.hgemm_efficiency)
            }
            (Compute::F32, DType::F16) => (Unit::Fp32, t.fp32_tflops, e.hgemm_efficiency),
            (Compute::F32, _) => (Unit::Fp32, t.fp32_tflops, e.sgemm_efficiency),
        }
    }

    /// The kernel name an `sdc` fault's substring is matched against.
    pub fn kernel_name(&self) -> &'static str {
        match (self.compute, self.ab) {
            (Compute::F64, _) => "cublas_dgemm",
            (Compute::F32, DType::F16) => "cublas_hgemm",
            (Compute::F32, _) => "cublas_sgemm",
        }
    }
}

/// Simulated seconds of a GEMM on a GPU of `model` with fault factors `f`, and what bound it
/// ("overhead", "memory", or its unit):
///
/// ```text
/// max( launch_interval_us,
///      launch_gap_us + max( 2·m·n·k / (unit peak × cuBLAS efficiency × c × s),
///                           bytes   / (memory bandwidth × memory_efficiency × s) ) )
/// ```
pub fn seconds(model: &DeviceModel, f: Factors, g: &Gemm) -> (f64, &'static str) {
    let t = &model.time;
    let (unit, peak, eff) = g.unit(model);
    let compute = g.flops() as f64 / (peak * 1e12 * eff * f.clock * f.slow);
    let memory = g.bytes() as f64 / (t.memory_gbps * 1e9 * t.memory_efficiency * f.slow);
    let (work, bound) = if compute >= memory {
        (compute, unit.as_str())
    } else {
        (memory, "memory")
    };
    let busy = t.launch_gap_us * 1e-6 + work;
    let interval = t.launch_interval_us * 1e-6;
    if busy < interval {
        (interval, "overhead")
    } else {
        (busy, bound)
    }
}

/// Where an operand lies: the region holding all of `[addr, addr + len)`.
pub fn region_of(map: &MemoryMap, addr: u64, len: u64) -> Option<&Region> {
    let end = addr.checked_add(len)?;
    map.regions
        .iter()
        .find(|r| addr >= r.base && end <= r.base + r.len)
}

/// A real type the products are summed in.
trait Real: Copy + Send + Sync + Default + 'static {
    fn fma(a: Self, b: Self, c: Self) -> Self;
    fn mul(a: Self, b: Self) -> Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    #[inline(always)]
    fn fma(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
    fn mul(a: f64, b: f64) -> f64 {
        a * b
    }
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// Element `i` of type `t` at `ptr`, widened (exactly) to f64.
///
/// # Safety
/// `ptr + i·size` must be readable.
unsafe fn load(ptr: *const u8, i: usize, t: DType) -> f64 {
    // SAFETY: the caller's contract; unaligned reads for any host alignment.
    unsafe {
        let p = ptr.add(i * t.bytes() as usize);
        match t {
            DType::F16 => half::f16::from_bits(std::ptr::read_unaligned(p as *const u16)).to_f64(),
            DType::F32 => std::ptr::read_unaligned(p as *const f32) as f64,
            DType::F64 => std::ptr::read_unaligned(p as *const f64),
        }
    }
}

/// Stores `v` as type `t` (f32 and f16 round to nearest even) at element `i` of `ptr`, with
/// bit `flip` of its representation inverted when given (the `sdc` fault).
///
/// # Safety
/// `ptr + i·size` must be writable.
unsafe fn store(ptr: *mut u8, i: usize, t: DType, v: f64, flip: Option<u32>) {
    let mask = |bits: u32| flip.map_or(0u64, |b| 1u64 << (b % bits));
    // SAFETY: the caller's contract; unaligned writes for any host alignment.
    unsafe {
        let p = ptr.add(i * t.bytes() as usize);
        match t {
            DType::F16 => {
                let h = half::f16::from_f64(v).to_bits() ^ mask(16) as u16;
                std::ptr::write_unaligned(p as *mut u16, h)
            }
            DType::F32 => {
                let x = (v as f32).to_bits() ^ mask(32) as u32;
                std::ptr::write_unaligned(p as *mut u32, x)
            }
            DType::F64 => {
                let x = v.to_bits() ^ mask(64);
                std::ptr::write_unaligned(p as *mut u64, x)
            }
        }
    }
}

/// The host addresses of A, B and C, their regions resolved by the caller.
pub struct HostOperands {
    pub a: *const u8,
    pub b: *const u8,
    pub c: *mut u8,
}

/// Computes the GEMM into C. `sdc`: flip a bit of C's element (0, 0) (`Some(None)`: the default
/// bit of C's type), as the `sdc` fault does to a kernel's first stored result. `threads`: host
/// threads for the product.
///
/// # Safety
/// The operands must be valid for the spans [`Gemm::operands`] gives (A and B readable when
/// they are read, C writable), and nothing else may use them meanwhile.
pub unsafe fn run(g: &Gemm, ops: &HostOperands, sdc: Option<Option<u32>>, threads: usize) {
    // SAFETY: forwarded.
    unsafe {
        match g.compute {
            Compute::F32 => run_as::<f32>(g, ops, sdc, threads),
            Compute::F64 => run_as::<f64>(g, ops, sdc, threads),
        }
    }
}

/// # Safety
/// As [`run`].
unsafe fn run_as<T: Real>(g: &Gemm, ops: &HostOperands, sdc: Option<Option<u32>>, threads: usize) {
    let (m, n, k) = (g.m, g.n, g.k);
    let sums: Vec<T> = if g.reads_ab() {
        // op(A) packed column-major m×k, op(B) column-major k×n.
        let mut pa = vec![T::default(); m * k];
        for p in 0..k {
            for i in 0..m {
                let at = if g.transa {
                    p + i * g.lda
                } else {
                    i + p * g.lda
                };
                // SAFETY: within A's span (the caller's contract).
                pa[i + p * m] = T::from_f64(unsafe { load(ops.a, at, g.ab) });
            }
        }
        let mut pb = vec![T::default(); k * n];
        for j in 0..n {
            for p in 0..k {
                let at = if g.transb {
                    j + p * g.ldb
                } else {
                    p + j * g.ldb
                };
                // SAFETY: within B's span.
                pb[p + j * k] = T::from_f64(unsafe { load(ops.b, at, g.ab) });
            }
        }
        product(&pa, &pb, m, n, k, threads)
    } else {
        vec![T::default(); m * n]
    };
    let alpha = T::from_f64(g.alpha);
    let beta = T::from_f64(g.beta);
    for j in 0..n {
        for i in 0..m {
            let at = i + j * g.ldc;
            let mut v = if g.reads_ab() {
                T::mul(alpha, sums[i + j * m])
            } else {
                T::default()
            };
            if g.reads_c() {
                // SAFETY: within C's span.
                let old = T::from_f64(unsafe { load(ops.c, at, g.c_type) });
                v = T::fma(beta, old, v);
            }
            let flip = (i == 0 && j == 0)
                .then_some(sdc)
                .flatten()
                .map(|bit| bit.unwrap_or(g.c_type.sdc_default_bit()) % g.c_type.bits());
            // SAFETY: within C's span (writable).
            unsafe { store(ops.c, at, g.c_type, v.to_f64(), flip) };
        }
    }
}

/// The k-term sums of op(A)·op(B), column-major m×n: `pa` is op(A) column-major m×k, `pb` op(B)
/// column-major k×n. Columns are shared among `threads` host threads.
fn product<T: Real>(pa: &[T], pb: &[T], m: usize, n: usize, k: usize, threads: usize) -> Vec<T> {
    let mut out = vec![T::default(); m * n];
    let work = m * n * k;
    let threads = if work < (1 << 20) {
        1
    } else {
        threads.clamp(1, n)
    };
    if threads == 1 {
        columns(pa, pb, m, k, 0..n, &mut out);
        return out;
    }
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(per * m).enumerate() {
            let cols = t * per..(t * per + chunk.len() / m);
            s.spawn(move || columns(pa, pb, m, k, cols, chunk));
        }
    });
    out
}

/// Columns `cols` of the sums into `out` (column `cols.start` first): each element adds its k
/// products in order, one fused multiply-add each.
fn columns<T: Real>(pa: &[T], pb: &[T], m: usize, k: usize, cols: Range<usize>, out: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has FMA.
        return unsafe { columns_fma(pa, pb, m, k, cols, out) };
    }
    columns_plain(pa, pb, m, k, cols, out)
}

/// [`columns_plain`] compiled for CPUs with FMA (the same results, vectorised).
///
/// # Safety
/// The CPU must support FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn columns_fma<T: Real>(
    pa: &[T],
    pb: &[T],
    m: usize,
    k: usize,
    cols: Range<usize>,
    out: &mut [T],
) {
    columns_plain(pa, pb, m, k, cols, out)
}

#[inline(always)]
fn columns_plain<T: Real>(
    pa: &[T],
    pb: &[T],
    m: usize,
    k: usize,
    cols: Range<usize>,
    out: &mut [T],
) {
    for (jj, j) in cols.enumerate() {
        let acc = &mut out[jj * m..(jj + 1) * m];
        for p in 0..k {
            let b = pb[p + j * k];
            let col = &pa[p * m..(p + 1) * m];
            for (c, &a) in acc.iter_mut().zip(col) {
                *c = T::fma(a, b, *c);
            }
        }
    }
}

/// The product of a [`Gemm`] on host slices (column-major, with its leading dimensions), for
/// the tests: C is updated in place.
pub fn on_host<TA: Copy, TC: Copy>(g: &Gemm, a: &[TA], b: &[TA], c: &mut [TC]) {
    let ops = HostOperands {
        a: a.as_ptr() as *const u8,
        b: b.as_ptr() as *const u8,
        c: c.as_mut_ptr() as *mut u8,
    };
    for (name, _, bytes, _, _) in g.operands() {
        let have = match name {
            "A" => std::mem::size_of_val(a),
            "B" => std::mem::size_of_val(b),
            _ => std::mem::size_of_val(c),
        } as u64;
        assert!(bytes <= have, "{name}: {bytes} bytes needed, {have} given");
    }
    // SAFETY: each span was checked against its slice above; C is borrowed mutably.
    unsafe { run(g, &ops, None, 2) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemm(m: usize, n: usize, k: usize) -> Gemm {
        Gemm {
            transa: false,
            transb: false,
            m,
            n,
            k,
            a: 0,
            lda: m.max(1),
            b: 0,
            ldb: k.max(1),
            c: 0,
            ldc: m.max(1),
            ab: DType::F32,
            c_type: DType::F32,
            compute: Compute::F32,
            alpha: 1.0,
            beta: 0.0,
            pedantic: true,
        }
    }

    /// A naive column-major reference in f64.
    fn reference(g: &Gemm, a: &[f64], b: &[f64], c: &[f64]) -> Vec<f64> {
        let mut out = c.to_vec();
        for j in 0..g.n {
            for i in 0..g.m {
                let mut s = 0.0;
                for p in 0..g.k {
                    let av = if g.transa {
                        a[p + i * g.lda]
                    } else {
                        a[i + p * g.lda]
                    };
                    let bv = if g.transb {
                        b[j + p * g.ldb]
                    } else {
                        b[p + j * g.ldb]
                    };
                    s += av * bv;
                }
                let old = if g.beta != 0.0 {
                    g.beta * c[i + j * g.ldc]
                } else {
                    0.0
                };
                out[i + j * g.ldc] = g.alpha * s + old;
            }
        }
        out
    }

    #[test]
    fn transposes_leading_dimensions_alpha_and_beta() {
        // Small integers: every product and sum is exact in f64 and f32.
        let val = |i: usize| ((i * 7 + 3) % 9) as f64 - 4.0;
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (m, n, k) = (5, 3, 4);
            let mut g = gemm(m, n, k);
            g.transa = ta;
            g.transb = tb;
            g.lda = if ta { k + 2 } else { m + 1 };
            g.ldb = if tb { n + 3 } else { k + 1 };
            g.ldc = m + 2;
            g.alpha = 2.0;
            g.beta = -0.5;
            let a: Vec<f64> = (0..g.lda * if ta { m } else { k }).map(val).collect();
            let b: Vec<f64> = (0..g.ldb * if tb { k } else { n })
                .map(|i| val(i + 1))
                .collect();
            let c: Vec<f64> = (0..g.ldc * n).map(|i| val(i + 2)).collect();
            let want = reference(&g, &a, &b, &c);
            let (af, bf): (Vec<f32>, Vec<f32>) = (
                a.iter().map(|x| *x as f32).collect(),
                b.iter().map(|x| *x as f32).collect(),
            );
            let mut cf: Vec<f32> = c.iter().map(|x| *x as f32).collect();
            on_host(&g, &af, &bf, &mut cf);
            for (idx, (got, want)) in cf.iter().zip(&want).enumerate() {
                if idx % g.ldc < m {
                    assert_eq!(*got as f64, *want, "{ta} {tb} element {idx}");
                } else {
                    // The padding rows of C are left alone.
                    assert_eq!(*got as f64, c[idx], "{ta} {tb} padding {idx}");
                }
            }
            let mut g64 = g;
            g64.ab = DType::F64;
            g64.c_type = DType::F64;
            g64.compute = Compute::F64;
            let mut c64 = c.clone();
            on_host(&g64, &a, &b, &mut c64);
            for (idx, w) in want.iter().enumerate() {
                if idx % g.ldc < m {
                    assert_eq!(c64[idx], *w, "f64 {ta} {tb} element {idx}");
                }
            }
        }
    }

    #[test]
    fn beta_zero_never_reads_c_and_alpha_zero_never_reads_a_or_b() {
        let mut g = gemm(2, 2, 2);
        let a = [1.0f32, 2.0, 3.0, 4.0];
        let b = [1.0f32, 0.0, 0.0, 1.0];
        let mut c = [f32::NAN; 4];
        on_host(&g, &a, &b, &mut c);
        assert_eq!(c, a, "A·I with beta = 0: the NaNs in C do not propagate");
        g.alpha = 0.0;
        g.beta = 3.0;
        let mut c = [1.0f32, 2.0, 3.0, 4.0];
        let nan = [f32::NAN; 4];
        on_host(&g, &nan, &nan, &mut c);
        assert_eq!(c, [3.0, 6.0, 9.0, 12.0], "alpha = 0: C = beta·C");
        assert_eq!(g.flops(), 0);
        assert!(!g.operands().iter().any(|o| o.0 == "A"));
    }

    /// Each element sums its products in order with fused multiply-adds in FP32: the result is
    /// the correctly rounded sequence, not the f64 sum rounded once.
    #[test]
    fn fp32_sums_in_order_with_fused_multiply_adds() {
        let k = 3;
        let g = Gemm {
            lda: 1,
            ldb: k,
            ldc: 1,
            ..gemm(1, 1, k)
        };
        let a = [1.0f32, 1e-8, -1.0];
        let b = [1.0f32, 1.0, 1.0];
        let mut c = [0.0f32];
        on_host(&g, &a, &b, &mut c);
        // fma(1e-8, 1, 1) rounds to 1 in f32; then 1 - 1 = 0 (the f64 sum would be 1e-8).
        assert_eq!(c[0], 0.0);
        let mut want = 0.0f32;
        for p in 0..k {
            want = a[p].mul_add(b[p], want);
        }
        assert_eq!(c[0], want);
    }

    #[test]
    fn fp16_inputs_widen_exactly_and_fp16_output_rounds() {
        let mut g = gemm(1, 1, 2);
        g.ab = DType::F16;
        g.ldb = 2;
        let h = |x: f32| half::f16::from_f32(x).to_bits();
        // 2049 is not a half: its nearest is 2048; 0.1 widens to its half value, not 0.1.
        let a = [h(2049.0), h(0.1)];
        let b = [h(1.0), h(1.0)];
        let mut c = [0.0f32];
        on_host(&g, &a, &b, &mut c);
        let want = 2048.0f32 + half::f16::from_f32(0.1).to_f32();
        assert_eq!(c[0], want);
        g.c_type = DType::F16;
        let mut c16 = [0u16];
        on_host(&g, &a, &b, &mut c16);
        assert_eq!(c16[0], half::f16::from_f32(want).to_bits());
    }

    #[test]
    fn threads_do_not_change_the_result() {
        let (m, n, k) = (67, 129, 130);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37) % 101) as f32 * 0.013 - 0.6)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 53) % 97) as f32 * 0.011 - 0.5)
            .collect();
        let pa = a.clone();
        let pb = b.clone();
        let one = product(&pa, &pb, m, n, k, 1);
        let four = product(&pa, &pb, m, n, k, 4);
        assert_eq!(one, four);
        assert!(m * n * k >= 1 << 20, "large enough to be split");
    }

    #[test]
    fn argument_checks() {
        assert_eq!(op(0), Some(false));
        assert_eq!(op(1), Some(true));
        assert_eq!(op(2), Some(true));
        assert_eq!(op(3), None);
        assert_eq!(op(-1), None);
        assert!(check_sizes(false, false, 4, 3, 2, 4, 2, 4).is_some());
        assert!(
            check_sizes(false, false, 4, 3, 2, 3, 2, 4).is_none(),
            "lda < m"
        );
        assert!(
            check_sizes(true, false, 4, 3, 2, 2, 2, 4).is_some(),
            "Aᵀ: lda ≥ k"
        );
        assert!(
            check_sizes(false, true, 4, 3, 2, 4, 2, 4).is_none(),
            "Bᵀ: ldb ≥ n"
        );
        assert!(
            check_sizes(false, false, 4, 3, 2, 4, 2, 3).is_none(),
            "ldc < m"
        );
        assert!(check_sizes(false, false, -1, 3, 2, 4, 2, 4).is_none());
        assert!(check_sizes(false, false, 0, 0, 0, 1, 1, 1).is_some());
        assert!(
            check_sizes(false, false, 0, 0, 0, 0, 1, 1).is_none(),
            "ld ≥ 1"
        );
    }

    #[test]
    fn the_time_model_uses_the_cublas_efficiency_of_the_unit() {
        let m40 = crate::model::load("m40").unwrap();
        let f = Factors::healthy(&m40);
        let n = 4096;
        let g = gemm(n, n, n);
        let (t, bound) = seconds(&m40, f, &g);
        assert_eq!(bound, "fp32");
        let tf = g.flops() as f64 / t / 1e12;
        let want = m40.time.fp32_tflops * m40.cublas.sgemm_efficiency;
        assert!((tf / want - 1.0).abs() < 0.001, "{tf} vs {want}");
        // A 64³ SGEMM is shorter than the launch interval.
        assert_eq!(seconds(&m40, f, &gemm(64, 64, 64)).1, "overhead");
        // DGEMM: the FP64 units on the M40, DMMA on the H100 (CUDA cores in pedantic math).
        let mut d = g;
        d.compute = Compute::F64;
        d.ab = DType::F64;
        d.c_type = DType::F64;
        d.pedantic = false;
        assert_eq!(seconds(&m40, f, &d).1, "fp64");
        let h100 = crate::model::load("h100").unwrap();
        let fh = Factors::healthy(&h100);
        let (t, b) = seconds(&h100, fh, &d);
        assert_eq!(b, "fp64_tensor");
        let want = h100.time.fp64_tensor_tflops * h100.cublas.dgemm_efficiency;
        assert!((d.flops() as f64 / t / 1e12 / want - 1.0).abs() < 0.001);
        d.pedantic = true;
        assert_eq!(seconds(&h100, fh, &d).1, "fp64");
        // FP16 inputs: tensor cores on the H100, the FP32 units on the M40.
        let mut h = g;
        h.ab = DType::F16;
        h.pedantic = false;
        assert_eq!(seconds(&h100, fh, &h).1, "fp16_tensor");
        assert_eq!(seconds(&m40, f, &h).1, "fp32");
        // A skinny GEMM is bound by memory.
        let skinny = gemm(1 << 20, 1, 1);
        assert_eq!(seconds(&m40, f, &skinny).1, "memory");
        // Faults scale it like a kernel.
        let slow = Factors { slow: 0.5, ..f };
        let (t1, _) = seconds(&m40, f, &g);
        let (t2, _) = seconds(&m40, slow, &g);
        let gap = m40.time.launch_gap_us * 1e-6;
        assert!(((t2 - gap) / (t1 - gap) - 2.0).abs() < 1e-9);
    }
}
