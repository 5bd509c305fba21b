//! `gpugate selftest`: every kernel at small, odd and large sizes, and every GEMM variant the
//! GPU can load at odd and tile-edge shapes, against the host references. Nothing is timed.

use std::sync::Arc;

use crate::cuda::{CudaDevice, CudaError};
use crate::model::{BackendKind, Verification};
use crate::probe;
use crate::run::workload_seed;
use crate::workload::backend::{Backend, DeviceBackend};
use crate::workload::{Direction, Precision, StreamOp, Trial, WorkloadSpec};

/// One self-test case: a workload at a size chosen to catch index and tiling bugs.
pub fn selftest_cases(include_large: bool, cc: (u32, u32)) -> Vec<WorkloadSpec> {
    let shapes = gemm_shapes(include_large);
    let mut v = Vec::new();
    for p in [Precision::F32, Precision::F64] {
        v.extend(gemm_cases(p, cc, &shapes));
        v.extend(stream_cases(p, include_large));
    }
    v.extend(gemm_cases(Precision::F16, cc, &shapes));
    v.extend(video_cases(include_large));
    v.extend(transfer_cases(include_large));
    v
}

/// GEMM shapes (M, N, K): a single element, odd sizes, thin and flat matrices, K = 1; with the
/// large cases two big ones.
fn gemm_shapes(include_large: bool) -> Vec<(usize, usize, usize)> {
    let mut shapes = vec![
        (1, 1, 1),
        (31, 31, 31),
        (257, 257, 257),
        (1000, 999, 17),
        (33, 65, 129),
        (1, 300, 7),
        (300, 1, 7),
        (129, 130, 1),
    ];
    if include_large {
        shapes.push((2048, 2048, 2048));
        shapes.push((4097, 1025, 515));
    }
    shapes
}

/// Every GEMM path of precision `p` on a device of compute capability `cc`, at each shape.
fn gemm_cases(p: Precision, cc: (u32, u32), shapes: &[(usize, usize, usize)]) -> Vec<WorkloadSpec> {
    let mut v = Vec::new();
    for math in crate::kernels::gemm_maths(p, cc) {
        for &(m, n, k) in shapes {
            v.push(WorkloadSpec::Gemm {
                precision: p,
                m,
                n,
                k,
                math,
            });
        }
    }
    v
}

/// Every stream operation in precision `p`, at lengths from one element to odd and large ones.
fn stream_cases(p: Precision, include_large: bool) -> Vec<WorkloadSpec> {
    let mut ns = vec![1usize, 31, 257, 1000, 100_003];
    if include_large {
        ns.push((1 << 26) + 3);
    }
    let mut v = Vec::new();
    for op in StreamOp::ALL {
        for &n in &ns {
            v.push(WorkloadSpec::Stream {
                op,
                precision: p,
                n,
            });
        }
    }
    v
}

/// Video stages: the smallest frame (one macroblock), sizes that are not multiples of 16 (or
/// of 2 or 3, for the chroma and the 2/3 scaler), and 1080p with the large cases.
fn video_cases(include_large: bool) -> Vec<WorkloadSpec> {
    let mut frames = vec![(16usize, 16usize), (51, 37), (100, 70)];
    if include_large {
        frames.push((1920, 1080));
    }
    let mut v = Vec::new();
    for stage in crate::workload::VideoStage::ALL {
        for &(width, height) in &frames {
            v.push(WorkloadSpec::Video {
                stage,
                width,
                height,
            });
        }
    }
    v
}

/// Pinned copies both ways: one byte, a page and one, and 64 MiB with the large cases.
fn transfer_cases(include_large: bool) -> Vec<WorkloadSpec> {
    let mut bytes = vec![1usize, 4097];
    if include_large {
        bytes.push(64 << 20);
    }
    let mut v = Vec::new();
    for direction in [Direction::HostToDevice, Direction::DeviceToHost] {
        for &b in &bytes {
            v.push(WorkloadSpec::Transfer {
                direction,
                bytes: b,
                pinned: true,
            });
        }
    }
    v
}

/// Shapes every GEMM variant runs at in the self-test (beside the default kernels' cases):
/// a single element, odd sizes, a long thin K, K = 1, and one element past / short of the
/// variant's own block tile.
pub fn selftest_variant_shapes(kernel: &crate::kernels::GemmKernel) -> Vec<(usize, usize, usize)> {
    let (bm, bn, bk) = (kernel.bm as usize, kernel.bn as usize, kernel.bk as usize);
    vec![
        (1, 1, 1),
        (31, 31, 31),
        (33, 65, 129),
        (1000, 999, 17),
        (129, 130, 1),
        (bm + 1, bn - 1, 3 * bk - 1),
        (2 * bm, 3 * bn, 5 * bk),
    ]
}

/// Outcome of one self-test case.
#[derive(Debug, Clone)]
pub struct SelftestCase {
    pub device: u32,
    pub spec: WorkloadSpec,
    /// The GEMM variant the case forced (None: the kernel the backend chose for the spec).
    pub variant: Option<&'static str>,
    pub verification: Verification,
    pub error: Option<String>,
}

impl SelftestCase {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.verification.passed()
    }
}

/// Runs every case once (nothing timed) on `backend` and verifies it; then every GEMM variant
/// the backend can run at [`selftest_variant_shapes`] (the tuner may pick any of them, so each
/// is checked on the device itself, not only on the simulator).
pub fn selftest_on(
    backend: &dyn Backend,
    cases: &[WorkloadSpec],
    seed: u64,
    each: &mut dyn FnMut(&SelftestCase),
) -> Vec<SelftestCase> {
    let mut out = Vec::new();
    let device = backend.device_index().unwrap_or(0);
    let mut record =
        |spec: WorkloadSpec,
         variant: Option<&'static str>,
         prepared: Result<Box<dyn Trial>, crate::workload::WorkloadError>| {
            let mut case = SelftestCase {
                device,
                spec,
                variant,
                verification: Verification::not_checked("not run"),
                error: None,
            };
            match prepared {
                Err(e) => case.error = Some(e.to_string()),
                Ok(mut t) => {
                    if let Err(e) = t.run(1) {
                        case.error = Some(e.to_string());
                    }
                    match t.verify() {
                        Ok(v) => case.verification = v,
                        Err(e) => {
                            case.error.get_or_insert(e.to_string());
                        }
                    }
                }
            }
            each(&case);
            out.push(case);
        };
    for spec in cases {
        record(
            *spec,
            None,
            backend.prepare(spec, workload_seed(seed, &spec.name())),
        );
    }
    for kernel in backend.gemm_kernels() {
        for (m, n, k) in selftest_variant_shapes(&kernel) {
            let spec = WorkloadSpec::Gemm {
                precision: kernel.precision,
                m,
                n,
                k,
                math: kernel.math,
            };
            let s = workload_seed(seed, &format!("{}.{}", spec.name(), kernel.kernel.entry));
            record(
                spec,
                Some(kernel.kernel.entry),
                backend.prepare_gemm_kernel(&kernel, (m, n, k), s),
            );
        }
    }
    out
}

/// Why `gpugate selftest` could test no GPU at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelftestError {
    /// The CUDA driver cannot be used (missing, too old, broken, no device): the driver's own
    /// reason, which says what to do.
    #[error(transparent)]
    Driver(#[from] CudaError),
    /// The driver works, yet the inventory lists no GPU (its reason).
    #[error("{0}")]
    NoGpu(String),
}

/// `gpugate selftest`: every kernel at small, odd and large sizes on every usable GPU.
/// Err when no GPU can be used; a GPU that cannot be opened is a failed case of its own.
pub fn selftest(
    seed: u64,
    include_large: bool,
    each: &mut dyn FnMut(&SelftestCase),
) -> Result<Vec<SelftestCase>, SelftestError> {
    let inv = probe::gpus();
    if inv.devices.is_empty() {
        return Err(match crate::cuda::list_devices() {
            Err(e) => SelftestError::Driver(e),
            Ok(_) => SelftestError::NoGpu(inv.unavailable.unwrap_or_else(|| "no GPU found".into())),
        });
    }
    let mut all = Vec::new();
    for d in &inv.devices {
        let dev = match CudaDevice::open(d.index) {
            Ok((dev, _)) => Arc::new(dev),
            Err(why) => {
                let case = SelftestCase {
                    device: d.index,
                    variant: None,
                    spec: WorkloadSpec::Transfer {
                        direction: Direction::HostToDevice,
                        bytes: 1,
                        pinned: true,
                    },
                    verification: Verification::not_checked("device could not be opened"),
                    error: Some(format!("GPU {} could not be opened: {why}", d.index)),
                };
                each(&case);
                all.push(case);
                continue;
            }
        };
        let cc = crate::workload::device::KernelDevice::props(dev.as_ref()).compute_capability;
        let backend = DeviceBackend::new(dev, Some(d.index), BackendKind::Cuda);
        all.extend(selftest_on(
            &backend,
            &selftest_cases(include_large, cc),
            seed,
            each,
        ));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_selftest_passes_every_case() {
        let host = crate::host::HostBackend::new("test");
        // The video stages are GPU kernels only (on the host they are the references).
        let cases: Vec<WorkloadSpec> = selftest_cases(false, (5, 2))
            .into_iter()
            .filter(|s| !matches!(s, WorkloadSpec::Video { .. }))
            .collect();
        let res = selftest_on(&host, &cases, 5, &mut |_| {});
        // The host has no GPU kernel variants: only the cases themselves.
        assert_eq!(res.len(), cases.len());
        for c in res {
            assert!(c.passed(), "{:?}", c);
            assert_eq!(c.variant, None);
        }
    }

    /// Every video stage, at one macroblock and at sizes that are not multiples of 16; 1080p
    /// only with the large cases.
    #[test]
    fn selftest_cases_cover_every_video_stage_at_odd_sizes() {
        use crate::workload::VideoStage;
        let sizes = |large, stage| -> Vec<(usize, usize)> {
            selftest_cases(large, (5, 2))
                .into_iter()
                .filter_map(|s| match s {
                    WorkloadSpec::Video {
                        stage: st,
                        width,
                        height,
                    } if st == stage => Some((width, height)),
                    _ => None,
                })
                .collect()
        };
        for stage in VideoStage::ALL {
            let small = sizes(false, stage);
            assert!(small.contains(&(16, 16)), "{stage:?}");
            assert!(small
                .iter()
                .any(|(w, h)| w % 16 != 0 && h % 16 != 0 && w % 2 == 1));
            assert!(!small.contains(&(1920, 1080)));
            assert!(sizes(true, stage).contains(&(1920, 1080)));
        }
    }

    #[test]
    fn selftest_cases_cover_the_maths_of_the_architecture() {
        use crate::workload::GemmMath;
        let count = |cc, p: Precision, m: GemmMath| {
            selftest_cases(true, cc)
                .iter()
                .filter(|s| {
                    matches!(s, WorkloadSpec::Gemm { precision, math, .. }
                        if *precision == p && *math == m)
                })
                .count()
        };
        let (m40, h100) = ((5, 2), (9, 0));
        assert_eq!(count(m40, Precision::F64, GemmMath::TensorCores), 0);
        assert_eq!(count(m40, Precision::F16, GemmMath::TensorCores), 0);
        assert!(count(m40, Precision::F16, GemmMath::CudaCores) > 0);
        let n = count(h100, Precision::F64, GemmMath::CudaCores);
        assert!(n > 0);
        assert_eq!(count(h100, Precision::F64, GemmMath::TensorCores), n);
        assert_eq!(count(h100, Precision::F16, GemmMath::TensorCores), n);
        assert_eq!(count(h100, Precision::F16, GemmMath::CudaCores), 0);
        assert_eq!(count(h100, Precision::F32, GemmMath::TensorCores), 0);
    }
}
