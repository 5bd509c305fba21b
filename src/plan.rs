//! Plan: from the run level and what a device offers, the list of workloads to run.
//!
//! Sizes scale with the level; the largest GEMM and the stream arrays must fit in the device's
//! free memory with margin, and stream arrays are at least 4 × L2 so that bandwidth is DRAM
//! bandwidth, not cache bandwidth.

use crate::kernels::gemm_maths;
use crate::model::{BackendKind, Level};
use crate::workload::device::DeviceProps;
use crate::workload::gemm::gemm_device_bytes;
use crate::workload::stream::stream_device_bytes;
use crate::workload::video::video_device_bytes;
use crate::workload::{Direction, GemmMath, Precision, StreamOp, VideoStage, WorkloadSpec};

/// Fraction of free device memory one workload may use.
pub const MEMORY_MARGIN: f64 = 0.5;

const MIB: usize = 1 << 20;

/// Square GEMM sizes per level and precision on a GPU. Standard and full sweep from 256 up,
/// including sizes that are not multiples of any tile (1000, 3000), so the reports can draw
/// TFLOPS against size for kernel, peer and peak.
pub fn gpu_gemm_sizes(level: Level, p: Precision) -> &'static [usize] {
    match (level, p) {
        (Level::Quick, Precision::F32) => &[4096],
        (Level::Quick, Precision::F64) => &[2048],
        (Level::Standard, Precision::F32) => &[256, 1000, 1024, 2048, 3000, 4096, 8192],
        (Level::Standard, Precision::F64) => &[256, 1000, 1024, 2048, 4096],
        (Level::Full, Precision::F32) => {
            &[256, 512, 1000, 1024, 2048, 3000, 4096, 6000, 8192, 16384]
        }
        (Level::Full, Precision::F64) => &[256, 512, 1000, 1024, 2048, 3000, 4096, 8192],
        // HGEMM (FP16 inputs, FP32 accumulate) is informational unless a profile sets a target.
        (Level::Quick, Precision::F16) => &[4096],
        (Level::Standard, Precision::F16) => &[1024, 4096, 8192],
        (Level::Full, Precision::F16) => &[1024, 2048, 4096, 8192, 16384],
    }
}

/// Square GEMM sizes per level on the host (kept small: the host is not what is gated).
pub fn host_gemm_sizes(level: Level) -> &'static [usize] {
    match level {
        Level::Quick => &[384],
        Level::Standard => &[1024],
        Level::Full => &[2048],
    }
}

/// Bytes per stream array before the 4 × L2 rule.
fn stream_array_bytes(level: Level, backend: BackendKind) -> usize {
    match level {
        // Host caches are at most tens of MiB; quick on the host stays small to stay quick.
        Level::Quick if backend == BackendKind::Host => 32 * MIB,
        Level::Quick => 64 * MIB,
        Level::Standard => 256 * MIB,
        Level::Full => 512 * MIB,
    }
}

fn transfer_bytes(level: Level, backend: BackendKind) -> usize {
    match level {
        Level::Quick if backend == BackendKind::Host => 32 * MIB,
        Level::Quick => 64 * MIB,
        Level::Standard | Level::Full => 256 * MIB,
    }
}

/// Bytes per stream array on a GPU at `level`, before the [`STREAM_L2_FACTOR`] × L2 rule
/// (what `--stream-mib` replaces).
pub fn gpu_stream_array_bytes(level: Level) -> usize {
    stream_array_bytes(level, BackendKind::Cuda)
}

/// Bytes per transfer on a GPU at `level` (what `--stream-mib` replaces).
pub fn gpu_transfer_bytes(level: Level) -> usize {
    transfer_bytes(level, BackendKind::Cuda)
}

/// The largest square size ≤ `want` (a multiple of 256) whose GEMM fits in `budget` bytes.
pub fn fit_gemm(p: Precision, want: usize, budget: u64) -> Option<usize> {
    let mut s = want;
    while s > 0 {
        if gemm_device_bytes(p, s, s, s) <= budget {
            return Some(s);
        }
        s = if s > 256 { (s - 256) / 256 * 256 } else { 0 };
    }
    None
}

/// Sizes a user set in place of the level's: `--gemm-sizes` (square GEMMs, every precision),
/// `--stream-mib` (each stream array and each transfer), `--video-sizes` and `--encode-frames`
/// (frames per hardware-encode session). None keeps the level's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SizeOverrides {
    pub gemm: Option<Vec<usize>>,
    pub stream_bytes: Option<usize>,
    /// Frame sizes of the video stages (`--video-sizes`): each for one stage, or for every
    /// stage that has none of its own (None).
    pub video: Option<Vec<VideoSize>>,
    /// Frames each hardware-encode session encodes (`--encode-frames`).
    pub encode_frames: Option<usize>,
}

/// A frame size the user gave: `WxH` for every stage, or `STAGE=WxH` for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSize {
    pub stage: Option<VideoStage>,
    pub width: usize,
    pub height: usize,
}

/// The frame sizes a stage runs at: the user's for that stage if any, else the user's for
/// every stage if any, else the level's.
pub fn stage_video_sizes(
    level: Level,
    stage: VideoStage,
    user: Option<&[VideoSize]>,
) -> Vec<(usize, usize)> {
    let pick = |want: Option<VideoStage>| -> Vec<(usize, usize)> {
        user.unwrap_or(&[])
            .iter()
            .filter(|v| v.stage == want)
            .map(|v| (v.width, v.height))
            .collect()
    };
    let own = pick(Some(stage));
    if !own.is_empty() {
        return own;
    }
    let all = pick(None);
    if !all.is_empty() {
        return all;
    }
    video_sizes(level).to_vec()
}

/// Video frame sizes per level on a GPU: 1080p at quick and standard, 1080p and 2160p at full.
pub fn video_sizes(level: Level) -> &'static [(usize, usize)] {
    match level {
        Level::Quick | Level::Standard => &[(1920, 1080)],
        Level::Full => &[(1920, 1080), (3840, 2160)],
    }
}

/// Workloads for one device at the level's sizes. `props` is None for the host.
pub fn plan(level: Level, backend: BackendKind, props: Option<&DeviceProps>) -> Vec<WorkloadSpec> {
    plan_with(level, backend, props, &SizeOverrides::default())
}

/// Stream arrays smaller than this many L2 caches measure the cache, not DRAM.
pub const STREAM_L2_FACTOR: usize = 4;

/// Workloads for one device, with the user's sizes where given. `props` is None for the host.
/// Sizes the user gave still shrink to fit the device's memory; they are not raised to
/// [`STREAM_L2_FACTOR`] × L2 (the run notes when they are below it).
pub fn plan_with(
    level: Level,
    backend: BackendKind,
    props: Option<&DeviceProps>,
    overrides: &SizeOverrides,
) -> Vec<WorkloadSpec> {
    let budget = props
        .map(|p| (p.free_memory.min(p.total_memory) as f64 * MEMORY_MARGIN) as u64)
        .unwrap_or(u64::MAX);
    let planning = Planning {
        level,
        backend,
        props,
        overrides,
        budget,
    };
    let mut out = planning.gemms();
    out.extend(planning.streams());
    out.extend(planning.transfers());
    out.extend(planning.videos());
    out
}

/// What every family's sizes depend on: the level, the backend, the device (None for the
/// host), the user's sizes and the memory budget (bytes a workload may allocate on the device).
struct Planning<'a> {
    level: Level,
    backend: BackendKind,
    props: Option<&'a DeviceProps>,
    overrides: &'a SizeOverrides,
    budget: u64,
}

impl Planning<'_> {
    fn l2_bytes(&self) -> usize {
        self.props.map(|p| p.l2_bytes as usize).unwrap_or(0)
    }

    /// Square GEMMs per precision and math path, each size once after fitting the budget.
    fn gemms(&self) -> Vec<WorkloadSpec> {
        let mut out = Vec::new();
        for p in [Precision::F32, Precision::F64, Precision::F16] {
            let sizes: &[usize] = match (self.backend, p, self.overrides.gemm.as_deref()) {
                // Half precision on the host would measure nothing the gate uses.
                (BackendKind::Host, Precision::F16, _) => &[],
                (_, _, Some(user)) => user,
                (BackendKind::Cuda, _, None) => gpu_gemm_sizes(self.level, p),
                (BackendKind::Host, _, None) => host_gemm_sizes(self.level),
            };
            // Every path the device has for this precision: DGEMM on the CUDA cores and, from
            // sm_80, on the tensor cores too (same sizes); HGEMM on the tensor cores from sm_70.
            // The host has only the CUDA-core arithmetic's counterpart.
            let maths = match self.props {
                Some(d) if self.backend == BackendKind::Cuda => gemm_maths(p, d.compute_capability),
                _ => vec![GemmMath::CudaCores],
            };
            for math in maths {
                let mut seen = Vec::new();
                for &s in sizes {
                    if let Some(s) = fit_gemm(p, s, self.budget) {
                        if !seen.contains(&s) {
                            seen.push(s);
                            out.push(WorkloadSpec::Gemm {
                                precision: p,
                                m: s,
                                n: s,
                                k: s,
                                math,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// Every stream operation in FP32 and FP64, on arrays of at least
    /// [`STREAM_L2_FACTOR`] × L2 (unless the user's), halved until they fit the budget.
    fn streams(&self) -> Vec<WorkloadSpec> {
        let mut out = Vec::new();
        for p in [Precision::F32, Precision::F64] {
            let mut bytes = match self.overrides.stream_bytes {
                Some(b) => b,
                None => stream_array_bytes(self.level, self.backend)
                    .max(STREAM_L2_FACTOR * self.l2_bytes()),
            };
            let mut n = bytes / p.bytes();
            while n > 0 && stream_device_bytes(p, n) > self.budget {
                bytes /= 2;
                n = bytes / p.bytes();
            }
            if n == 0 {
                continue;
            }
            for op in StreamOp::ALL {
                out.push(WorkloadSpec::Stream {
                    op,
                    precision: p,
                    n,
                });
            }
        }
        out
    }

    /// Pinned copies both ways, halved (down to 1 MiB) until they fit the budget.
    fn transfers(&self) -> Vec<WorkloadSpec> {
        let mut tb = self
            .overrides
            .stream_bytes
            .unwrap_or_else(|| transfer_bytes(self.level, self.backend));
        while tb as u64 > self.budget && tb > MIB {
            tb /= 2;
        }
        [Direction::HostToDevice, Direction::DeviceToHost]
            .into_iter()
            .map(|direction| WorkloadSpec::Transfer {
                direction,
                bytes: tb,
                pinned: true,
            })
            .collect()
    }

    /// The video stages at each of their frame sizes that fits the budget; on GPUs only
    /// (their host references check them).
    fn videos(&self) -> Vec<WorkloadSpec> {
        let mut out = Vec::new();
        if self.backend != BackendKind::Cuda {
            return out;
        }
        let l2 = self.l2_bytes() as u64;
        for stage in VideoStage::ALL {
            let sizes = stage_video_sizes(self.level, stage, self.overrides.video.as_deref());
            for (width, height) in sizes {
                if video_device_bytes(stage, width, height, l2) <= self.budget {
                    out.push(WorkloadSpec::Video {
                        stage,
                        width,
                        height,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_sizes_replace_the_levels() {
        let p = props(24, 3);
        let o = SizeOverrides {
            gemm: Some(vec![256, 300]),
            stream_bytes: Some(MIB),
            video: None,
            encode_frames: None,
        };
        let plan = plan_with(Level::Standard, BackendKind::Cuda, Some(&p), &o);
        let mut gemms: Vec<(Precision, usize)> = plan
            .iter()
            .filter_map(|s| match *s {
                WorkloadSpec::Gemm {
                    precision, m, n, k, ..
                } => {
                    assert!(m == n && n == k);
                    Some((precision, m))
                }
                _ => None,
            })
            .collect();
        gemms.sort_by_key(|(p, m)| (p.as_str(), *m));
        assert_eq!(
            gemms,
            vec![
                (Precision::F16, 256),
                (Precision::F16, 300),
                (Precision::F32, 256),
                (Precision::F32, 300),
                (Precision::F64, 256),
                (Precision::F64, 300),
            ]
        );
        for s in &plan {
            match *s {
                // 1 MiB arrays although 4 × L2 is 12 MiB: the user asked for them.
                WorkloadSpec::Stream { precision, n, .. } => assert_eq!(n * precision.bytes(), MIB),
                WorkloadSpec::Transfer { bytes, .. } => assert_eq!(bytes, MIB),
                WorkloadSpec::Gemm { .. }
                | WorkloadSpec::Video { .. }
                | WorkloadSpec::Encode { .. } => {}
            }
        }
        // The host takes the GEMM sizes too (no FP16 there), and the stream size.
        let host = plan_with(Level::Quick, BackendKind::Host, None, &o);
        assert!(host.contains(&WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 300,
            n: 300,
            k: 300,
            math: GemmMath::CudaCores,
        }));
        assert!(!host.iter().any(|s| matches!(
            s,
            WorkloadSpec::Gemm {
                precision: Precision::F16,
                ..
            }
        )));
        // Without overrides, plan() is the level's plan.
        assert_eq!(
            plan_with(
                Level::Quick,
                BackendKind::Cuda,
                Some(&p),
                &SizeOverrides::default()
            ),
            super::plan(Level::Quick, BackendKind::Cuda, Some(&p))
        );
    }

    fn props(total_gib: u64, l2_mib: u64) -> DeviceProps {
        DeviceProps {
            name: "test".into(),
            sm_count: 24,
            l2_bytes: l2_mib << 20,
            total_memory: total_gib << 30,
            free_memory: (total_gib << 30) - (300 << 20),
            compute_capability: (5, 2),
        }
    }

    #[test]
    fn m40_standard_plan_fits_and_has_everything() {
        let p = props(24, 3);
        let plan = plan(Level::Standard, BackendKind::Cuda, Some(&p));
        assert!(plan.contains(&WorkloadSpec::Gemm {
            precision: Precision::F32,
            m: 8192,
            n: 8192,
            k: 8192,
            math: GemmMath::CudaCores,
        }));
        assert_eq!(
            plan.iter()
                .filter(|s| matches!(s, WorkloadSpec::Stream { .. }))
                .count(),
            10
        );
        assert_eq!(
            plan.iter()
                .filter(|s| matches!(s, WorkloadSpec::Transfer { .. }))
                .count(),
            2
        );
    }

    #[test]
    fn small_memory_shrinks_the_largest_gemm() {
        let p = props(1, 1);
        let plan = plan(Level::Full, BackendKind::Cuda, Some(&p));
        for s in &plan {
            if let WorkloadSpec::Gemm {
                precision, m, n, k, ..
            } = *s
            {
                assert!(
                    gemm_device_bytes(precision, m, n, k) as f64
                        <= p.free_memory as f64 * MEMORY_MARGIN
                );
            }
            if let WorkloadSpec::Stream { precision, n, .. } = *s {
                assert!(
                    stream_device_bytes(precision, n) as f64
                        <= p.free_memory as f64 * MEMORY_MARGIN
                );
            }
        }
        // 16384² does not fit in 362 MiB: it shrinks to the largest multiple of 256 that does.
        let largest = plan
            .iter()
            .filter_map(|s| match *s {
                WorkloadSpec::Gemm {
                    precision: Precision::F32,
                    m,
                    ..
                } => Some(m),
                _ => None,
            })
            .max()
            .unwrap();
        assert_eq!(
            largest,
            fit_gemm(
                Precision::F32,
                16384,
                (p.free_memory as f64 * MEMORY_MARGIN) as u64
            )
            .unwrap()
        );
        assert!(largest < 16384 && largest % 256 == 0 && largest > 4096);
    }

    #[test]
    fn stream_arrays_are_at_least_four_l2() {
        let p = props(80, 50); // H100: 50 MB L2
        for s in plan(Level::Quick, BackendKind::Cuda, Some(&p)) {
            if let WorkloadSpec::Stream { precision, n, .. } = s {
                assert!(n * precision.bytes() >= 4 * (50 << 20));
            }
        }
    }

    /// The (precision, math) pairs a plan's GEMMs use, each with its sizes.
    fn gemm_paths(plan: &[WorkloadSpec]) -> Vec<(Precision, GemmMath, Vec<usize>)> {
        let mut out: Vec<(Precision, GemmMath, Vec<usize>)> = Vec::new();
        for s in plan {
            if let WorkloadSpec::Gemm {
                precision, m, math, ..
            } = *s
            {
                match out
                    .iter_mut()
                    .find(|(p, x, _)| *p == precision && *x == math)
                {
                    Some((_, _, sizes)) => sizes.push(m),
                    None => out.push((precision, math, vec![m])),
                }
            }
        }
        out
    }

    #[test]
    fn tensor_core_gemms_are_planned_only_where_the_device_has_them() {
        use GemmMath::{CudaCores, TensorCores};
        use Precision::{F16, F32, F64};
        type Paths = &'static [(Precision, GemmMath)];
        let cases: [((u32, u32), Paths); 4] = [
            // H100: DGEMM on both, HGEMM on the tensor cores only.
            (
                (9, 0),
                &[
                    (F32, CudaCores),
                    (F64, CudaCores),
                    (F64, TensorCores),
                    (F16, TensorCores),
                ],
            ),
            // V100: wmma, no DMMA.
            (
                (7, 0),
                &[(F32, CudaCores), (F64, CudaCores), (F16, TensorCores)],
            ),
            // M40: no tensor cores at all.
            (
                (5, 2),
                &[(F32, CudaCores), (F64, CudaCores), (F16, CudaCores)],
            ),
            (
                (6, 1),
                &[(F32, CudaCores), (F64, CudaCores), (F16, CudaCores)],
            ),
        ];
        for (cc, want) in cases {
            let mut p = props(80, 50);
            p.compute_capability = cc;
            let paths = gemm_paths(&plan(Level::Standard, BackendKind::Cuda, Some(&p)));
            let got: Vec<(Precision, GemmMath)> = paths.iter().map(|(p, m, _)| (*p, *m)).collect();
            assert_eq!(got, want, "cc {cc:?}");
            // Each path has its precision's sizes; DMMA uses the FP64 sizes.
            for (p, _, sizes) in &paths {
                assert_eq!(
                    &sizes[..],
                    gpu_gemm_sizes(Level::Standard, *p),
                    "cc {cc:?} {p:?}"
                );
            }
        }
        // The host: CUDA-core arithmetic only, no HGEMM, whatever a device would have.
        let host = gemm_paths(&plan(Level::Quick, BackendKind::Host, None));
        assert_eq!(
            host.iter().map(|(p, m, _)| (*p, *m)).collect::<Vec<_>>(),
            [(F32, CudaCores), (F64, CudaCores)]
        );
    }

    #[test]
    fn fit_gemm_steps_down_in_multiples_of_256() {
        assert_eq!(fit_gemm(Precision::F32, 4096, u64::MAX), Some(4096));
        let b = gemm_device_bytes(Precision::F32, 1000, 1000, 1000);
        assert_eq!(fit_gemm(Precision::F32, 4096, b), Some(768));
        assert_eq!(fit_gemm(Precision::F32, 4096, 10), None);
    }
}

#[cfg(test)]
mod video_size_tests {
    use super::*;

    fn size(stage: Option<VideoStage>, width: usize, height: usize) -> VideoSize {
        VideoSize {
            stage,
            width,
            height,
        }
    }

    /// A stage's own sizes win over the sizes for every stage, which win over the level's.
    #[test]
    fn a_stage_takes_its_own_sizes_then_everyones_then_the_levels() {
        let user = [
            size(None, 320, 180),
            size(Some(VideoStage::Me), 100, 70),
            size(Some(VideoStage::Me), 64, 48),
        ];
        let got = |st| stage_video_sizes(Level::Quick, st, Some(&user));
        assert_eq!(got(VideoStage::Me), vec![(100, 70), (64, 48)]);
        assert_eq!(got(VideoStage::Nv12), vec![(320, 180)]);
        let only_me = [size(Some(VideoStage::Me), 100, 70)];
        assert_eq!(
            stage_video_sizes(Level::Full, VideoStage::Dct, Some(&only_me)),
            vec![(1920, 1080), (3840, 2160)]
        );
        assert_eq!(
            stage_video_sizes(Level::Standard, VideoStage::Scale, None),
            vec![(1920, 1080)]
        );
        // In the plan: every stage once per size, on the GPU only.
        let p = DeviceProps {
            name: "x".into(),
            sm_count: 24,
            l2_bytes: 3 << 20,
            total_memory: 24 << 30,
            free_memory: 24 << 30,
            compute_capability: (5, 2),
        };
        let o = SizeOverrides {
            video: Some(user.to_vec()),
            ..Default::default()
        };
        let video: Vec<WorkloadSpec> = plan_with(Level::Quick, BackendKind::Cuda, Some(&p), &o)
            .into_iter()
            .filter(|s| matches!(s, WorkloadSpec::Video { .. }))
            .collect();
        assert_eq!(video.len(), 5, "{video:?}");
        assert!(video.contains(&WorkloadSpec::Video {
            stage: VideoStage::Me,
            width: 64,
            height: 48
        }));
        assert!(!plan_with(Level::Quick, BackendKind::Host, None, &o)
            .iter()
            .any(|s| matches!(s, WorkloadSpec::Video { .. })));
    }
}
