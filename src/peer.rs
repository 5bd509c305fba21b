//! Peers: what a run measures on a GPU that is not gpugate's own kernel. Two exist: the vendor
//! GEMM library (cuBLAS, measured beside each GEMM shape for comparison, never gated) and the
//! hardware video encoder (NVENC driven through ffmpeg, gated on its own target).
//!
//! Both sit behind one interface, [`Peer`]: a peer is set up once for the run (or says why it
//! cannot be, which becomes a note), plans its workloads on each GPU from that GPU's own plan,
//! and measures each of them into a [`WorkloadResult`] like any workload. The runner knows no
//! peer by name: it counts their jobs into the plan's total, runs each job where the peer
//! placed it (right after the own workload it accompanies, or after every GPU's own
//! workloads), and saves run.json after each.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use crate::cuda::{self, BlasError, CublasLibrary, CudaDevice, CudaError};
use crate::gate::Profile;
use crate::measure::StoppingCriterion;
use crate::model::{BackendKind, DeviceInfo, Level, Role, WorkloadResult};
use crate::probe::telemetry::GpuTelemetry;
use crate::run::{
    encode_one, encode_plan, encode_result, run_one, workload_seed, EncodePlan, Progress, Slot,
};
use crate::workload::{WorkloadError, WorkloadSpec};

/// One workload a peer runs on a GPU, and where in the GPU's run it goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerJob {
    pub spec: WorkloadSpec,
    /// Right after this own workload of the GPU (same clocks and temperature, so the two
    /// compare); None: after every GPU's own workloads.
    pub after: Option<WorkloadSpec>,
}

/// gpugate's CUDA context on a peer's GPU, for the peers that run inside it (cuBLAS).
#[derive(Clone, Copy)]
pub enum Context<'a> {
    Open(&'a Arc<CudaDevice>),
    /// The GPU could not be opened: a peer that needs it fails with the same error.
    Failed(&'a CudaError),
    /// The GPU's own workloads are done and its context is gone (peers placed at the end).
    Closed,
}

/// What a peer's measurement may use: the GPU, gpugate's open context on it (or why there is
/// none), the run's seed and stopping rule, telemetry, and the progress callback.
pub struct PeerSite<'a> {
    pub gpu: &'a DeviceInfo,
    pub dev: Context<'a>,
    pub seed: u64,
    /// (this workload's number, the plan's total), for progress.
    pub position: (usize, usize),
    pub crit: &'a StoppingCriterion,
    pub telemetry: Option<&'a Arc<GpuTelemetry>>,
    /// When the run started: the zero of telemetry traces.
    pub epoch: Instant,
    pub progress: &'a mut dyn FnMut(Progress),
}

/// Something measured on a GPU beside gpugate's own kernels.
pub trait Peer {
    /// Its name, as notes say it: "cuBLAS", "hardware encode".
    fn name(&self) -> &'static str;
    /// Its jobs on `gpu`, given the workloads the GPU runs itself, in run order.
    fn plan(&self, gpu: &DeviceInfo, own: &[WorkloadSpec]) -> Vec<PeerJob>;
    /// Measures one of its jobs. Never fails: errors land in the result.
    fn measure(&self, job: &PeerJob, site: PeerSite<'_>) -> WorkloadResult;
    /// The run note for a result of its that did not run, if it deserves one.
    fn failure_note(&self, _gpu: &DeviceInfo, _error: &str) -> Option<String> {
        None
    }
}

/// The peers of a run on GPUs: cuBLAS where it can run (else why not, as a note), and the
/// hardware encoder on the GPUs that have one or whose profile asks for it (`encode_frames`
/// per session in place of the level's, when the user set it: a note says so).
pub fn peers_for(
    profile: &Profile,
    gpus: &[DeviceInfo],
    level: Level,
    encode_frames: Option<usize>,
) -> (Vec<Box<dyn Peer>>, Vec<String>) {
    let mut peers: Vec<Box<dyn Peer>> = Vec::new();
    let mut notes = Vec::new();
    match Cublas::probe() {
        Ok(c) => {
            notes.push(c.found_note());
            peers.push(Box::new(c))
        }
        Err(why) => notes.push(format!("cuBLAS peer not run: {why}")),
    }
    let nvenc = Nvenc::new(profile, gpus, level, encode_frames);
    if let (Some(n), Some((_, plan))) = (encode_frames, nvenc.plans.first()) {
        notes.push(format!(
            "hardware encode: {n} frames per session (--encode-frames) in place of the level's \
             {}",
            plan.level_frames
        ));
    }
    peers.push(Box::new(nvenc));
    (peers, notes)
}

/// cuBLAS: beside the first GEMM of each precision and shape on a GPU (whatever its math):
/// sgemm (pedantic FP32), dgemm, gemmEx for FP16 inputs. Its results are peers: compared with
/// gpugate's kernel in the reports, never gated.
pub struct Cublas(CublasLibrary);

impl Cublas {
    /// cuBLAS, if it is installed and fits the driver; else why not.
    pub fn probe() -> Result<Cublas, BlasError> {
        cuda::cublas_status().map(Cublas)
    }

    /// The run's note naming the library found: "cuBLAS peer: cuBLAS 12.4.5 (gpugate-sim) from
    /// /…/libgpugate_sim.so, compared with gpugate's GEMMs, never gated".
    pub fn found_note(&self) -> String {
        format!(
            "cuBLAS peer: {} from {}, compared with gpugate's GEMMs, never gated",
            self.0.label(),
            self.0
                .path
                .as_deref()
                .unwrap_or("a file the loader does not name")
        )
    }
}

impl Peer for Cublas {
    fn name(&self) -> &'static str {
        "cuBLAS"
    }

    fn plan(&self, _gpu: &DeviceInfo, own: &[WorkloadSpec]) -> Vec<PeerJob> {
        cublas_jobs(own)
    }

    fn measure(&self, job: &PeerJob, site: PeerSite<'_>) -> WorkloadResult {
        let at = Slot {
            backend: BackendKind::Cuda,
            device: Some(site.gpu.index),
            device_name: site.gpu.name.clone(),
            role: Role::Peer,
        };
        let (dev, seed) = (site.dev, site.seed);
        let prepare = |id: &str| match (dev, job.spec) {
            (
                Context::Open(dev),
                WorkloadSpec::Gemm {
                    precision, m, n, k, ..
                },
            ) => Ok(dev.cublas_gemm_trial(precision, m, n, k, workload_seed(seed, id))?),
            (Context::Open(_), other) => Err(WorkloadError::Unsupported(format!(
                "cuBLAS has no peer for {}",
                other.name()
            ))),
            (Context::Failed(e), _) => Err(WorkloadError::Cuda(e.clone())),
            (Context::Closed, _) => Err(WorkloadError::Unsupported(
                "the GPU's own workloads are done: no context to run cuBLAS in".into(),
            )),
        };
        run_one(
            &job.spec,
            &at,
            site.position,
            prepare,
            site.crit,
            site.telemetry.map(|t| (t, site.epoch)),
            site.progress,
        )
    }

    /// One note per GPU whose cuBLAS results failed: the warnings say how, and nothing is gated.
    fn failure_note(&self, gpu: &DeviceInfo, _error: &str) -> Option<String> {
        Some(format!(
            "GPU {}: cuBLAS peer failed (see the warnings); peers are compared with gpugate's \
             GEMMs, never gated",
            gpu.index
        ))
    }
}

/// cuBLAS's jobs on a GPU whose own workloads are `own`: one per GEMM precision and shape (a
/// tensor-core and a CUDA-core GEMM of one shape share it), after the first of them.
pub fn cublas_jobs(own: &[WorkloadSpec]) -> Vec<PeerJob> {
    let mut jobs: Vec<PeerJob> = Vec::new();
    for spec in own {
        if let Some(p) = spec.peer_spec() {
            if !jobs.iter().any(|j| j.spec == p) {
                jobs.push(PeerJob {
                    spec: p,
                    after: Some(*spec),
                });
            }
        }
    }
    jobs
}

/// The hardware encoder (NVENC through ffmpeg), after every GPU's own workloads: one session,
/// then 2 × engines at once ([`EncodePlan`]). Its results are gated (nvenc_h264 targets).
pub struct Nvenc {
    plans: Vec<(u32, EncodePlan)>,
    /// Per GPU, why the encoder could not run at all: its next job fails with the same reason
    /// without trying again.
    failed: RefCell<Vec<(u32, String)>>,
}

impl Nvenc {
    /// The encode plan of each GPU that has encoders or whose profile asks for encode
    /// throughput ([`encode_plan`]), with `frames` per session in place of the level's when
    /// given.
    pub fn new(
        profile: &Profile,
        gpus: &[DeviceInfo],
        level: Level,
        frames: Option<usize>,
    ) -> Nvenc {
        Nvenc {
            plans: gpus
                .iter()
                .filter_map(|g| {
                    let mut p = encode_plan(profile, g, level)?;
                    if let Some(f) = frames {
                        p.frames = f;
                    }
                    Some((g.index, p))
                })
                .collect(),
            failed: RefCell::new(Vec::new()),
        }
    }

    fn plan_of(&self, gpu: u32) -> Option<&EncodePlan> {
        self.plans.iter().find(|(g, _)| *g == gpu).map(|(_, p)| p)
    }
}

impl Peer for Nvenc {
    fn name(&self) -> &'static str {
        "hardware encode"
    }

    fn plan(&self, gpu: &DeviceInfo, _own: &[WorkloadSpec]) -> Vec<PeerJob> {
        self.plan_of(gpu.index).map_or_else(Vec::new, |p| {
            p.specs()
                .into_iter()
                .map(|spec| PeerJob { spec, after: None })
                .collect()
        })
    }

    fn measure(&self, job: &PeerJob, site: PeerSite<'_>) -> WorkloadResult {
        let gpu = site.gpu;
        let mut failed = self
            .failed
            .borrow()
            .iter()
            .find(|(g, _)| *g == gpu.index)
            .map(|(_, why)| why.clone());
        let Some(plan) = self.plan_of(gpu.index) else {
            let why = format!("no hardware encode was planned on GPU {}", gpu.index);
            return encode_result(gpu, job.spec, Err(why), None);
        };
        if failed.is_none() {
            failed = plan.refused.clone();
        }
        let r = encode_one(
            gpu,
            plan,
            job.spec,
            (site.seed, site.epoch),
            &mut failed,
            site.position,
            site.progress,
        );
        if let Some(why) = failed {
            let mut f = self.failed.borrow_mut();
            f.retain(|(g, _)| *g != gpu.index);
            f.push((gpu.index, why));
        }
        r
    }

    fn failure_note(&self, gpu: &DeviceInfo, error: &str) -> Option<String> {
        Some(format!(
            "GPU {}: hardware encode not measured: {error}",
            gpu.index
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate;
    use crate::workload::{GemmMath, Precision, StreamOp};

    fn site_run(peer: &dyn Peer, job: &PeerJob, gpu: &DeviceInfo) -> (WorkloadResult, Vec<String>) {
        let crit = StoppingCriterion::for_level(Level::Quick);
        let mut seen = Vec::new();
        let mut progress = |p: Progress| match p {
            Progress::WorkloadStarted { id, .. } => seen.push(format!("start {id}")),
            Progress::WorkloadFinished { result, .. } => seen.push(format!("done {}", result.id)),
            _ => {}
        };
        let site = PeerSite {
            gpu,
            dev: Context::Closed,
            seed: 7,
            position: (1, 1),
            crit: &crit,
            telemetry: None,
            epoch: Instant::now(),
            progress: &mut progress,
        };
        let r = peer.measure(job, site);
        (r, seen)
    }

    #[test]
    fn cublas_follows_the_first_gemm_of_each_precision_and_shape() {
        let sgemm = WorkloadSpec::gemm(Precision::F32, 1024, 1024, 1024);
        let dgemm = WorkloadSpec::gemm(Precision::F64, 2048, 2048, 2048);
        let dgemm_tc = WorkloadSpec::Gemm {
            precision: Precision::F64,
            m: 2048,
            n: 2048,
            k: 2048,
            math: GemmMath::TensorCores,
        };
        let triad = WorkloadSpec::Stream {
            op: StreamOp::Triad,
            precision: Precision::F32,
            n: 1 << 20,
        };
        let jobs = cublas_jobs(&[triad, dgemm_tc, sgemm, dgemm, triad]);
        // One per shape, after the first GEMM of it (the tensor-core DGEMM came first), on
        // the CUDA-core spec (a peer names no math); nothing for the stream.
        assert_eq!(
            jobs,
            [
                PeerJob {
                    spec: dgemm,
                    after: Some(dgemm_tc)
                },
                PeerJob {
                    spec: sgemm,
                    after: Some(sgemm)
                },
            ]
        );
    }

    #[test]
    fn a_peer_without_a_context_fails_its_result_with_the_reason() {
        let gpu = crate::test_support::m40(0);
        let job = cublas_jobs(&[WorkloadSpec::gemm(Precision::F32, 64, 64, 64)])[0];
        let (r, seen) = site_run(&Cublas(CublasLibrary::default()), &job, &gpu);
        assert_eq!(r.role, Role::Peer);
        assert_eq!(r.id, "gpu0.peer.sgemm.64x64x64");
        assert!(r.measurement.is_none());
        assert!(
            r.error
                .as_deref()
                .unwrap()
                .contains("no context to run cuBLAS in"),
            "{r:?}"
        );
        assert_eq!(
            seen,
            [
                "start gpu0.peer.sgemm.64x64x64",
                "done gpu0.peer.sgemm.64x64x64"
            ]
        );
    }

    /// On a GPU that could not be opened, cuBLAS's job fails with the very error the GPU
    /// gave (typed, so the result says what the open said), never a generic one.
    #[test]
    fn a_peer_on_a_gpu_that_could_not_be_opened_fails_with_its_error() {
        let gpu = crate::test_support::m40(0);
        let job = cublas_jobs(&[WorkloadSpec::gemm(Precision::F64, 64, 64, 64)])[0];
        let why = CudaError::NoSuchGpu {
            ordinal: 0,
            count: 0,
        };
        let crit = StoppingCriterion::for_level(Level::Quick);
        let site = PeerSite {
            gpu: &gpu,
            dev: Context::Failed(&why),
            seed: 7,
            position: (1, 1),
            crit: &crit,
            telemetry: None,
            epoch: Instant::now(),
            progress: &mut |_| {},
        };
        let r = Cublas(CublasLibrary::default()).measure(&job, site);
        assert_eq!(r.id, "gpu0.peer.dgemm.64x64x64");
        assert_eq!(
            r.error.as_deref(),
            Some(format!("could not prepare: {why}").as_str())
        );
    }

    #[test]
    fn the_encoder_plans_at_the_end_and_a_gpu_without_nvenc_fails_without_encoding() {
        let g2 = gate::load_profile("g2.large").unwrap().0;
        let m40 = crate::test_support::m40(0);
        let mut h100 = crate::test_support::m40(1);
        h100.name = "NVIDIA H100 80GB HBM3".into();
        h100.nvenc = crate::probe::gpu::nvenc_info(&h100.name, Err("no NVML".into()));
        let nvenc = Nvenc::new(&g2, &[m40.clone(), h100.clone()], Level::Quick, None);
        let own = [WorkloadSpec::gemm(Precision::F32, 64, 64, 64)];
        // The M40: one session, then four (2 × its 2 engines), after everything else.
        let jobs = nvenc.plan(&m40, &own);
        let names: Vec<String> = jobs.iter().map(|j| j.spec.name()).collect();
        assert_eq!(names, ["nvenc.h264.1080p.x1", "nvenc.h264.1080p.x4"]);
        assert!(jobs.iter().all(|j| j.after.is_none()));
        // The H100 has no NVENC and g2.large asks for encode throughput: one failing job.
        let jobs = nvenc.plan(&h100, &own);
        assert_eq!(jobs.len(), 1);
        let (r, seen) = site_run(&nvenc, &jobs[0], &h100);
        let err = r.error.clone().unwrap();
        assert!(err.starts_with("no NVENC engine on this GPU"), "{err}");
        assert_eq!(r.id, "gpu1.nvenc.h264.1080p.x2");
        assert_eq!(seen.len(), 2);
        assert_eq!(
            nvenc.failure_note(&h100, &err).unwrap(),
            format!("GPU 1: hardware encode not measured: {err}")
        );
        // auto asks nothing of a GPU without NVENC: no job.
        let auto = Nvenc::new(
            &gate::auto_profile(std::slice::from_ref(&h100)),
            &[h100.clone()],
            Level::Quick,
            None,
        );
        assert!(auto.plan(&h100, &own).is_empty());
        // --encode-frames: every session encodes that many, and a note says so.
        let frames = |n: &Nvenc| -> Vec<usize> {
            n.plan(&m40, &own)
                .iter()
                .map(|j| match j.spec {
                    WorkloadSpec::Encode { frames, .. } => frames,
                    _ => 0,
                })
                .collect()
        };
        assert_eq!(frames(&nvenc), [300, 300], "the quick level's");
        let short = Nvenc::new(&g2, std::slice::from_ref(&m40), Level::Quick, Some(60));
        assert_eq!(frames(&short), [60, 60]);
        let (_, notes) = peers_for(&g2, std::slice::from_ref(&m40), Level::Quick, Some(60));
        assert!(
            notes.iter().any(|n| n
                == "hardware encode: 60 frames per session (--encode-frames) in place of the \
                    level's 300"),
            "{notes:?}"
        );
    }

    /// An encoder that cannot run at all fails the GPU's next encode with the same reason,
    /// without trying again (GPU 9: no machine this runs on has one, GPU or not).
    #[test]
    fn an_encoder_that_cannot_run_is_not_tried_twice() {
        let g2 = gate::load_profile("g2.large").unwrap().0;
        let m40 = crate::test_support::m40(9);
        let nvenc = Nvenc::new(&g2, std::slice::from_ref(&m40), Level::Quick, None);
        let jobs = nvenc.plan(&m40, &[]);
        let (first, _) = site_run(&nvenc, &jobs[0], &m40);
        let why = first
            .error
            .clone()
            .expect("no NVENC here: the encode fails");
        assert_eq!(nvenc.failed.borrow().as_slice(), [(9, why.clone())]);
        let (second, _) = site_run(&nvenc, &jobs[1], &m40);
        assert_eq!(second.error.as_deref(), Some(why.as_str()));
    }
}
