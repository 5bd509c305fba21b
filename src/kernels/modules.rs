//! The module table and the embedded PTX: every PTX module gpugate ships, with its entry points,
//! and the entries the stream and video workloads name.

use super::{min_driver_for_isa, ptx_supported, DGEMM_VARIANTS, HGEMM_VARIANTS, SGEMM_VARIANTS};
use crate::model::spec::{Precision, StreamOp, VideoStage};

/// A kernel entry point in one of the embedded modules ([`MODULES`]): what the
/// device interface (`KernelDevice`, in the workloads) launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelRef {
    pub module: &'static str,
    pub entry: &'static str,
}

/// One PTX module built for one virtual architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelModule {
    /// Family name; also the `module` of every [`KernelRef`] into it.
    pub name: &'static str,
    /// Virtual architecture the PTX was generated for, e.g. "compute_52".
    pub target: &'static str,
    /// Lowest compute capability that can load it.
    pub min_cc: (u32, u32),
    /// PTX ISA version the module declares (`.version`), e.g. "6.3": the lowest its `.target`
    /// and instructions allow (`kernels/build.py` writes it; a driver's JIT takes the module only
    /// if it knows this version, see [`KernelModule::min_driver`]).
    pub ptx_isa: &'static str,
    pub ptx: &'static str,
    pub entries: &'static [&'static str],
}

/// The GEMM entries every GPU from sm_52 loads (register double buffering, CUDA cores).
const GEMM_ENTRIES_52: [&str; 10] = [
    "sgemm_f32_128x128x8_t8x8",
    "sgemm_f32_128x64x8_t8x4",
    "sgemm_f32_64x64x8_t4x4",
    "sgemm_f32_64x64x16_t4x4",
    "dgemm_f64_64x64x8_t4x4",
    "dgemm_f64_128x64x8_t8x4",
    "dgemm_f64_32x32x8_t2x2",
    "dgemm_f64_64x64x16_t4x4",
    "hgemm_f16_128x128x8_t8x8",
    "hgemm_f16_64x64x8_t4x4",
];

/// Added from sm_70 on: HGEMM on the tensor cores (wmma m16n16k16, FP32 accumulate).
const GEMM_ENTRIES_70: [&str; 2] = [
    "hgemm_f16_tc_128x128x32_w64x32_s2",
    "hgemm_f16_tc_64x64x32_w32x32_s2",
];

/// Added from sm_80 on: multi-stage cp.async pipelines (CUDA cores) and DGEMM on the tensor
/// cores (DMMA, mma.sync m8n8k4 f64).
const GEMM_ENTRIES_80: [&str; 8] = [
    "sgemm_f32_128x128x8_t8x8_s4",
    "sgemm_f32_128x64x8_t8x4_s4",
    "sgemm_f32_128x128x16_t8x8_s2",
    "dgemm_f64_64x64x8_t4x4_s4",
    "dgemm_f64_128x64x8_t8x4_s3",
    "dgemm_f64_tc_64x64x8_w32x32_s4",
    "dgemm_f64_tc_128x64x8_w64x32_s2",
    "dgemm_f64_tc_64x128x8_w32x64_s3",
];

/// `a` followed by `b`, in a constant.
const fn concat<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    assert!(A + B == N);
    let mut out = [""; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

const GEMM_UPTO_70: [&str; 12] = concat(GEMM_ENTRIES_52, GEMM_ENTRIES_70);
const GEMM_UPTO_80: [&str; 20] = concat(GEMM_UPTO_70, GEMM_ENTRIES_80);

/// Every module gpugate ships. A family built for several targets has one module per target;
/// a higher target's module holds every entry of the lower ones (the same source compiled with
/// a higher `__CUDA_ARCH__`) plus the paths behind `#if __CUDA_ARCH__ >= …`, and the loader
/// picks the highest one that both the device and the driver's JIT take
/// ([`select_modules`](super::select_modules)).
pub const MODULES: &[KernelModule] = &[
    KernelModule {
        name: "gemm",
        target: "compute_52",
        min_cc: (5, 2),
        // Nothing beyond `.target sm_52` (PTX ISA 4.1).
        ptx_isa: "4.1",
        ptx: include_str!("../../kernels/ptx/gemm.compute_52.ptx"),
        entries: &GEMM_ENTRIES_52,
    },
    KernelModule {
        name: "gemm",
        target: "compute_70",
        min_cc: (7, 0),
        // wmma with `.aligned` (PTX ISA 6.3).
        ptx_isa: "6.3",
        ptx: include_str!("../../kernels/ptx/gemm.compute_70.ptx"),
        entries: &GEMM_UPTO_70,
    },
    KernelModule {
        name: "gemm",
        target: "compute_80",
        min_cc: (8, 0),
        // cp.async and mma.sync m8n8k4 .f64 (PTX ISA 7.0).
        ptx_isa: "7.0",
        ptx: include_str!("../../kernels/ptx/gemm.compute_80.ptx"),
        entries: &GEMM_UPTO_80,
    },
    KernelModule {
        name: "stream",
        target: "compute_52",
        min_cc: (5, 2),
        // shfl.sync in the dot reduction (PTX ISA 6.0).
        ptx_isa: "6.0",
        ptx: include_str!("../../kernels/ptx/stream.compute_52.ptx"),
        entries: &[
            "stream_copy_f32",
            "stream_scale_f32",
            "stream_add_f32",
            "stream_triad_f32",
            "stream_dot_f32",
            "stream_copy_f64",
            "stream_scale_f64",
            "stream_add_f64",
            "stream_triad_f64",
            "stream_dot_f64",
        ],
    },
    KernelModule {
        name: "video",
        target: "compute_52",
        min_cc: (5, 2),
        // Nothing beyond `.target sm_52` (PTX ISA 4.1).
        ptx_isa: "4.1",
        ptx: include_str!("../../kernels/ptx/video.compute_52.ptx"),
        entries: &[
            "video_rgba_to_nv12",
            "video_scale_nv12",
            "video_me_sad16",
            "video_dct4x4_quant",
        ],
    },
    KernelModule {
        name: "memtest",
        target: "compute_52",
        min_cc: (5, 2),
        // Nothing beyond `.target sm_52` (PTX ISA 4.1; atom.add.u64 is older).
        ptx_isa: "4.1",
        ptx: include_str!("../../kernels/ptx/memtest.compute_52.ptx"),
        entries: &MEMTEST_ENTRIES,
    },
    KernelModule {
        name: "compare",
        target: "compute_52",
        min_cc: (5, 2),
        // Nothing beyond `.target sm_52` (PTX ISA 4.1; atom.add.u64 and atom.exch.b64 are older).
        ptx_isa: "4.1",
        ptx: include_str!("../../kernels/ptx/compare.compute_52.ptx"),
        entries: &COMPARE_ENTRIES,
    },
];

/// The memory test's steps (module `memtest`, compute_52; signatures, the values and the error
/// log at the top of `kernels/memtest.cu`; the patterns built from them: `crate::memtest`).
pub const MEMTEST_ENTRIES: [&str; 5] = [
    "memtest_fill_u32",
    "memtest_check_u32",
    "memtest_fill_addr_u64",
    "memtest_check_addr_u64",
    "memtest_address_lines_u32",
];

/// A memory-test entry by name (one of [`MEMTEST_ENTRIES`]).
pub fn memtest_kernel(entry: &'static str) -> KernelRef {
    assert!(MEMTEST_ENTRIES.contains(&entry), "{entry}");
    KernelRef {
        module: "memtest",
        entry,
    }
}

/// The burn-in's bit-for-bit comparison on the GPU (module `compare`, compute_52; signatures and
/// the error log at the top of `kernels/compare.cu`; launched by `crate::run::burn::compare`).
pub const COMPARE_ENTRIES: [&str; 3] =
    ["compare_clear_log", "compare_bits_u32", "compare_bits_u64"];

/// A comparison entry by name (one of [`COMPARE_ENTRIES`]).
pub fn compare_kernel(entry: &'static str) -> KernelRef {
    assert!(COMPARE_ENTRIES.contains(&entry), "{entry}");
    KernelRef {
        module: "compare",
        entry,
    }
}

impl KernelModule {
    /// The oldest driver whose JIT accepts this module's PTX ISA: the CUDA version as
    /// `cuDriverGetVersion` numbers it and the driver branch, e.g. `(10000, "R410")` for ISA 6.3
    /// (from `crate::cuda`'s PTX ISA table, which starts at CUDA 9.0 / R384: a module needing
    /// less gets that). None for an ISA newer than the table knows.
    pub fn min_driver(&self) -> Option<(u32, &'static str)> {
        min_driver_for_isa(self.ptx_isa)
    }

    /// Whether the JIT of a driver for CUDA `driver` accepts this module.
    pub fn loads_on_driver(&self, driver: u32) -> bool {
        ptx_supported(driver, self.ptx_isa)
    }
}

/// The best module of a family that a device of compute capability `cc` can load, whatever the
/// driver ([`select_modules`](super::select_modules) also asks the driver).
pub fn module_for(family: &str, cc: (u32, u32)) -> Option<&'static KernelModule> {
    MODULES
        .iter()
        .filter(|m| m.name == family && m.min_cc <= cc)
        .max_by_key(|m| m.min_cc)
}

/// Threads per block of every stream kernel.
pub const STREAM_BLOCK: u32 = 256;

/// Stream entry for an operation and precision.
///
/// Signatures (`T` = float or double, `n` = elements, grid-stride loops):
/// - copy:  `(const T* a, T* c, long long n)`                  c = a
/// - scale: `(const T* c, T* b, T scalar, long long n)`        b = scalar·c
/// - add:   `(const T* a, const T* b, T* c, long long n)`      c = a + b
/// - triad: `(const T* b, const T* c, T* a, T scalar, long long n)`  a = b + scalar·c
/// - dot:   `(const T* a, const T* b, T* partial, long long n)` partial[blockIdx.x] = Σ a·b
///   over the elements the block visited; block size must be [`STREAM_BLOCK`].
///
/// None for FP16: there are no half-precision stream kernels.
pub fn stream_kernel(op: StreamOp, p: Precision) -> Option<KernelRef> {
    let entry = match (op, p) {
        (StreamOp::Copy, Precision::F32) => "stream_copy_f32",
        (StreamOp::Scale, Precision::F32) => "stream_scale_f32",
        (StreamOp::Add, Precision::F32) => "stream_add_f32",
        (StreamOp::Triad, Precision::F32) => "stream_triad_f32",
        (StreamOp::Dot, Precision::F32) => "stream_dot_f32",
        (StreamOp::Copy, Precision::F64) => "stream_copy_f64",
        (StreamOp::Scale, Precision::F64) => "stream_scale_f64",
        (StreamOp::Add, Precision::F64) => "stream_add_f64",
        (StreamOp::Triad, Precision::F64) => "stream_triad_f64",
        (StreamOp::Dot, Precision::F64) => "stream_dot_f64",
        (_, Precision::F16) => return None,
    };
    Some(KernelRef {
        module: "stream",
        entry,
    })
}

/// The kernel of a video stage (module `video`, compute_52). Signatures, launch geometry and
/// the integer formulas: `kernels/video.cu` (and `crate::verify::video`, the host references).
/// Every entry processes a batch of frames (`blockIdx.z`), frame f at `base + f·stride`.
pub fn video_kernel(stage: VideoStage) -> KernelRef {
    let entry = match stage {
        VideoStage::Nv12 => "video_rgba_to_nv12",
        VideoStage::Scale => "video_scale_nv12",
        VideoStage::Me => "video_me_sad16",
        VideoStage::Dct => "video_dct4x4_quant",
    };
    KernelRef {
        module: "video",
        entry,
    }
}

/// Every entry gpugate can name, with the lowest compute capability that runs it: the GEMM
/// variants, the stream kernels (FP32 and FP64), the video stages and the memory test's steps.
pub fn referenced_entries() -> Vec<(KernelRef, (u32, u32))> {
    let mut refs: Vec<(KernelRef, (u32, u32))> = SGEMM_VARIANTS
        .iter()
        .chain(DGEMM_VARIANTS)
        .chain(HGEMM_VARIANTS)
        .map(|k| (k.kernel, k.min_cc))
        .collect();
    for op in StreamOp::ALL {
        for p in [Precision::F32, Precision::F64] {
            if let Some(k) = stream_kernel(op, p) {
                refs.push((k, (5, 2)));
            }
        }
    }
    for stage in VideoStage::ALL {
        refs.push((video_kernel(stage), (5, 2)));
    }
    for entry in MEMTEST_ENTRIES {
        refs.push((memtest_kernel(entry), (5, 2)));
    }
    for entry in COMPARE_ENTRIES {
        refs.push((compare_kernel(entry), (5, 2)));
    }
    refs
}

/// The kernel table as data, for `kernels/build.py` (which reads it from `kernels/table.json`,
/// kept equal to this by a test, instead of parsing this file): every module with its target,
#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{driver_needed, min_driver_label};

    #[test]
    fn every_referenced_entry_is_in_its_module_and_its_ptx() {
        for (r, min_cc) in referenced_entries() {
            // In the module of every architecture from its own up, and in no lower one.
            for cc in [
                (5, 2),
                (6, 1),
                (7, 0),
                (7, 5),
                (8, 0),
                (8, 6),
                (8, 9),
                (9, 0),
            ] {
                let m = module_for(r.module, cc).expect("a module for every GPU from sm_52");
                let here = m.entries.contains(&r.entry);
                assert_eq!(here, cc >= min_cc, "{} in {} {}", r.entry, m.name, m.target);
                assert_eq!(
                    m.ptx.contains(&format!(".entry {}(", r.entry)),
                    here,
                    "{} in the PTX of {} {}",
                    r.entry,
                    m.name,
                    m.target
                );
            }
        }
    }

    #[test]
    fn the_loader_picks_the_highest_module_a_device_supports() {
        let target = |cc| module_for("gemm", cc).map(|m| m.target);
        assert_eq!(target((5, 0)), None);
        assert_eq!(target((5, 2)), Some("compute_52"));
        assert_eq!(target((6, 1)), Some("compute_52"));
        assert_eq!(target((7, 0)), Some("compute_70"));
        assert_eq!(target((7, 5)), Some("compute_70"));
        assert_eq!(target((8, 0)), Some("compute_80"));
        assert_eq!(target((9, 0)), Some("compute_80"));
        assert_eq!(
            module_for("stream", (9, 0)).map(|m| m.target),
            Some("compute_52")
        );
        // A higher build holds every entry of the lower ones.
        for w in MODULES.windows(2) {
            if w[0].name == w[1].name {
                assert!(w[0].min_cc < w[1].min_cc);
                assert!(w[0].entries.iter().all(|e| w[1].entries.contains(e)));
            }
        }
    }

    /// The `.version` directive of a PTX text (comments after it ignored).
    fn declared_version(ptx: &str) -> &str {
        ptx.lines()
            .find_map(|l| l.strip_prefix(".version "))
            .and_then(|v| v.split_whitespace().next())
            .expect("a .version directive")
    }

    #[test]
    fn ptx_declares_the_isa_the_table_says_and_the_table_knows_its_driver() {
        // The lowest each module's .target and instructions allow (kernels/build.py): .target
        // sm_52 (4.1); shfl.sync (6.0); wmma .aligned (6.3); cp.async and DMMA (7.0).
        let want = [
            ("gemm", "compute_52", "4.1", (9000, "R384")),
            ("gemm", "compute_70", "6.3", (10000, "R410")),
            ("gemm", "compute_80", "7.0", (11000, "R450")),
            ("stream", "compute_52", "6.0", (9000, "R384")),
            ("video", "compute_52", "4.1", (9000, "R384")),
            ("memtest", "compute_52", "4.1", (9000, "R384")),
            ("compare", "compute_52", "4.1", (9000, "R384")),
        ];
        assert_eq!(MODULES.len(), want.len());
        for (name, target, isa, driver) in want {
            let m = MODULES
                .iter()
                .find(|m| m.name == name && m.target == target)
                .unwrap_or_else(|| panic!("{name} {target}"));
            assert_eq!(m.ptx_isa, isa, "{name} {target}");
            assert_eq!(
                declared_version(m.ptx),
                m.ptx_isa,
                "{name} {target}: the embedded PTX's .version"
            );
            assert!(m.ptx.contains(&format!(".target sm_{}", &m.target[8..])));
            assert_eq!(m.min_driver(), Some(driver), "{name} {target}");
            // It loads on that driver and not on the release before it.
            assert!(m.loads_on_driver(driver.0), "{name} {target}");
        }
        assert!(!MODULES[2].loads_on_driver(10020), "compute_80 on R440");
        assert!(!MODULES[1].loads_on_driver(9020), "compute_70 on R396");
        assert_eq!(
            min_driver_label("6.3").as_deref(),
            Some("CUDA 10.0 (R410+)")
        );
        assert_eq!(
            driver_needed("8.0"),
            "a driver for CUDA 12.0 or newer (R525+)"
        );
    }
}
