//! The GEMM variant catalogue: every variant `kernels/gemm.cu` instantiates, with its tile,
//! threads, pipeline and the architecture that runs it.

use super::{KernelModule, KernelRef};
use crate::model::spec::{GemmMath, Precision};
use crate::model::tuning::{SizeClass, TuningTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipeline {
    /// Double buffering through registers (two shared buffers; the only pipeline sm_52 has):
    /// the next tile is loaded into registers while the current one is consumed.
    Registers,
    /// `stages` shared buffers filled by `cp.async` (sm_80+), `stages - 1` tiles in flight.
    /// (Built for sm_70 too, where the copies are plain loads and stores: no overlap.)
    CpAsync { stages: u32 },
}

impl Pipeline {
    /// Shared-memory buffers of each tile.
    pub const fn buffers(self) -> u32 {
        match self {
            Pipeline::Registers => 2,
            Pipeline::CpAsync { stages } => stages,
        }
    }
}

/// A GEMM kernel and the launch geometry it was written for: one variant of the families that
/// `kernels/gemm.cu` instantiates from its templates (`gg_gemm` on the CUDA cores with either
/// pipeline, `gg_dmma` and `gg_hmma` on the tensor cores).
///
/// Signature of every GEMM entry (row-major, C = A·B):
/// `(int M, int N, int K, const T* A, const T* B, T* C)` for SGEMM / DGEMM (`T` = float /
/// double), and `(int M, int N, int K, const unsigned short* A, const unsigned short* B, float* C)`
/// for HGEMM ([`Precision::F16`]: A and B hold IEEE binary16 bit patterns, accumulation and C are
/// FP32);
/// grid = (ceil(N / bn), ceil(M / bm)), block = (threads, 1, 1), static shared memory only.
/// Every variant is correct for any M, N, K ≥ 0; they differ only in speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmKernel {
    pub kernel: KernelRef,
    pub precision: Precision,
    /// CUDA cores (FMA) or tensor cores.
    pub math: GemmMath,
    pub pipeline: Pipeline,
    /// Lowest compute capability whose module holds this entry.
    pub min_cc: (u32, u32),
    /// Block tile of C: `bm` rows × `bn` columns.
    pub bm: u32,
    pub bn: u32,
    /// k-step: columns of A / rows of B staged in shared memory per iteration.
    pub bk: u32,
    /// CUDA cores: the thread tile (each thread accumulates `tm` × `tn` elements of C in
    /// registers). Tensor cores: the warp tile (each warp owns `tm` × `tn` of C).
    pub tm: u32,
    pub tn: u32,
    /// Threads per block: `bm·bn / (tm·tn)` on the CUDA cores, 32 per warp tile on the tensor
    /// cores.
    pub threads: u32,
    /// Blocks per SM the kernel is compiled for: the second argument of its
    /// `__launch_bounds__`, which caps its registers at `65536 / (threads · min_blocks_per_sm)`
    /// on sm_52 (`kernels/build.py --check` holds it to that).
    pub min_blocks_per_sm: u32,
    /// Honest label of the arithmetic, e.g. "FP32 FMA (no tensor cores)".
    pub math_mode: &'static str,
}

/// Padding of each k-row of the transposed A tile in shared memory, in elements (gemm.cu).
pub const GEMM_A_PAD: u32 = 4;
/// Padding of the rows of the A (`m`-major, k contiguous) and B tiles of the tensor-core
/// kernels, in elements: 4 doubles for DMMA, 8 halves for HMMA (gemm.cu).
pub const DMMA_PAD: u32 = 4;
pub const HMMA_PAD: u32 = 8;

const SGEMM_MATH: &str = "FP32 FMA (CUDA cores, no TF32)";
const DGEMM_MATH: &str = "FP64 FMA (CUDA cores, no tensor cores)";
const HGEMM_MATH: &str = "FP16 inputs, FP32 FMA accumulate (CUDA cores, no tensor cores)";
const DGEMM_TC_MATH: &str = "FP64 DMMA (tensor cores, mma.sync m8n8k4, FP64 accumulate)";
const HGEMM_TC_MATH: &str = "FP16 inputs, FP32 accumulate (tensor cores, wmma m16n16k16)";

/// One table row of a CUDA-core variant with register double buffering (sm_52+). The
/// arguments mirror the variant's name, `<s|d|h>gemm_<f32|f64|f16>_<bm>x<bn>x<bk>_t<tm>x<tn>`,
/// and its `__launch_bounds__(threads, min_blocks_per_sm)` in `kernels/gemm.cu`
/// (`kernels/build.py --check` parses these calls and checks both).
#[allow(clippy::too_many_arguments)]
const fn variant(
    entry: &'static str,
    precision: Precision,
    bm: u32,
    bn: u32,
    bk: u32,
    tm: u32,
    tn: u32,
    min_blocks_per_sm: u32,
) -> GemmKernel {
    GemmKernel {
        kernel: KernelRef {
            module: "gemm",
            entry,
        },
        precision,
        math: GemmMath::CudaCores,
        pipeline: Pipeline::Registers,
        min_cc: (5, 2),
        bm,
        bn,
        bk,
        tm,
        tn,
        threads: (bm / tm) * (bn / tn),
        min_blocks_per_sm,
        math_mode: match precision {
            Precision::F32 => SGEMM_MATH,
            Precision::F64 => DGEMM_MATH,
            Precision::F16 => HGEMM_MATH,
        },
    }
}

/// A CUDA-core variant with a `stages`-deep cp.async pipeline (sm_80+):
/// `<s|d>gemm_<f32|f64>_<bm>x<bn>x<bk>_t<tm>x<tn>_s<stages>`.
#[allow(clippy::too_many_arguments)]
const fn async_variant(
    entry: &'static str,
    precision: Precision,
    bm: u32,
    bn: u32,
    bk: u32,
    tm: u32,
    tn: u32,
    min_blocks_per_sm: u32,
    stages: u32,
) -> GemmKernel {
    let mut k = variant(entry, precision, bm, bn, bk, tm, tn, min_blocks_per_sm);
    k.pipeline = Pipeline::CpAsync { stages };
    k.min_cc = (8, 0);
    k
}

/// A tensor-core variant: `<d|h>gemm_<f64|f16>_tc_<bm>x<bn>x<bk>_w<wm>x<wn>_s<stages>`, one
/// warp per `wm` × `wn` warp tile, a `stages`-deep cp.async pipeline. DGEMM (DMMA) needs sm_80,
/// HGEMM (wmma) sm_70.
#[allow(clippy::too_many_arguments)]
const fn tc_variant(
    entry: &'static str,
    precision: Precision,
    bm: u32,
    bn: u32,
    bk: u32,
    wm: u32,
    wn: u32,
    min_blocks_per_sm: u32,
    stages: u32,
) -> GemmKernel {
    let mut k = variant(entry, precision, bm, bn, bk, wm, wn, min_blocks_per_sm);
    k.math = GemmMath::TensorCores;
    k.pipeline = Pipeline::CpAsync { stages };
    k.min_cc = match precision {
        Precision::F16 => (7, 0),
        _ => (8, 0),
    };
    k.threads = (bm / wm) * (bn / wn) * 32;
    k.math_mode = match precision {
        Precision::F16 => HGEMM_TC_MATH,
        _ => DGEMM_TC_MATH,
    };
    k
}

impl GemmKernel {
    /// Bytes of one element of the shared-memory tiles, of the arithmetic and of C: 4 for
    /// HGEMM, whose binary16 inputs are converted to float as the tiles are stored.
    pub const fn elem_bytes(&self) -> u32 {
        match self.precision {
            Precision::F32 | Precision::F16 => 4,
            Precision::F64 => 8,
        }
    }

    /// Bytes of one element of A and B in global memory (2 for HGEMM).
    pub const fn input_bytes(&self) -> u32 {
        match self.precision {
            Precision::F32 => 4,
            Precision::F64 => 8,
            Precision::F16 => 2,
        }
    }

    /// Static shared memory per block. CUDA cores: one buffer per pipeline stage of the
    /// transposed A tile (`bk` rows of `bm + GEMM_A_PAD`) and of the B tile (`bk` rows of `bn`).
    /// Tensor cores: per stage, the A tile as is (`bm` rows of `bk + pad`) and the B tile
    /// (`bk` rows of `bn + pad`), in the input type.
    pub const fn shared_bytes(&self) -> u32 {
        let stages = self.pipeline.buffers();
        match (self.math, self.precision) {
            (GemmMath::CudaCores, _) => {
                stages * self.bk * (self.bm + GEMM_A_PAD + self.bn) * self.elem_bytes()
            }
            (GemmMath::TensorCores, Precision::F16) => {
                stages * (self.bm * (self.bk + HMMA_PAD) + self.bk * (self.bn + HMMA_PAD)) * 2
            }
            (GemmMath::TensorCores, _) => {
                stages * (self.bm * (self.bk + DMMA_PAD) + self.bk * (self.bn + DMMA_PAD)) * 8
            }
        }
    }

    /// Whether a device of compute capability `cc` can run it.
    pub fn runs_on(&self, cc: (u32, u32)) -> bool {
        self.min_cc <= cc
    }

    /// Register cap per thread implied by `min_blocks_per_sm` on sm_52 (64 K registers per SM,
    /// allocated per thread in multiples of 8), at most 255.
    pub const fn max_registers(&self) -> u32 {
        let warps = self.threads.div_ceil(32);
        let cap = 65536 / (warps * 32 * self.min_blocks_per_sm) / 8 * 8;
        if cap > 255 {
            255
        } else {
            cap
        }
    }
}

/// The SGEMM family, default (large tile, used before any tuning) first.
#[rustfmt::skip]
pub const SGEMM_VARIANTS: &[GemmKernel] = &[
    //       entry                       precision       bm   bn  bk  tm tn  min blocks/SM
    variant("sgemm_f32_128x128x8_t8x8", Precision::F32, 128, 128, 8,  8, 8, 2),
    variant("sgemm_f32_128x64x8_t8x4",  Precision::F32, 128, 64,  8,  8, 4, 2),
    variant("sgemm_f32_64x64x8_t4x4",   Precision::F32, 64,  64,  8,  4, 4, 4),
    variant("sgemm_f32_64x64x16_t4x4",  Precision::F32, 64,  64,  16, 4, 4, 4),
    //            entry                           precision       bm   bn   bk  tm tn  min/SM stages
    async_variant("sgemm_f32_128x128x8_t8x8_s4",  Precision::F32, 128, 128, 8,  8, 8, 2,     4),
    async_variant("sgemm_f32_128x64x8_t8x4_s4",   Precision::F32, 128, 64,  8,  8, 4, 2,     4),
    async_variant("sgemm_f32_128x128x16_t8x8_s2", Precision::F32, 128, 128, 16, 8, 8, 2,     2),
];

/// The DGEMM family, default first.
#[rustfmt::skip]
pub const DGEMM_VARIANTS: &[GemmKernel] = &[
    variant("dgemm_f64_64x64x8_t4x4",   Precision::F64, 64,  64,  8,  4, 4, 2),
    variant("dgemm_f64_128x64x8_t8x4",  Precision::F64, 128, 64,  8,  8, 4, 2),
    variant("dgemm_f64_32x32x8_t2x2",   Precision::F64, 32,  32,  8,  2, 2, 4),
    variant("dgemm_f64_64x64x16_t4x4",  Precision::F64, 64,  64,  16, 4, 4, 2),
    //            entry                          precision       bm   bn  bk  tm tn  min/SM stages
    async_variant("dgemm_f64_64x64x8_t4x4_s4",  Precision::F64, 64,  64,  8,  4, 4, 2,     4),
    async_variant("dgemm_f64_128x64x8_t8x4_s3", Precision::F64, 128, 64,  8,  8, 4, 2,     3),
    //         entry                                precision       bm   bn   bk  wm  wn  min/SM stages
    tc_variant("dgemm_f64_tc_64x64x8_w32x32_s4",  Precision::F64, 64,  64,  8,  32, 32, 2,     4),
    tc_variant("dgemm_f64_tc_128x64x8_w64x32_s2", Precision::F64, 128, 64,  8,  64, 32, 1,     2),
    tc_variant("dgemm_f64_tc_64x128x8_w32x64_s3", Precision::F64, 64,  128, 8,  32, 64, 1,     3),
];

/// The HGEMM family (binary16 inputs, FP32 accumulate and output): CUDA-core variants for every
/// GPU from sm_52 (default first), tensor-core variants from sm_70.
#[rustfmt::skip]
pub const HGEMM_VARIANTS: &[GemmKernel] = &[
    variant("hgemm_f16_128x128x8_t8x8", Precision::F16, 128, 128, 8,  8, 8, 2),
    variant("hgemm_f16_64x64x8_t4x4",   Precision::F16, 64,  64,  8,  4, 4, 4),
    //         entry                                  precision       bm   bn   bk  wm  wn  min/SM stages
    tc_variant("hgemm_f16_tc_128x128x32_w64x32_s2", Precision::F16, 128, 128, 32, 64, 32, 1,     2),
    tc_variant("hgemm_f16_tc_64x64x32_w32x32_s2",   Precision::F16, 64,  64,  32, 32, 32, 2,     2),
];

/// The default SGEMM (before any tuning): 128×128×8, 8×8 per thread.
pub const SGEMM: GemmKernel = SGEMM_VARIANTS[0];

/// The default DGEMM (before any tuning): 64×64×8, 4×4 per thread.
pub const DGEMM: GemmKernel = DGEMM_VARIANTS[0];

/// The default HGEMM (before any tuning): 128×128×8, 8×8 per thread.
pub const HGEMM: GemmKernel = HGEMM_VARIANTS[0];

/// The default GEMM kernel of a precision on the CUDA cores (what runs before any tuning; every
/// GPU from sm_52 has it).
pub fn gemm_kernel(p: Precision) -> GemmKernel {
    match p {
        Precision::F32 => SGEMM,
        Precision::F64 => DGEMM,
        Precision::F16 => HGEMM,
    }
}

/// Every GEMM variant of a precision, of any math and architecture, default first.
pub fn gemm_variants(p: Precision) -> &'static [GemmKernel] {
    match p {
        Precision::F32 => SGEMM_VARIANTS,
        Precision::F64 => DGEMM_VARIANTS,
        Precision::F16 => HGEMM_VARIANTS,
    }
}

/// The variants of a precision and math that a device of compute capability `cc` can run, in
/// table order (the first is the default before tuning). Empty when the device has no such
/// path (tensor cores before sm_70 / sm_80).
pub fn gemm_variants_for(p: Precision, math: GemmMath, cc: (u32, u32)) -> Vec<GemmKernel> {
    gemm_variants(p)
        .iter()
        .filter(|k| k.math == math && k.runs_on(cc))
        .copied()
        .collect()
}

/// The variants of a precision and math that module `m` holds, in table order.
pub fn gemm_variants_in(p: Precision, math: GemmMath, m: &KernelModule) -> Vec<GemmKernel> {
    gemm_variants(p)
        .iter()
        .filter(|k| {
            k.math == math && m.name == k.kernel.module && m.entries.contains(&k.kernel.entry)
        })
        .copied()
        .collect()
}

/// The default kernel of a precision and math on a device of compute capability `cc`.
pub fn gemm_default_for(p: Precision, math: GemmMath, cc: (u32, u32)) -> Option<GemmKernel> {
    gemm_variants_for(p, math, cc).first().copied()
}

/// The GEMM paths gpugate measures for a precision on a device of compute capability `cc`:
/// SGEMM on the CUDA cores (never TF32); DGEMM on the CUDA cores (what the FP64 peak and the
/// profiles' FP64 targets count) and, from sm_80, also on the tensor cores (DMMA), reported as
/// its own math mode; HGEMM on the tensor cores from sm_70, on the CUDA cores before.
pub fn gemm_maths(p: Precision, cc: (u32, u32)) -> Vec<GemmMath> {
    match p {
        Precision::F32 => vec![GemmMath::CudaCores],
        Precision::F64 if cc >= (8, 0) => vec![GemmMath::CudaCores, GemmMath::TensorCores],
        Precision::F64 => vec![GemmMath::CudaCores],
        Precision::F16 if cc >= (7, 0) => vec![GemmMath::TensorCores],
        Precision::F16 => vec![GemmMath::CudaCores],
    }
}

/// The GEMM variant with this entry name, of any precision.
pub fn gemm_variant(entry: &str) -> Option<GemmKernel> {
    SGEMM_VARIANTS
        .iter()
        .chain(DGEMM_VARIANTS)
        .chain(HGEMM_VARIANTS)
        .find(|k| k.kernel.entry == entry)
        .copied()
}

impl TuningTable {
    /// The tuned variant for a GEMM of this precision, math and shape, if its class has been
    /// tuned. Never a variant of another math (a cache entry naming one is ignored).
    pub fn choose(
        &self,
        p: Precision,
        math: GemmMath,
        m: usize,
        n: usize,
        k: usize,
    ) -> Option<GemmKernel> {
        let e = self.entry(p, math, SizeClass::of(m, n, k))?;
        gemm_variants(p)
            .iter()
            .copied()
            .find(|v| v.kernel.entry == e.variant && v.math == math)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::module_for;

    #[test]
    fn the_paths_a_device_runs_follow_its_architecture() {
        use GemmMath::{CudaCores, TensorCores};
        let m40 = (5, 2);
        let v100 = (7, 0);
        let h100 = (9, 0);
        assert_eq!(gemm_maths(Precision::F32, h100), vec![CudaCores]);
        assert_eq!(gemm_maths(Precision::F64, m40), vec![CudaCores]);
        assert_eq!(gemm_maths(Precision::F64, v100), vec![CudaCores]);
        assert_eq!(
            gemm_maths(Precision::F64, h100),
            vec![CudaCores, TensorCores]
        );
        assert_eq!(gemm_maths(Precision::F16, m40), vec![CudaCores]);
        assert_eq!(gemm_maths(Precision::F16, v100), vec![TensorCores]);
        // Every path a device is asked to run has at least one variant it can load, and
        // every variant offered is of that precision and math, loadable on the device.
        for cc in [m40, (6, 1), v100, (7, 5), (8, 0), (8, 9), h100] {
            for p in [Precision::F32, Precision::F64, Precision::F16] {
                for math in gemm_maths(p, cc) {
                    let vs = gemm_variants_for(p, math, cc);
                    assert!(!vs.is_empty(), "{p:?} {math:?} on {cc:?}");
                    assert_eq!(gemm_default_for(p, math, cc), Some(vs[0]));
                    for v in &vs {
                        assert!(v.precision == p && v.math == math && v.runs_on(cc));
                        assert!(module_for("gemm", cc)
                            .unwrap()
                            .entries
                            .contains(&v.kernel.entry));
                    }
                }
            }
        }
        // The M40 gets the register-pipelined CUDA-core variants only; an H100 all of them.
        assert!(gemm_variants_for(Precision::F64, TensorCores, m40).is_empty());
        assert_eq!(
            gemm_variants_for(Precision::F32, CudaCores, m40).len(),
            4,
            "sm_52 SGEMM variants"
        );
        assert_eq!(gemm_variants_for(Precision::F32, CudaCores, h100).len(), 7);
        assert_eq!(
            gemm_variants_for(Precision::F64, TensorCores, h100).len(),
            3
        );
        assert_eq!(
            gemm_variants_for(Precision::F16, TensorCores, v100).len(),
            2
        );
        // The default on the CUDA cores is the sm_52 default everywhere.
        assert_eq!(
            gemm_default_for(Precision::F32, CudaCores, h100),
            Some(SGEMM)
        );
    }

    #[test]
    fn gemm_defaults_are_the_first_variants() {
        assert_eq!(gemm_kernel(Precision::F32), SGEMM);
        assert_eq!(gemm_kernel(Precision::F64), DGEMM);
        assert_eq!(gemm_kernel(Precision::F16), HGEMM);
        assert_eq!(gemm_variants(Precision::F32)[0], SGEMM);
        assert_eq!(gemm_variants(Precision::F64)[0], DGEMM);
        assert_eq!(gemm_variants(Precision::F16)[0], HGEMM);
        assert_eq!(SGEMM.kernel.entry, "sgemm_f32_128x128x8_t8x8");
        assert_eq!(DGEMM.kernel.entry, "dgemm_f64_64x64x8_t4x4");
        assert_eq!(HGEMM.kernel.entry, "hgemm_f16_128x128x8_t8x8");
        for p in [Precision::F32, Precision::F64, Precision::F16] {
            for k in gemm_variants(p) {
                assert_eq!(k.precision, p, "{}", k.kernel.entry);
                assert_eq!(gemm_variant(k.kernel.entry), Some(*k));
            }
        }
        assert_eq!(gemm_variant("sgemm_f32_128x128x8"), None);
        assert_eq!(gemm_variant("stream_copy_f32"), None);
    }

    #[test]
    fn gemm_variants_are_consistent_and_fit_their_architecture() {
        let all: Vec<&GemmKernel> = SGEMM_VARIANTS
            .iter()
            .chain(DGEMM_VARIANTS)
            .chain(HGEMM_VARIANTS)
            .collect();
        // The newest module lists exactly the variants, each once.
        let newest = module_for("gemm", (9, 0)).expect("gemm module");
        assert_eq!(newest.entries.len(), all.len());
        for k in &all {
            let name = k.kernel.entry;
            assert_eq!(k.kernel.module, "gemm");
            assert_eq!(
                newest.entries.iter().filter(|e| **e == name).count(),
                1,
                "{name}"
            );
            assert_eq!(all.iter().filter(|o| o.kernel.entry == name).count(), 1);
            // The name encodes the path and the tile; the math label says what runs.
            let prefix = match k.precision {
                Precision::F32 => "sgemm_f32",
                Precision::F64 => "dgemm_f64",
                Precision::F16 => "hgemm_f16",
            };
            let (want, math, min_cc) = match (k.math, k.pipeline) {
                (GemmMath::CudaCores, Pipeline::Registers) => (
                    format!("{prefix}_{}x{}x{}_t{}x{}", k.bm, k.bn, k.bk, k.tm, k.tn),
                    match k.precision {
                        Precision::F32 => SGEMM_MATH,
                        Precision::F64 => DGEMM_MATH,
                        Precision::F16 => HGEMM_MATH,
                    },
                    (5, 2),
                ),
                (GemmMath::CudaCores, Pipeline::CpAsync { stages }) => (
                    format!(
                        "{prefix}_{}x{}x{}_t{}x{}_s{stages}",
                        k.bm, k.bn, k.bk, k.tm, k.tn
                    ),
                    match k.precision {
                        Precision::F32 => SGEMM_MATH,
                        _ => DGEMM_MATH,
                    },
                    (8, 0),
                ),
                (GemmMath::TensorCores, Pipeline::CpAsync { stages }) => (
                    format!(
                        "{prefix}_tc_{}x{}x{}_w{}x{}_s{stages}",
                        k.bm, k.bn, k.bk, k.tm, k.tn
                    ),
                    match k.precision {
                        Precision::F16 => HGEMM_TC_MATH,
                        _ => DGEMM_TC_MATH,
                    },
                    if k.precision == Precision::F16 {
                        (7, 0)
                    } else {
                        (8, 0)
                    },
                ),
                (GemmMath::TensorCores, Pipeline::Registers) => {
                    panic!("{name}: no tensor-core variant pipelines through registers")
                }
            };
            assert_eq!(name, want);
            assert_eq!(k.math_mode, math, "{name}");
            assert_eq!(k.min_cc, min_cc, "{name}");
            // No FP32 tensor-core path: SGEMM is never TF32.
            assert!(!(k.precision == Precision::F32 && k.math == GemmMath::TensorCores));
            // Geometry: whole thread/warp tiles, whole warps, at most 1024 threads.
            assert!(k.bm % k.tm == 0 && k.bn % k.tn == 0, "{name}");
            match k.math {
                GemmMath::CudaCores => {
                    assert_eq!(k.threads, k.bm * k.bn / (k.tm * k.tn), "{name}");
                    // The loaders: every thread loads the same number of A elements.
                    assert_eq!(k.bm * k.bk % k.threads, 0, "{name}");
                }
                GemmMath::TensorCores => {
                    assert_eq!(k.threads, 32 * k.bm * k.bn / (k.tm * k.tn), "{name}");
                    // 16-byte vectors of the tiles, as many for every thread.
                    let v = 16 / k.input_bytes();
                    assert_eq!((k.bm * k.bk / v) % k.threads, 0, "{name}");
                    assert_eq!((k.bk * k.bn / v) % k.threads, 0, "{name}");
                }
            }
            assert!(k.threads % 32 == 0 && k.threads <= 1024, "{name}");
            // The PTX of the module that first has it declares the launch bounds the table says.
            let own = module_for("gemm", k.min_cc).expect("module");
            let head = ptx_entry_header(own.ptx, name);
            assert!(
                head.contains(&format!(".maxntid {}, 1, 1", k.threads)),
                "{name}: {head}"
            );
            assert!(
                head.contains(&format!(".minnctapersm {}", k.min_blocks_per_sm)),
                "{name}: {head}"
            );
            // Static shared memory fits a block (48 KB), and min_blocks_per_sm blocks fit an SM
            // of the lowest architecture that runs it (96 KB on sm_52 and sm_70, 164 KB on
            // sm_80).
            assert!(
                k.shared_bytes() <= 48 * 1024,
                "{name}: {} B",
                k.shared_bytes()
            );
            let sm_shared = if k.min_cc >= (8, 0) { 164 } else { 96 } * 1024;
            assert!(k.min_blocks_per_sm >= 1);
            assert!(
                k.min_blocks_per_sm * k.shared_bytes() <= sm_shared,
                "{name}: {} blocks of {} B",
                k.min_blocks_per_sm,
                k.shared_bytes()
            );
            assert!(k.min_blocks_per_sm * k.threads <= 2048, "{name}");
        }
        assert_eq!(SGEMM.shared_bytes(), 16640);
        assert_eq!(DGEMM.shared_bytes(), 16896);
        // HGEMM stores float tiles: the same shared memory as the SGEMM of the same tile.
        assert_eq!(HGEMM.shared_bytes(), SGEMM.shared_bytes());
        assert_eq!((HGEMM.input_bytes(), HGEMM.elem_bytes()), (2, 4));
        assert_eq!(HGEMM.max_registers(), 128);
        assert_eq!(SGEMM.max_registers(), 128);
        assert_eq!(
            gemm_variant("sgemm_f32_64x64x8_t4x4")
                .unwrap()
                .max_registers(),
            64
        );
        // Four stages of the large SGEMM tile; the tensor-core tiles as is, padded.
        let v = |e| gemm_variant(e).unwrap();
        assert_eq!(v("sgemm_f32_128x128x8_t8x8_s4").shared_bytes(), 33280);
        assert_eq!(v("dgemm_f64_tc_64x64x8_w32x32_s4").shared_bytes(), 41984);
        assert_eq!(v("hgemm_f16_tc_128x128x32_w64x32_s2").shared_bytes(), 37888);
        assert_eq!(v("dgemm_f64_tc_64x64x8_w32x32_s4").threads, 128);
    }

    /// The `.entry NAME(...)` header of one entry, up to its body's `{`.
    fn ptx_entry_header<'a>(ptx: &'a str, entry: &str) -> &'a str {
        let start = ptx
            .find(&format!(".entry {entry}("))
            .unwrap_or_else(|| panic!("{entry} missing from the PTX"));
        let len = ptx[start..].find('{').expect("entry body");
        &ptx[start..start + len]
    }
}
